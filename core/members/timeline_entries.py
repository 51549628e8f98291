"""The entries of the unified member timeline: one typed, decrypted dataclass per kind of history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """What every entry has: when, what, which row, whose, from which system and channel.

    ``member_id`` is the member of the cluster the row belongs to; ``source`` is ``None`` for the hub's own
    loyalty rows (points, ranks, coupons); ``channel`` is ``None`` for kinds without one.
    """

    occurred_at: datetime
    kind: str
    entry_id: int
    member_id: UUID
    source: str | None
    channel: str | None


@dataclass(frozen=True, slots=True)
class PurchaseEntry(TimelineEntry):
    """A receipt or an online order; ``amount`` in yen."""

    status: str
    amount: int
    store_code: str | None
    external_id: str


@dataclass(frozen=True, slots=True)
class AdjustmentEntry(TimelineEntry):
    """A refund or cancellation (``kind``) of one purchase; ``amount`` in yen."""

    amount: int
    purchase_id: int
    purchase_external_id: str
    store_code: str | None


@dataclass(frozen=True, slots=True)
class InquiryMessageEntry:
    """One message of an inquiry, decrypted."""

    message_id: int
    author_kind: str
    body: str | None
    sent_at: datetime


@dataclass(frozen=True, slots=True)
class InquiryEntry(TimelineEntry):
    """A helpdesk ticket or logged call, its subject and messages decrypted."""

    status: str
    category: str | None
    subject: str | None
    closed_at: datetime | None
    external_id: str
    messages: tuple[InquiryMessageEntry, ...]


@dataclass(frozen=True, slots=True)
class PointsEntry(TimelineEntry):
    """A movement of points (``ledger_kind`` earn, redeem, expire, adjust or reverse), signed."""

    ledger_kind: str
    points: int
    status: str
    rule_version: str | None
    source_event: str
    expires_at: datetime | None
    note: str | None


@dataclass(frozen=True, slots=True)
class RankChangeEntry(TimelineEntry):
    """A move from one rank to another, and the rule that made it."""

    from_rank: str | None
    to_rank: str
    reason: str
    rule_version: str | None


@dataclass(frozen=True, slots=True)
class SurveyEntry(TimelineEntry):
    """A survey answer: score and free text (decrypted)."""

    survey_code: str
    score: int | None
    free_text: str | None
    external_id: str


@dataclass(frozen=True, slots=True)
class CouponEntry(TimelineEntry):
    """A coupon issued (``coupon_issued``) or used (``coupon_used``)."""

    code: str
    coupon_kind: str
    value_type: str
    value: int
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class ConsentEntry(TimelineEntry):
    """A marketing subscribe or unsubscribe on one channel."""

    subscribed: bool


@dataclass(frozen=True)
class TimelinePage:
    """One page, newest first, and the cursor of the next page (``None`` on the last one)."""

    entries: tuple[TimelineEntry, ...]
    next_cursor: str | None
