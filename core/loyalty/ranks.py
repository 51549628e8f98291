"""Ranks: the rolling measure a cluster is judged on, and rank moves with their history and events.

The measure is the cluster's net spend in yen (refunds deducted in proportion and cancelled purchases left
out, as ``core.loyalty.earning.net_spend`` computes it; the store sums it in SQL) or the points it earned
(less reversals), over the ``window_months`` before the moment of judgement. A purchase that lifts the
measure over a threshold upgrades the cluster at once; a cluster moves down only when an evaluation period
ends (``run_rank_period_end``). The rank lives on the cluster root.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection

from core.events import RankChanged
from core.loyalty.earning import VOID_STATUSES
from core.loyalty.periods import months_before
from core.loyalty.rules import LoyaltyRules, Rank
from core.store import loyalty as loyalty_repo
from core.store import loyalty_ranks as repo


@dataclass(frozen=True)
class Window:
    """Purchases from ``since`` (inclusive) to ``until`` (exclusive; ``None``: no end)."""

    since: datetime
    until: datetime | None = None

    @classmethod
    def ending(cls, rules: LoyaltyRules, moment: datetime, *, open_ended: bool = False) -> Window:
        """The rolling window that ends at ``moment`` (or, ``open_ended``, that also counts anything later)."""
        since = months_before(moment, rules.ranks.window_months).astimezone(UTC)  # compared with UTC from the store
        return cls(since, None if open_ended else moment)

    def holds(self, moment: datetime) -> bool:
        """Whether ``moment`` falls in the window."""
        return self.since <= moment and (self.until is None or moment < self.until)


def cluster_measures(
    conn: Connection, rules: LoyaltyRules, owners: dict[UUID, UUID] | None, windows: Sequence[Window]
) -> list[dict[UUID, int]]:
    """Each cluster's measure in each window, by root.

    ``owners`` maps the members to look at to their roots; ``None`` looks at every member (the jobs).
    """
    spans = [(window.since, window.until) for window in windows]
    members = None if owners is None else list(owners)
    if rules.ranks.measure == "spend":
        excluding_tax = rules.earning.basis == "excluding_tax"
        totals = repo.spend_totals(conn, members, spans, excluding_tax=excluding_tax, void_statuses=VOID_STATUSES)
    else:
        totals = repo.points_totals(conn, members, spans)
    if owners is None:
        owners = roots_through(loyalty_repo.merge_parents(conn), totals)
    per_window: list[dict[UUID, int]] = [defaultdict(int) for _ in windows]
    for member_id, values in totals.items():
        root = owners.get(member_id, member_id)
        for measured, value in zip(per_window, values, strict=True):
            measured[root] += value
    return per_window


class RankMoves:
    """Rank changes decided during one call, collapsed to one per cluster, written with their history."""

    def __init__(self, rules: LoyaltyRules, now: datetime, current: dict[UUID, str | None]) -> None:
        self.rules = rules
        self.now = now
        self.stored = dict(current)
        self.ranks = {root: rules.rank(code).code for root, code in current.items()}
        self.reasons: dict[UUID, str] = {}

    def rank_of(self, root: UUID) -> Rank:
        """The cluster's rank as of the moves so far."""
        return self.rules.rank(self.ranks.get(root))

    def at_top(self, root: UUID) -> bool:
        """Whether the cluster holds the highest rank (so no purchase can move it up)."""
        return self.rules.position(self.ranks.get(root)) == len(self.rules.ranks.levels) - 1

    def raise_to(self, root: UUID, measure: int, cause: str) -> None:
        """Upgrade the cluster if ``measure`` qualifies it for a higher rank than it has."""
        target = self.rules.qualified(measure)
        if self.rules.position(target.code) > self.rules.position(self.ranks.get(root)):
            self.set(root, target, reason(self.rules, cause, measure))

    def set(self, root: UUID, rank: Rank, reason: str) -> None:
        """Put the cluster at ``rank`` (up or down)."""
        self.ranks[root] = rank.code
        self.reasons[root] = reason

    def write(self, conn: Connection) -> list[RankChanged]:
        """Store every change (root's ``rank_code`` and a ``rank_history`` row) and return the events."""
        changed = {
            root: code for root, code in self.ranks.items() if root in self.reasons and code != self.stored.get(root)
        }
        events = [
            RankChanged(self.now, root, self.stored.get(root), code, self.reasons[root][:255])
            for root, code in changed.items()
        ]
        repo.set_ranks(conn, changed)
        repo.insert_rank_changes(conn, [_history_row(event, self.rules.version) for event in events])
        return events


def _history_row(event: RankChanged, rule_version: str) -> dict[str, Any]:
    return {
        "member_id": event.member_id,
        "from_rank": event.from_rank,
        "to_rank": event.to_rank,
        "reason": event.reason,
        "rule_version": rule_version,
        "changed_at": event.occurred_at,
    }


def reason(rules: LoyaltyRules, cause: str, measure: int) -> str:
    """Why a rank was set: the cause and the measure it was judged on."""
    unit = "yen spent" if rules.ranks.measure == "spend" else "points earned"
    return f"{cause}: {measure:,} {unit} in {rules.ranks.window_months} months"


def roots_through(parents: dict[UUID, UUID], member_ids: Iterable[UUID]) -> dict[UUID, UUID]:
    """The root of each member, following ``parents`` (merged member → the member it joined)."""
    roots = {}
    for member_id in member_ids:
        current, steps = member_id, 0
        while current in parents and steps < 64:  # merge chains are short; a longer one is a hand-made cycle
            current, steps = parents[current], steps + 1
        roots[member_id] = current
    return roots
