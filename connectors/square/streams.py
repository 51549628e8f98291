"""The seller's streams, declared: what each yields, which search reads it, its query and its mapper.

Both are read incrementally on ``updated_at`` with an explicit window ``[updated_since, end]``, ``end`` being the
moment the run started. The window is what keeps a run's query identical from page to page (a Square cursor is
valid only for the query that issued it) and what makes the run's high-water mark safe when orders are read
location group by location group: no record read in this run is newer than ``end``.

Square sorts customers only by ``DEFAULT`` or ``CREATED_AT``, so customers are filtered on ``updated_at`` and
sorted by creation: the run's page cursors keep the window's ``updated_since``, and only a finished run moves it.
Orders are filtered and sorted on ``UPDATED_AT`` (Square refuses a filter field other than the sort field), in
the ``COMPLETED`` state, at most ten locations a query.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connectors.square.client import SEARCH_CUSTOMERS, SEARCH_ORDERS
from connectors.square.config import SquareConfig
from connectors.square.mapping import customer_to_profile, order_mapper
from core.errors import ConfigError
from core.records import Profile, Purchase
from core.sync.contract import StreamSpec
from core.sync.mapping import RecordMapper

MAX_LOCATIONS_PER_SEARCH = 10


@dataclass(frozen=True)
class RunWindow:
    """Where a run stands between pages: its fixed ``end``, the location group being read and Square's cursor.

    Stored as the ``page`` of a ``StreamCursor``, so a resumed run sends exactly the query its cursor belongs to.
    """

    end: datetime
    locations: tuple[str, ...] = ()
    cursor: str | None = None

    def to_page(self) -> str:
        """The stored form."""
        return json.dumps(
            {"end": square_time(self.end), "locations": list(self.locations), "cursor": self.cursor},
            separators=(",", ":"),
        )

    @classmethod
    def from_page(cls, page: str) -> RunWindow:
        """Parse a stored page; ``ConfigError`` if it is not one this connector wrote."""
        try:
            data = json.loads(page)
            return cls(datetime.fromisoformat(data["end"]), tuple(data["locations"]), data["cursor"])
        except (ValueError, TypeError, KeyError) as error:
            raise ConfigError(f"stored Square page is not valid ({error.__class__.__name__})") from None


QueryBuilder = Callable[[SquareConfig, datetime | None, RunWindow], dict[str, Any]]


@dataclass(frozen=True)
class SquareStream:
    """A stream's declaration plus what differs per search: its path, the answer's list, the query and mapper."""

    spec: StreamSpec
    path: str
    result_key: str
    query: QueryBuilder
    mapper: Callable[[SquareConfig], RecordMapper]
    by_location: bool


def square_time(moment: datetime) -> str:
    """RFC 3339 in UTC with milliseconds, truncated (so an inclusive start stays inclusive)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _range(since: datetime | None, window: RunWindow) -> dict[str, str]:
    bounds = {"end_at": square_time(window.end)}
    if since is not None:
        bounds["start_at"] = square_time(since)
    return bounds


def _customers_query(config: SquareConfig, since: datetime | None, window: RunWindow) -> dict[str, Any]:
    body: dict[str, Any] = {
        "limit": config.customers_page_size,
        "query": {"filter": {"updated_at": _range(since, window)}, "sort": {"field": "CREATED_AT", "order": "ASC"}},
    }
    if window.cursor:
        body["cursor"] = window.cursor
    return body


def _orders_query(config: SquareConfig, since: datetime | None, window: RunWindow) -> dict[str, Any]:
    body: dict[str, Any] = {
        "location_ids": list(window.locations),
        "limit": config.orders_page_size,
        "return_entries": False,
        "query": {
            "filter": {
                "state_filter": {"states": ["COMPLETED"]},
                "date_time_filter": {"updated_at": _range(since, window)},
            },
            "sort": {"sort_field": "UPDATED_AT", "sort_order": "ASC"},
        },
    }
    if window.cursor:
        body["cursor"] = window.cursor
    return body


CUSTOMERS = SquareStream(
    StreamSpec(name="customers", record_type=Profile, cursor_field="updated_at", primary_key="id"),
    path=SEARCH_CUSTOMERS,
    result_key="customers",
    query=_customers_query,
    mapper=lambda config: customer_to_profile,
    by_location=False,
)
ORDERS = SquareStream(
    StreamSpec(name="orders", record_type=Purchase, cursor_field="updated_at", primary_key="id"),
    path=SEARCH_ORDERS,
    result_key="orders",
    query=_orders_query,
    mapper=lambda config: order_mapper(config.store_codes, config.coupon_code_key),
    by_location=True,
)
STREAMS: dict[str, SquareStream] = {stream.spec.name: stream for stream in (CUSTOMERS, ORDERS)}


def next_location_group(all_locations: list[str], current: tuple[str, ...]) -> tuple[str, ...]:
    """The next (at most ten) locations, in id order, after the group ``current`` (the first group if empty)."""
    ordered = sorted(set(all_locations))
    after = max(current) if current else None
    remaining = [location for location in ordered if after is None or location > after]
    return tuple(remaining[:MAX_LOCATIONS_PER_SEARCH])
