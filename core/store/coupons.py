"""SQL of coupons: issuing, the codes purchases carried and their uses, and what survey rules read.

Every function works on a batch (``among``: one array parameter however many ids). A coupon's uses are its
``coupon_redemptions`` rows with status ``redeemed``; spending them locks the coupon rows on PostgreSQL (on
SQLite every write transaction is already exclusive).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Row, Select, and_, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from core.store.loyalty import among
from core.store.members import _insert_rows  # the store's one bulk-insert path
from core.store.models import (
    Coupon,
    CouponRedemption,
    Member,
    Purchase,
    PurchaseAdjustment,
    SourceLink,
    SurveyResponse,
    table_of,
)

COUPONS = table_of(Coupon)
USES = table_of(CouponRedemption)
PURCHASES = table_of(Purchase)
ADJUSTMENTS = table_of(PurchaseAdjustment)
SURVEYS = table_of(SurveyResponse)
MEMBERS = table_of(Member)
LINKS = table_of(SourceLink)


# ── coupons ────────────────────────────────────────────────────────────────────────────────────────


def coupons_by_source_event(conn: Connection, source_events: Iterable[str]) -> dict[str, Row[Any]]:
    """Coupons already issued for these source events, by source event."""
    query: Select[Any] = select(*COUPONS.c).where(among(conn, COUPONS.c.source_event, source_events))
    return {row.source_event: row for row in conn.execute(query).all()}


def insert_coupons(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Issue coupons (every row with the same keys)."""
    _insert_rows(conn, COUPONS, rows)


def coupons_by_code(conn: Connection, codes: Iterable[str], *, lock: bool = False) -> dict[str, Row[Any]]:
    """Coupons with these codes, by code; ``lock`` holds their rows until the transaction ends (PostgreSQL)."""
    query: Select[Any] = select(*COUPONS.c).where(among(conn, COUPONS.c.code, sorted(set(codes))))
    if lock and conn.dialect.name == "postgresql":
        query = query.order_by(COUPONS.c.id).with_for_update()
    return {row.code: row for row in conn.execute(query).all()}


def use_counts(conn: Connection, coupon_ids: Iterable[int]) -> dict[int, int]:
    """How many purchases have redeemed each coupon (released uses do not count)."""
    u = USES.c
    query = (
        select(u.coupon_id, func.count())
        .where(among(conn, u.coupon_id, coupon_ids), u.status == "redeemed")
        .group_by(u.coupon_id)
    )
    return {coupon_id: int(n) for coupon_id, n in conn.execute(query)}


def set_used_at(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Set (or clear, with ``None``) ``used_at`` of coupons: rows of ``id`` and ``used_at``."""
    if rows:
        statement = update(COUPONS).where(COUPONS.c.id == bindparam("_id")).values(used_at=bindparam("_used_at"))
        conn.execute(statement, [{"_id": row["id"], "_used_at": row["used_at"]} for row in rows])


def member_coupons(conn: Connection, member_ids: Iterable[UUID]) -> list[Row[Any]]:
    """Coupons issued to any of these members with their number of uses, newest first."""
    c, u = COUPONS.c, USES.c
    uses = (
        select(u.coupon_id, func.count().label("uses")).where(u.status == "redeemed").group_by(u.coupon_id).subquery()
    )
    query: Select[Any] = (
        select(*c, func.coalesce(uses.c.uses, 0).label("uses"))
        .select_from(COUPONS.outerjoin(uses, uses.c.coupon_id == c.id))
        .where(among(conn, c.member_id, member_ids))
        .order_by(c.issued_at.desc(), c.id.desc())
    )
    return list(conn.execute(query).all())


# ── the codes purchases carried ────────────────────────────────────────────────────────────────────


def present_codes(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Record codes purchases carried (rows: ``purchase_id``, ``code``, ``member_id``); known pairs are kept."""
    if not rows:
        return
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(USES)
    conn.execute(insert.on_conflict_do_nothing(index_elements=["purchase_id", "code"]), list(rows))


def codes_of(conn: Connection, purchase_ids: Iterable[int], status: str) -> list[Row[Any]]:
    """Codes of these purchases in one status, with the purchase's member, time and status, in purchase order."""
    u, p = USES.c, PURCHASES.c
    query: Select[Any] = (
        select(u.id, u.purchase_id, u.code, u.coupon_id, p.member_id, p.purchased_at, p.status.label("purchase_status"))
        .join(PURCHASES, p.id == u.purchase_id)
        .where(among(conn, u.purchase_id, purchase_ids), u.status == status)
        .order_by(p.purchased_at, p.id, u.code)
    )
    return list(conn.execute(query).all())


def cancelled_purchases(conn: Connection, purchase_ids: Iterable[int]) -> set[int]:
    """Those of these purchases that a cancellation adjustment undid."""
    a = ADJUSTMENTS.c
    query = select(a.purchase_id).where(among(conn, a.purchase_id, purchase_ids), a.kind == "cancel")
    return set(conn.execute(query).scalars())


def decide_codes(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Record what became of carried codes: rows of ``id`` and the columns to set, the same in every row."""
    if not rows:
        return
    names = [name for name in rows[0] if name != "id"]
    statement = update(USES).where(USES.c.id == bindparam("_id")).values({n: bindparam(f"_{n}") for n in names})
    conn.execute(statement, [{f"_{name}": value for name, value in row.items()} for row in rows])


def coupon_uses(conn: Connection, coupon_ids: Iterable[int]) -> list[Row[Any]]:
    """Every decided code of these coupons with its purchase (for listings), oldest first."""
    u, p = USES.c, PURCHASES.c
    query: Select[Any] = (
        select(u.coupon_id, u.status, u.reason, u.redeemed_at, p.source, p.external_id)
        .join(PURCHASES, p.id == u.purchase_id)
        .where(among(conn, u.coupon_id, coupon_ids))
        .order_by(u.coupon_id, p.purchased_at)
    )
    return list(conn.execute(query).all())


# ── survey responses ───────────────────────────────────────────────────────────────────────────────


def responses_with_members(conn: Connection, response_ids: Iterable[int]) -> list[Row[Any]]:
    """Survey responses of members, with the member's status, in the order they were answered."""
    s, m = SURVEYS.c, MEMBERS.c
    query: Select[Any] = (
        select(s.id, s.member_id, s.source, s.external_id, s.survey_code, s.score, s.answers, s.answered_at, m.status)
        .join(MEMBERS, m.id == s.member_id)
        .where(among(conn, s.id, response_ids))
        .order_by(s.answered_at, s.id)
    )
    return list(conn.execute(query).all())


def external_ids_in(conn: Connection, member_ids: Iterable[UUID], source: str) -> dict[UUID, str]:
    """The id each member has in one source (the oldest link if several), for members linked there."""
    link = LINKS.c
    query = (
        select(link.member_id, link.external_id)
        .where(and_(among(conn, link.member_id, member_ids), link.source == source))
        .order_by(link.id.desc())
    )
    return {member_id: external_id for member_id, external_id in conn.execute(query)}
