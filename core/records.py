"""Canonical records: what every connector turns external JSON into, validated at the boundary.

Each record names its ``source`` (the connector instance), its ``external_id`` in that system and the
``source_updated_at`` the system reports, which decides which version of a record wins. Records that point at
a customer do so by the customer's id *in the same source* (``customer_external_id``); the hub resolves it
to a member through its source links.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

ExternalId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Yen = Annotated[int, Field(ge=-100_000_000, le=100_000_000)]


def _coupon_code(code: str) -> str:
    """A code as a till or a web form may send it, in its one stored form: NFKC, no spaces, capitals."""
    folded = "".join(unicodedata.normalize("NFKC", code).split()).upper()
    if not folded or len(folded) > 64:
        raise ValueError("a coupon code has 1 to 64 characters")
    return folded


CouponCode = Annotated[str, AfterValidator(_coupon_code)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class CanonicalRecord(_Model):
    """Fields every record carries."""

    source: Code
    external_id: ExternalId
    source_updated_at: AwareDatetime


class Profile(CanonicalRecord):
    """A customer as one system knows them; absent fields are ``None`` and never erase known values."""

    kind: Literal["profile"] = "profile"
    name: str | None = None
    kana: str | None = None
    email: str | None = None
    email_verified: bool | None = None
    """Whether the source checked that the customer receives mail at ``email``; ``None``: it does not say."""
    phone: str | None = None
    postal_code: str | None = None
    address: str | None = None
    birthday: date | None = None
    member_number: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] | None = None
    """The hub's member number if the system stores it (a reference id the hub wrote, a card typed at a till)."""


class PurchaseLine(_Model):
    """One line of a receipt or order."""

    line_no: Annotated[int, Field(ge=1)]
    sku: str | None = None
    product_name: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    quantity: Annotated[int, Field(ge=0)]
    unit_price: Yen
    amount: Yen


class PurchaseAdjustment(_Model):
    """A refund (partial or full) or a cancellation."""

    external_id: ExternalId
    kind: Literal["refund", "cancel"]
    amount: Annotated[int, Field(ge=0, le=100_000_000)]
    occurred_at: AwareDatetime


class Purchase(CanonicalRecord):
    """A store receipt or an online order, in yen."""

    kind: Literal["purchase"] = "purchase"
    customer_external_id: ExternalId | None = None
    channel: Literal["store", "online"]
    store_code: Code | None = None
    status: Literal["completed", "partially_refunded", "refunded", "cancelled"] = "completed"
    currency: Literal["JPY"] = "JPY"
    total_amount: Yen
    tax_amount: Yen = 0
    discount_amount: Yen = 0
    purchased_at: AwareDatetime
    lines: tuple[PurchaseLine, ...] = ()
    adjustments: tuple[PurchaseAdjustment, ...] = ()
    coupon_codes: Annotated[tuple[CouponCode, ...], Field(max_length=20)] = ()
    """Codes of coupons the customer used; a code that is not valid for them never refuses the purchase."""


class InquiryMessage(_Model):
    """One message of an inquiry thread."""

    external_id: ExternalId
    author_kind: Literal["member", "agent", "system"]
    body: Annotated[str, StringConstraints(min_length=1, max_length=65_536)]
    sent_at: AwareDatetime


class Inquiry(CanonicalRecord):
    """A helpdesk ticket or a logged call, with its messages."""

    kind: Literal["inquiry"] = "inquiry"
    customer_external_id: ExternalId
    channel: Literal["phone", "email", "chat", "web"]
    category: Code | None = None
    status: Literal["open", "pending", "solved", "closed"]
    subject: Annotated[str, StringConstraints(max_length=1_000)] | None = None
    opened_at: AwareDatetime
    closed_at: AwareDatetime | None = None
    messages: tuple[InquiryMessage, ...] = ()
    console_inquiry: ExternalId | None = None
    """The external id the hub gave the helpdesk when it created this record for a console inquiry, if it did."""


class SurveyResponse(CanonicalRecord):
    """An answer to an email survey: score, choice answers, and free text."""

    kind: Literal["survey_response"] = "survey_response"
    customer_external_id: ExternalId
    survey_code: Code
    score: Annotated[int, Field(ge=0, le=10)] | None = None
    answers: dict[str, str] = Field(default_factory=dict)
    free_text: Annotated[str, StringConstraints(max_length=65_536)] | None = None
    answered_at: AwareDatetime


class ConsentChange(CanonicalRecord):
    """A subscribe or unsubscribe for marketing on one channel."""

    kind: Literal["consent_change"] = "consent_change"
    customer_external_id: ExternalId
    channel: Literal["email", "sms", "post"]
    subscribed: bool
    changed_at: AwareDatetime


class ErasureRequest(CanonicalRecord):
    """A source asking the hub to erase what it sent about one customer, or about all of its customers.

    ``external_id`` is the customer's id in the source (``scope="customer"``), or the source system's id for
    itself, such as a shop's (``scope="source"``); ``source_updated_at`` is when the source asked. It carries no
    personal data: the hub finds what to erase through its source links (docs/privacy.md).
    """

    kind: Literal["erasure_request"] = "erasure_request"
    scope: Literal["customer", "source"] = "customer"


class DataRequest(CanonicalRecord):
    """A source passing on a customer's request to see what the hub holds about them (``external_id``: the customer).

    ``request_id`` is the source's own id of the request, so that the answer can name it.
    """

    kind: Literal["data_request"] = "data_request"
    request_id: Code | None = None


Record = Profile | Purchase | Inquiry | SurveyResponse | ConsentChange | ErasureRequest | DataRequest
RECORD_TYPES: tuple[type[CanonicalRecord], ...] = (
    Profile, Purchase, Inquiry, SurveyResponse, ConsentChange, ErasureRequest, DataRequest,
)  # fmt: skip
