"""The shop's streams, declared: what each yields, which query reads it and how its objects are mapped.

Both are read incrementally on ``updated_at`` with ``sortKey: UPDATED_AT`` and the inclusive search term
``updated_at:>='…'``, which is what makes a page's cursor a safe checkpoint (records arrive in cursor order),
and backfilled through a bulk query operation (``connectors.shopify.bulk``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from connectors.shopify.config import ShopifyConfig
from connectors.shopify.mapping import customer_to_profile, order_mapper
from connectors.shopify.queries import BULK_CUSTOMERS, BULK_ORDERS, CUSTOMERS_PAGE, ORDERS_PAGE
from core.records import Profile, Purchase
from core.sync.contract import StreamSpec
from core.sync.mapping import RecordMapper


@dataclass(frozen=True)
class ShopifyStream:
    """A stream's declaration plus what differs per connection: its root field, queries, variables and mapper.

    ``bulk_children`` maps the GraphQL type of a nested connection's objects to the field they belong under,
    to put the lines of a bulk result back together.
    """

    spec: StreamSpec
    connection: str
    document: str
    variables: Callable[[ShopifyConfig], dict[str, int]]
    mapper: Callable[[ShopifyConfig], RecordMapper]
    bulk_document: str
    bulk_children: Mapping[str, str] = field(default_factory=dict)


CUSTOMERS = ShopifyStream(
    StreamSpec(name="customers", record_type=Profile, cursor_field="updated_at", primary_key="id"),
    connection="customers",
    document=CUSTOMERS_PAGE,
    variables=lambda config: {"first": config.customers_page_size},
    mapper=lambda config: customer_to_profile,
    bulk_document=BULK_CUSTOMERS,
)
ORDERS = ShopifyStream(
    StreamSpec(name="orders", record_type=Purchase, cursor_field="updated_at", primary_key="id"),
    connection="orders",
    document=ORDERS_PAGE,
    variables=lambda config: {
        "first": config.orders_page_size,
        "lines": config.line_items_per_order,
        "refunds": config.refunds_per_order,
    },
    mapper=lambda config: order_mapper(config.store_codes),
    bulk_document=BULK_ORDERS,
    bulk_children={"LineItem": "lineItems"},
)
STREAMS: dict[str, ShopifyStream] = {stream.spec.name: stream for stream in (CUSTOMERS, ORDERS)}


def updated_since_term(since: datetime | None) -> str | None:
    """The search term of an incremental read: inclusive, in whole UTC seconds (rounded down, so still inclusive)."""
    if since is None:
        return None
    return f"updated_at:>='{since.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}'"
