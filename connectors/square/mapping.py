"""Square's JSON → canonical records. A record that does not fit becomes a ``Rejected``.

Each object is read by a wire model in Square's own names and types, then turned into the canonical record,
which validates again. Square keeps what the clerk typed: a name in kanji or in katakana (Square has no reading
field, so a name written only in katakana is taken as the reading), a phone as ``090-1234-5678`` or
``+81 90-…`` (the hub normalises it), an email in any case. Money is an integer amount in the smallest unit,
which for yen is the yen. Reasons name fields and rules, never values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from core.members.numbers import looks_like_member_number
from core.records import Profile, Purchase, PurchaseAdjustment, PurchaseLine
from core.sync.mapping import RecordMapper

StoreCodes = Mapping[str, str]
CUSTOM_AMOUNT = "カスタム金額"
"""The line name of a custom amount rung up without an item (Square leaves ``name`` out)."""
_KATAKANA = re.compile(r"^[\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f\s・ー]+$")


def _whole_quantity(value: Any) -> int:
    """Square writes quantities as decimal strings (``"2"``, ``"1.5"`` for weighed goods)."""
    try:
        quantity = Decimal(str(value))
    except InvalidOperation:
        raise ValueError("quantity is not a decimal number") from None
    if not quantity.is_finite() or quantity != quantity.to_integral_value() or quantity < 0:
        raise ValueError("quantity is not a whole number of at least 0")
    return int(quantity)


def _birthday(value: Any) -> date | None:
    """``YYYY-MM-DD``; a birthday without its year (``0000-MM-DD`` or ``MM-DD``) is no date of birth."""
    if value is None or value == "":
        return None
    text = str(value)[:10]
    if re.fullmatch(r"(0000-)?\d{2}-\d{2}", text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError("birthday is not a YYYY-MM-DD date") from None


Quantity = Annotated[int, BeforeValidator(_whole_quantity)]
Birthday = Annotated[date | None, BeforeValidator(_birthday)]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class WireAddress(_Wire):
    """A Square ``Address`` in Japan: prefecture (``administrative_district_level_1``), city, street, building."""

    address_line_1: str | None = None
    address_line_2: str | None = None
    locality: str | None = None
    administrative_district_level_1: str | None = None
    postal_code: str | None = None


class WireCustomer(_Wire):
    """A ``Customer`` of SearchCustomers, RetrieveCustomer and ``customer.*`` notifications."""

    id: str
    given_name: str | None = None
    family_name: str | None = None
    email_address: str | None = None
    phone_number: str | None = None
    address: WireAddress | None = None
    birthday: Birthday = None
    reference_id: str | None = None
    updated_at: AwareDatetime


class WireMoney(_Wire):
    """A ``Money``: an integer amount in the currency's smallest unit."""

    amount: int
    currency: Literal["JPY"]


class WireLineItem(_Wire):
    """An ``OrderLineItem``; ``total_money`` is after discounts, tax included (Japanese prices)."""

    name: str = CUSTOM_AMOUNT
    catalog_object_id: str | None = None
    quantity: Quantity
    base_price_money: WireMoney
    total_money: WireMoney


class WireDiscount(_Wire):
    """An ``OrderLineItemDiscount``; a coupon's code, when the till recorded one, is in ``metadata``."""

    metadata: dict[str, str] | None = None


class WireRefund(_Wire):
    """A ``Refund`` on the order; only a COMPLETED one moved money."""

    id: str
    status: str
    amount_money: WireMoney
    created_at: AwareDatetime


class WireOrder(_Wire):
    """An ``Order`` of SearchOrders and RetrieveOrder."""

    id: str
    location_id: str
    customer_id: str | None = None
    state: Literal["OPEN", "COMPLETED", "CANCELED", "DRAFT"]
    created_at: AwareDatetime
    updated_at: AwareDatetime
    total_money: WireMoney
    total_tax_money: WireMoney | None = None
    total_discount_money: WireMoney | None = None
    line_items: list[WireLineItem] = Field(default_factory=list)
    discounts: list[WireDiscount] = Field(default_factory=list)
    refunds: list[WireRefund] = Field(default_factory=list)


