"""Basic code discounts created through ``discountCodeBasicCreate``, checked the way Shopify checks them.

A code is unique in the shop whatever its case (Shopify matches codes case-insensitively at checkout), so a
second discount with a code already there is refused with ``TAKEN`` on ``code``; ``codeDiscountNodeByCode``
finds a discount by its code in any case. Creating needs a title, a code, ``startsAt``, whom it is for
(``customerSelection``: all customers, or customers to add) and what they get (``customerGets``: a percentage
in (0, 1] or an amount above 0, on all items); ``endsAt`` must come after ``startsAt`` and ``usageLimit`` is at
least 1 (shopify.dev ``DiscountCodeBasicInput``, ``DiscountErrorCode``; the messages are the sandbox's). Any
userError creates nothing. A customer id that is no global id is a top-level ``invalid id``, as for tags.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from connectors.shopify.sandbox.data import gid, iso_utc
from connectors.shopify.sandbox.writes import customer_index, datetime_input

if TYPE_CHECKING:
    from connectors.shopify.sandbox.records import ShopRecords

DISCOUNT_ID_BASE = 1_900_000_000_000
MAX_TEXT = 255


class DiscountCodes:
    """The shop's code discounts (``DiscountCodeNode``s), by code."""

    def __init__(self) -> None:
        self._by_code: dict[str, dict[str, Any]] = {}
        self._next_id = DISCOUNT_ID_BASE

    def find(self, code: str) -> dict[str, Any] | None:
        """The discount holding ``code`` in any case, or ``None``."""
        return self._by_code.get(code.casefold())

    def add(self, code: str, discount: dict[str, Any]) -> dict[str, Any]:
        """Store a ``DiscountCodeBasic`` under ``code``; returns its new ``DiscountCodeNode``."""
        self._next_id += 1
        node = {"id": gid("DiscountCodeNode", self._next_id), "codeDiscount": discount}
        self._by_code[code.casefold()] = node
        return node

    def __len__(self) -> int:
        return len(self._by_code)


def discount_code_basic_create(records: ShopRecords, item: Mapping[str, Any]) -> dict[str, Any]:
    """``DiscountCodeBasicCreatePayload``: the new discount, or the userErrors and no discount."""
    errors = [*_discount_errors(records, item), *_selection_errors(records, item.get("customerSelection"))]
    errors += _gets_errors(item.get("customerGets"))
    if errors:
        return {"codeDiscountNode": None, "userErrors": errors}
    return {"codeDiscountNode": records.discounts.add(item["code"], _basic(records, item)), "userErrors": []}


def code_discount_node_by_code(records: ShopRecords, code: str) -> dict[str, Any] | None:
    """``QueryRoot.codeDiscountNodeByCode``."""
    return records.discounts.find(code)


def _error(path: list[str], code: str, message: str) -> dict[str, Any]:
    return {"field": ["basicCodeDiscount", *path], "message": message, "code": code, "extraInfo": None}


