"""Scheduled loyalty jobs: lapsing expired lots, releasing pending points, and rank period ends.

Each job is idempotent: the expiry of a lot is keyed ``expire:<lot id>``, releasing touches only pending
lots, and a rank period is evaluated once (``hub_meta`` remembers the last one).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from core.events import DomainEvent
from core.loyalty.ledger import Entry, LedgerWriter
from core.loyalty.lots import Lot
from core.loyalty.periods import period_start
from core.loyalty.ranks import RankMoves, Window, cluster_measures, reason
from core.loyalty.rules import LoyaltyRules
from core.store import identity as identity_repo
from core.store import loyalty as repo
from core.store import loyalty_ranks as ranks_repo


def lapse_expired_lots(conn: Connection, rules: LoyaltyRules, now: datetime) -> tuple[int, list[DomainEvent]]:
    """Write off what is left of every lot whose expiry has come; returns entries written and events."""
    repo.lock_all_lots(conn)
    lapsed = repo.lapsed_lots(conn, now)
    roots = identity_repo.roots(conn, {row.member_id for row in lapsed})
    ledger = LedgerWriter(roots, now)
    for row in lapsed:
        lot = Lot(row.id, row.member_id, row.remaining, row.available_at, row.expires_at)
        expiry = Entry(
            row.member_id, "expire", -row.remaining, f"expire:{row.id}", row.expires_at, rules.version, now,
            note="points lapsed",
        )  # fmt: skip
        ledger.add(expiry, [(lot, row.remaining)])
    written = len(ledger.entries)
    return written, list(ledger.write(conn))


def end_rank_period(conn: Connection, rules: LoyaltyRules, now: datetime) -> tuple[int, list[DomainEvent]]:
    """Evaluate the rank period that ended last, once: every cluster takes the rank its measure earns.

    A cluster keeps a higher rank only if its measure over the window ending at the period end, or over the
    window ending now (purchases since the period end upgrade immediately anyway), qualifies for it.
    """
    boundary = period_start(now, rules.ranks.evaluation_period)
    done = ranks_repo.evaluated_until(conn)
    if done is not None and done >= boundary:
        return 0, []
    roots = repo.active_roots(conn)
    windows = [Window.ending(rules, boundary), Window.ending(rules, now, open_ended=True)]
    ended, current = cluster_measures(conn, rules, None, windows)
    moves = RankMoves(rules, now, {row.id: row.rank_code for row in roots})
    cause = f"period ending {boundary:%Y-%m-%d}"
    for row in roots:
        level = max(ended.get(row.id, 0), current.get(row.id, 0))
        target = rules.qualified(level)
        if target.code != row.rank_code and (row.rank_code is not None or target != rules.lowest):
            moves.set(row.id, target, reason(rules, cause, level))
    events = moves.write(conn)
    ranks_repo.record_evaluated(conn, boundary)
    return len(events), list(events)
