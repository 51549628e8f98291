"""SQL of the member summary the console shows: figures over a cluster of members, each read through an index.

Every function takes the ids of a cluster (the root and the members merged into it) and sees no plaintext.
The statements are built once, at import: building a statement costs more than running it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Boolean,
    CompoundSelect,
    Connection,
    Integer,
    Row,
    Select,
    String,
    Subquery,
    bindparam,
    case,
    cast,
    func,
    literal,
    null,
    select,
    true,
    union_all,
)
from sqlalchemy.types import TypeEngine

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
from core.store.records import shown_inquiries
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
_LIST_PARTS = ("points", "ledger", "segment", "consent")
_LIST_COLUMNS: dict[str, TypeEngine[Any]] = {
    "status": String(),
    "expires_at": UTCDateTime(),
    "lapsed": Boolean(),
    "credited": BigInteger(),
    "debited": BigInteger(),
    "occurred_at": UTCDateTime(),
    "entry_id": BigInteger(),
    "kind": String(),
    "points": BigInteger(),
    "rule_version": String(),
    "source_event": String(),
    "segment_code": String(),
    "channel": String(),
    "subscribed": Boolean(),
    "changed_at": UTCDateTime(),
    "source": String(),
}


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


@dataclass(frozen=True)
class MemberLists:
    """The summary's lists, read together by ``member_lists``.

    ``point_totals``: ledger sums per status and expiry, ``credited`` (positive entries) and ``debited``
    (negative ones); entries that expired before ``now`` are summed together (``lapsed`` true, ``expires_at``
    ``NULL``): what is left of them never decides the next expiry, and a member with years of history has
    hundreds. ``ledger``: the newest point movements, newest first (``occurred_at``, ``kind``, ``points``,
    ``status``, ``rule_version``, ``source_event``, ``expires_at``). ``segments``: the segment codes of any of
    the members, sorted. ``consent``: the latest event per channel (``channel``, ``subscribed``,
    ``changed_at``, ``source``) in channel order; channels without one are absent.
    """

    point_totals: list[Row[Any]]
    ledger: list[Row[Any]]
    segments: list[str]
    consent: list[Row[Any]]


def member_lists(conn: Connection, member_ids: Sequence[UUID], now: datetime, ledger_limit: int) -> MemberLists:
    """Point totals, the newest ``ledger_limit`` movements, segments and consent in one statement.

    One UNION ALL of the four reads (a column set they share, ``part`` saying whose a row is): the console
    pays a round trip per statement, more than the reads themselves cost.
    """
    parameters = {"members": list(member_ids), "now": now, "limit": ledger_limit}
    parts: dict[str, list[Row[Any]]] = {part: [] for part in _LIST_PARTS}
    for row in conn.execute(_MEMBER_LISTS, parameters).all():  # one fetchall, not a fetchone per row
        parts[row.part].append(row)
    return MemberLists(
        point_totals=parts["points"],
        ledger=sorted(parts["ledger"], key=lambda row: (row.occurred_at, row.entry_id), reverse=True),
        segments=sorted(row.segment_code for row in parts["segment"]),
        consent=sorted(parts["consent"], key=lambda row: CONSENT_CHANNELS.index(row.channel)),
    )


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
        in_cluster(INQUIRIES.c.member_id), INQUIRIES.c.status.in_(OPEN_INQUIRY_STATUSES), shown_inquiries(INQUIRIES)
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


def _latest_consent() -> list[Subquery]:
    c = CONSENT.c
    return [
        select(c.channel, c.subscribed, c.changed_at, c.source)
        .where(in_cluster(c.member_id), c.channel == channel)
        .order_by(c.changed_at.desc(), c.id.desc())
        .limit(1)
        .subquery()
        for channel in CONSENT_CHANNELS
    ]


def _point_totals() -> Subquery:
    lapsed = LEDGER.c.expires_at <= bindparam("now", type_=UTCDateTime())
    entries = (
        select(
            LEDGER.c.status,
            case((lapsed, None), else_=LEDGER.c.expires_at).label("expires_at"),
            case((lapsed, True), else_=False).label("lapsed"),
            LEDGER.c.points,
        )
        .where(in_cluster(LEDGER.c.member_id))
        .subquery()
    )
    e = entries.c
    return (
        select(
            e.status,
            e.expires_at,
            e.lapsed,
            func.sum(case((e.points > 0, e.points), else_=0)).label("credited"),
            func.sum(case((e.points < 0, e.points), else_=0)).label("debited"),
        )
        .group_by(e.status, e.expires_at, e.lapsed)
        .subquery()
    )


def _recent_ledger() -> Subquery:
    e = LEDGER.c
    return (
        select(e.occurred_at, e.id.label("entry_id"), e.kind, e.points, e.status, e.rule_version, e.source_event,
               e.expires_at)
        .where(in_cluster(e.member_id))
        .order_by(e.occurred_at.desc(), e.id.desc())
        .limit(bindparam("limit", type_=Integer()))
        .subquery()
    )  # fmt: skip


def _segment_codes() -> Subquery:
    return select(SEGMENTS.c.segment_code).where(in_cluster(SEGMENTS.c.member_id)).distinct().subquery()


def _member_lists() -> CompoundSelect[Any]:
    parts = [("points", _point_totals()), ("ledger", _recent_ledger()), ("segment", _segment_codes())]
    parts += [("consent", latest) for latest in _latest_consent()]
    return union_all(*(_shaped(part, rows) for part, rows in parts))


def _shaped(part: str, rows: Subquery) -> Select[Any]:
    """A part's rows in the shared column set, ``NULL`` of the column's type where the part has none."""
    columns = [
        (rows.c[name] if name in rows.c else cast(null(), kind)).label(name) for name, kind in _LIST_COLUMNS.items()
    ]
    return select(cast(literal(part), String()).label("part"), *columns)


_FIGURES = _figures()
_MEMBER_LISTS = _member_lists()
