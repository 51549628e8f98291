"""Shopify bulk query results: the JSONL file read back into orders with their lines, then mapped.

The file comes from Shopify's storage; ``BulkExporter.objects`` turns a line that is not an object, or a child
that does not follow its parent, into a ``Rejected``, and the order mapper the rest — no exception is expected.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx

from connectors.shopify.bulk import BulkExporter
from connectors.shopify.client import ShopifyClient
from connectors.shopify.config import ShopifyConfig
from connectors.shopify.mapping import graphql_id
from connectors.shopify.streams import STREAMS
from core.sync.contract import Rejected
from core.sync.mapping import map_record
from fuzz.seeds import shopify_shop
from fuzz.target import FuzzTarget

_CONFIG = ShopifyConfig.model_validate({"shop_url": "https://fuzz.myshopify.com"})
_ORDERS = STREAMS["orders"]
_MAPPER = _ORDERS.mapper(_CONFIG)
_RESULT_URL = "https://storage.example/bulk/result.jsonl"
_result = b""


def _serve_result(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=_result)


_EXPORTER = BulkExporter(
    ShopifyClient(_CONFIG, "fuzz-token", transport=httpx.MockTransport(_serve_result)),
    _CONFIG,
    transport=httpx.MockTransport(_serve_result),
)


def parse(data: bytes) -> object:
    """Read ``data`` as a downloaded result file and map every order in it, as a bulk backfill does."""
    global _result  # the mock transport serves the current input
    _result = data
    return [
        found.item if isinstance(found.item, Rejected) else map_record("shopify-fuzz", found.item, _MAPPER,
                                                                       external_id=graphql_id)
        for found in _EXPORTER.objects(_RESULT_URL, 0, _ORDERS.bulk_children)
    ]  # fmt: skip


def seeds() -> Iterator[bytes]:
    """The sandbox shop's orders as a bulk result: each order's line, then one line per line item."""
    shop = shopify_shop()
    lines: list[dict[str, Any]] = []
    for index in range(1, 13):
        order = shop.order(index)
        lines.append({name: value for name, value in order.items() if not name.startswith("_")})
        lines += [{**line, "__parentId": order["id"]} for line in order["_lines"]]
    text = b"".join(json.dumps(line, ensure_ascii=False).encode() + b"\n" for line in lines)
    yield text
    yield from (text.split(b"\n", 3 * step)[-1] for step in (1, 2))  # starting mid-file, as a resumed download


TARGET = FuzzTarget("shopify_bulk", parse, (), seeds, "records")
