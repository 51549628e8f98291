"""Repeat-purchase rate and sales of one month, by rank (at the month's end) and by channel.

A *buyer* of the month is a cluster with a counted purchase in it; a *returning* buyer had one before the
month too; the repeat-purchase rate is returning ÷ buyers. Sales are net yen. Rows come per rank and channel
(``store``, ``online``, and ``all`` counting each cluster once), so any rank's figures add up across ranks.
Only the month's purchases are aggregated; whether a buyer bought before is looked up per member of the
buyers' clusters on the purchases' member index (``last_counted``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import CTE, case, func, literal, select, union_all

from core.analytics.sql import (
    ReportContext,
    at,
    cluster_tree,
    counted_purchases,
    last_counted,
    number,
    rank_at,
)
from core.analytics.tables import Cell, ReportTable
from core.store.loyalty import PURCHASES

__all__ = ["COLUMNS", "repeat_sales"]

COLUMNS = ("rank", "channel", "buyers", "returning", "orders", "sales")


def repeat_sales(context: ReportContext) -> tuple[ReportTable, ...]:
    """One table, ``by_rank_channel``: buyers, returning buyers, orders and net yen per rank and channel."""
    tree = cluster_tree()
    month = _month_per_root_channel(context, tree).cte("month_per_root_channel")
    roots = _buyer_roots(context, tree, month).cte("buyer_roots")
    m, r = month.c, roots.c
    rows = select(r.rank, m.channel, r.bought_before, m.orders, m.sales).join_from(month, roots, r.root == m.root)
    by_channel = rows.subquery("by_channel").c
    per_channel = select(
        by_channel.rank, by_channel.channel, func.count(), func.sum(by_channel.bought_before),
        func.sum(by_channel.orders), func.sum(by_channel.sales),
    ).group_by(by_channel.rank, by_channel.channel)  # fmt: skip
    per_root = (
        select(r.root, r.rank, r.bought_before, func.sum(m.orders).label("orders"), func.sum(m.sales).label("sales"))
        .join_from(month, roots, r.root == m.root)
        .group_by(r.root, r.rank, r.bought_before)
        .subquery("per_root")
    ).c
    everyone = select(
        per_root.rank, literal("all"), func.count(), func.sum(per_root.bought_before), func.sum(per_root.orders),
        func.sum(per_root.sales),
    ).group_by(per_root.rank)  # fmt: skip
    found = context.conn.execute(union_all(per_channel, everyone)).all()
    rows_out: list[tuple[Cell, ...]] = sorted(
        (str(row[0]), str(row[1]), *(number(v) for v in row[2:])) for row in found
    )
    return (ReportTable("by_rank_channel", COLUMNS, tuple(rows_out)),)


def _month_per_root_channel(context: ReportContext, tree: CTE) -> Any:
    """Per cluster root and channel: the month's counted purchases and their net yen."""
    p = PURCHASES.c
    counted = counted_purchases(context.void_statuses)
    per_member = (
        select(
            counted.member.label("member_id"),
            p.channel,
            func.count().label("orders"),
            func.sum(counted.net).label("sales"),
        )
        .select_from(counted.source)
        .where(p.purchased_at >= at(context.month.start), p.purchased_at < at(context.month.end), counted.counts)
        .group_by(counted.member, p.channel)
    ).subquery("per_member")
    m = per_member.c
    return (
        select(tree.c.root, m.channel, func.sum(m.orders).label("orders"), func.sum(m.sales).label("sales"))
        .select_from(per_member.join(tree, tree.c.id == m.member_id))
        .group_by(tree.c.root, m.channel)
    )


def _buyer_roots(context: ReportContext, tree: CTE, month: CTE) -> Any:
    """Each buyer cluster once: its rank at the month's end, and 1 if any of its members bought before the month.

    The buyers' members come from a join to the cluster tree, never a lookup into it per buyer: PostgreSQL
    cannot index a CTE and would scan it once per buyer.
    """
    buyers = select(month.c.root).distinct().subquery("buyers")
    before = last_counted(tree.c.id, context.month.start, context.void_statuses)
    flagged = (
        select(tree.c.root, func.max(case((before.is_not(None), 1), else_=0)).label("bought_before"))
        .join_from(tree, buyers, buyers.c.root == tree.c.root)
        .group_by(tree.c.root)
        .subquery("flagged")
    )
    f = flagged.c
    return select(f.root, rank_at(f.root, context.month.end, context.lowest_rank).label("rank"), f.bought_before)