def customer_to_profile(source: str, raw: Any) -> Profile:
    """A ``Customer`` as a ``Profile``: family name first; a name typed only in katakana becomes the kana."""
    customer = WireCustomer.model_validate(raw)
    full_name = _joined((customer.family_name, customer.given_name), " ")
    in_katakana = full_name is not None and _KATAKANA.fullmatch(full_name) is not None
    address = customer.address
    street = _joined(
        (address.administrative_district_level_1, address.locality, address.address_line_1), ""
    ) if address else None  # fmt: skip
    return Profile(
        source=source,
        external_id=customer.id,
        source_updated_at=customer.updated_at,
        name=None if in_katakana else full_name,
        kana=full_name if in_katakana else None,
        email=(customer.email_address or "").strip() or None,
        phone=(customer.phone_number or "").strip() or None,
        postal_code=address.postal_code if address else None,
        address=_joined((street, address.address_line_2 if address else None), " "),
        birthday=customer.birthday,
        member_number=_member_number(customer.reference_id),
    )


def _member_number(reference_id: str | None) -> str | None:
    """The customer's ``reference_id`` if it is a member number (the hub writes it there; a clerk may type it)."""
    return reference_id if reference_id and looks_like_member_number(reference_id) else None


def order_mapper(store_codes: StoreCodes, coupon_code_key: str = "coupon_code") -> RecordMapper:
    """``order_to_purchase`` with the seller's location → store code table and coupon metadata key."""
    return lambda source, raw: order_to_purchase(source, raw, store_codes, coupon_code_key)


def order_to_purchase(source: str, raw: Any, store_codes: StoreCodes, coupon_code_key: str = "coupon_code") -> Purchase:
    """An ``Order`` as a store ``Purchase``: lines, completed refunds as adjustments, coupon codes."""
    order = WireOrder.model_validate(raw)
    refunds = [refund for refund in order.refunds if refund.status == "COMPLETED"]
    refunded = sum(refund.amount_money.amount for refund in refunds)
    return Purchase(
        source=source,
        external_id=order.id,
        source_updated_at=order.updated_at,
        customer_external_id=order.customer_id or None,
        channel="store",
        store_code=store_codes.get(order.location_id, order.location_id),
        status=_status(order.state, refunded, order.total_money.amount),
        total_amount=order.total_money.amount,
        tax_amount=_yen(order.total_tax_money),
        discount_amount=_yen(order.total_discount_money),
        purchased_at=order.created_at,
        lines=tuple(_line(number, line) for number, line in enumerate(order.line_items, start=1)),
        adjustments=tuple(
            PurchaseAdjustment(
                external_id=refund.id, kind="refund", amount=refund.amount_money.amount, occurred_at=refund.created_at
            )
            for refund in refunds
        ),
        coupon_codes=tuple(
            code for discount in order.discounts if (code := (discount.metadata or {}).get(coupon_code_key))
        ),
    )


def _status(
    state: str, refunded: int, total: int
) -> Literal["completed", "partially_refunded", "refunded", "cancelled"]:
    if state == "CANCELED":
        return "cancelled"
    if refunded <= 0:
        return "completed"
    return "refunded" if refunded >= total else "partially_refunded"


def _yen(money: WireMoney | None) -> int:
    return 0 if money is None else money.amount


def _line(number: int, line: WireLineItem) -> PurchaseLine:
    return PurchaseLine(
        line_no=number,
        sku=line.catalog_object_id,
        product_name=line.name,
        quantity=line.quantity,
        unit_price=line.base_price_money.amount,
        amount=line.total_money.amount,
    )


def _joined(parts: Iterable[str | None], separator: str) -> str | None:
    present = [part.strip() for part in parts if part and part.strip()]
    return separator.join(present) if present else None
