"""SQL of the unified member timeline: one newest-first page of a cluster's history, every kind in one shape.

Each kind is one sub-select over the cluster's members, ordered by (time, id) and limited to the page size,
so that it reads one range of a ``(member_id, <time>)`` index (SQLite's index ends with the rowid, which is
the id; PostgreSQL sorts only rows of equal time). The page is their UNION ALL ordered by ``(occurred_at,
kind_rank, entry_id)``, newest first, where ``kind_rank`` is the kind's place in ``KINDS`` (an integer, so
the order does not depend on a collation). A page resumes after the key of the last entry of the previous
one (keyset pagination). Refunds and cancellations carry no member id: their sub-select walks the members'
purchases and each purchase's adjustments by index, and sorts those adjustments.

Besides the key, ``member_id``, ``source`` (``None`` for the hub's own loyalty rows) and ``channel``, a row
has these kind-specific columns (``sealed`` is ciphertext under the row's member's data key):

============== ============ ========== ============ ============ =========== ============== ======= ===========
kind           status       amount     code         note         former_code reference      until   sealed
============== ============ ========== ============ ============ =========== ============== ======= ===========
purchase       status       total yen  store code                            external id
refund, cancel              yen        store code                            receipt's id
inquiry        status                  category                              external id    closed  subject
points         status       points     ledger kind  note                     source event   expires
rank_change                            new rank     reason       old rank
survey                      score      survey code                           external id            free text
coupon_issued  value type   value      coupon code  coupon kind                             expires
coupon_used    value type   value      coupon code  coupon kind                             expires
consent        (un)subscribed
============== ============ ========== ============ ============ =========== ============== ======= ===========

``rule_version`` is set for points and rank changes; ``purchase_id`` for purchases, refunds and cancels.

The same statement brings the messages of the page's inquiries (their ``inquiry_id``, ``occurred_at`` the time
sent, ``code`` the author kind, ``sealed`` the body, ``member_id`` the inquiry's member): one round trip
fewer for the console, which pays one per statement.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from uuid import UUID

from sqlalchemy import (
    CTE,
    BigInteger,
    ColumnElement,
    CompoundSelect,
    Connection,
    Integer,
    LargeBinary,
    Row,
    Select,
    String,
    and_,
    bindparam,
    case,
    cast,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.types import TypeEngine

from core.store.models import (
    ConsentEvent,
    Coupon,
    Inquiry,
    InquiryMessage,
    PointLedgerEntry,
    Purchase,
    PurchaseAdjustment,
    RankChange,
    SurveyResponse,
    UTCDateTime,
    table_of,
)
from core.store.records import shown_inquiries

PURCHASES = table_of(Purchase)
ADJUSTMENTS = table_of(PurchaseAdjustment)
INQUIRIES = table_of(Inquiry)
MESSAGES = table_of(InquiryMessage)
SURVEYS = table_of(SurveyResponse)
LEDGER = table_of(PointLedgerEntry)
RANKS = table_of(RankChange)
COUPONS = table_of(Coupon)
CONSENT = table_of(ConsentEvent)

KINDS = (
    "purchase", "refund", "cancel", "inquiry", "points", "rank_change", "survey", "coupon_issued", "coupon_used",
    "consent",
)  # fmt: skip
CHANNELS_OF_KIND: dict[str, tuple[str, ...]] = {
    "purchase": ("store", "online"),
    "refund": ("store", "online"),
    "cancel": ("store", "online"),
    "inquiry": ("phone", "email", "chat", "web"),
    "consent": ("email", "sms", "post"),
}
_MESSAGE = "inquiry_message"  # the kind of the message rows a page brings along
_SLOTS: dict[str, TypeEngine[Any]] = {
    "status": String(),
    "amount": BigInteger(),
    "code": String(),
    "note": String(),
    "former_code": String(),
    "rule_version": String(),
    "reference": String(),
    "until": UTCDateTime(),
    "sealed": LargeBinary(),
    "purchase_id": BigInteger(),
    "inquiry_id": BigInteger(),
}


@dataclass(frozen=True)
class PageRows:
    """Up to a page of entry rows, newest first, and the messages of the inquiries among them."""

    entries: list[Row[Any]]
    messages: list[Row[Any]]


@dataclass(frozen=True)
class TimelineKey:
    """Where an entry sorts in a timeline: newest ``occurred_at`` first, then kind, then id, descending."""

    occurred_at: datetime
    kind: str
    entry_id: int


def timeline_page(
    conn: Connection,
    member_ids: Sequence[UUID],
    *,
    kinds: Collection[str],
    channels: Collection[str] | None,
    limit: int,
    after: TimelineKey | None,
    threads_of: int,
) -> PageRows:
    """Up to ``limit`` rows of the members' history of the given kinds (and channels), after ``after``.

    With ``channels``, only kinds that have a channel take part. Rows come newest first, in the module's shape,
    with the messages (oldest first) of the inquiries among the first ``threads_of`` rows.
    """
    parts = tuple(k for k in KINDS if k in kinds and (channels is None or k in CHANNELS_OF_KIND))
    if not parts:
        return PageRows([], [])
    parameters: dict[str, Any] = {"members": list(member_ids), "page_size": limit}
    if channels is not None:
        parameters["channels"] = list(channels)
    if after is not None:
        parameters |= {"until": after.occurred_at, "after_id": after.entry_id}
    statement = _page_statement(parts, channels is not None, after.kind if after else None)
    entries: list[Row[Any]] = []
    messages: list[Row[Any]] = []
    for row in conn.execute(statement, parameters).all():  # one fetchall, not a fetchone per row
        (messages if row.kind == _MESSAGE else entries).append(row)
    entries.sort(key=_newest_first, reverse=True)
    shown = {row.entry_id for row in entries[:threads_of] if row.kind == "inquiry"}
    messages = sorted((m for m in messages if m.inquiry_id in shown), key=lambda m: (m.occurred_at, m.entry_id))
    return PageRows(entries, messages)


def in_cluster(column: ColumnElement[Any]) -> ColumnElement[bool]:
    """``column`` is one of the members given as the ``members`` parameter (a list of ids)."""
    return column.in_(bindparam("members", expanding=True))


@lru_cache(maxsize=256)
def _page_statement(kinds: tuple[str, ...], by_channel: bool, cursor_kind: str | None) -> CompoundSelect[Any]:
    """The statement of a page of these kinds, built once: building one costs more than running it."""
    parts = [_SELECTS[kind](_Part(kind, by_channel, cursor_kind)) for kind in kinds]
    union = union_all(*(select(part.subquery()) for part in parts)).subquery()
    newest_first = (union.c.occurred_at.desc(), union.c.kind_rank.desc(), union.c.entry_id.desc())
    page = select(union).order_by(*newest_first).limit(bindparam("page_size", type_=Integer())).cte("page")
    return union_all(select(page), _messages_of(page))


def _messages_of(page: CTE) -> Select[Any]:
    """The messages of the page's inquiries, in the page's columns."""
    m = MESSAGES.c
    values: dict[str, ColumnElement[Any]] = {
        "occurred_at": m.sent_at, "kind": cast(literal(_MESSAGE), String()), "entry_id": m.id,
        "member_id": page.c.member_id, "source": m.source, "code": m.author_kind, "sealed": m.body_ct,
        "inquiry_id": m.inquiry_id,
    }  # fmt: skip
    columns = [values.get(column.name, cast(null(), column.type)).label(column.name) for column in page.c]
    inquiries = and_(page.c.entry_id == m.inquiry_id, page.c.kind_rank == KINDS.index("inquiry"))
    return select(*columns).select_from(page.join(MESSAGES, inquiries))


def _newest_first(row: Row[Any]) -> tuple[datetime, int, int]:
    return row.occurred_at, row.kind_rank, row.entry_id


# ── one sub-select per kind ──────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class _Part:
    """What the sub-select of one kind is built from."""

    kind: str
    by_channel: bool
    cursor_kind: str | None

    def rows(
        self, at: ColumnElement[Any], entry_id: ColumnElement[Any], member_id: ColumnElement[Any], **columns: Any
    ) -> Select[Any]:
        """The kind's select: the key, then every slot (``NULL`` of the slot's type where the kind has none)."""
        key = (
            at.label("occurred_at"),
            cast(literal(self.kind), String()).label("kind"),
            cast(literal(KINDS.index(self.kind)), Integer()).label("kind_rank"),
            entry_id.label("entry_id"),
            member_id.label("member_id"),
            columns.pop("source", cast(null(), String())).label("source"),
            columns.pop("channel", cast(null(), String())).label("channel"),
        )
        slots = (columns.get(name, cast(null(), kind)).label(name) for name, kind in _SLOTS.items())
        return select(*key, *slots)

    def where(
        self, query: Select[Any], member_id: ColumnElement[Any], at: ColumnElement[Any], entry_id: ColumnElement[Any]
    ) -> Select[Any]:
        """The cluster's entries after the cursor, newest first, at most a page."""
        query = query.where(in_cluster(member_id), *self._after(at, entry_id))
        return query.order_by(at.desc(), entry_id.desc()).limit(bindparam("page_size", type_=Integer()))

    def in_channels(self, channel: ColumnElement[Any]) -> list[ColumnElement[bool]]:
        """The channel filter, if the page has one."""
        return [channel.in_(bindparam("channels", expanding=True))] if self.by_channel else []

    def _after(self, at: ColumnElement[Any], entry_id: ColumnElement[Any]) -> list[ColumnElement[bool]]:
        """Entries sorting after the cursor (parameters ``until`` and ``after_id``).

        At the cursor's time, kinds sorting before its kind come after it, kinds sorting after it do not, and
        entries of its kind do when their id is smaller. The plain bound on the time keeps the read to one
        index range.
        """
        if self.cursor_kind is None:
            return []
        until = bindparam("until", type_=UTCDateTime())
        mine, theirs = KINDS.index(self.kind), KINDS.index(self.cursor_kind)
        if mine > theirs:
            return [at < until]
        if mine < theirs:
            return [at <= until]
        return [at <= until, or_(at < until, entry_id < bindparam("after_id", type_=BigInteger()))]


