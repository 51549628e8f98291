"""Writing the points ledger: entries, the lots they use up, and the ``PointsChanged`` events they cause.

Source events name what caused an entry, and the ledger refuses a second entry for the same one:

    purchase:<source>:<purchase external id>      earn
    refund:<source>:<adjustment external id>      reverse (a partial or full refund)
    cancel:<source>:<adjustment external id>      reverse (a cancellation)
    void:<source>:<purchase external id>          reverse (status cancelled or refunded without adjustments)
    expire:<lot id>                               expire
    anything else the caller chooses              redeem, adjust
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection

from core.events import PointsChanged
from core.loyalty.lots import Lot
from core.store import loyalty as repo


def earn_event(source: str, external_id: str) -> str:
    """The source event of the points a purchase earns."""
    return f"purchase:{source}:{external_id}"


def adjustment_event(kind: str, source: str, external_id: str) -> str:
    """The source event of the reversal caused by a refund or a cancellation."""
    return f"{kind}:{source}:{external_id}"


def void_event(source: str, external_id: str) -> str:
    """The source event of the reversal of a purchase whose status says it no longer stands."""
    return f"void:{source}:{external_id}"


@dataclass
class Entry:
    """One ledger entry to append; the fields are the ``point_ledger`` columns."""

    member_id: UUID
    kind: str
    points: int
    source_event: str
    occurred_at: datetime
    rule_version: str
    created_at: datetime
    status: str = "available"
    available_at: datetime | None = None
    expires_at: datetime | None = None
    note: str | None = None
    purchase_id: int | None = None
    rank_code: str | None = None
    campaign_codes: str | None = None
    unrecovered_points: int | None = None


def load_lots(conn: Connection, clusters: dict[UUID, list[UUID]]) -> dict[UUID, list[Lot]]:
    """The lots with points left of each cluster, by root."""
    owner = {member_id: root for root, members in clusters.items() for member_id in members}
    lots: dict[UUID, list[Lot]] = {root: [] for root in clusters}
    for row in repo.open_lots(conn, owner):
        lots[owner[row.member_id]].append(Lot(row.id, row.member_id, row.remaining, row.available_at, row.expires_at))
    return lots


class LedgerWriter:
    """Collects one call's entries and consumptions, writes them in two statements, and sums the events."""

    def __init__(self, roots: dict[UUID, UUID], now: datetime) -> None:
        self.roots = roots
        self.now = now
        self.entries: list[Entry] = []
        self.consumptions: list[dict[str, Any]] = []

    def add(self, new: Entry, taken: Sequence[tuple[Lot, int]] = ()) -> None:
        """One entry, and the lots it used up."""
        self.entries.append(new)
        used = ({"source_event": new.source_event, "lot_id": lot.id, "points": part} for lot, part in taken)
        self.consumptions.extend(used)

    def write(self, conn: Connection) -> list[PointsChanged]:
        """Insert what was collected; one event per cluster and kind whose points moved. Starts afresh."""
        repo.insert_entries(conn, [vars(new) for new in self.entries])  # read only: no copies
        repo.insert_consumptions(conn, self.consumptions)
        events = points_events(self.entries, self.roots, self.now)
        self.entries, self.consumptions = [], []
        return events


def points_events(entries: Iterable[Entry], roots: dict[UUID, UUID], now: datetime) -> list[PointsChanged]:
    """The net movement per cluster root and entry kind, leaving out kinds that moved nothing."""
    moved: dict[tuple[UUID, str], int] = defaultdict(int)
    for new in entries:
        moved[(roots.get(new.member_id, new.member_id), new.kind)] += new.points
    return [
        PointsChanged(occurred_at=now, member_id=root, kind=kind, delta=delta)
        for (root, kind), delta in moved.items()
        if delta
    ]