def _discount_errors(records: ShopRecords, item: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Title, code, dates and usage limit."""
    for name, label in (("title", "Title"), ("code", "Code")):
        text = item.get(name) or ""
        if not text.strip():
            yield _error([name], "BLANK", f"{label} can't be blank")
        elif len(text) > MAX_TEXT:
            yield _error([name], "TOO_LONG", f"{label} is too long (maximum is {MAX_TEXT} characters)")
    code = item.get("code") or ""
    if code.strip() and records.discounts.find(code) is not None:
        yield _error(["code"], "TAKEN", "Code must be unique. Please try a different code.")
    starts, ends = datetime_input(item.get("startsAt")), datetime_input(item.get("endsAt"))
    if starts is None:
        yield _error(["startsAt"], "BLANK", "Starts at can't be blank")
    if item.get("endsAt") is not None and (ends is None or (starts is not None and ends <= starts)):
        yield _error(["endsAt"], "INVALID", "Ends at needs to be after starts at")
    limit = item.get("usageLimit")
    if limit is not None and limit < 1:
        yield _error(["usageLimit"], "GREATER_THAN_OR_EQUAL_TO", "Usage limit must be greater than or equal to 1")


def _selection_errors(records: ShopRecords, selection: Mapping[str, Any] | None) -> Iterator[dict[str, Any]]:
    """Exactly one of all customers or customers to add, each of them a customer of the shop."""
    if selection is None:
        yield _error(["customerSelection"], "BLANK", "Customer selection can't be blank")
        return
    added = (selection.get("customers") or {}).get("add") or []
    if bool(selection.get("all")) == bool(added):
        yield _error(["customerSelection"], "INVALID", "Choose all customers or a list of customers, not both")
    for position, customer in enumerate(added):
        if customer_index(records, customer) is None:
            yield _error(["customerSelection", "customers", "add", str(position)], "INVALID", "Customer does not exist")


def _gets_errors(gets: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """A percentage or an amount (not both), on all items."""
    if gets is None:
        return [_error(["customerGets"], "BLANK", "Customer gets can't be blank")]
    value = gets.get("value") or {}
    percentage, amount = value.get("percentage"), value.get("discountAmount")
    errors = []
    if (percentage is None) == (amount is None):
        errors.append(_error(["customerGets", "value"], "INVALID", "Give a percentage or a discount amount"))
    elif percentage is not None and not 0 < percentage <= 1:
        path = ["customerGets", "value", "percentage"]
        errors.append(_error(path, "VALUE_OUTSIDE_RANGE", "Percentage must be between 0 and 1"))
    elif amount is not None and not _decimal(amount.get("amount")) > 0:
        path = ["customerGets", "value", "discountAmount", "amount"]
        errors.append(_error(path, "GREATER_THAN", "Amount must be greater than 0"))
    if (gets.get("items") or {}).get("all") is not True:
        errors.append(_error(["customerGets", "items"], "BLANK", "Items can't be blank"))
    return errors


def _basic(records: ShopRecords, item: Mapping[str, Any]) -> dict[str, Any]:
    """The ``DiscountCodeBasic`` of a checked input; the customers are rendered as they are now."""
    starts, ends = datetime_input(item["startsAt"]), datetime_input(item.get("endsAt"))
    assert starts is not None
    return {
        "__typename": "DiscountCodeBasic",
        "title": item["title"],
        "startsAt": iso_utc(int(starts.timestamp())),
        "endsAt": iso_utc(int(ends.timestamp())) if ends else None,
        "usageLimit": item.get("usageLimit"),
        "appliesOncePerCustomer": bool(item.get("appliesOncePerCustomer")),
        "asyncUsageCount": 0,
        "customerSelection": _selection(records, item["customerSelection"]),
        "customerGets": {"value": _value(item["customerGets"]["value"]),
                         "items": {"__typename": "AllDiscountItems", "allItems": True}},
    }  # fmt: skip


def _selection(records: ShopRecords, selection: Mapping[str, Any]) -> dict[str, Any]:
    if selection.get("all"):
        return {"__typename": "DiscountCustomerAll", "allCustomers": True}
    indexes = dict.fromkeys(customer_index(records, customer) for customer in selection["customers"]["add"])
    customers = [records.customer(index) for index in indexes if index is not None]
    return {"__typename": "DiscountCustomers", "customers": customers}


def _value(value: Mapping[str, Any]) -> dict[str, Any]:
    if value.get("percentage") is not None:
        return {"__typename": "DiscountPercentage", "percentage": value["percentage"]}
    amount = value["discountAmount"]
    money = {"amount": f"{_decimal(amount['amount']):.1f}", "currencyCode": "JPY"}
    return {"__typename": "DiscountAmount", "amount": money, "appliesOnEachItem": bool(amount.get("appliesOnEachItem"))}


def _decimal(value: Any) -> Decimal:
    """A ``Decimal`` input as a number; anything unreadable or not finite counts as 0."""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return Decimal(0)
    return number if number.is_finite() else Decimal(0)
