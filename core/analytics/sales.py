"""Repeat-purchase rate and sales of one month, by rank (at the month's end) and by channel.

A *buyer* of the month is a cluster with a counted purchase in it; a *returning* buyer had one before the
month too; the repeat-purchase rate is returning ÷ buyers. Sales are net yen. Rows come per rank and channel
(``store``, ``online``, and ``all`` counting each cluster once), so any rank's figures add up across ranks.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, literal, select, union_all

from core.analytics.sql import (
    ReportContext,
    at,
    cluster_tree,
    counted_purchases,
    number,
    rank_of_root,
    ranks_at,
)
from core.analytics.tables import Cell, ReportTable
from core.store.loyalty import PURCHASES

__all__ = ["COLUMNS", "repeat_sales"]

COLUMNS = ("rank", "channel", "buyers", "returning", "orders", "sales")


def repeat_sales(context: ReportContext) -> tuple[ReportTable, ...]:
    """One table, ``by_rank_channel``: buyers, returning buyers, orders and net yen per rank and channel."""
    per_root = _per_root_channel(context).cte("per_root_channel")
    ranks = ranks_at(context.month.end)
    rank = rank_of_root(ranks, context.lowest_rank)
    r = per_root.c
    start = at(context.month.start)
    first = func.min(r.first).over(partition_by=r.root)
    rows = select(r.root, r.channel, r.orders, r.sales, first.label("first")).subquery("with_first")
    w = rows.c
    ranked = (
        select(w.root, w.channel, w.orders, w.sales, w.first, rank.label("rank"))
        .select_from(rows.outerjoin(ranks, ranks.c.member_id == w.root))
        .subquery("ranked")
    )
    k = ranked.c
    buyers = func.sum(case((k.orders > 0, 1), else_=0))
    by_channel = (
        select(
            k.rank,
            k.channel,
            buyers,
            func.sum(case(((k.orders > 0) & (k.first < start), 1), else_=0)),
            func.sum(k.orders),
            func.sum(k.sales),
        )
        .group_by(k.rank, k.channel)
        .having(buyers > 0)
    )
    per_cluster = (
        select(
            k.rank,
            func.sum(k.orders).label("orders"),
            func.sum(k.sales).label("sales"),
            func.min(k.first).label("first"),
        )
        .group_by(k.root, k.rank)
        .subquery("per_cluster")
    )
    c = per_cluster.c
    cluster_buyers = func.sum(case((c.orders > 0, 1), else_=0))
    everyone = (
        select(
            c.rank,
            literal("all"),
            cluster_buyers,
            func.sum(case(((c.orders > 0) & (c.first < start), 1), else_=0)),
            func.sum(c.orders),
            func.sum(c.sales),
        )
        .group_by(c.rank)
        .having(cluster_buyers > 0)
    )
    found = context.conn.execute(union_all(by_channel, everyone)).all()
    rows_out: list[tuple[Cell, ...]] = sorted(
        (str(row[0]), str(row[1]), *(number(value) for value in row[2:])) for row in found
    )
    return (ReportTable("by_rank_channel", COLUMNS, tuple(rows_out)),)


def _per_root_channel(context: ReportContext) -> Any:
    """Per cluster root and channel: the first counted purchase ever (before the month's end) and the month's."""
    p = PURCHASES.c
    counted = counted_purchases(context.void_statuses)
    inside = p.purchased_at >= at(context.month.start)
    per_member = (
        select(
            counted.member.label("member_id"),
            p.channel,
            func.min(p.purchased_at).label("first"),
            func.sum(case((inside, 1), else_=0)).label("orders"),
            func.sum(case((inside, counted.net), else_=0)).label("sales"),
        )
        .select_from(counted.source)
        .where(counted.counts, p.purchased_at < at(context.month.end))
        .group_by(counted.member, p.channel)
    ).subquery("per_member")
    m = per_member.c
    tree = cluster_tree()
    return (
        select(
            tree.c.root,
            m.channel,
            func.min(m.first).label("first"),
            func.sum(m.orders).label("orders"),
            func.sum(m.sales).label("sales"),
        )
        .select_from(per_member.join(tree, tree.c.id == m.member_id))
        .group_by(tree.c.root, m.channel)
    )
