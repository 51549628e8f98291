"""SearchOrders and SearchCustomers: Square's request checks, filters, sorting and query-bound cursors.

Checks reproduced: 1 to 10 ``location_ids``; a ``date_time_filter`` field equal to ``sort.sort_field``; customers
sortable only by ``DEFAULT`` or ``CREATED_AT``, and a ``created_at`` filter only with a ``CREATED_AT`` sort; a
cursor valid only for the identical query (everything but ``cursor`` and ``limit``); a range without ``end_at``
ending at the time of the query's first request, which the cursor remembers.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.square.sandbox.ordering import pack
from connectors.square.sandbox.records import SquareRecords

MAX_LOCATIONS = 10
ORDER_LIMITS = (1, 1000, 500)
CUSTOMER_LIMITS = (1, 100, 100)
ORDER_STATES = frozenset({"OPEN", "COMPLETED", "CANCELED", "DRAFT"})
_DATE_FIELDS = {"created_at": "CREATED_AT", "updated_at": "UPDATED_AT", "closed_at": "CLOSED_AT"}


class SearchError(ValueError):
    """A request Square refuses with 400 and ``INVALID_REQUEST_ERROR``."""

    def __init__(self, code: str, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.field = field


@dataclass(frozen=True)
class _Range:
    start_ms: int | None
    end_ms: int | None


@dataclass(frozen=True)
class _Query:
    """A validated search: which records match, in which order, from where."""

    sort_field: str
    descending: bool
    limit: int
    window_field: str | None
    window: _Range | None
    after: int | None
    fingerprint: str
    frozen_end_ms: int | None


def search_orders(records: SquareRecords, body: dict[str, Any], now_ms: int) -> dict[str, Any]:
    """The answer to ``POST /v2/orders/search``."""
    locations = body.get("location_ids")
    if not isinstance(locations, list) or not locations:
        raise SearchError("MISSING_REQUIRED_PARAMETER", "Field must be set", "location_ids")
    if len(locations) > MAX_LOCATIONS:
        raise SearchError("INVALID_VALUE", f"Cannot provide more than {MAX_LOCATIONS} location_ids", "location_ids")
    filters = _object(_object(body.get("query"), "query").get("filter"), "query.filter")
    states = frozenset(_object(filters.get("state_filter"), "query.filter.state_filter").get("states") or ORDER_STATES)
    if not states <= ORDER_STATES:
        raise SearchError("INVALID_ENUM_VALUE", "Unknown order state", "query.filter.state_filter.states")
    customers = _object(filters.get("customer_filter"), "query.filter.customer_filter").get("customer_ids")
    query = _query(body, now_ms, kind="orders", limits=ORDER_LIMITS)
    if query.sort_field == "CLOSED_AT" and "OPEN" in states:
        raise SearchError("INVALID_VALUE", "CLOSED_AT sorting requires a COMPLETED or CANCELED state filter", "query")
    wanted_locations = frozenset(locations)
    data = records.data

    def matches(index: int) -> bool:
        state = "OPEN" if records.is_open(index) else "COMPLETED"
        customer = records.customer_of(index)
        return (
            state in states
            and data.location_id(records.location_of(index)) in wanted_locations
            and (customers is None or (customer is not None and records.record_id("customers", customer) in customers))
        )

    found, more = _page(records, "orders", query, matches)
    answer: dict[str, Any] = {}
    if body.get("return_entries"):
        answer["order_entries"] = [
            {"order_id": records.record_id("orders", index),
             "location_id": data.location_id(records.location_of(index)), "version": records.version(index, "orders")}
            for index in found
        ]  # fmt: skip
    else:
        answer["orders"] = [records.order(index) for index in found]
    if more:
        answer["cursor"] = _cursor(query, records.sorted["orders"][query.sort_field].key(found[-1]))
    return answer


def search_customers(records: SquareRecords, body: dict[str, Any], now_ms: int) -> dict[str, Any]:
    """The answer to ``POST /v2/customers/search`` (an empty object when nothing matches, as Square answers)."""
    query = _query(body, now_ms, kind="customers", limits=CUSTOMER_LIMITS)
    filters = _object(_object(body.get("query"), "query").get("filter"), "query.filter")
    reference = _object(filters.get("reference_id"), "query.filter.reference_id").get("exact")
    email = _object(filters.get("email_address"), "query.filter.email_address").get("exact")

    def matches(index: int) -> bool:
        if reference is None and email is None:
            return True
        customer = records.customer(index, searched=True)
        return (reference is None or customer.get("reference_id") == reference) and (
            email is None or str(customer.get("email_address", "")).lower() == str(email).lower()
        )

    found, more = _page(records, "customers", query, matches)
    answer: dict[str, Any] = {}
    if found:
        answer["customers"] = [records.customer(index, searched=True) for index in found]
    if more:
        answer["cursor"] = _cursor(query, records.sorted["customers"][query.sort_field].key(found[-1]))
    return answer


def _query(body: dict[str, Any], now_ms: int, *, kind: str, limits: tuple[int, int, int]) -> _Query:
    low, high, default = limits
    limit = body.get("limit", default)
    if not isinstance(limit, int) or not low <= limit <= high:
        raise SearchError("INVALID_VALUE", f"limit must be between {low} and {high}", "limit")
    query = _object(body.get("query"), "query")
    sort_field, descending = _sort(kind, _object(query.get("sort"), "query.sort"))
    filters = _object(query.get("filter"), "query.filter")
    field, window = _date_window(kind, filters)
    if kind == "orders" and field is not None and field != sort_field:
        detail = f"Sort field {sort_field} must match the date_time_filter field {field}"
        raise SearchError("INVALID_VALUE", detail, "query.sort")
    if kind == "customers" and field == "CREATED_AT" and sort_field != "CREATED_AT":
        raise SearchError("INVALID_VALUE", "Filtering on created_at requires sorting by CREATED_AT", "query.sort")
    fingerprint = _fingerprint(body)
    after, frozen = None, None
    if body.get("cursor") is not None:
        after, frozen = _decode_cursor(body["cursor"], fingerprint)
    if window is not None and window.end_ms is None:
        frozen = frozen if frozen is not None else now_ms
        window = _Range(window.start_ms, frozen)
    return _Query(sort_field, descending, limit, field, window, after, fingerprint, frozen)


def _sort(kind: str, sort: dict[str, Any]) -> tuple[str, bool]:
    if kind == "orders":
        field, order = sort.get("sort_field", "CREATED_AT"), sort.get("sort_order", "DESC")
    else:
        field, order = sort.get("field", "DEFAULT"), sort.get("order", "ASC")
        field = "CREATED_AT" if field == "DEFAULT" else field
    allowed = ("CREATED_AT", "UPDATED_AT", "CLOSED_AT") if kind == "orders" else ("CREATED_AT",)
    if field not in allowed or order not in ("ASC", "DESC"):
        raise SearchError("INVALID_ENUM_VALUE", "Unknown sort field or order", "query.sort")
    return field, order == "DESC"


def _date_window(kind: str, filters: dict[str, Any]) -> tuple[str | None, _Range | None]:
    """The one filtered timestamp field (as a sort field name) and its range."""
    holder = _object(filters.get("date_time_filter"), "query.filter.date_time_filter") if kind == "orders" else filters
    present = [name for name in _DATE_FIELDS if name in holder and (kind == "orders" or name != "closed_at")]
    if not present:
        return None, None
    if len(present) > 1:
        raise SearchError("INVALID_VALUE", "Only one time range filter can be used", "query.filter")
    bounds = _object(holder[present[0]], f"query.filter.{present[0]}")
    window = _Range(_moment(bounds.get("start_at"), "start_at"), _moment(bounds.get("end_at"), "end_at"))
    return _DATE_FIELDS[present[0]], window


def _page(records: SquareRecords, kind: str, query: _Query, matches: Callable[[int], bool]) -> tuple[list[int], bool]:
    """Up to ``limit`` matching indexes after the cursor, and whether another one follows."""
    found: list[int] = []
    for index in _candidates(records, kind, query):
        if not matches(index):
            continue
        if len(found) == query.limit:
            return found, True
        found.append(index)
    return found, False


def _candidates(records: SquareRecords, kind: str, query: _Query) -> Iterator[int]:
    """Indexes in sort order within the date window; bisected to its start and cut at its end when it is sorted on."""
    sorter = records.sorted[kind][query.sort_field]
    window = query.window or _Range(None, None)
    sorted_on = query.window_field == query.sort_field
    after = query.after
    if sorted_on and not query.descending and window.start_ms is not None:
        floor = pack(window.start_ms, 0) - 1
        after = floor if after is None else max(after, floor)
    for index in sorter.scan(after=after, descending=query.descending):
        moment = sorter.moment(index) if sorted_on else _filtered_moment(records, kind, query, index)
        if moment is None:
            yield index
        elif window.end_ms is not None and moment > window.end_ms:
            if sorted_on and not query.descending:
                return
        elif window.start_ms is not None and moment < window.start_ms:
            if sorted_on and query.descending:
                return
        else:
            yield index


def _filtered_moment(records: SquareRecords, kind: str, query: _Query, index: int) -> int | None:
    """The filtered field of a record sorted on another (a customer's ``updated_at`` as searches see it)."""
    if query.window_field is None:
        return None
    if query.window_field == "UPDATED_AT":
        return records.searched_updated_ms(kind, index)
    return records.sorted[kind][query.window_field].moment(index)


def _cursor(query: _Query, last_key: int) -> str:
    raw = json.dumps({"q": query.fingerprint, "k": last_key, "e": query.frozen_end_ms}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(text: Any, fingerprint: str) -> tuple[int, int | None]:
    try:
        fields = json.loads(base64.urlsafe_b64decode(str(text) + "=" * (-len(str(text)) % 4)))
        key, frozen, issued_for = int(fields["k"]), fields["e"], fields["q"]
    except (ValueError, TypeError, KeyError, binascii.Error):
        raise SearchError("INVALID_CURSOR", "The cursor is not valid", "cursor") from None
    if issued_for != fingerprint:
        raise SearchError("INVALID_CURSOR", "The cursor was issued for a different query", "cursor")
    return key, (int(frozen) if frozen is not None else None)


def _fingerprint(body: dict[str, Any]) -> str:
    query = {name: value for name, value in body.items() if name not in ("cursor", "limit")}
    return hashlib.sha256(json.dumps(query, sort_keys=True).encode()).hexdigest()[:24]


def _moment(value: Any, name: str) -> int | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise SearchError("INVALID_TIME", f"{name} is not an RFC 3339 timestamp", name) from None
    if moment.tzinfo is None:
        raise SearchError("INVALID_TIME", f"{name} has no UTC offset", name)
    return int(moment.timestamp() * 1000)


def _object(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SearchError("EXPECTED_OBJECT", "Expected an object", name)
    return value
