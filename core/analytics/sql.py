"""SQL pieces every report shares: cluster roots, counted purchases and their net yen, ranks at a moment.

Portable SQLAlchemy Core (SQLite ≥ 3.25 and PostgreSQL): window functions, recursive CTEs and CASE only.
A purchase *counts* as the RFM scores count it (``core/store/rfm.py``): its status is not void, no
cancellation was reported for it and refunds left something of it; its net yen are the total less refunds.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    FromClause,
    bindparam,
    func,
    select,
)

from core.analytics.months import Month
from core.analytics.settings import AnalyticsRules
from core.store.loyalty import ADJUSTMENTS, MEMBERS, PURCHASES
from core.store.models import RankChange, UTCDateTime, table_of
from core.store.rfm import adjustment_totals, cluster_tree

__all__ = [
    "CountedPurchases",
    "ReportContext",
    "at",
    "cluster_tree",
    "counted_purchases",
    "last_counted",
    "live_roots",
    "number",
    "rank_at",
]

RANK_HISTORY = table_of(RankChange)


@dataclass(frozen=True)
class ReportContext:
    """What a report is computed from: the connection, the month, the rank ladder and the analytics rules."""

    conn: Connection
    month: Month
    now: datetime
    lowest_rank: str
    settings: AnalyticsRules
    void_statuses: Collection[str]


def at(moment: datetime) -> BindParameter[datetime]:
    """A moment as an anonymous bound UTC timestamp (each its own parameter)."""
    return bindparam(None, moment, type_=UTCDateTime())


def number(value: Any) -> int:
    """A database sum or count as an ``int`` (PostgreSQL sums bigints as numeric; a sum of nothing is NULL)."""
    return int(value or 0)


@dataclass(frozen=True)
class CountedPurchases:
    """Purchases joined to their adjustments: ``counts`` selects those that count, ``net`` is their net yen."""

    source: FromClause
    counts: ColumnElement[bool]
    net: ColumnElement[Any]
    member: ColumnElement[Any]


def counted_purchases(void_statuses: Collection[str]) -> CountedPurchases:
    """The purchases that count, with net yen, for one pass over the purchases table."""
    p = PURCHASES.c
    adjusted = adjustment_totals()
    refunded = func.coalesce(adjusted.c.refunded, 0)
    counts = p.status.not_in(list(void_statuses)) & (func.coalesce(adjusted.c.cancelled, 0) == 0)
    # As in the RFM scores: grouping by a plain member_id makes SQLite walk the member index in random order.
    return CountedPurchases(
        source=PURCHASES.outerjoin(adjusted, adjusted.c.purchase_id == p.id),
        counts=counts & (p.total_amount > refunded),
        net=p.total_amount - refunded,
        member=func.coalesce(p.member_id, p.member_id),
    )


def last_counted(member: ColumnElement[Any], before: datetime, void_statuses: Collection[str]) -> ColumnElement[Any]:
    """When ``member`` last made a purchase that counts, before ``before`` (NULL if never).

    Walks the member's (member_id, purchased_at) index backwards to the first purchase that counts: a few rows
    per member, where a pass over every purchase with its adjustments would read the whole table.
    """
    p, a = PURCHASES.alias("earlier"), ADJUSTMENTS.c
    refunded = select(func.coalesce(func.sum(a.amount), 0)).where(a.purchase_id == p.c.id, a.kind == "refund")
    cancelled = select(a.id).where(a.purchase_id == p.c.id, a.kind == "cancel").exists()
    return (
        select(p.c.purchased_at)
        .where(p.c.member_id == member, p.c.purchased_at < at(before), p.c.status.not_in(list(void_statuses)))
        .where(~cancelled, p.c.total_amount > refunded.scalar_subquery())
        .order_by(p.c.purchased_at.desc())
        .limit(1)
        .scalar_subquery()
    )


def rank_at(root: ColumnElement[Any], boundary: datetime, lowest: str) -> ColumnElement[str]:
    """The rank of the cluster ``root`` just before ``boundary``: its last rank change before then, else ``lowest``.

    A correlated lookup on the (member_id, changed_at) index per root: a join to a window-ranked subquery made
    SQLite scan the subquery once per root (minutes for 200,000 roots).
    """
    h = RANK_HISTORY.c
    last = (
        select(h.to_rank)
        .where(h.member_id == root, h.changed_at < at(boundary))
        .order_by(h.changed_at.desc(), h.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(last, bindparam(None, lowest))


def live_roots(until: datetime) -> Any:
    """Cluster roots (not merged, not erased) that existed before ``until``, as ``(root, created_at)``."""
    m = MEMBERS.c
    return (
        select(m.id.label("root"), m.created_at)
        .where(m.merged_into.is_(None), m.status != "erased", m.created_at < at(until))
        .subquery("roots")
    )
