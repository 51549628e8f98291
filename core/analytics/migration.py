"""Rank migration: how the clusters of one month's end stood at the end of a month some months before.

Every cluster root alive at the end of the month counts once, under its rank then (``to_rank``) and its rank
at the end of the earlier month (``from_rank``), or ``new`` if it joined in between. The earlier month is
``[analytics] migration_months`` before (12 by default: a year of rank evaluation).
"""

from __future__ import annotations

from sqlalchemy import case, func, select

from core.analytics.sql import ReportContext, at, live_roots, number, rank_at
from core.analytics.tables import Cell, ReportTable

__all__ = ["COLUMNS", "NEW", "rank_migration"]

COLUMNS = ("from_rank", "to_rank", "members")
NEW = "new"


def rank_migration(context: ReportContext) -> tuple[ReportTable, ...]:
    """One table, ``matrix``: members per (rank at the earlier month's end, rank at this month's end)."""
    before = context.month.shifted(-context.settings.migration_months).end
    roots = live_roots(context.month.end)
    joined_since = roots.c.created_at >= at(before)
    earlier = rank_at(roots.c.root, before, context.lowest_rank)
    from_rank = case((joined_since, NEW), else_=earlier).label("from_rank")
    to_rank = rank_at(roots.c.root, context.month.end, context.lowest_rank).label("to_rank")
    pairs = select(from_rank, to_rank).subquery("pairs")
    # Grouped outside: PostgreSQL would not match the bound lowest rank in SELECT and GROUP BY.
    query = select(pairs.c.from_rank, pairs.c.to_rank, func.count()).group_by(pairs.c.from_rank, pairs.c.to_rank)
    rows: list[tuple[Cell, ...]] = sorted((str(f), str(t), number(n)) for f, t, n in context.conn.execute(query).all())
    return (ReportTable("matrix", COLUMNS, tuple(rows)),)
