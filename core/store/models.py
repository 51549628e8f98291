"""The hub's tables as SQLAlchemy models, the same on SQLite and PostgreSQL.

Personal data is stored only as ciphertext (``LargeBinary`` columns ending in ``_ct``) and blind-index
digests; every timestamp is a UTC-aware ``datetime``. The Alembic migrations are a frozen copy of these
declarations: change a model, then add a migration (``test_migrated_schema_matches_models`` checks both).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from core.ids import new_id

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# High-volume tables get 64-bit ids on PostgreSQL; on SQLite an INTEGER primary key is the 64-bit rowid.
BigId = BigInteger().with_variant(Integer(), "sqlite")
# Choice answers of surveys; JSONB on PostgreSQL so they can be queried and indexed.
JsonDocument = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that only accepts aware datetimes and always returns them in UTC.

    SQLite stores no offset: without this, 10:00 JST would be written as 10:00 and read back as a naive
    10:00, nine hours off. A naive value is refused rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to UTC; SQLite gets the naive UTC wall time because it cannot store an offset."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given to a UTC column; pass an aware datetime")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def bind_processor(self, dialect: Dialect) -> Callable[[datetime | None], Any] | None:
        """On SQLite, the text SQLAlchemy's SQLite ``DATETIME`` stores, made in one step (about 4× faster).

        The generic chain (this decorator, then the dialect's formatting in Python) costs ≈ 10 µs a value;
        the ledger and purchase batches bind thousands of timestamps. Same text: ``YYYY-MM-DD HH:MM:SS.ffffff``.
        """
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        return _sqlite_utc_text

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], datetime | None] | None:
        """On SQLite, the stored text read as an aware UTC datetime in one step (the generic chain: ≈ 7× slower)."""
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        return _sqlite_utc_datetime

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime whatever the driver and session time zone gave."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _sqlite_utc_text(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not UTC:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given to a UTC column; pass an aware datetime")
        value = value.astimezone(UTC)
    text = value.isoformat(" ")[:-6]  # without "+00:00"; a timespec argument would cost twice as much
    return text if value.microsecond else text + ".000000"


def _sqlite_utc_datetime(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value + "+00:00")


def utcnow() -> datetime:
    """The current time in UTC: the default of ``created_at``-style columns."""
    return datetime.now(UTC)


def _one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    """A CHECK constraint named ``<column>`` (the naming convention adds the table) limiting a code column."""
    allowed = ", ".join(f"'{value}'" for value in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=column)


class Base(DeclarativeBase):
    """Declarative base of every hub table; its metadata names constraints the same on every database."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        uuid.UUID: Uuid(),
        bytes: LargeBinary(),
    }


class Member(Base):
    """A loyalty member: sealed profile fields, the wrapped data key that opens them, and the rank."""

    __tablename__ = "members"
    __table_args__ = (_one_of("status", ("active", "erased", "merged")),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    status: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    dek_version: Mapped[int] = mapped_column(SmallInteger, default=1, server_default=text("1"))
    kek_version: Mapped[int | None] = mapped_column(SmallInteger, index=True)
    wrapped_dek: Mapped[bytes | None]
    member_number_ct: Mapped[bytes | None]
    name_ct: Mapped[bytes | None]
    kana_ct: Mapped[bytes | None]
    email_ct: Mapped[bytes | None]
    phone_ct: Mapped[bytes | None]
    address_ct: Mapped[bytes | None]
    birthday_ct: Mapped[bytes | None]
    notes_ct: Mapped[bytes | None]
    rank_code: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    erased_at: Mapped[datetime | None]
    # Set while the member is merged into another (status "merged"): the member it was merged into, which
    # may itself be merged further. The row keeps its own data untouched, so an unmerge restores it exactly.
    merged_into: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("members.id"), index=True)


