"""SQL of RFM scoring: every cluster root's recency, frequency and monetary figures and their quintiles.

One ``INSERT … SELECT`` computes everything in the database: a recursive CTE maps every member to its
cluster root, purchases are netted of refunds, and ``RANK()`` over all clusters that ever bought gives the
quintiles (``1 + (rank − 1) × 5 ÷ count``, so equal figures always share a score — ``NTILE`` would split a
tie across two scores). Window functions and recursive CTEs run on SQLite ≥ 3.25 and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Connection,
    Date,
    Integer,
    Select,
    Subquery,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    null,
    select,
)

from core.store.loyalty import ADJUSTMENTS, MEMBERS, PURCHASES
from core.store.models import MemberScore, UTCDateTime, table_of

SCORES = table_of(MemberScore)
_QUANTILES = 5


def cluster_tree() -> CTE:
    """``(id, root)`` for every member of every cluster whose root is not erased (a root maps to itself)."""
    m = MEMBERS.c
    roots = select(m.id.label("id"), m.id.label("root")).where(m.merged_into.is_(None), m.status != "erased")
    tree = roots.cte("cluster_tree", recursive=True)
    child = MEMBERS.alias("child")
    return tree.union_all(select(child.c.id, tree.c.root).join(tree, child.c.merged_into == tree.c.id))


def replace_scores(
    conn: Connection, now: datetime, today: date, since: datetime, *, void_statuses: Collection[str]
) -> tuple[int, int]:
    """Rewrite ``member_scores``: one row per cluster root; returns how many roots, and how many ever bought.

    ``today`` is the JST day of ``now``; recency is counted in JST days. ``since`` starts the window of
    frequency, channel counts and monetary (net yen: the total less refunds; nothing for a cancelled,
    voided or fully refunded purchase).
    """
    conn.execute(delete(SCORES))
    tree = cluster_tree()
    figures = _figures(conn, tree, today, since, void_statuses).subquery("figures")
    computed_at = bindparam("computed_at", now, type_=UTCDateTime())
    columns = [
        "member_id", "recency_days", "frequency", "store_frequency", "online_frequency", "monetary",
        "recency_score", "frequency_score", "monetary_score", "computed_at",
    ]  # fmt: skip
    conn.execute(insert(SCORES).from_select(columns, _scored(figures).add_columns(computed_at)))
    # Then the roots that never bought, found through the primary key (an outer join of the roots to the
    # scored rows would make SQLite scan the materialised window query once per root).
    m = MEMBERS.c
    scored = select(SCORES.c.member_id).where(SCORES.c.member_id == m.id).exists()
    never = select(m.id, null(), *([literal(0)] * 7), computed_at).where(
        m.merged_into.is_(None), m.status != "erased", ~scored
    )
    conn.execute(insert(SCORES).from_select(columns, never))
    counted = select(func.count(), func.count(SCORES.c.recency_days))
    members, buyers = conn.execute(counted).one()
    return int(members), int(buyers)


def adjustment_totals() -> Subquery:
    """Per adjusted purchase: the yen refunded (``refunded``) and 1 if it was cancelled (``cancelled``)."""
    a = ADJUSTMENTS.c
    return (
        select(
            a.purchase_id,
            func.sum(case((a.kind == "refund", a.amount), else_=0)).label("refunded"),
            func.max(case((a.kind == "cancel", 1), else_=0)).label("cancelled"),
        ).group_by(a.purchase_id)
    ).subquery("adjusted")


def _figures(conn: Connection, tree: CTE, today: date, since: datetime, void_statuses: Collection[str]) -> Select[Any]:
    """Per cluster root that ever bought: days since the last purchase, counts and net yen in the window."""
    p = PURCHASES.c
    adjusted = adjustment_totals()
    refunded = func.coalesce(adjusted.c.refunded, 0)
    inside = p.purchased_at >= bindparam("since", since, type_=UTCDateTime())

    def counted(condition: ColumnElement[bool]) -> ColumnElement[Any]:
        return func.sum(case((condition, 1), else_=0))

    # Per member first, in one pass over the purchases table, then per cluster through the tree. Neither a
    # condition nor a plain GROUP BY on member_id: SQLite would take the member index for it and fetch a
    # million rows in random order (measured 1.6× slower than the scan).
    member = func.coalesce(p.member_id, p.member_id)  # the same value, but no index can give it
    members = (
        select(
            member.label("member_id"),
            func.max(p.purchased_at).label("last"),
            counted(inside).label("frequency"),
            counted(inside & (p.channel == "store")).label("store_frequency"),
            counted(inside & (p.channel == "online")).label("online_frequency"),
            func.sum(case((inside, p.total_amount - refunded), else_=0)).label("monetary"),
        )
        .select_from(PURCHASES.outerjoin(adjusted, adjusted.c.purchase_id == p.id))
        .where(p.status.not_in(list(void_statuses)))
        .where(func.coalesce(adjusted.c.cancelled, 0) == 0, p.total_amount > refunded)
        .group_by(member)  # guests make one group, which the join to the tree drops
    ).subquery("per_member")
    t = members.c
    return (
        select(
            tree.c.root,
            _days_since(conn, func.max(t.last), today).label("recency_days"),
            *(func.sum(column).label(column.name) for column in (t.frequency, t.store_frequency, t.online_frequency)),
            func.sum(t.monetary).label("monetary"),
        )
        .select_from(members.join(tree, tree.c.id == t.member_id))
        .group_by(tree.c.root)
    )


def _scored(figures: Any) -> Select[Any]:
    """The figures with their quintile scores; equal figures share a score.

    Fewer days since the last purchase, more purchases and more yen score higher.
    """
    f = figures.c
    everyone = func.count().over()

    def quintile(order: Any) -> ColumnElement[Any]:
        return literal(1) + (func.rank().over(order_by=order) - 1) * _QUANTILES // everyone

    return select(
        f.root, f.recency_days, f.frequency, f.store_frequency, f.online_frequency, f.monetary,
        quintile(f.recency_days.desc()).label("recency_score"),
        quintile(f.frequency).label("frequency_score"),
        quintile(f.monetary).label("monetary_score"),
    )  # fmt: skip


def _days_since(conn: Connection, moment: ColumnElement[Any], today: date) -> ColumnElement[Any]:
    """Whole JST calendar days from the day of ``moment`` (a UTC timestamp) to ``today``."""
    day = bindparam("today", today, type_=Date())
    if conn.dialect.name == "postgresql":
        return day - cast(func.timezone("Asia/Tokyo", moment), Date)
    # SQLite stores UTC wall time; Japan keeps no daylight saving time, so JST is always nine hours ahead.
    local = func.date(moment, "+9 hours")
    return cast(func.julianday(func.date(day)) - func.julianday(local), Integer)
