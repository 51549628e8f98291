"""Profile changes told to the connectors of ``[profiles] destinations``: ``member.profile`` outbox messages.

When a batch changes the stored profile of an existing member (a newer address from the online shop, a phone
number corrected at the till), ``ProfileMessages.send`` writes, in the batch's transaction, one message per
customer id the member's cluster has in each destination (a source link of any of its members there). A field
is never echoed to the destination whose record set it: a destination that set every changed field gets no
message. The key ``profile:<destination>:<member id>:<customer id>:<digest of the values sent>`` sends each
version of a profile once. New members are not sent: no other system knows them yet.

Payloads hold personal data (the destination needs it to update its customer): they are sealed in the outbox,
never logged, and carry only the fields a destination must change, with the member number.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator
from sqlalchemy import Connection

from core.members.profile import MemberProfile
from core.store import segments as segments_repo
from core.sync import outbox
from core.sync.contract import PROFILE_MESSAGE
from core.sync.payloads import PayloadSealer

__all__ = ["PROFILE_MESSAGE", "ProfileChange", "ProfileMessages", "ProfileSettings"]

_Instance = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]  # as hub.toml names them


class ProfileSettings(BaseModel):
    """The ``[profiles]`` table of ``hub.toml``: the connector instances told of members' profile changes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    destinations: tuple[_Instance, ...] = ()

    @field_validator("destinations")
    @classmethod
    def _distinct(cls, destinations: tuple[str, ...]) -> tuple[str, ...]:
        repeated = sorted({name for name in destinations if destinations.count(name) > 1})
        if repeated:
            raise ValueError(f"each destination once; repeated: {', '.join(repeated)}")
        return destinations


@dataclass(frozen=True)
class ProfileChange:
    """An existing member's profile after a batch, and the source that set each field the batch changed."""

    member_id: UUID
    member_number: str
    profile: MemberProfile
    changed: dict[str, str]


class ProfileMessages:
    """Writes ``member.profile`` outbox messages for ``destinations``, sealed by ``sealer``."""

    def __init__(self, destinations: Sequence[str], sealer: PayloadSealer) -> None:
        self.destinations = tuple(destinations)
        self.sealer = sealer

    def send(self, conn: Connection, changes: Sequence[ProfileChange], now: datetime) -> int:
        """Enqueue the changed profiles for every destination that did not set them; returns messages written."""
        if not changes or not self.destinations:
            return 0
        links = segments_repo.cluster_links(conn, self.destinations, [change.member_id for change in changes])
        written = 0
        for change in changes:
            for destination in self.destinations:
                fields = sorted(name for name, source in change.changed.items() if source != destination)
                if not fields:
                    continue  # the destination set every changed field itself
                for customer_id in links[destination].get(change.member_id, ()):
                    written += self._enqueue(conn, destination, customer_id, change, fields, now)
        return written

    def _enqueue(
        self, conn: Connection, destination: str, customer_id: str, change: ProfileChange, fields: list[str],
        now: datetime,
    ) -> int:  # fmt: skip
        payload = {
            "member_id": str(change.member_id),
            "customer_id": customer_id,
            "member_number": change.member_number,
            **_fields(change.profile),
            "changed": fields,
        }
        digest = hashlib.blake2b(json.dumps(payload, sort_keys=True).encode(), digest_size=12).hexdigest()
        added = outbox.enqueue(
            conn, self.sealer, destination=destination, kind=PROFILE_MESSAGE,
            idempotency_key=f"profile:{destination}:{change.member_id}:{customer_id}:{digest}", payload=payload,
            now=now, member_id=change.member_id,
        )  # fmt: skip
        return int(added)


def _fields(profile: MemberProfile) -> dict[str, Any]:
    return {
        "name": profile.name,
        "kana": profile.kana,
        "email": profile.email,
        "phone": profile.phone,
        "postal_code": profile.postal_code,
        "address": profile.address,
        "birthday": profile.birthday.isoformat() if profile.birthday else None,
    }
