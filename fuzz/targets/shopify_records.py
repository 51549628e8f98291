"""Shopify customers and orders (GraphQL nodes, and the REST customer of webhooks) through their mappers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connectors.shopify.config import ShopifyConfig
from connectors.shopify.mapping import rest_customer_to_profile
from connectors.shopify.streams import STREAMS
from fuzz.records import record_parser, record_seeds
from fuzz.seeds import shopify_shop
from fuzz.target import FuzzTarget

_CONFIG = ShopifyConfig.model_validate({"shop_url": "https://fuzz.myshopify.com"})
parse = record_parser(
    "shopify-fuzz",
    {**{name: stream.mapper(_CONFIG) for name, stream in STREAMS.items()}, "rest_customers": rest_customer_to_profile},
)


def seeds() -> Iterator[bytes]:
    """The sandbox shop's customers (both shapes) and orders (POS and online, refunded and cancelled)."""
    from connectors.shopify.sandbox.webhooks import customer_payload

    shop = shopify_shop()
    customers = [shop.customer(index) for index in range(1, 5)]
    yield from record_seeds([("customers", customer) for customer in customers])
    yield from record_seeds([("rest_customers", customer_payload(customer)) for customer in customers])
    yield from record_seeds([("orders", _as_page_node(shop.order(index))) for index in range(1, 13)])


def _as_page_node(order: dict[str, Any]) -> dict[str, Any]:
    """A sandbox order shaped as a page returns it: the lines as the ``lineItems`` connection, no private keys."""
    node = {name: value for name, value in order.items() if not name.startswith("_")}
    return {**node, "lineItems": {"nodes": order["_lines"], "pageInfo": {"hasNextPage": False}}}


TARGET = FuzzTarget("shopify_records", parse, (), seeds, "records")
