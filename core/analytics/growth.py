"""Member growth and churn in one month, per rank at the month's end.

Members are the cluster roots alive at the month's end; ``new`` joined during it. ``buyers`` ever made a
counted purchase before the month's end; of them, ``active`` bought within ``[analytics] churn_days`` before
the end and ``churned`` did not; ``newly_churned`` were not churned at the month's start but are at its end.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import case, func, select

from core.analytics.sql import (
    ReportContext,
    at,
    cluster_tree,
    counted_purchases,
    live_roots,
    number,
    rank_of_root,
    ranks_at,
)
from core.analytics.tables import Cell, ReportTable
from core.store.loyalty import PURCHASES

__all__ = ["COLUMNS", "growth_churn"]

COLUMNS = ("rank", "members", "new", "buyers", "active", "churned", "newly_churned")


def growth_churn(context: ReportContext) -> tuple[ReportTable, ...]:
    """One table, ``by_rank``: members, new members, buyers, active, churned and newly churned per rank."""
    month, window = context.month, timedelta(days=context.settings.churn_days)
    last = _last_purchases(context).subquery("last_purchases")
    roots = live_roots(month.end)
    ranks = ranks_at(month.end)
    per_root = (
        select(
            rank_of_root(ranks, context.lowest_rank).label("rank"),
            roots.c.created_at,
            last.c.before_end,
            last.c.before_start,
        )
        .select_from(
            roots.outerjoin(last, last.c.root == roots.c.root).outerjoin(ranks, ranks.c.member_id == roots.c.root)
        )
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
    """Per cluster root: its last counted purchase before the month's end, and before the month's start."""
    p = PURCHASES.c
    counted = counted_purchases(context.void_statuses)
    start = at(context.month.start)
    per_member = (
        select(
            counted.member.label("member_id"),
            func.max(p.purchased_at).label("before_end"),
            func.max(case((p.purchased_at < start, p.purchased_at), else_=None)).label("before_start"),
        )
        .select_from(counted.source)
        .where(counted.counts, p.purchased_at < at(context.month.end))
        .group_by(counted.member)
    ).subquery("per_member")
    tree = cluster_tree()
    m = per_member.c
    return (
        select(tree.c.root, func.max(m.before_end).label("before_end"), func.max(m.before_start).label("before_start"))
        .select_from(per_member.join(tree, tree.c.id == m.member_id))
        .group_by(tree.c.root)
    )