def _purchases(page: _Part) -> Select[Any]:
    p = PURCHASES.c
    query = page.rows(
        p.purchased_at, p.id, p.member_id, source=p.source, channel=p.channel, status=p.status,
        amount=p.total_amount, code=p.store_code, reference=p.external_id, purchase_id=p.id,
    )  # fmt: skip
    return page.where(query.where(*page.in_channels(p.channel)), p.member_id, p.purchased_at, p.id)


def _adjustments(page: _Part) -> Select[Any]:
    a, p = ADJUSTMENTS.c, PURCHASES.c
    query = page.rows(
        a.occurred_at,
        a.id,
        p.member_id,
        source=a.source,
        channel=p.channel,
        amount=a.amount,
        code=p.store_code,
        reference=p.external_id,
        purchase_id=p.id,
    ).select_from(ADJUSTMENTS.join(PURCHASES, PURCHASES.c.id == a.purchase_id))
    query = query.where(a.kind == page.kind, *page.in_channels(p.channel))
    return page.where(query, p.member_id, a.occurred_at, a.id)


def _inquiries(page: _Part) -> Select[Any]:
    i = INQUIRIES.c
    query = page.rows(
        i.opened_at, i.id, i.member_id, source=i.source, channel=i.channel, status=i.status, code=i.category,
        reference=i.external_id, until=i.closed_at, sealed=i.subject_ct,
    )  # fmt: skip
    query = query.where(shown_inquiries(INQUIRIES), *page.in_channels(i.channel))
    return page.where(query, i.member_id, i.opened_at, i.id)


