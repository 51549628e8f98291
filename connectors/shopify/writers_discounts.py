"""``coupon.issued`` → a basic code discount in the shop (``discountCodeBasicCreate``), once per coupon.

The coupon (payload of ``core.loyalty.coupon_messages``, docs/loyalty.md) maps to ``DiscountCodeBasicInput``:

- ``code`` ← ``coupon_code``; ``title`` ← ``name_ja``, the template's name (shown in the admin and at checkout);
- ``startsAt`` ← ``issued_at``, the coupon's validity in the hub (a code cannot be used in the shop before it
  exists anyway); a message written before payloads carried it starts at the moment of delivery;
  ``endsAt`` ← ``expires_at`` (exclusive in the hub, the moment the discount stops in Shopify). A coupon
  already expired is refused, not created;
- ``customerSelection`` ← that customer (``customers.add``) when the payload names one; without a customer
  id, all customers (the code is then the only key, as on a printed coupon). ``customerSelection`` is
  deprecated from 2025-10 for ``context``, but is the one field every supported API version has;
- ``customerGets`` ← ``amount``: ``discountAmount`` (``value`` in the shop's currency, yen, once per order);
  ``percent``: ``percentage`` ``value / 100``; on all items;
- ``usageLimit`` ← ``max_uses``; ``appliesOncePerCustomer`` ← single use (``max_uses`` 1).

Not mapped: ``name_en``, ``template`` and ``kind`` (the admin shows one title); no minimum purchase and no
combining with other discounts (Shopify's defaults); the hub's own redemption check (the buyer's cluster)
is not Shopify's: a code open to all customers can be used by whoever holds it.

Shopify takes no idempotency key, but the coupon code is one: a retried delivery is answered ``TAKEN`` on
``code``, and the writer treats that as done once ``codeDiscountNodeByCode`` confirms the code exists.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field, StringConstraints, model_validator

from connectors.shopify.client import ShopifyClient
from connectors.shopify.writers_messages import (
    CustomerRefused,
    MessagePayload,
    parse_payload,
    raise_user_errors,
    shopify_customer,
    user_errors,
)
from core.sync.contract import OutboundMessage

DISCOUNT_CREATE = """
mutation DiscountCreate($discount: DiscountCodeBasicInput!) {
  discountCodeBasicCreate(basicCodeDiscount: $discount) { codeDiscountNode { id } userErrors { field message code } }
}"""
DISCOUNT_BY_CODE = "query DiscountByCode($code: String!) { codeDiscountNodeByCode(code: $code) { id } }"


class CouponIssued(MessagePayload):
    """Payload of ``coupon.issued``: what the writer maps (see the module docstring)."""

    member_id: UUID
    customer_id: str | None = None
    coupon_code: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]+(-[A-Z0-9]+)*$", max_length=64)]
    name_ja: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    value_type: Literal["amount", "percent"]
    value: Annotated[int, Field(ge=1, le=1_000_000)]
    max_uses: Annotated[int, Field(ge=1, le=1000)]
    issued_at: AwareDatetime | None = None
    expires_at: AwareDatetime

    @model_validator(mode="after")
    def _percent_at_most_100(self) -> CouponIssued:
        if self.value_type == "percent" and self.value > 100:
            raise ValueError("a percent coupon takes at most 100 percent off")
        return self


class DiscountWriter:
    """Creates one shop's discount codes for ``coupon.issued`` messages; ``clock`` gives an aware ``datetime``."""

    def __init__(self, instance: str, client: ShopifyClient, clock: Callable[[], datetime]) -> None:
        self.instance = instance
        self._client = client
        self._clock = clock

    def deliver(self, message: OutboundMessage) -> None:
        """Create the coupon's discount code, or find it created by an earlier delivery."""
        coupon = parse_payload(CouponIssued, message)
        now = self._clock()
        if coupon.expires_at <= now:
            raise CustomerRefused(f"{message.kind}: the coupon of member {coupon.member_id} expired before it "
                                  f"reached shop {self.instance}")  # fmt: skip
        discount = _discount_input(coupon, now, self._selection(message.kind, coupon))
        payload = self._client.query("discount-create", DISCOUNT_CREATE, {"discount": discount})
        created = payload.get("discountCodeBasicCreate")
        if _code_taken(created) and self._exists(coupon.coupon_code):
            return
        raise_user_errors(message.kind, "discount", created, secret=coupon.coupon_code)

    def _selection(self, kind: str, coupon: CouponIssued) -> dict[str, Any]:
        if coupon.customer_id is None:
            return {"all": True}
        return {"customers": {"add": [shopify_customer(kind, self.instance, coupon.member_id, coupon.customer_id)]}}

    def _exists(self, code: str) -> bool:
        found = self._client.query("discount-by-code", DISCOUNT_BY_CODE, {"code": code})
        return isinstance(found.get("codeDiscountNodeByCode"), dict)


def _discount_input(coupon: CouponIssued, now: datetime, selection: dict[str, Any]) -> dict[str, Any]:
    if coupon.value_type == "amount":
        value: dict[str, Any] = {"discountAmount": {"amount": str(coupon.value), "appliesOnEachItem": False}}
    else:
        value = {"percentage": coupon.value / 100}
    return {
        "title": coupon.name_ja,
        "code": coupon.coupon_code,
        "startsAt": (coupon.issued_at or now).isoformat(timespec="seconds"),
        "endsAt": coupon.expires_at.isoformat(),
        "customerSelection": selection,
        "customerGets": {"value": value, "items": {"all": True}},
        "usageLimit": coupon.max_uses,
        "appliesOncePerCustomer": coupon.max_uses == 1,
    }


def _code_taken(payload: Any) -> bool:
    """Whether Shopify refused the discount because a discount with its code exists."""
    return any(
        error.get("code") == "TAKEN" and list(error.get("field") or ())[-1:] == ["code"]
        for error in user_errors(payload)
    )
