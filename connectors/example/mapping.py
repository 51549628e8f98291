"""The Example API's JSON → canonical records. A record that does not fit becomes a ``Rejected``.

Each API object is first read by a wire model (the API's own field names and types), then turned into the
canonical record, which validates again. Reasons name the field and the rule broken, never the value.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, NonNegativeInt

from core.records import Profile, Purchase, PurchaseAdjustment, PurchaseLine

_CHANNELS: dict[str, Literal["store", "online"]] = {"pos": "store", "ec": "online"}
_STATUSES: dict[str, Literal["completed", "partially_refunded", "refunded", "cancelled"]] = {
    "completed": "completed",
    "canceled": "cancelled",
    "refunded": "refunded",
    "partially_refunded": "partially_refunded",
}


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class WireCustomer(_Wire):
    """A customer object of ``GET /v1/customers``."""

    id: str
    family_name: str | None = None
    given_name: str | None = None
    family_name_kana: str | None = None
    given_name_kana: str | None = None
    email: str | None = None
    phone: str | None = None
    postal_code: str | None = None
    prefecture: str | None = None
    address1: str | None = None
    address2: str | None = None
    birthday: date | None = None
    updated_at: AwareDatetime


class WireLineItem(_Wire):
    """One line item of an order; the API documents quantities as never negative."""

    sku: str | None = None
    name: str
    quantity: NonNegativeInt
    unit_price: int
    amount: int


class WireRefund(_Wire):
    """A refund or cancellation of an order."""

    id: str
    type: Literal["refund", "cancel"]
    amount: int
    created_at: AwareDatetime


class WireOrder(_Wire):
    """An order object of ``GET /v1/orders``; amounts are yen, ``total`` includes tax after discount."""

    id: str
    customer_id: str | None = None
    channel: Literal["pos", "ec"]
    store_code: str | None = None
    state: Literal["completed", "canceled", "refunded", "partially_refunded"]
    currency: Literal["JPY"]
    discount: int = 0
    tax: int
    total: int
    ordered_at: AwareDatetime
    line_items: list[WireLineItem]
    refunds: list[WireRefund] = []
    updated_at: AwareDatetime


def customer_to_profile(source: str, raw: Any) -> Profile:
    """A customer object as a ``Profile``; names and kana are joined family name first, as in Japan."""
    customer = WireCustomer.model_validate(raw)
    address = _joined((customer.prefecture, customer.address1), "") if customer.address1 else None
    return Profile(
        source=source,
        external_id=customer.id,
        source_updated_at=customer.updated_at,
        name=_joined((customer.family_name, customer.given_name), " "),
        kana=_joined((customer.family_name_kana, customer.given_name_kana), " "),
        email=customer.email,
        phone=customer.phone,
        postal_code=customer.postal_code,
        address=_joined((address, customer.address2), " "),
        birthday=customer.birthday,
    )


def order_to_purchase(source: str, raw: Any) -> Purchase:
    """An order object as a ``Purchase`` with its lines and refunds."""
    order = WireOrder.model_validate(raw)
    return Purchase(
        source=source,
        external_id=order.id,
        source_updated_at=order.updated_at,
        customer_external_id=order.customer_id,
        channel=_CHANNELS[order.channel],
        store_code=order.store_code,
        status=_STATUSES[order.state],
        currency=order.currency,
        total_amount=order.total,
        tax_amount=order.tax,
        discount_amount=order.discount,
        purchased_at=order.ordered_at,
        lines=tuple(_line(number, line) for number, line in enumerate(order.line_items, start=1)),
        adjustments=tuple(_adjustment(refund) for refund in order.refunds),
    )


def _line(number: int, line: WireLineItem) -> PurchaseLine:
    return PurchaseLine(
        line_no=number,
        sku=line.sku,
        product_name=line.name,
        quantity=line.quantity,
        unit_price=line.unit_price,
        amount=line.amount,
    )


def _adjustment(refund: WireRefund) -> PurchaseAdjustment:
    return PurchaseAdjustment(
        external_id=refund.id, kind=refund.type, amount=refund.amount, occurred_at=refund.created_at
    )


def _joined(parts: Iterable[str | None], separator: str) -> str | None:
    present = [part for part in parts if part]
    return separator.join(present) if present else None