def _points(page: _Part) -> Select[Any]:
    e = LEDGER.c
    query = page.rows(
        e.occurred_at, e.id, e.member_id, status=e.status, amount=e.points, code=e.kind, note=e.note,
        rule_version=e.rule_version, reference=e.source_event, until=e.expires_at,
    )  # fmt: skip
    return page.where(query, e.member_id, e.occurred_at, e.id)


def _rank_changes(page: _Part) -> Select[Any]:
    r = RANKS.c
    query = page.rows(
        r.changed_at, r.id, r.member_id, code=r.to_rank, note=r.reason, former_code=r.from_rank,
        rule_version=r.rule_version,
    )  # fmt: skip
    return page.where(query, r.member_id, r.changed_at, r.id)


def _surveys(page: _Part) -> Select[Any]:
    s = SURVEYS.c
    query = page.rows(
        s.answered_at, s.id, s.member_id, source=s.source, amount=s.score, code=s.survey_code,
        reference=s.external_id, sealed=s.free_text_ct,
    )  # fmt: skip
    return page.where(query, s.member_id, s.answered_at, s.id)


def _coupons_at(at: ColumnElement[Any]) -> Callable[[_Part], Select[Any]]:
    """Coupons as of one of their moments (issued or used)."""

    def coupons(page: _Part) -> Select[Any]:
        c = COUPONS.c
        query = page.rows(
            at, c.id, c.member_id, status=c.value_type, amount=c.value, code=c.code, note=c.kind, until=c.expires_at
        )
        return page.where(query.where(at.is_not(None)), c.member_id, at, c.id)

    return coupons


def _consent(page: _Part) -> Select[Any]:
    c = CONSENT.c
    status = case((c.subscribed, "subscribed"), else_="unsubscribed")
    query = page.rows(c.changed_at, c.id, c.member_id, source=c.source, channel=c.channel, status=status)
    return page.where(query.where(*page.in_channels(c.channel)), c.member_id, c.changed_at, c.id)


_SELECTS: dict[str, Callable[[_Part], Select[Any]]] = {
    "purchase": _purchases,
    "refund": _adjustments,
    "cancel": _adjustments,
    "inquiry": _inquiries,
    "points": _points,
    "rank_change": _rank_changes,
    "survey": _surveys,
    "coupon_issued": _coupons_at(COUPONS.c.issued_at),
    "coupon_used": _coupons_at(COUPONS.c.used_at),
    "consent": _consent,
}