class MemberSearchIndex(Base):
    """One blind-index entry: an HMAC digest of a normalised field, under one index key version."""

    __tablename__ = "member_search_index"

    index_name: Mapped[str] = mapped_column(String(24), primary_key=True)
    key_version: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    digest: Mapped[bytes] = mapped_column(primary_key=True)
    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class SourceLink(Base):
    """Which record in an external system (POS, Shopify, helpdesk …) is which member."""

    __tablename__ = "source_links"
    __table_args__ = (UniqueConstraint("source", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(255))
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"), index=True)
    source_updated_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Purchase(Base):
    """A receipt from a store or an online order; amounts in yen. ``member_id`` is NULL for guests."""

    __tablename__ = "purchases"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        # covering: a member's spend over a window is read from the index alone (migration 0015)
        Index("ix_purchases_member_spend", "member_id", "purchased_at", "total_amount", "tax_amount", "status"),
        _one_of("channel", ("store", "online")),
        _one_of("status", ("completed", "partially_refunded", "refunded", "cancelled")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("members.id"))
    source: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(255))
    channel: Mapped[str] = mapped_column(String(16))
    store_code: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(24))
    currency: Mapped[str] = mapped_column(String(3), default="JPY", server_default="JPY")
    total_amount: Mapped[int]
    tax_amount: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    discount_amount: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    purchased_at: Mapped[datetime]
    source_updated_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PurchaseLine(Base):
    """One line of a purchase: a product, its quantity and price, and how much of it was refunded."""

    __tablename__ = "purchase_lines"
    __table_args__ = (UniqueConstraint("purchase_id", "line_no"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    purchase_id: Mapped[int] = mapped_column(BigId, ForeignKey("purchases.id", ondelete="CASCADE"))
    line_no: Mapped[int]
    sku: Mapped[str | None] = mapped_column(String(128))
    product_name: Mapped[str] = mapped_column(String(255))
    quantity: Mapped[int]
    unit_price: Mapped[int]
    amount: Mapped[int]
    refunded_quantity: Mapped[int] = mapped_column(default=0, server_default=text("0"))


class PurchaseAdjustment(Base):
    """A refund or cancellation of a purchase, as reported by its source system."""

    __tablename__ = "purchase_adjustments"
    __table_args__ = (UniqueConstraint("source", "external_id"), _one_of("kind", ("refund", "cancel")))

    id: Mapped[int] = mapped_column(primary_key=True)
    purchase_id: Mapped[int] = mapped_column(BigId, ForeignKey("purchases.id"), index=True)
    source: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int]
    occurred_at: Mapped[datetime]


class Inquiry(Base):
    """A helpdesk ticket or logged call; the subject is sealed because members write it."""

    __tablename__ = "inquiries"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_inquiries_member_id_opened_at", "member_id", "opened_at"),
        _one_of("channel", ("phone", "email", "chat", "web")),
        _one_of("status", ("open", "pending", "solved", "closed")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("members.id"))
    source: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(255))
    channel: Mapped[str] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    subject_ct: Mapped[bytes | None]
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    source_updated_at: Mapped[datetime]
    console_inquiry: Mapped[str | None] = mapped_column(String(255), index=True)
    """On a helpdesk's copy of an inquiry logged in the console: that inquiry's external id (it is shown instead)."""


