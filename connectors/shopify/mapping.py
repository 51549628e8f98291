"""Shopify's JSON → canonical records. A record that does not fit becomes a ``Rejected``.

Each object is read by a wire model in the API's own names and types (GraphQL for pages, REST for customer
webhooks), then turned into the canonical record, which validates again. Ids are GraphQL global ids
(``gid://shopify/Customer/…``) on both paths, so a webhook and a page update the same record. Reasons name
fields and rules, never values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, NonNegativeInt

from core.records import Profile, Purchase, PurchaseAdjustment, PurchaseLine
from core.sync.mapping import RecordMapper

StoreCodes = Mapping[str, str]

_REFUNDED: dict[str, Literal["partially_refunded", "refunded", "cancelled"]] = {
    "PARTIALLY_REFUNDED": "partially_refunded",
    "REFUNDED": "refunded",
    "VOIDED": "cancelled",  # the authorisation was voided: nothing was ever paid
}


def _whole_yen(amount: Decimal) -> Decimal:
    if not amount.is_finite() or amount != amount.to_integral_value():
        raise ValueError("a yen amount is a whole number")
    return amount


Yen = Annotated[Decimal, AfterValidator(_whole_yen)]
"""Shopify writes money as a decimal string (``"12800.0"``); yen have no minor unit."""


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class WireAddress(_Wire):
    """A ``MailingAddress`` (GraphQL) or ``default_address`` (REST): the same names in either case style."""

    zip: str | None = None
    province: str | None = None
    city: str | None = None
    address1: str | None = None
    address2: str | None = None
    phone: str | None = None


class WireCustomer(_Wire):
    """A ``Customer`` of the GraphQL Admin API."""

    id: str
    firstName: str | None = None
    lastName: str | None = None
    email: str | None = None
    phone: str | None = None
    verifiedEmail: bool | None = None
    updatedAt: AwareDatetime
    defaultAddress: WireAddress | None = None


class WireRestCustomer(_Wire):
    """A customer as ``customers/create|update`` webhooks carry it (REST shape)."""

    admin_graphql_api_id: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    verified_email: bool | None = None
    updated_at: AwareDatetime
    default_address: WireAddress | None = None


class WireMoney(_Wire):
    """A ``MoneyV2``: the amount in the shop's currency."""

    amount: Yen
    currencyCode: Literal["JPY"]


class WireMoneyBag(_Wire):
    """A ``MoneyBag``; only the shop's currency is read."""

    shopMoney: WireMoney


class WireRef(_Wire):
    """An object read only for its id (``customer { id }``, ``retailLocation { id }``)."""

    id: str


class WireLineItem(_Wire):
    """A ``LineItem``: quantity as ordered; refunds are adjustments of the purchase, not edits of its lines."""

    sku: str | None = None
    name: str
    quantity: NonNegativeInt
    originalUnitPriceSet: WireMoneyBag
    originalTotalSet: WireMoneyBag


class WireLineItems(_Wire):
    """The ``lineItems`` connection, completed by the connector when it has more pages."""

    nodes: list[WireLineItem]


class WireRefund(_Wire):
    """A ``Refund`` of an order."""

    id: str
    createdAt: AwareDatetime | None = None
    totalRefundedSet: WireMoneyBag


class WireOrder(_Wire):
    """An ``Order`` of the GraphQL Admin API; ``totalPriceSet`` includes tax, after discounts."""

    id: str
    createdAt: AwareDatetime
    processedAt: AwareDatetime | None = None
    updatedAt: AwareDatetime
    cancelledAt: AwareDatetime | None = None
    displayFinancialStatus: str | None = None
    currencyCode: Literal["JPY"]
    totalPriceSet: WireMoneyBag
    totalTaxSet: WireMoneyBag | None = None
    totalDiscountsSet: WireMoneyBag | None = None
    discountCodes: tuple[str, ...] = ()
    sourceName: str | None = None
    retailLocation: WireRef | None = None
    customer: WireRef | None = None
    lineItems: WireLineItems
    refunds: tuple[WireRefund, ...] = ()


def customer_to_profile(source: str, raw: Any) -> Profile:
    """A GraphQL ``Customer`` as a ``Profile``."""
    customer = WireCustomer.model_validate(raw)
    return _profile(
        source, customer.id, customer.updatedAt, (customer.lastName, customer.firstName),
        customer.email, customer.verifiedEmail, customer.phone, customer.defaultAddress,
    )  # fmt: skip


