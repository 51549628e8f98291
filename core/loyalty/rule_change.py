"""Changing the rules: what a new rules file would do to ranks and balances (a dry run), and applying it.

Earning is never retroactive: every ledger entry keeps the rule version it was written under, and recompute
judges only entries of the current version. Applying new rules therefore rewrites no past entry; it runs the
recompute repair under them (missing earn and reversal entries are written — never a second one, the source
events are unique — unsettled clusters settled, upgrades the new ladder grants applied at once) and moves
every cluster whose rank code the new ladder no longer has to the rank its measure earns. Downgrades wait
for the end of the rank period, as always; the report lists the clusters that would fall then.

The dry run is the same procedure in a transaction that is rolled back, so it cannot differ from applying.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from sqlalchemy import Connection, Engine

from core.errors import ConfigError
from core.events import DomainEvent, PointsChanged, RankChanged
from core.loyalty.ranks import RankMoves, Window, cluster_measures, reason
from core.loyalty.recompute import Recompute
from core.loyalty.rules import LoyaltyRules
from core.store import loyalty as repo


@dataclass(frozen=True)
class DueDowngrade:
    """A cluster whose measure is below its rank under the new rules: it falls when the rank period ends."""

    member_id: UUID
    rank_code: str
    to_rank: str
    measure: int


@dataclass
class RuleChangeReport:
    """What applying new rules did (or, in a dry run, would do)."""

    from_version: str
    to_version: str
    entries: int = 0
    rank_changes: list[RankChanged] = field(default_factory=list)
    balance_changes: dict[UUID, int] = field(default_factory=dict)
    due_downgrades: list[DueDowngrade] = field(default_factory=list)
    events: list[DomainEvent] = field(default_factory=list)


def apply_rules(conn: Connection, current: LoyaltyRules, new: LoyaltyRules, now: datetime) -> RuleChangeReport:
    """Put ``new`` in force in the caller's transaction; applying the same rules again writes nothing."""
    _check_version(current, new)
    retired = _retire_unknown_ranks(conn, new, now)  # first: the repair would take an unknown rank for the lowest
    repaired = Recompute(conn, new, now).repair()
    events = [*retired, *repaired.events]
    report = RuleChangeReport(current.version, new.version, entries=repaired.repaired_entries, events=events)
    report.rank_changes = [event for event in events if isinstance(event, RankChanged)]
    moved: dict[UUID, int] = defaultdict(int)
    for event in events:
        if isinstance(event, PointsChanged):
            moved[event.member_id] += event.delta
    report.balance_changes = {root: delta for root, delta in moved.items() if delta}
    report.due_downgrades = _due_downgrades(conn, new, now)
    return report


def preview_rules(engine: Engine, current: LoyaltyRules, new: LoyaltyRules, now: datetime) -> RuleChangeReport:
    """What :func:`apply_rules` would do, computed in a transaction that is rolled back: nothing is written."""
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            return apply_rules(conn, current, new, now)
        finally:
            transaction.rollback()


def _check_version(current: LoyaltyRules, new: LoyaltyRules) -> None:
    if new.version == current.version and new != current:
        raise ConfigError(
            f"the new rules change the rules but keep version {new.version!r}: give them a new version, "
            "so that every ledger entry and rank change says which rules it was written under"
        )


def _retire_unknown_ranks(conn: Connection, rules: LoyaltyRules, now: datetime) -> list[RankChanged]:
    """Move every root whose rank code the rules do not know to the rank its measure earns (up or down)."""
    known = {level.code for level in rules.ranks.levels}
    stranded = {row.id: row.rank_code for row in repo.active_roots(conn) if row.rank_code not in known | {None}}
    if not stranded:
        return []
    [measure] = cluster_measures(conn, rules, None, [Window.ending(rules, now, open_ended=True)])
    moves = RankMoves(rules, now, dict(stranded))
    for root, code in stranded.items():
        level = measure.get(root, 0)
        moves.set(root, rules.qualified(level), reason(rules, f"rules {rules.version}: rank {code} retired", level))
    return moves.write(conn)


def _due_downgrades(conn: Connection, rules: LoyaltyRules, now: datetime) -> list[DueDowngrade]:
    [measure] = cluster_measures(conn, rules, None, [Window.ending(rules, now, open_ended=True)])
    due = []
    for row in repo.active_roots(conn):
        target = rules.qualified(measure.get(row.id, 0))
        if rules.position(target.code) < rules.position(row.rank_code) and row.rank_code is not None:
            due.append(DueDowngrade(row.id, row.rank_code, target.code, measure.get(row.id, 0)))
    return due