class InquiryMessage(Base):
    """One message of an inquiry thread, its body sealed."""

    __tablename__ = "inquiry_messages"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        _one_of("author_kind", ("member", "agent", "system")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    inquiry_id: Mapped[int] = mapped_column(ForeignKey("inquiries.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(255))
    author_kind: Mapped[str] = mapped_column(String(16))
    body_ct: Mapped[bytes]
    sent_at: Mapped[datetime]


class SurveyResponse(Base):
    """A survey answer: score and choice answers in the clear, free text sealed."""

    __tablename__ = "survey_responses"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_survey_responses_member_id_answered_at", "member_id", "answered_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("members.id"))
    source: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(255))
    survey_code: Mapped[str] = mapped_column(String(64))
    score: Mapped[int | None]
    answers: Mapped[Any | None] = mapped_column(JsonDocument)
    free_text_ct: Mapped[bytes | None]
    answered_at: Mapped[datetime]
    source_updated_at: Mapped[datetime]


class PointLedgerEntry(Base):
    """One signed movement of a member's points; ``source_event`` makes each movement happen once.

    Append-only. An entry with ``available_at`` is a *lot* (earned or credited points, spendable from
    ``available_at``, lapsing at ``expires_at``); negative entries record in ``point_lot_consumptions`` which
    lots they used up. ``status`` only mirrors ``available_at`` for display: the daily job moves ``pending``
    to ``available``, the one update an entry ever sees (docs/loyalty.md).
    """

    __tablename__ = "point_ledger"
    __table_args__ = (
        Index("ix_point_ledger_member_id_occurred_at", "member_id", "occurred_at"),
        Index("ix_point_ledger_expires_at", "expires_at"),
        Index("ix_point_ledger_status_available_at", "status", "available_at"),
        _one_of("kind", ("earn", "redeem", "expire", "adjust", "reverse")),
        _one_of("status", ("pending", "available")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"))
    kind: Mapped[str] = mapped_column(String(16))
    points: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))
    source_event: Mapped[str] = mapped_column(String(512), unique=True)
    rule_version: Mapped[str | None] = mapped_column(String(32))
    occurred_at: Mapped[datetime]
    available_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # what an earn or reverse entry was computed from, so that a recompute can check its amount
    purchase_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("purchases.id"))
    rank_code: Mapped[str | None] = mapped_column(String(32))
    campaign_codes: Mapped[str | None] = mapped_column(String(255))
    # points a reversal was due but could not take back because the member had spent them already
    unrecovered_points: Mapped[int | None]


class PointLotConsumption(Base):
    """How many points of one lot a negative ledger entry (redeem, expire, reverse, adjust) used up."""

    __tablename__ = "point_lot_consumptions"

    entry_id: Mapped[int] = mapped_column(BigId, ForeignKey("point_ledger.id"), primary_key=True)
    lot_id: Mapped[int] = mapped_column(BigId, ForeignKey("point_ledger.id"), primary_key=True, index=True)
    points: Mapped[int]


class RankChange(Base):
    """A member moving from one rank to another, and the rule that moved them."""

    __tablename__ = "rank_history"
    __table_args__ = (Index("ix_rank_history_member_id_changed_at", "member_id", "changed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"))
    from_rank: Mapped[str | None] = mapped_column(String(32))
    to_rank: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(255))
    rule_version: Mapped[str | None] = mapped_column(String(32))
    changed_at: Mapped[datetime]


