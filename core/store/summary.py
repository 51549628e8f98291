"""SQL of the member summary the console shows: figures over a cluster of members, each read through an index.

Every function takes the ids of a cluster (the root and the members merged into it) and sees no plaintext.
The statements are built once, at import: building a statement costs more than running it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Integer, Row, Select, bindparam, case, cast, func, literal, select, true, union_all

from core.store.models import (
    ConsentEvent,
    Inquiry,
    MemberSegment,
    PointLedgerEntry,
    Purchase,
    PurchaseAdjustment,
    RankChange,
    UTCDateTime,
    table_of,
)
from core.store.timeline import in_cluster

PURCHASES = table_of(Purchase)
ADJUSTMENTS = table_of(PurchaseAdjustment)
INQUIRIES = table_of(Inquiry)
LEDGER = table_of(PointLedgerEntry)
RANKS = table_of(RankChange)
SEGMENTS = table_of(MemberSegment)
CONSENT = table_of(ConsentEvent)
CONSENT_CHANNELS = ("email", "sms", "post")
OPEN_INQUIRY_STATUSES = ("open", "pending")


def member_figures(conn: Connection, member_ids: Sequence[UUID], since: datetime) -> Row[Any]:
    """Purchase, inquiry and rank figures in one statement; purchases cancelled at the source count for nothing.

    Columns: ``spend`` and ``recent_spend`` (sum of totals, all time and purchased at or after ``since``),
    ``purchase_count``, ``refunded`` and ``recent_refunded`` (refunds of those purchases, dated by their
    purchase), ``open_inquiries`` (open or pending); the newest purchase (``last_purchased_at``,
    ``last_channel``, ``last_store_code``, ``last_amount``, ``last_source``) and the newest rank change
    (``from_rank``, ``to_rank``, ``rank_reason``, ``rank_rule_version``, ``rank_changed_at``), ``NULL``
    when there is none.
    """
    return conn.execute(_FIGURES, {"members": list(member_ids), "since": since}).one()


def point_totals(conn: Connection, member_ids: Sequence[UUID], now: datetime) -> list[Row[Any]]:
    """Ledger sums per status and expiry: ``credited`` (positive entries) and ``debited`` (negative ones).

    Entries that expired before ``now`` are summed together (``lapsed`` true, ``expires_at`` ``NULL``): what
    is left of them never decides the next expiry, and a member with years of history has hundreds.
    """
    return list(conn.execute(_POINT_TOTALS, {"members": list(member_ids), "now": now}).all())


def recent_ledger_entries(conn: Connection, member_ids: Sequence[UUID], limit: int) -> list[Row[Any]]:
    """The newest ``limit`` point movements, newest first."""
    return list(conn.execute(_RECENT_LEDGER, {"members": list(member_ids), "limit": limit}).all())


def segment_codes(conn: Connection, member_ids: Sequence[UUID]) -> list[str]:
    """The segments any of the members belongs to, sorted."""
    return list(conn.execute(_SEGMENT_CODES, {"members": list(member_ids)}).scalars().all())


def current_consent(conn: Connection, member_ids: Sequence[UUID]) -> list[Row[Any]]:
    """The latest consent event per channel (channels without one are absent), in channel order."""
    return list(conn.execute(_CURRENT_CONSENT, {"members": list(member_ids)}).all())


# ── the statements ───────────────────────────────────────────────────────────────────────────────────


def _figures() -> Select[Any]:
    p, a, r = PURCHASES.c, ADJUSTMENTS.c, RANKS.c
    counted, recent = p.status != "cancelled", p.purchased_at >= bindparam("since", type_=UTCDateTime())
    purchases = select(
        func.coalesce(func.sum(p.total_amount), 0).label("spend"),
        func.coalesce(func.sum(case((recent, p.total_amount), else_=0)), 0).label("recent_spend"),
        func.count().label("purchase_count"),
    ).where(in_cluster(p.member_id), counted)
    refunds = (
        select(
            func.coalesce(func.sum(a.amount), 0).label("refunded"),
            func.coalesce(func.sum(case((recent, a.amount), else_=0)), 0).label("recent_refunded"),
        )
        .select_from(PURCHASES.join(ADJUSTMENTS, a.purchase_id == p.id))
        .where(in_cluster(p.member_id), counted, a.kind == "refund")
    )
    inquiries = select(func.count().label("open_inquiries")).where(
        in_cluster(INQUIRIES.c.member_id), INQUIRIES.c.status.in_(OPEN_INQUIRY_STATUSES)
    )
    last_purchase = (
        select(p.purchased_at.label("last_purchased_at"), p.channel.label("last_channel"),
               p.store_code.label("last_store_code"), p.total_amount.label("last_amount"),
               p.source.label("last_source"))
        .where(in_cluster(p.member_id), counted)
        .order_by(p.purchased_at.desc(), p.id.desc())
        .limit(1)
    )  # fmt: skip
    rank_change = (
        select(r.from_rank, r.to_rank, r.reason.label("rank_reason"), r.rule_version.label("rank_rule_version"),
               r.changed_at.label("rank_changed_at"))
        .where(in_cluster(r.member_id))
        .order_by(r.changed_at.desc(), r.id.desc())
        .limit(1)
    )  # fmt: skip
    totals = [part.subquery() for part in (purchases, refunds, inquiries)]
    newest = [part.subquery() for part in (last_purchase, rank_change)]
    joined = totals[0].join(totals[1], true()).join(totals[2], true())
    joined = joined.outerjoin(newest[0], true()).outerjoin(newest[1], true())
    return select(*(column for part in (*totals, *newest) for column in part.c)).select_from(joined)


def _current_consent() -> Select[Any]:
    c = CONSENT.c
    latest = [
        select(cast(literal(rank), Integer()).label("rank"), c.channel, c.subscribed, c.changed_at, c.source)
        .where(in_cluster(c.member_id), c.channel == channel)
        .order_by(c.changed_at.desc(), c.id.desc())
        .limit(1)
        .subquery()
        for rank, channel in enumerate(CONSENT_CHANNELS)
    ]
    per_channel = union_all(*(select(part) for part in latest)).subquery()
    return select(per_channel).order_by(per_channel.c.rank)


def _point_totals() -> Select[Any]:
    lapsed = LEDGER.c.expires_at <= bindparam("now", type_=UTCDateTime())
    entries = select(
        LEDGER.c.status,
        case((lapsed, None), else_=LEDGER.c.expires_at).label("expires_at"),
        case((lapsed, True), else_=False).label("lapsed"),
        LEDGER.c.points,
    ).where(in_cluster(LEDGER.c.member_id)).subquery()
    e = entries.c
    return select(
        e.status,
        e.expires_at,
        e.lapsed,
        func.sum(case((e.points > 0, e.points), else_=0)).label("credited"),
        func.sum(case((e.points < 0, e.points), else_=0)).label("debited"),
    ).group_by(e.status, e.expires_at, e.lapsed)


_FIGURES = _figures()

_POINT_TOTALS = _point_totals()
_RECENT_LEDGER: Select[Any] = (
    select(LEDGER.c.occurred_at, LEDGER.c.kind, LEDGER.c.points, LEDGER.c.status, LEDGER.c.rule_version,
           LEDGER.c.source_event, LEDGER.c.expires_at)
    .where(in_cluster(LEDGER.c.member_id))
    .order_by(LEDGER.c.occurred_at.desc(), LEDGER.c.id.desc())
    .limit(bindparam("limit", type_=Integer()))
)  # fmt: skip
_SEGMENT_CODES: Select[Any] = (
    select(SEGMENTS.c.segment_code)
    .where(in_cluster(SEGMENTS.c.member_id))
    .distinct()
    .order_by(SEGMENTS.c.segment_code)
)
_CURRENT_CONSENT = _current_consent()
