"""Email consent told to the connectors of ``[consent] destinations``: ``member.consent`` outbox messages.

``ConsentMessages.send`` runs in the transaction that stores a batch's consent events, after they are stored.
For each cluster that a record of the batch names, the cluster's consent is its newest email consent event
(by ``changed_at``, as the member page and the segments read it), and a message carries it to every customer
id the cluster has in each destination (a source link of any of its members there; a cluster without one gets
none, as with ranks) — except to the destination the event came from, which knows already: a change is never
echoed back. The key ``consent:<destination>:<event id>:<version>:<customer id>`` (version: the event's
``source_updated_at`` in microseconds) sends each version of the newest event once, so a batch that re-sends
it, an older event arriving late (a backfill) or a change on another channel writes nothing new.

Payloads name the member by id and by customer id, never by address; they are sealed in the outbox.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator
from sqlalchemy import Connection, Row

from core.records import ConsentChange
from core.store import consent as consent_repo
from core.store import identity as identity_repo
from core.store import loyalty as loyalty_repo
from core.store import records as records_repo
from core.store import segments as segments_repo
from core.sync import outbox
from core.sync.contract import CONSENT_MESSAGE
from core.sync.payloads import PayloadSealer

__all__ = ["CONSENT_MESSAGE", "ConsentMessages", "ConsentSettings"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_Instance = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]  # as hub.toml names them


class ConsentSettings(BaseModel):
    """The ``[consent]`` table of ``hub.toml``: the connector instances told of email consent changes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    destinations: tuple[_Instance, ...] = ()

    @field_validator("destinations")
    @classmethod
    def _distinct(cls, destinations: tuple[str, ...]) -> tuple[str, ...]:
        repeated = sorted({name for name in destinations if destinations.count(name) > 1})
        if repeated:
            raise ValueError(f"each destination once; repeated: {', '.join(repeated)}")
        return destinations


class ConsentMessages:
    """Writes ``member.consent`` outbox messages for ``destinations``, sealed by ``sealer``."""

    def __init__(self, destinations: Sequence[str], sealer: PayloadSealer) -> None:
        self.destinations = tuple(destinations)
        self.sealer = sealer

    def send(self, conn: Connection, changes: Sequence[ConsentChange], now: datetime) -> int:
        """Enqueue the consent of the clusters ``changes`` (stored already) name; returns the messages written."""
        keys = {(change.source, change.customer_external_id) for change in changes if change.channel == "email"}
        if not keys or not self.destinations:
            return 0
        newest = _newest_per_cluster(conn, records_repo.linked_members(conn, keys).values())
        links = segments_repo.cluster_links(conn, self.destinations, newest)
        written = 0
        for root, event in newest.items():
            for destination in self.destinations:
                if destination == event.source:
                    continue  # never echoed to the system it came from
                for customer_id in links[destination].get(root, ()):
                    written += self._enqueue(conn, destination, root, customer_id, event, now)
        return written

    def _enqueue(
        self, conn: Connection, destination: str, root: UUID, customer_id: str, event: Row[Any], now: datetime
    ) -> int:
        version = (event.source_updated_at - _EPOCH) // timedelta(microseconds=1)
        payload = {
            "member_id": str(root),
            "customer_id": customer_id,
            "channel": "email",
            "subscribed": bool(event.subscribed),
            "changed_at": event.changed_at.isoformat(),
        }
        added = outbox.enqueue(
            conn, self.sealer, destination=destination, kind=CONSENT_MESSAGE,
            idempotency_key=f"consent:{destination}:{event.id}:{version}:{customer_id}", payload=payload, now=now,
            member_id=root,
        )  # fmt: skip
        return int(added)


def _newest_per_cluster(conn: Connection, members: Iterable[UUID]) -> dict[UUID, Row[Any]]:
    """The newest email consent event of each cluster of ``members``, by cluster root (clusters with one)."""
    roots = identity_repo.roots(conn, members)
    clusters = loyalty_repo.cluster_members(conn, set(roots.values()))
    events = consent_repo.newest_email_consents(conn, [member for cluster in clusters.values() for member in cluster])
    newest: dict[UUID, Row[Any]] = {}
    for root, cluster in clusters.items():
        held = [events[member] for member in cluster if member in events]
        if held:
            newest[root] = max(held, key=lambda event: (event.changed_at, event.id))
    return newest