def rest_customer_to_profile(source: str, raw: Any) -> Profile:
    """A webhook's REST customer as a ``Profile``, keyed by its GraphQL id like a page's."""
    customer = WireRestCustomer.model_validate(raw)
    return _profile(
        source, customer.admin_graphql_api_id, customer.updated_at, (customer.last_name, customer.first_name),
        customer.email, customer.verified_email, customer.phone, customer.default_address,
    )  # fmt: skip


def _profile(
    source: str,
    external_id: str,
    updated_at: Any,
    family_then_given: tuple[str | None, str | None],
    email: str | None,
    verified: bool | None,
    phone: str | None,
    address: WireAddress | None,
) -> Profile:
    """Names family name first, as in Japan; the address prefecture → city → street, then the building."""
    street = _joined((address.province, address.city, address.address1), "") if address else None
    return Profile(
        source=source,
        external_id=external_id,
        source_updated_at=updated_at,
        name=_joined(family_then_given, " "),
        email=email,
        email_verified=verified if email else None,
        phone=phone or (address.phone if address else None),
        postal_code=address.zip if address else None,
        address=_joined((street, address.address2 if address else None), " "),
    )


def order_mapper(store_codes: StoreCodes) -> RecordMapper:
    """``order_to_purchase`` with the shop's location → store code table."""
    return lambda source, raw: order_to_purchase(source, raw, store_codes)


def order_to_purchase(source: str, raw: Any, store_codes: StoreCodes) -> Purchase:
    """A GraphQL ``Order`` as a ``Purchase``: lines, refunds as adjustments, a cancellation as ``cancel``.

    ``sourceName`` ``pos`` is a till sale at the store of its retail location; anything else is online.
    """
    order = WireOrder.model_validate(raw)
    store = order.sourceName == "pos"
    return Purchase(
        source=source,
        external_id=order.id,
        source_updated_at=order.updatedAt,
        customer_external_id=order.customer.id if order.customer else None,
        channel="store" if store else "online",
        store_code=_store_code(order.retailLocation, store_codes) if store else None,
        status="cancelled" if order.cancelledAt else _REFUNDED.get(order.displayFinancialStatus or "", "completed"),
        total_amount=_yen(order.totalPriceSet),
        tax_amount=_yen(order.totalTaxSet),
        discount_amount=_yen(order.totalDiscountsSet),
        purchased_at=order.processedAt or order.createdAt,
        lines=tuple(_line(number, line) for number, line in enumerate(order.lineItems.nodes, start=1)),
        adjustments=_adjustments(order),
        coupon_codes=tuple(order.discountCodes),
    )


def _store_code(location: WireRef | None, store_codes: StoreCodes) -> str | None:
    if location is None:
        return None
    number = location.id.rsplit("/", 1)[-1]
    return store_codes.get(number, number)


def _yen(money: WireMoneyBag | None) -> int:
    return 0 if money is None else int(money.shopMoney.amount)


def _line(number: int, line: WireLineItem) -> PurchaseLine:
    return PurchaseLine(
        line_no=number,
        sku=line.sku or None,
        product_name=line.name,
        quantity=line.quantity,
        unit_price=_yen(line.originalUnitPriceSet),
        amount=_yen(line.originalTotalSet),
    )


def _adjustments(order: WireOrder) -> tuple[PurchaseAdjustment, ...]:
    refunds = [
        PurchaseAdjustment(
            external_id=refund.id,
            kind="refund",
            amount=_yen(refund.totalRefundedSet),
            occurred_at=refund.createdAt or order.updatedAt,
        )
        for refund in order.refunds
    ]
    if order.cancelledAt is None:
        return tuple(refunds)
    # What a cancellation gave back arrives as its own refund; the cancel itself moves no money.
    cancel = PurchaseAdjustment(
        external_id=f"{order.id}/cancel", kind="cancel", amount=0, occurred_at=order.cancelledAt
    )
    return (*refunds, cancel)


def graphql_id(item: Mapping[str, Any]) -> str | None:
    """Where a Shopify object keeps its global id: ``id`` in GraphQL, ``admin_graphql_api_id`` in webhooks."""
    value = item.get("admin_graphql_api_id", item.get("id"))
    return value if isinstance(value, str) and value.strip() else None


def _joined(parts: Iterable[str | None], separator: str) -> str | None:
    present = [part.strip() for part in parts if part and part.strip()]
    return separator.join(present) if present else None
