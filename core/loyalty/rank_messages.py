"""Rank changes told to the systems of ``ranks.destinations``: one ``member.rank`` outbox message per change.

Written by ``LoyaltyEngine`` in the transaction that records the changes, whatever moved the rank (a purchase,
a period end, a rules change, a merge, a recompute). For each change and destination, a message goes to every
customer id the cluster has there (a source link of any of its members from that connector instance);
a cluster without one gets none, as with segments: the destination could not address it. The key
``rank:<destination>:<rank_history id>:<customer id>`` is unique per change, so a member who moves twice in
the same instant still sends both moves, and a retried delivery is recognised.

Payloads name the member by id and by customer id, never by name or address; they are sealed in the outbox.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection

from core.errors import ConfigError
from core.events import DomainEvent, RankChanged
from core.loyalty.accounts import Balance
from core.loyalty.ledger import load_lots
from core.loyalty.rules import LoyaltyRules
from core.store import loyalty as loyalty_repo
from core.store import loyalty_ranks as ranks_repo
from core.store import segments as segments_repo
from core.sync import outbox
from core.sync.contract import RANK_MESSAGE
from core.sync.payloads import PayloadSealer

__all__ = ["RANK_MESSAGE", "send_rank_changes"]


def send_rank_changes(
    conn: Connection, rules: LoyaltyRules, sealer: PayloadSealer | None, events: Iterable[DomainEvent], now: datetime
) -> int:
    """Enqueue a ``member.rank`` message for each rank change among ``events``; returns the messages written."""
    changes = [event for event in events if isinstance(event, RankChanged)]
    destinations = rules.ranks.destinations
    if not changes or not destinations:
        return 0
    if sealer is None:
        raise ConfigError("the loyalty rules push rank changes to destinations, but this engine has no outbox")
    roots = sorted({change.member_id for change in changes})
    links = segments_repo.cluster_links(conn, destinations, roots)
    points = _available_points(conn, rules, roots, now)
    written = 0
    for change, change_id in zip(changes, _change_ids(conn, changes), strict=True):
        for destination in destinations:
            for customer_id in links[destination].get(change.member_id, ()):
                written += outbox.enqueue(
                    conn, sealer, destination=destination, kind=RANK_MESSAGE,
                    idempotency_key=f"rank:{destination}:{change_id}:{customer_id}",
                    payload=_payload(change, customer_id, points[change.member_id]), now=now,
                    member_id=change.member_id,
                )  # fmt: skip
    return written


def _payload(change: RankChanged, customer_id: str, points: int) -> dict[str, Any]:
    return {
        "member_id": str(change.member_id),
        "customer_id": customer_id,
        "from_rank": change.from_rank,
        "to_rank": change.to_rank,
        "points_available": points,
        "changed_at": change.occurred_at.isoformat(),
    }


def _change_ids(conn: Connection, changes: Sequence[RankChanged]) -> list[int]:
    """The ``rank_history`` id of each change, in order.

    A member can move more than once in one call (a recompute repairs purchases chunk by chunk), and an earlier
    call may have recorded a change at the same instant (a frozen clock), so a member's changes of this call
    are the newest of its rows at that instant, in the order they were written.
    """
    positions: dict[datetime, dict[UUID, list[int]]] = defaultdict(lambda: defaultdict(list))
    for position, change in enumerate(changes):
        positions[change.occurred_at][change.member_id].append(position)
    ids = [0] * len(changes)
    for moment, members in positions.items():
        recorded = ranks_repo.rank_change_ids(conn, members, moment)
        for member_id, moves in members.items():
            for position, change_id in zip(moves, recorded.get(member_id, [])[-len(moves) :], strict=True):
                ids[position] = change_id
    return ids


def _available_points(conn: Connection, rules: LoyaltyRules, roots: Sequence[UUID], now: datetime) -> dict[UUID, int]:
    """Each cluster's spendable points at ``now``."""
    lots = load_lots(conn, loyalty_repo.cluster_members(conn, roots))
    return {root: Balance.of(root, lots.get(root, []), now).available for root in roots}
