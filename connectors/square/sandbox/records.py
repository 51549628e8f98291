"""The seller's records as the Square API returns them, with the changes made through the API or by tests on top.

Only changes are stored (edited customer fields and versions, moved ``updated_at``, added refunds), so a seller
of 100,000 orders stays small. A customer edit stays out of search results for ``search_lag_ms``: until then
searches see the version before it, as Square's eventually consistent customer search does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from connectors.square.sandbox.data import BASE62 as _BASE62
from connectors.square.sandbox.data import (
    STORES,
    TAX_PERCENT,
    Refund,
    SquareData,
    index_in,
    iso,
    square_id,
)
from connectors.square.sandbox.ordering import SortedRecords
from connectors.town import unit

KINDS = ("customers", "orders")
SORT_FIELDS = {"customers": ("CREATED_AT", "UPDATED_AT"), "orders": ("CREATED_AT", "UPDATED_AT", "CLOSED_AT")}
EDITABLE = frozenset(
    {"given_name", "family_name", "email_address", "phone_number", "address", "birthday", "reference_id", "note",
     "nickname", "company_name"}
)  # fmt: skip


@dataclass(frozen=True)
class _Snapshot:
    """A customer as searches keep seeing it until ``visible_ms``."""

    visible_ms: int
    changes: dict[str, Any]
    updated_ms: int
    version: int


@dataclass(frozen=True)
class Sale:
    """An order rung up at a till while the sandbox runs (the generated ones derive from the seed)."""

    customer: int | None
    location: int
    lines: tuple[tuple[str, str, int, int], ...]
    """``(sku, name, quantity, gross amount)`` of each line."""
    discount: tuple[str | None, str, int] | None
    """``(coupon code or None, name, yen)``."""
    created_ms: int


def money(amount: int) -> dict[str, Any]:
    """A ``Money`` in yen: an integer amount (yen have no minor unit)."""
    return {"amount": amount, "currency": "JPY"}


class SquareRecords:
    """Customers and orders numbered from 1; not thread-safe (the state's lock guards it)."""

    def __init__(self, data: SquareData, *, clock_ms: Callable[[], int], search_lag_ms: int) -> None:
        self.data = data
        self._clock_ms = clock_ms
        self.search_lag_ms = search_lag_ms
        self._created: dict[int, int] = {}
        self._sales: dict[int, Sale] = {}
        created = {"customers": data.customer_created_ms, "orders": data.order_created_ms}
        updated = {"customers": data.customer_updated_ms, "orders": data.order_updated_ms}
        self.sorted: dict[str, dict[str, SortedRecords]] = {
            kind: {"CREATED_AT": SortedRecords(self.count(kind), created[kind]),
                   "UPDATED_AT": SortedRecords(self.count(kind), updated[kind])}
            for kind in KINDS
        }  # fmt: skip
        self.sorted["orders"]["CLOSED_AT"] = SortedRecords(data.orders, self._closed_ms)
        self._changes: dict[int, dict[str, Any]] = {}
        self._versions: dict[tuple[int, str], int] = {}
        self._before: dict[int, _Snapshot] = {}
        self._refunds: dict[int, list[Refund]] = {}

    def count(self, kind: str) -> int:
        """How many records of ``kind`` exist (customers created through the API included)."""
        return self.data.customers + len(self._created) if kind == "customers" else self.data.orders + len(self._sales)

    def record_id(self, kind: str, index: int) -> str:
        """The record's ``id``: 26 characters for a customer, 28 for an order."""
        if kind == "customers":
            return square_id(self.data.seed, kind, index, 26)
        return square_id(self.data.seed, kind, index, 28, alphabet=_BASE62)

    def index_of(self, kind: str, record_id: str) -> int | None:
        """The index behind an id, or ``None`` if the seller has no such record."""
        index = index_in(record_id)
        if index is None or not 1 <= index <= self.count(kind) or self.record_id(kind, index) != record_id:
            return None
        return index

    def updated_ms(self, kind: str, index: int) -> int:
        """The record's ``updated_at``."""
        return self.sorted[kind]["UPDATED_AT"].moment(index)

    def searched_updated_ms(self, kind: str, index: int) -> int:
        """``updated_at`` as a search sees it now (the version before a customer edit still within the lag)."""
        snapshot = self._lagging(index) if kind == "customers" else None
        return snapshot.updated_ms if snapshot else self.updated_ms(kind, index)

    # ── changes ────────────────────────────────────────────────────────────────────────────────────

    def touch(self, kind: str, index: int) -> int:
        """Bump ``updated_at`` to now and past every other record's, and ``version`` by one."""
        if kind == "customers":
            self._remember_customer(index)
        self._versions[index, kind] = self.version(index, kind) + 1
        return self.sorted[kind]["UPDATED_AT"].move(index, not_before=self._clock_ms())

    def create_customer(self, fields: dict[str, Any]) -> int:
        """Add a customer with ``fields`` now; returns its index."""
        index = self.count("customers") + 1
        now = self._clock_ms()
        self._created[index] = self.sorted["customers"]["CREATED_AT"].append(index, not_before=now)
        self.sorted["customers"]["UPDATED_AT"].append(index, not_before=self._created[index])
        self._changes[index] = {name: value for name, value in fields.items() if value not in ("", {}, None)}
        return index

    def ring_up(
        self, customer: int | None, location: int, lines: list[tuple[str, str, int, int]],
        discount: tuple[str | None, str, int] | None,
    ) -> int:  # fmt: skip
        """Add a COMPLETED order paid now; returns its index."""
        index = self.count("orders") + 1
        created = self.sorted["orders"]["CREATED_AT"].append(index, not_before=self._clock_ms())
        self._sales[index] = Sale(customer, location, tuple(lines), discount, created)
        self.sorted["orders"]["UPDATED_AT"].append(index, not_before=created)
        self.sorted["orders"]["CLOSED_AT"].append(index, not_before=created)
        return index

    # ── order facts: generated from the seed, or as a till rang the sale up ─────────────────────────

    def is_open(self, index: int) -> bool:
        """Whether the order is still OPEN (not paid)."""
        return False if index in self._sales else self.data.is_open(index)

    def customer_of(self, index: int) -> int | None:
        """The customer index of an order, or ``None`` for a walk-in sale."""
        sale = self._sales.get(index)
        return sale.customer if sale else self.data.customer_of(index)

    def location_of(self, index: int) -> int:
        """The location number of an order."""
        sale = self._sales.get(index)
        return sale.location if sale else self.data.location_of(index)

    def line_items(self, index: int) -> list[tuple[str, str, int, int]]:
        """``(sku, name, quantity, gross amount)`` of each line."""
        sale = self._sales.get(index)
        return list(sale.lines) if sale else self.data.line_items(index)

    def discount(self, index: int) -> tuple[str | None, str, int] | None:
        """``(coupon code or None, name, yen)`` of the order's discount."""
        sale = self._sales.get(index)
        return sale.discount if sale else self.data.discount(index)

    def order_total(self, index: int) -> int:
        """What the customer paid, tax included."""
        found = self.discount(index)
        return max(0, sum(line[3] for line in self.line_items(index)) - (found[2] if found else 0))

    def created_ms(self, index: int) -> int:
        """When the order was rung up."""
        sale = self._sales.get(index)
        return sale.created_ms if sale else self.data.order_created_ms(index)

    def update_customer(self, index: int, changes: dict[str, Any]) -> None:
        """Apply a sparse update (``""`` or ``{}`` clears a field) and bump ``updated_at`` and ``version``."""
        unknown = set(changes) - EDITABLE
        if unknown:
            raise ValueError(f"cannot change {sorted(unknown)}")
        self.touch("customers", index)
        edited = self._changes.setdefault(index, {})
        for name, value in changes.items():
            edited[name] = None if value in ("", {}) else value

    def add_refund(self, index: int, amount: int | None = None) -> Refund:
        """Refund ``amount`` yen (default: what is left) of an order now; bumps its ``updated_at``."""
        left = self.order_total(index) - sum(refund.amount for refund in self.refunds(index))
        moment = self.touch("orders", index)
        number = index * 10 + 1 + len(self._refunds.get(index, []))
        refund = Refund(number, moment, left if amount is None else min(amount, left))
        self._refunds.setdefault(index, []).append(refund)
        return refund

    def refunds(self, index: int) -> list[Refund]:
        """Generated and added refunds of an order, oldest first."""
        generated = [] if index in self._sales else self.data.refunds(index)
        return [*generated, *self._refunds.get(index, [])]

    def version(self, index: int, kind: str = "customers") -> int:
        """The record's ``version``: 1 as generated (an order: 2, once paid), plus one for every change since."""
        first = 1 if kind == "customers" else 2 + (0 if index in self._sales else len(self.data.refunds(index)))
        return self._versions.get((index, kind), first)

    def _remember_customer(self, index: int) -> None:
        now = self._clock_ms()
        if self.search_lag_ms > 0 and self._lagging(index) is None:
            self._before[index] = _Snapshot(
                now + self.search_lag_ms, dict(self._changes.get(index, {})), self.updated_ms("customers", index),
                self.version(index),
            )  # fmt: skip

    def _lagging(self, index: int) -> _Snapshot | None:
        snapshot = self._before.get(index)
        if snapshot is None or snapshot.visible_ms <= self._clock_ms():
            return None
        return snapshot

    # ── rendering ──────────────────────────────────────────────────────────────────────────────────

    def customer(self, index: int, *, searched: bool = False) -> dict[str, Any]:
        """A ``Customer`` (as a search sees it, if ``searched``); absent fields are left out, as Square does."""
        snapshot = self._lagging(index) if searched else None
        changes = snapshot.changes if snapshot else self._changes.get(index, {})
        generated = self.data.customer_fields(index) if index <= self.data.customers else {}
        fields = {**generated, **changes}
        seed = self.data.seed
        rendered = {
            "id": self.record_id("customers", index),
            "created_at": iso(self.sorted["customers"]["CREATED_AT"].moment(index)),
            "updated_at": iso(snapshot.updated_ms if snapshot else self.updated_ms("customers", index)),
            **fields,
            "preferences": {"email_unsubscribed": unit(seed, "sq-customers", index, "unsubscribed") < 0.2},
            "creation_source": "THIRD_PARTY"
            if index in self._created
            else "DIRECTORY"
            if index % 3
            else "INSTANT_PROFILE",
            "group_ids": [],
            "segment_ids": [],
            "version": snapshot.version if snapshot else self.version(index),
        }
        return {name: value for name, value in rendered.items() if value is not None}

    def order(self, index: int) -> dict[str, Any]:
        """An ``Order``: tax included (``INCLUSIVE``), at most one order-level discount, refunds on the order."""
        data = self.data
        order_id = self.record_id("orders", index)
        location = data.location_id(self.location_of(index))
        lines = self.line_items(index)
        total = self.order_total(index)
        discount = self.discount(index)
        refunds = self.refunds(index)
        refunded = sum(refund.amount for refund in refunds)
        customer = self.customer_of(index)
        is_open = self.is_open(index)
        rendered: dict[str, Any] = {
            "id": order_id,
            "location_id": location,
            "reference_id": f"R{index:07d}",
            "source": {"name": "Square Point of Sale"},
            "customer_id": self.record_id("customers", customer) if customer else None,
            "line_items": [_line(order_id, number, line) for number, line in enumerate(lines)],
            "taxes": [{"uid": "jct-10", "name": "消費税", "percentage": str(TAX_PERCENT), "type": "INCLUSIVE",
                       "scope": "ORDER", "applied_money": money(_tax(total))}],
            "discounts": [_discount(discount)] if discount else [],
            "tenders": [] if is_open else [{"id": f"{order_id[:20]}T1", "type": self._tender(index),
                                             "amount_money": money(total)}],
            "refunds": [_refund(order_id, location, refund) for refund in refunds],
            "total_money": money(total),
            "total_tax_money": money(_tax(total)),
            "total_discount_money": money(discount[2] if discount else 0),
            "net_amounts": {"total_money": money(total - refunded), "tax_money": money(_tax(total - refunded))},
            "state": "OPEN" if is_open else "COMPLETED",
            "version": self.version(index, "orders"),
            "created_at": iso(self.created_ms(index)),
            "updated_at": iso(self.updated_ms("orders", index)),
            "closed_at": None if is_open else iso(self._closed_ms(index)),
        }  # fmt: skip
        if refunded:
            rendered["return_amounts"] = {"total_money": money(refunded), "tax_money": money(_tax(refunded))}
        return {name: value for name, value in rendered.items() if value is not None}

    def order_summary(self, index: int) -> dict[str, Any]:
        """What ``order.created`` and ``order.updated`` carry: ids, state and times only."""
        order = self.order(index)
        return {
            "order_id": order["id"], "location_id": order["location_id"], "state": order["state"],
            "version": order["version"], "created_at": order["created_at"], "updated_at": order["updated_at"],
        }  # fmt: skip

    def location(self, number: int) -> dict[str, Any]:
        """A ``Location`` of ListLocations."""
        return {
            "id": self.data.location_id(number), "name": STORES[number - 1], "status": "ACTIVE",
            "timezone": "Asia/Tokyo", "currency": "JPY", "country": "JP", "language_code": "ja-JP",
            "business_name": "MemberHub 雑貨店", "type": "PHYSICAL",
        }  # fmt: skip

    def _closed_ms(self, index: int) -> int:
        return self.data.order_created_ms(index) + 1000 * (30 + index % 90)

    def _tender(self, index: int) -> str:
        return "CARD" if index in self._sales else self.data.tender(index)


def _tax(amount: int) -> int:
    return amount * TAX_PERCENT // (100 + TAX_PERCENT)


def _line(order_id: str, number: int, line: tuple[str, str, int, int]) -> dict[str, Any]:
    sku, name, quantity, gross = line
    return {
        "uid": f"{order_id[:8]}-L{number + 1}", "catalog_object_id": f"ITEM-{sku}", "name": name,
        "variation_name": "通常", "quantity": str(quantity), "base_price_money": money(gross // quantity),
        "gross_sales_money": money(gross), "total_tax_money": money(_tax(gross)), "total_money": money(gross),
    }  # fmt: skip


def _discount(found: tuple[str | None, str, int]) -> dict[str, Any]:
    code, name, amount = found
    discount: dict[str, Any] = {
        "uid": f"discount-{amount}", "name": name, "type": "FIXED_AMOUNT", "amount_money": money(amount),
        "applied_money": money(amount), "scope": "ORDER",
    }  # fmt: skip
    if code is not None:
        discount["metadata"] = {"coupon_code": code}
    return discount


def _refund(order_id: str, location: str, refund: Refund) -> dict[str, Any]:
    return {
        "id": f"RF{refund.number:010d}", "location_id": location, "transaction_id": order_id,
        "tender_id": f"{order_id[:20]}T1", "created_at": iso(refund.at_ms), "reason": "返品",
        "amount_money": money(refund.amount), "status": "COMPLETED",
    }  # fmt: skip
