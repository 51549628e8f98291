"""The outbound messages the Zendesk writers take, as validated payloads (PII-free reasons when they do not fit)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from core.errors import PermanentError
from core.records import Code, ExternalId
from core.sync.contract import (
    OutboundMessage,
)
from core.sync.mapping import rejection_reason

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=65_536)]
HubStatus = Literal["open", "pending", "solved", "closed"]
PayloadT = TypeVar("PayloadT", bound="MessagePayload")


class MessagePayload(BaseModel):
    """Fields the producer adds later are ignored, so a newer hub does not break this writer."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class InquiryHeader(MessagePayload):
    """What ``inquiry.logged`` and ``inquiry.updated`` share (``core.members.inquiries``)."""

    inquiry_id: int
    external_id: ExternalId
    member_id: str
    channel: Literal["phone", "email", "chat", "web"]
    category: Code | None = None
    status: HubStatus
    subject: Annotated[str, StringConstraints(max_length=1_000)] | None = None
    opened_at: AwareDatetime
    author: str
    customer_id: str | None = None
    member_number: str | None = None


class InquiryLogged(InquiryHeader):
    """Payload of ``inquiry.logged``: the first message of the inquiry."""

    body: Text


class InquiryUpdated(InquiryHeader):
    """Payload of ``inquiry.updated``: the new status and an optional note."""

    note: str | None = None


class SurveyResponseRef(MessagePayload):
    """Which survey answer triggered the rule."""

    source: Code
    external_id: ExternalId


class SurveyCallCenter(MessagePayload):
    """Payload of ``survey.call_center`` (``core.loyalty.surveys``): a survey answer that needs a call."""

    member_id: str
    customer_id: str | None = None
    member_number: str | None = None
    rule: Code
    survey_code: Code
    response: SurveyResponseRef
    answered_at: AwareDatetime
    question: str | None = None
    answer: str | None = None
    coupon_code: str | None = None


class LoyaltyChange(MessagePayload):
    """One member's loyalty status in ``member.loyalty``."""

    member_id: str
    customer_id: str | None = None
    member_number: str | None = None
    rank: Code | None = None
    points_available: int
    points_pending: int = 0
    expiring_points: int = 0
    expiring_at: datetime | date | None = None
    segments: tuple[Code, ...] = ()
    flags: tuple[Code, ...] | None = None
    """The rank's benefit flags; ``None`` from a hub that sends none (the field is then left alone)."""


class LoyaltyChanges(MessagePayload):
    """Payload of ``member.loyalty``: up to 500 changes."""

    changes: Annotated[tuple[LoyaltyChange, ...], Field(max_length=500)]


def parse_payload(model: type[PayloadT], message: OutboundMessage) -> PayloadT:
    """The message's payload as ``model``; a ``PermanentError`` naming fields and rules if it does not fit."""
    try:
        return model.model_validate(message.payload)
    except ValidationError as error:
        raise PermanentError(f"{message.kind} payload invalid: {rejection_reason(error)}") from None
