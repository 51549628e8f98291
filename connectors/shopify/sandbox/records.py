"""The shop's records as the GraphQL Admin API returns them, with the changes tests make on top of the generated data.

Only the changes are stored (a touched ``updatedAt``, edited customer fields and email consent, added refunds,
cancellations), so a shop of 100,000 orders stays small; code discounts created through the API sit beside
them. Fields that start with ``_`` are internal links resolved by the schema.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from connectors.shopify.sandbox.data import (
    CUSTOMER_ID_BASE,
    LINE_ITEM_ID_BASE,
    METAFIELD_ID_BASE,
    ORDER_ID_BASE,
    REFUND_ID_BASE,
    TAX_PERCENT,
    Cancellation,
    Refund,
    ShopData,
    gid,
    iso_utc,
    money,
)
from connectors.shopify.sandbox.discounts import DiscountCodes
from connectors.shopify.sandbox.ordering import UpdatedAtOrder, pack
from connectors.town import unit

KINDS = ("customers", "orders")
GID_TYPES = {"customers": "Customer", "orders": "Order"}
ID_BASES = {"customers": CUSTOMER_ID_BASE, "orders": ORDER_ID_BASE}
CUSTOMER_FIELDS = frozenset({"first_name", "last_name", "email", "phone", "tags", "note", "email_marketing_consent"})


class ShopRecords:
    """Customers and orders numbered from 1; ``customer(i)`` / ``order(i)`` render one. Not thread-safe."""

    def __init__(self, *, customers: int, orders: int, seed: int, clock: Callable[[], float] = lambda: 0.0) -> None:
        self.data = ShopData(customers=customers, orders=orders, seed=seed)
        self._clock = clock
        self.order_by_updated = {kind: UpdatedAtOrder(self.count(kind), self._updated_at_of(kind)) for kind in KINDS}
        self._customer_changes: dict[int, dict[str, Any]] = {}
        self._metafields: dict[int, dict[tuple[str, str], dict[str, Any]]] = {}
        self.discounts = DiscountCodes()
        self._added_refunds: dict[int, list[Refund]] = {}
        self._cancellations: dict[int, Cancellation] = {}
        self._next_refund = REFUND_ID_BASE + 10 * (orders + 1)
        self._next_metafield = METAFIELD_ID_BASE

    def _updated_at_of(self, kind: str) -> Callable[[int], int]:
        return lambda index: self.data.base_updated_at(kind, index)

    def count(self, kind: str) -> int:
        """How many records of ``kind`` exist."""
        return self.data.customers if kind == "customers" else self.data.orders

    def index_of(self, kind: str, global_id: str) -> int | None:
        """The index behind ``gid://shopify/<Type>/<n>``, or ``None`` if there is no such record."""
        prefix = f"gid://shopify/{GID_TYPES[kind]}/"
        if not global_id.startswith(prefix) or not global_id[len(prefix) :].isdigit():
            return None
        index = int(global_id[len(prefix) :]) - ID_BASES[kind]
        return index if 1 <= index <= self.count(kind) else None

    def global_id(self, kind: str, index: int) -> str:
        """The record's ``id``."""
        return gid(GID_TYPES[kind], ID_BASES[kind] + index)

    def updated_at(self, kind: str, index: int) -> int:
        """The record's ``updatedAt`` in Unix seconds."""
        return self.order_by_updated[kind].updated_at(index)

    def render(self, kind: str, index: int) -> dict[str, Any]:
        """One record in the API's shape."""
        return self.customer(index) if kind == "customers" else self.order(index)

    # ── changes made by tests ──────────────────────────────────────────────────────────────────────

    def touch(self, kind: str, index: int) -> int:
        """Bump ``updatedAt`` to now (``clock``), and past every other record's, as an edit in the admin does."""
        return self.order_by_updated[kind].touch(index, not_before=int(self._clock()))

    def update_customer(self, index: int, **changes: Any) -> None:
        """Edit customer fields (``first_name``, ``email``, ``tags`` …) and bump ``updatedAt``."""
        unknown = set(changes) - CUSTOMER_FIELDS
        if unknown:
            raise ValueError(f"cannot change {sorted(unknown)}")
        self._customer_changes.setdefault(index, {}).update(changes)
        self.touch("customers", index)

    def metafield(self, index: int, namespace: str, key: str) -> dict[str, Any] | None:
        """A customer's ``Metafield`` in ``namespace`` under ``key``, or ``None``."""
        return self._metafields.get(index, {}).get((namespace, key))

    def set_metafield(self, index: int, namespace: str, key: str, type_: str, value: str) -> dict[str, Any]:
        """Create or overwrite a customer's metafield (the owner's ``updatedAt`` stays); returns it."""
        fields = self._metafields.setdefault(index, {})
        known = fields.get((namespace, key))
        if known is None:
            self._next_metafield += 1
        metafield_id = known["id"] if known else gid("Metafield", self._next_metafield)
        fields[namespace, key] = {
            "id": metafield_id, "namespace": namespace, "key": key, "value": value, "type": type_,
            "ownerType": "CUSTOMER",
        }  # fmt: skip
        return fields[namespace, key]

    def add_refund(self, index: int, amount: int | None = None) -> Refund:
        """Refund ``amount`` yen (default: what is left) of an order, now; bumps its ``updatedAt``."""
        left = self._order_total(index) - sum(refund.amount for refund in self.refunds(index))
        moment = self.touch("orders", index)
        refund = Refund(self._next_refund, moment, left if amount is None else min(amount, left))
        self._next_refund += 1
        self._added_refunds.setdefault(index, []).append(refund)
        return refund

    def cancel_order(self, index: int, reason: str = "CUSTOMER") -> Refund | None:
        """Cancel an order and refund what is left of it; returns that refund (``None`` if nothing was left)."""
        left = self._order_total(index) - sum(refund.amount for refund in self.refunds(index))
        refund = self.add_refund(index) if left > 0 else None
        self._cancellations[index] = Cancellation(self.touch("orders", index) if refund is None else refund.at, reason)
        return refund

    def refunds(self, index: int) -> list[Refund]:
        """Generated and added refunds of an order, oldest first."""
        return [*self.data.after_sale(index)[0], *self._added_refunds.get(index, [])]

    def cancellation(self, index: int) -> Cancellation | None:
        """The order's cancellation, if it was cancelled."""
        return self._cancellations.get(index) or self.data.after_sale(index)[1]

    def scan(self, kind: str, *, after: int | None, since: int | None, before: int | None) -> Iterator[int]:
        """Indexes by id (``after`` an index), filtered on packed ``updatedAt`` bounds; see ``UpdatedAtOrder``."""
        order = self.order_by_updated[kind]
        for index in range((after or 0) + 1, self.count(kind) + 1):
            key = pack(order.updated_at(index), index)
            if (since is None or key >= since) and (before is None or key < before):
                yield index

    # ── rendering ──────────────────────────────────────────────────────────────────────────────────

    def customer(self, index: int) -> dict[str, Any]:
        """A ``Customer``."""
        person = {**self.data.person(index), **self._customer_changes.get(index, {})}
        seed = self.data.seed
        twin = self.data.twin_of(index) is not None
        email = person["email"]
        created = self.data.created_at("customers", index)
        subscribed = email is not None and unit(seed, "customers", index, "consent") < 0.45
        generated_consent = {
            "marketingState": "SUBSCRIBED" if subscribed else "NOT_SUBSCRIBED",
            "marketingOptInLevel": "SINGLE_OPT_IN" if subscribed else None,
            "consentUpdatedAt": iso_utc(created) if subscribed else None,
        }
        return {
            "id": self.global_id("customers", index),
            "firstName": person["first_name"],
            "lastName": person["last_name"],
            "displayName": f"{person['last_name']} {person['first_name']}",
            "email": email,
            "phone": person["phone"],
            "verifiedEmail": email is not None and not twin and unit(seed, "customers", index, "verified") < 0.85,
            "createdAt": iso_utc(created),
            "updatedAt": iso_utc(self.updated_at("customers", index)),
            "tags": list(person["tags"]) if "tags" in person else (["店頭登録"] if twin else []),
            "note": person.get("note"),
            "state": "ENABLED" if not twin else "DISABLED",
            "emailMarketingConsent": person.get("email_marketing_consent", generated_consent)
            if email is not None
            else None,
            "defaultAddress": _address(index, person),
        }

    def order(self, index: int) -> dict[str, Any]:
        """An ``Order``; ``lineItems`` and ``customer`` are resolved from ``_lines`` and ``_customer``."""
        total = self._order_total(index)
        refunds = self.refunds(index)
        refunded = min(total, sum(refund.amount for refund in refunds))
        cancellation = self.cancellation(index)
        code = self.data.discount(index)
        location = self.data.location(index)
        place = {"id": gid("Location", location[0]), "name": location[1]} if location else None
        created = iso_utc(self.data.created_at("orders", index))
        return {
            "id": self.global_id("orders", index),
            "name": f"#{1000 + index}",
            "createdAt": created,
            "processedAt": created,
            "updatedAt": iso_utc(self.updated_at("orders", index)),
            "cancelledAt": iso_utc(cancellation.at) if cancellation else None,
            "cancelReason": cancellation.reason if cancellation else None,
            "displayFinancialStatus": _financial_status(total, refunded),
            "displayFulfillmentStatus": "FULFILLED",
            "currencyCode": "JPY",
            "subtotalPriceSet": money(total + (code[1] if code else 0)),
            "totalDiscountsSet": money(code[1] if code else 0),
            "totalPriceSet": money(total),
            "currentTotalPriceSet": money(total - refunded),
            "totalTaxSet": money(total * TAX_PERCENT // (100 + TAX_PERCENT)),  # tax included in prices
            "totalRefundedSet": money(refunded),
            "discountCodes": [code[0]] if code else [],
            "sourceName": "pos" if location else "web",
            "retailLocation": place,
            "physicalLocation": dict(place) if place else None,
            "tags": [],
            "test": False,
            "refunds": [
                {
                    "id": gid("Refund", refund.number),
                    "createdAt": iso_utc(refund.at),
                    "note": None,
                    "totalRefundedSet": money(refund.amount),
                }
                for refund in refunds
            ],
            "_customer": self.data.order_customer(index),
            "_lines": [
                {
                    "id": gid("LineItem", LINE_ITEM_ID_BASE + index * 10 + number),
                    "sku": sku,
                    "name": name,
                    "title": name,
                    "quantity": quantity,
                    "currentQuantity": quantity,
                    "originalUnitPriceSet": money(amount // quantity),
                    "originalTotalSet": money(amount),
                }
                for number, (sku, name, quantity, amount) in enumerate(self.data.line_items(index))
            ],
        }

    def _order_total(self, index: int) -> int:
        return self.data.order_total(index)


def _financial_status(total: int, refunded: int) -> str:
    if refunded == 0:
        return "PAID"
    return "REFUNDED" if refunded >= total else "PARTIALLY_REFUNDED"


def _address(index: int, person: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": gid("MailingAddress", 8_800_000_000_000 + index),
        "firstName": person["first_name"],
        "lastName": person["last_name"],
        "zip": person["zip"],
        "province": person["province"],
        "provinceCode": person["province_code"],
        "city": person["city"],
        "address1": person["address1"],
        "address2": person["address2"],
        "country": "Japan",
        "countryCodeV2": "JP",
        "phone": person["phone"],
    }
