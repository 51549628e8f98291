"""SQL of each cluster's loyalty status: points by state and next expiry, lots about to expire, pushed digests.

Points come from the lots with points left (a lot's ``remaining`` is its points less what consumptions took),
counted on the cluster root: a merged member's lots count for the root. Lots past their expiry that the expiry
job has not written off yet count as nothing, as a balance does (``core.loyalty.accounts.Balance``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Select, String, bindparam, case, delete, func, insert, or_, select

from core.store.bulk import copy_insert
from core.store.loyalty import CONSUMPTIONS, LEDGER, MEMBERS, among
from core.store.models import MemberStatusPush, table_of
from core.store.rfm import cluster_tree
from core.store.segments import raw_id

PUSHES = table_of(MemberStatusPush)


def _live_lots(now: datetime, until: datetime | None = None) -> Select[Any]:
    """Per lot with points left, not lapsed at ``now``: root, remaining, available_at, expires_at.

    Only lots lapsing by ``until``, if given. What consumptions took of a lot is looked up per lot on their
    ``lot_id`` index: few lots have any, and joining them to every lot and grouping by lot sorted half a
    million rows a night (profiled).
    """
    e, c = LEDGER.c, CONSUMPTIONS.c
    tree = cluster_tree()
    taken = select(func.coalesce(func.sum(c.points), 0)).where(c.lot_id == e.id).scalar_subquery()
    query = (
        select(tree.c.root, (e.points - taken).label("remaining"), e.available_at, e.expires_at)
        .select_from(LEDGER.join(tree, tree.c.id == e.member_id))
        .where(e.available_at.is_not(None), or_(e.expires_at.is_(None), e.expires_at > now))
    )
    lots = (query if until is None else query.where(e.expires_at <= until)).subquery("lot_points")
    return select(lots.c.root, lots.c.remaining, lots.c.available_at, lots.c.expires_at).where(lots.c.remaining > 0)


def cluster_statuses(conn: Connection, now: datetime) -> list[Row[Any]]:
    """Per active cluster root: id (as :func:`raw_id` gives it), rank_code, available, pending, next_expiry, expiring.

    ``available`` is spendable at ``now``, ``pending`` still in its return window; ``next_expiry`` is the
    earliest expiry among the points left and ``expiring`` how many expire then.
    """
    lots = _live_lots(now).cte("lots")  # read twice below: a CTE is computed once (both databases materialise it)
    spendable = lots.c.available_at <= now
    totals = (
        select(
            lots.c.root,
            func.sum(case((spendable, lots.c.remaining), else_=0)).label("available"),
            func.sum(case((spendable, 0), else_=lots.c.remaining)).label("pending"),
            func.min(lots.c.expires_at).label("next_expiry"),
        ).group_by(lots.c.root)
    ).cte("totals")  # read twice too
    soonest = (
        select(lots.c.root, func.sum(lots.c.remaining).label("expiring"))
        .join(totals, (totals.c.root == lots.c.root) & (totals.c.next_expiry == lots.c.expires_at))
        .group_by(lots.c.root)
    ).subquery("soonest")
    m = MEMBERS.c
    query: Select[Any] = (
        select(
            raw_id(m.id),
            m.rank_code,
            func.coalesce(totals.c.available, 0).label("available"),
            func.coalesce(totals.c.pending, 0).label("pending"),
            totals.c.next_expiry,
            func.coalesce(soonest.c.expiring, 0).label("expiring"),
        )
        .select_from(MEMBERS.outerjoin(totals, totals.c.root == m.id).outerjoin(soonest, soonest.c.root == m.id))
        .where(m.merged_into.is_(None), m.status != "erased")
    )
    return list(conn.execute(query).all())


def expiring_lots(conn: Connection, now: datetime, until: datetime) -> list[Row[Any]]:
    """Points that expire after ``now`` and by ``until``, per cluster root and expiry: root, expires_at, points."""
    lots = _live_lots(now, until).subquery("lots")
    query: Select[Any] = (
        select(lots.c.root, lots.c.expires_at, func.sum(lots.c.remaining).label("points"))
        .group_by(lots.c.root, lots.c.expires_at)
        .order_by(lots.c.expires_at, lots.c.root)
    )
    return list(conn.execute(query).all())


def pushed_digests(conn: Connection, destination: str) -> dict[Any, bytes]:
    """What ``destination`` was last told of each root: member (as :func:`raw_id` gives it) → digest."""
    p = PUSHES.c
    query = select(raw_id(p.member_id), p.digest).where(p.destination == destination)
    return {member_id: bytes(digest) for member_id, digest in conn.execute(query)}


def save_digests(
    conn: Connection, destination: str, told: Sequence[tuple[Any, bytes]], now: datetime, replacing: Sequence[Any]
) -> None:
    """Record what ``destination`` was told at ``now``: (member as :func:`raw_id` gives it, digest).

    ``told`` in id order writes the index left to right. ``replacing``: the members among them whose earlier
    digest this replaces (none on a first push).
    """
    if not told:
        return
    p = PUSHES.c
    if replacing:
        conn.execute(delete(PUSHES).where(p.destination == destination, among(conn, p.member_id, replacing)))
    if conn.dialect.name == "postgresql":
        # COPY of plain tuples: the driver gave UUIDs and takes them, and bytes and an aware timestamp need no
        # converting (through insert_many's dict rows, 200,000 digests took 4 s, not 2)
        copy_insert(conn, PUSHES, _PUSH_COLUMNS, [(destination, member, digest, now) for member, digest in told])
    else:  # SQLite: the hex text as it was read
        rows = [{"destination": destination, "member_id": m, "digest": d, "pushed_at": now} for m, d in told]
        conn.execute(_INSERT_HEX, rows)


_INSERT_HEX = insert(PUSHES).values(member_id=bindparam("member_id", type_=String()))
_PUSH_COLUMNS = ("destination", "member_id", "digest", "pushed_at")
