"""The outbox payloads the Klaviyo writers accept, validated at the edge.

Keys the hub may add later are ignored, not refused (the payload is ours). Refusals name fields, rules and
member ids only: they end up in the outbox's ``last_error`` and in logs.
"""

from __future__ import annotations

from datetime import date
from typing import TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, NonNegativeInt, ValidationError

from core.errors import PermanentError
from core.records import Code, ExternalId
from core.sync.contract import OutboundMessage
from core.sync.mapping import rejection_reason


class MessagePayload(BaseModel):
    """Base of the payload models."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class LoyaltyEntry(MessagePayload):
    """One member's loyalty status, for their profile's properties (docs/loyalty.md, member statuses)."""

    member_id: str
    customer_id: ExternalId | None
    member_number: str | None = None
    rank: Code | None = None
    points_available: int | None = None
    points_pending: int | None = None
    segments: tuple[Code, ...] = ()
    expiring_points: NonNegativeInt | None = None
    expiring_at: AwareDatetime | None = None
    flags: tuple[Code, ...] | None = None
    """The rank's benefit flags; ``None`` from a hub that sends none (the property is then left alone)."""


class MemberLoyalty(MessagePayload):
    """``member.loyalty``: a batch of changed statuses."""

    changes: tuple[LoyaltyEntry, ...] = Field(max_length=1000)


class SegmentChange(MessagePayload):
    """One member's segments now, and those joined and left."""

    member_id: str
    customer_id: ExternalId | None
    segments: tuple[Code, ...] = ()
    joined: tuple[Code, ...] = ()
    left: tuple[Code, ...] = ()


class MemberSegments(MessagePayload):
    """``member.segments``: a batch of segment changes (docs/loyalty.md)."""

    changes: tuple[SegmentChange, ...]


class CouponIssued(MessagePayload):
    """``coupon.issued`` (docs/loyalty.md)."""

    member_id: str
    customer_id: ExternalId | None
    coupon_code: str
    template: Code
    name_ja: str
    name_en: str | None = None
    value_type: str
    value: int | float
    max_uses: int | None = None
    issued_at: AwareDatetime
    expires_at: AwareDatetime | None = None


class PointsExpiring(MessagePayload):
    """``points.expiring``: a notice that a member's points lapse soon."""

    member_id: str
    customer_id: ExternalId | None
    member_number: str | None = None
    points: NonNegativeInt
    expires_at: AwareDatetime
    notice_days: NonNegativeInt | None = None


class MemberProfile(MessagePayload):
    """``member.profile``: a member's profile fields and which of them changed (docs/connector-guide.md)."""

    member_id: str
    customer_id: ExternalId | None
    name: str | None = None
    kana: str | None = None
    email: str | None = None
    phone: str | None = None
    postal_code: str | None = None
    address: str | None = None
    birthday: date | None = None
    changed: tuple[str, ...] = ()


class MemberConsent(MessagePayload):
    """``member.consent`` (docs/connector-guide.md)."""

    member_id: str
    customer_id: ExternalId | None
    channel: str
    subscribed: bool
    changed_at: AwareDatetime


_P = TypeVar("_P", bound=MessagePayload)


def parse_payload(model: type[_P], message: OutboundMessage) -> _P:
    """The message's payload as ``model``; a ``PermanentError`` naming the fields and rules it breaks."""
    try:
        return model.model_validate(message.payload)
    except ValidationError as error:
        raise PermanentError(f"{message.kind} payload invalid: {rejection_reason(error)}") from None


def profile_of(kind: str, member_id: str, customer_id: str | None) -> str:
    """The Klaviyo profile a message is for; a ``PermanentError`` when the member has none in this account."""
    if customer_id is None:
        raise PermanentError(f"{kind}: member {member_id} has no Klaviyo profile")
    return customer_id
