"""Campaign uplift: what the members a campaign treated bought, against its random holdout group.

For every campaign with a holdout (``holdout_percent`` > 0) running during the month, over the part of the
month it ran: the eligible clusters (roots alive by the end of that part, of a targeted rank at its start if
the campaign targets ranks) split into the ``holdout`` group, drawn by ``core.loyalty.holdout.in_holdout``,
and the ``treated`` rest. Per group: members, buyers, orders and net yen in the campaign's channels (segment
targeting is not judged: past segment membership is not kept). The assignment is a hash of the campaign and
member, not SQL, so the holdout's roots go to the database as one array parameter.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import case, func, select

from core.analytics.sql import ReportContext, at, cluster_tree, counted_purchases, live_roots, number, rank_at
from core.analytics.tables import Cell, ReportTable
from core.loyalty.holdout import held_out
from core.loyalty.rules import Campaign
from core.store.loyalty import PURCHASES, among

__all__ = ["COLUMNS", "campaign_uplift"]

COLUMNS = ("campaign", "group", "members", "buyers", "orders", "sales")


def campaign_uplift(context: ReportContext, campaigns: Sequence[Campaign]) -> tuple[ReportTable, ...]:
    """One table, ``by_campaign_group``: figures of the treated and holdout groups of each campaign."""
    rows: list[tuple[Cell, ...]] = []
    for campaign in campaigns:
        start, end = max(campaign.starts_at, context.month.start), min(campaign.ends_at, context.month.end)
        if campaign.holdout_percent <= 0 or start >= end or start >= context.now:
            continue
        rows.extend(_groups(context, campaign, start, min(end, context.now)))
    return (ReportTable("by_campaign_group", COLUMNS, tuple(rows)),)


def _groups(context: ReportContext, campaign: Campaign, start: datetime, end: datetime) -> list[tuple[Cell, ...]]:
    """The treated and holdout rows of one campaign over ``[start, end)``."""
    eligible = _eligible(context, campaign, start, end)
    roots: list[UUID] = list(context.conn.execute(select(eligible.c.root)).scalars())
    holdout = list(held_out(campaign.code, roots, campaign.holdout_percent))
    bought = _bought(context, campaign.channels, start, end).subquery("bought")
    group = case((among(context.conn, bought.c.root, holdout), "holdout"), else_="treated").label("group")
    per_group = (
        select(bought.c.root, bought.c.orders, bought.c.sales, group)
        .join(eligible, eligible.c.root == bought.c.root)
        .subquery("per_group")
    )
    g = per_group.c
    query = select(g.group, func.count(), func.sum(g.orders), func.sum(g.sales)).group_by(g.group)
    figures = {name: (number(b), number(o), number(s)) for name, b, o, s in context.conn.execute(query).all()}
    sizes = {"treated": len(roots) - len(holdout), "holdout": len(holdout)}
    return [(campaign.code, name, sizes[name], *figures.get(name, (0, 0, 0))) for name in ("treated", "holdout")]


def _eligible(context: ReportContext, campaign: Campaign, start: datetime, end: datetime) -> Any:
    """The roots the campaign could reach: alive before ``end``, of a targeted rank at ``start`` if it targets any."""
    roots = live_roots(end)
    if not campaign.ranks:
        return select(roots.c.root).subquery("eligible")
    rank = rank_at(roots.c.root, start, context.lowest_rank)
    return select(roots.c.root).where(rank.in_(campaign.ranks)).subquery("eligible")


def _bought(context: ReportContext, channels: Collection[str], start: datetime, end: datetime) -> Any:
    """Per cluster root: counted purchases and their net yen in ``[start, end)`` through ``channels`` (all if none)."""
    p = PURCHASES.c
    counted = counted_purchases(context.void_statuses)
    query = (
        select(counted.member.label("member_id"), func.count().label("orders"), func.sum(counted.net).label("sales"))
        .select_from(counted.source)
        .where(counted.counts, p.purchased_at >= at(start), p.purchased_at < at(end))
        .group_by(counted.member)
    )
    if channels:
        query = query.where(p.channel.in_(list(channels)))
    per_member = query.subquery("per_member")
    tree = cluster_tree()
    m = per_member.c
    return (
        select(tree.c.root, func.sum(m.orders).label("orders"), func.sum(m.sales).label("sales"))
        .select_from(per_member.join(tree, tree.c.id == m.member_id))
        .group_by(tree.c.root)
    )
