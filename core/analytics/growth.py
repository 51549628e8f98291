"""Member growth and churn in one month, per rank at the month's end.

Members are the cluster roots alive at the month's end; ``new`` joined during it. ``buyers`` ever made a
counted purchase before the month's end; of them, ``active`` bought within ``[analytics] churn_days`` before
the end and ``churned`` did not; ``newly_churned`` were not churned at the month's start but are at its end.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import case, func, null, select

from core.analytics.sql import (
    ReportContext,
    at,
    cluster_tree,
    last_counted,
    live_roots,
    number,
    rank_at,
)
from core.analytics.tables import Cell, ReportTable

__all__ = ["COLUMNS", "growth_churn"]

COLUMNS = ("rank", "members", "new", "buyers", "active", "churned", "newly_churned")


def growth_churn(context: ReportContext) -> tuple[ReportTable, ...]:
    """One table, ``by_rank``: members, new members, buyers, active, churned and newly churned per rank."""
    month, window = context.month, timedelta(days=context.settings.churn_days)
    last = _last_purchases(context).subquery("last_purchases")
    roots = live_roots(month.end)
    per_root = (
        select(
            rank_at(roots.c.root, month.end, context.lowest_rank).label("rank"),
            roots.c.created_at,
            last.c.before_end,
            last.c.before_start,
        )
        .select_from(roots.outerjoin(last, last.c.root == roots.c.root))
        .subquery("per_root")
    )
    r = per_root.c
    churned_end = r.before_end < at(month.end - window)
    churned_start = r.before_start < at(month.start - window)

    def how_many(condition: Any) -> Any:
        return func.sum(case((condition, 1), else_=0))

    query = select(
        r.rank,
        func.count(),
        how_many(r.created_at >= at(month.start)),
        how_many(r.before_end.is_not(None)),
        how_many(r.before_end >= at(month.end - window)),
        how_many(churned_end),
        how_many(churned_end & ~func.coalesce(churned_start, False)),
    ).group_by(r.rank)
    rows: list[tuple[Cell, ...]] = sorted(
        (str(rank), *(number(v) for v in figures)) for rank, *figures in context.conn.execute(query).all()
    )
    return (ReportTable("by_rank", COLUMNS, tuple(rows)),)


def _last_purchases(context: ReportContext) -> Any:
    """Per cluster root: its last counted purchase before the month's end, and before the month's start.

    Looked up per member on the purchases' member index (``last_counted``) rather than by grouping every
    purchase with its adjustments. The one before the start is the one before the end unless the member bought
    during the month, so only those members need the second lookup (CASE evaluates it only then).
    """
    tree = cluster_tree()
    month, void = context.month, context.void_statuses
    # Grouped (one row per member anyway) so that no planner inlines the lookup into each use of its result.
    per_member = (
        select(tree.c.root, tree.c.id, func.max(last_counted(tree.c.id, month.end, void)).label("before_end"))
        .group_by(tree.c.root, tree.c.id)
        .subquery("per_member")
    )
    m = per_member.c
    before_start = case(
        (m.before_end.is_(None), null()),
        (m.before_end < at(month.start), m.before_end),
        else_=last_counted(m.id, month.start, void),
    )
    return select(
        m.root, func.max(m.before_end).label("before_end"), func.max(before_start).label("before_start")
    ).group_by(m.root)