class Coupon(Base):
    """A coupon issued to a member; ``source_event`` makes rule-issued coupons idempotent.

    Valid from ``issued_at`` until ``expires_at`` (exclusive) for up to ``max_uses`` purchases of the member's
    cluster (``coupon_redemptions``); ``used_at`` is set when the last use is taken. ``template_code`` names
    the ``[[coupons]]`` template of the loyalty rules it was issued from.
    """

    __tablename__ = "coupons"
    __table_args__ = (
        Index("ix_coupons_member_id_issued_at", "member_id", "issued_at"),
        Index("ix_coupons_member_id_used_at", "member_id", "used_at"),
        _one_of("value_type", ("percent", "amount")),
        CheckConstraint("max_uses >= 1", name="max_uses"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"))
    code: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    value_type: Mapped[str] = mapped_column(String(16))
    value: Mapped[int]
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    used_at: Mapped[datetime | None]
    source_event: Mapped[str | None] = mapped_column(String(512), unique=True)
    template_code: Mapped[str | None] = mapped_column(String(32))
    max_uses: Mapped[int] = mapped_column(default=1, server_default=text("1"))


class CouponRedemption(Base):
    """A coupon code a purchase carried, and what became of it.

    Written ``presented`` when the purchase is stored; the loyalty engine then decides: ``redeemed`` (a use of
    ``coupon_id`` at ``redeemed_at``, the purchase time), ``refused`` with ``reason`` (unknown, expired,
    used_up, other_member …), or later ``released`` when the purchase is cancelled. The purchase itself is
    never refused for its code.
    """

    __tablename__ = "coupon_redemptions"
    __table_args__ = (
        UniqueConstraint("purchase_id", "code"),
        UniqueConstraint("coupon_id", "purchase_id"),
        _one_of("status", ("presented", "redeemed", "refused", "released")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    purchase_id: Mapped[int] = mapped_column(BigId, ForeignKey("purchases.id"))
    code: Mapped[str] = mapped_column(String(64))
    coupon_id: Mapped[int | None] = mapped_column(ForeignKey("coupons.id"))
    member_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("members.id"))
    status: Mapped[str] = mapped_column(String(16), default="presented", server_default="presented")
    reason: Mapped[str | None] = mapped_column(String(32))
    redeemed_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]


class MemberMerge(Base):
    """One merge of a member into another: who, why, when, and what it changed on the surviving member.

    ``snapshot`` holds the surviving member's state that the merge replaced (ciphertexts, field provenance
    and blind-index digests, never plaintext), so that an unmerge can put it back byte for byte.
    """

    __tablename__ = "member_merges"
    __table_args__ = (_one_of("kind", ("manual", "automatic", "review")),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survivor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"), index=True)
    merged_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    identifier: Mapped[str | None] = mapped_column(String(24))
    actor: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(String(500))
    snapshot: Mapped[Any] = mapped_column(JsonDocument)
    merged_at: Mapped[datetime]
    undone_at: Mapped[datetime | None]
    undone_by: Mapped[str | None] = mapped_column(String(128))
    undo_reason: Mapped[str | None] = mapped_column(String(500))


class ReviewItem(Base):
    """A possible duplicate that identity resolution would not merge on its own: a supervisor decides.

    One row per pair of members (``member_id`` is the newer), so a rejected pair is never asked about again.
    ``reason`` names the kind of evidence, never the values.
    """

    __tablename__ = "review_items"
    __table_args__ = (
        UniqueConstraint("member_id", "candidate_id"),
        Index("ix_review_items_status_created_at", "status", "created_at"),
        _one_of("status", ("open", "accepted", "rejected", "obsolete")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"))
    candidate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    identifier: Mapped[str | None] = mapped_column(String(24))
    source: Mapped[str | None] = mapped_column(String(64))
    external_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="open", server_default="open")
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decision_note: Mapped[str | None] = mapped_column(String(500))
    merge_id: Mapped[int | None] = mapped_column(ForeignKey("member_merges.id"))


class MemberSegment(Base):
    """A member's membership of one segment (segments are defined in the loyalty rules)."""

    __tablename__ = "member_segments"

    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    segment_code: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    since: Mapped[datetime]


class MemberStatusPush(Base):
    """What one destination was last told of a cluster root's loyalty status, as a digest: only changes are sent."""

    __tablename__ = "member_status_pushes"

    destination: Mapped[str] = mapped_column(String(64), primary_key=True)
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    digest: Mapped[bytes] = mapped_column(LargeBinary(16))
    pushed_at: Mapped[datetime]


class MemberScore(Base):
    """A cluster root's RFM figures and quintile scores, rewritten in full by the nightly job.

    Scores are 1 (worst) … 5 (best) among the clusters that ever bought; a cluster that never bought has
    ``recency_days`` NULL, zero figures and scores 0. ``frequency`` counts the purchases in the RFM window,
    ``store_frequency`` and ``online_frequency`` split them by channel; ``monetary`` is net yen in the window.
    """

    __tablename__ = "member_scores"

    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    recency_days: Mapped[int | None]
    frequency: Mapped[int]
    store_frequency: Mapped[int]
    online_frequency: Mapped[int]
    monetary: Mapped[int] = mapped_column(BigInteger)
    recency_score: Mapped[int]
    frequency_score: Mapped[int]
    monetary_score: Mapped[int]
    computed_at: Mapped[datetime]


class SyncState(Base):
    """The committed cursor of one connector stream, written in the same transaction as its batch."""

    __tablename__ = "sync_state"

    connector: Mapped[str] = mapped_column(String(64), primary_key=True)
    stream: Mapped[str] = mapped_column(String(64), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class BackfillSlice(Base):
    """One slice of a stream's sliced backfill: the connector's slice, its resume cursor and when it finished.

    The rows of one (connector, stream) are the plan; the slice that finishes last hands the plan's mark to
    the incremental lane and deletes them. ``slice_no`` 0 is the plan's head row, locked to finish a slice.
    """

    __tablename__ = "backfill_slices"

    connector: Mapped[str] = mapped_column(String(64), primary_key=True)
    stream: Mapped[str] = mapped_column(String(64), primary_key=True)
    slice_no: Mapped[int] = mapped_column(primary_key=True)
    slice_count: Mapped[int]
    descriptor: Mapped[str] = mapped_column(Text)
    cursor: Mapped[str | None] = mapped_column(Text)
    planned_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class ReportCache(Base):
    """One computed analytics report for one period and parameter set, as its rows (JSON), until recomputed."""

    __tablename__ = "report_cache"

    report: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[str] = mapped_column(String(32), primary_key=True)
    params: Mapped[str] = mapped_column(String(256), primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    computed_at: Mapped[datetime]


class MemberLoyaltyScore(Base):
    """A cluster root's loyalty score (0–100) and the parts it is made of (JSON), rewritten by the nightly job."""

    __tablename__ = "member_loyalty_scores"

    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    score: Mapped[int] = mapped_column(index=True)
    parts: Mapped[str] = mapped_column(Text)
    computed_at: Mapped[datetime]


class SyncRun(Base):
    """One run of one connector stream: timing, counts, outcome and the cursor before and after."""

    __tablename__ = "sync_runs"
    __table_args__ = (
        Index("ix_sync_runs_connector_stream_started_at", "connector", "stream", "started_at"),
        _one_of("status", ("running", "succeeded", "failed", "partial")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    connector: Mapped[str] = mapped_column(String(64))
    stream: Mapped[str] = mapped_column(String(64))
    lane: Mapped[str] = mapped_column(String(16), default="incremental", server_default="incremental")
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    records_read: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    records_written: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    records_quarantined: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    error_class: Mapped[str | None] = mapped_column(String(128))
    error_message: Mapped[str | None] = mapped_column(String(500))
    cursor_before: Mapped[str | None] = mapped_column(Text)
    cursor_after: Mapped[str | None] = mapped_column(Text)


class DeadLetter(Base):
    """A quarantined source record (payload sealed under a system key) and why it was refused."""

    __tablename__ = "dead_letters"
    __table_args__ = (
        Index("ix_dead_letters_connector_stream_status", "connector", "stream", "status"),
        _one_of("status", ("pending", "replayed", "discarded")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    connector: Mapped[str] = mapped_column(String(64))
    stream: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str | None] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(String(500))
    error_class: Mapped[str] = mapped_column(String(128))
    payload_ct: Mapped[bytes]
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    replayed_at: Mapped[datetime | None]


class OutboxMessage(Base):
    """A change to push to an external system, written in the domain transaction, sent by a dispatcher."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_destination_status_next_attempt_at", "destination", "status", "next_attempt_at"),
        _one_of("status", ("pending", "delivered", "failed")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    destination: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64))
    member_id: Mapped[uuid.UUID | None]
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    payload_ct: Mapped[bytes]
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]


class AuditEvent(Base):
    """Who read or changed which member's data, in which role, why and when (APPI access record).

    ``member_id`` has no foreign key on purpose: the record of an access outlives the member's erasure.
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_actor_action_occurred_at", "actor", "action", "occurred_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))
    member_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    purpose: Mapped[str | None] = mapped_column(String(255))
    request_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[Any | None] = mapped_column(JsonDocument)


class ConsoleUser(Base):
    """An operator who can sign in to the console, with a password hash and a role."""

    __tablename__ = "console_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    locale: Mapped[str] = mapped_column(String(8), default="ja", server_default="ja")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime | None]


class ConsoleSession(Base):
    """A signed-in console session; only a SHA-256 digest of its cookie value is stored.

    Ending a session (logout, password change, user disabled) sets ``ended_at``: the cookie stops working at
    once, whatever its own expiry says.
    """

    __tablename__ = "console_sessions"
    __table_args__ = (Index("ix_console_sessions_user_id_ended_at", "user_id", "ended_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_digest: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("console_users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class ApiToken(Base):
    """A bearer token for an integration: a role, the scopes it may use, stored as a SHA-256 digest."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    token_digest: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[Any] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class LoginAttempt(Base):
    """A failed console sign-in, for throttling by user name and by client address (both as digests)."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_username_digest_attempted_at", "username_digest", "attempted_at"),
        Index("ix_login_attempts_client_digest_attempted_at", "client_digest", "attempted_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username_digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    client_digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    attempted_at: Mapped[datetime]


class SystemKey(Base):
    """A data key for non-member payloads (dead letters, outbox), wrapped by one KEK version."""

    __tablename__ = "system_keys"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    kek_version: Mapped[int] = mapped_column(SmallInteger)
    wrapped_key: Mapped[bytes]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class HubMeta(Base):
    """A small piece of hub-wide state, such as the key check values."""

    __tablename__ = "hub_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class CircuitBreakerState(Base):
    """The circuit breaker of one connector instance, shared by every worker process and kept over restarts.

    ``next_probe_at`` is when the open circuit lets one probe through, or, while ``half_open``, when that
    probe's lease runs out and another process may probe in its place.
    """

    __tablename__ = "circuit_breakers"
    __table_args__ = (_one_of("state", ("closed", "open", "half_open")),)

    connector: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default="closed", server_default="closed")
    consecutive_failures: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    opened_at: Mapped[datetime | None]
    next_probe_at: Mapped[datetime | None]
    last_error_class: Mapped[str | None] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class MemberFieldSource(Base):
    """Which source set one profile field of a member, and that source's ``source_updated_at``.

    The state of the per-field merge (DESIGN §4 conflicts): an incoming value replaces the stored one only if
    its source ranks higher, or ranks the same and is newer.
    """

    __tablename__ = "member_field_sources"

    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    field: Mapped[str] = mapped_column(String(24), primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    source_updated_at: Mapped[datetime]


class ConsentEvent(Base):
    """A marketing subscribe or unsubscribe as a source reported it; the latest per channel is the consent."""

    __tablename__ = "consent_events"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_consent_events_member_id_channel_changed_at", "member_id", "channel", "changed_at"),
        Index("ix_consent_events_member_id_changed_at", "member_id", "changed_at"),
        _one_of("channel", ("email", "sms", "post")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"))
    source: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(255))
    channel: Mapped[str] = mapped_column(String(16))
    subscribed: Mapped[bool]
    changed_at: Mapped[datetime]
    source_updated_at: Mapped[datetime]


class WebhookDelivery(Base):
    """A webhook delivery already accepted, so a redelivery of the same id is recognised and dropped."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("connector", "delivery_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    connector: Mapped[str] = mapped_column(String(64))
    delivery_id: Mapped[str] = mapped_column(String(255))
    received_at: Mapped[datetime]


def table_of(model: type[Base]) -> Table:
    """The Core table of a model, typed as such (``__table__`` is declared as a generic ``FromClause``)."""
    return cast(Table, model.__table__)
