"""Points liability: the points members hold at the end of a month (or now, for the month under way).

A lot (a ledger entry with ``available_at``) is outstanding at that moment if it was written before it and
does not lapse by then; it holds its points less what entries before that moment consumed of it. It is
``pending`` until ``available_at``. ``expires`` says when it lapses: ``1``, ``2`` or ``3`` for the first,
second or third month after the moment, ``later``, or ``never``. Its yen value is points ×
``[analytics] yen_per_point``; rows are per rank of the cluster at that moment.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select

from core.analytics.sql import ReportContext, at, cluster_tree, number, rank_at
from core.analytics.tables import Cell, ReportTable
from core.loyalty.periods import months_before
from core.store.loyalty import CONSUMPTIONS, LEDGER

__all__ = ["COLUMNS", "EXPIRY_MONTHS", "as_of", "points_liability"]

COLUMNS = ("rank", "state", "expires", "points")
EXPIRY_MONTHS = 3


def as_of(context: ReportContext) -> datetime:
    """The moment the liability is taken at: the month's end, or now if the month has not ended."""
    return min(context.now, context.month.end)


def points_liability(context: ReportContext) -> tuple[ReportTable, ...]:
    """One table, ``by_rank_state_expiry``: outstanding points per rank, state and expiry bucket."""
    per_root = _outstanding(context).cte("outstanding")
    o = per_root.c
    # The rank once per root (a root has rows per state and expiry), joined back.
    roots = select(o.root).distinct().subquery("roots")
    ranks = select(roots.c.root, rank_at(roots.c.root, as_of(context), context.lowest_rank).label("rank")).cte("ranks")
    ranked = select(ranks.c.rank, o.state, o.expires, o.points).join_from(per_root, ranks, ranks.c.root == o.root)
    k = ranked.subquery("ranked").c
    query = select(k.rank, k.state, k.expires, func.sum(k.points)).group_by(k.rank, k.state, k.expires)
    rows: list[tuple[Cell, ...]] = sorted(
        (str(r), str(s), str(e), number(n)) for r, s, e, n in context.conn.execute(query).all()
    )
    return (ReportTable("by_rank_state_expiry", COLUMNS, tuple(rows)),)


def _outstanding(context: ReportContext) -> Any:
    """Outstanding points per cluster root, state and expiry bucket (the rank is looked up per root after)."""
    moment = as_of(context)
    lot, entry, used = LEDGER.c, LEDGER.alias("entry"), CONSUMPTIONS.c
    consumed = (
        select(used.lot_id, func.sum(used.points).label("points"))
        .select_from(CONSUMPTIONS.join(entry, entry.c.id == used.entry_id))
        .where(entry.c.occurred_at < at(moment))
        .group_by(used.lot_id)
    ).subquery("consumed")
    buckets = [(lot.expires_at < at(months_before(moment, -k)), str(k)) for k in range(1, EXPIRY_MONTHS + 1)]
    lots = (
        select(
            lot.member_id,
            case((lot.available_at > at(moment), "pending"), else_="available").label("state"),
            case((lot.expires_at.is_(None), "never"), *buckets, else_="later").label("expires"),
            (lot.points - func.coalesce(consumed.c.points, 0)).label("points"),
        )
        .select_from(LEDGER.outerjoin(consumed, consumed.c.lot_id == lot.id))
        .where(
            lot.available_at.is_not(None),
            lot.points > 0,
            lot.occurred_at < at(moment),
            (lot.expires_at.is_(None)) | (lot.expires_at > at(moment)),
        )
    ).subquery("lots")
    tree = cluster_tree()
    n = lots.c
    return (
        select(tree.c.root, n.state, n.expires, func.sum(n.points).label("points"))
        .select_from(lots.join(tree, tree.c.id == n.member_id))
        .where(n.points > 0)
        .group_by(tree.c.root, n.state, n.expires)
    )
