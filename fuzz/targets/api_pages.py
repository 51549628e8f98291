"""API answers as the clients decode them: a status line, then the body, through the real HTTP clients.

``ConnectorHttpClient.get_json`` (the Example and Klaviyo page reads), ``ShopifyClient.query`` (GraphQL, with its
cost extension and THROTTLED errors), ``SquareClient.search`` and ``ZendeskClient.export_page`` promise a decoded
page or a ``SyncError`` (``RetryableError`` / ``PermanentError``); the wire is an ``httpx.MockTransport`` serving
the input, retries are off.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx

from connectors.shopify.client import ShopifyClient
from connectors.shopify.config import ShopifyConfig
from connectors.square.client import SquareClient
from connectors.square.config import SquareConfig
from connectors.zendesk.client import ZendeskClient
from connectors.zendesk.config import ZendeskConfig
from core.errors import SyncError
from core.sync.http import ConnectorHttpClient
from core.sync.retry import RetryPolicy
from fuzz.seeds import example_rows, shopify_shop, square_seller, zendesk_account
from fuzz.target import FuzzTarget

_status, _body = 200, b""


def _serve(request: httpx.Request) -> httpx.Response:
    return httpx.Response(_status, content=_body, headers={"content-type": "application/json"})


_REST = ConnectorHttpClient(
    "https://api.example.test", transport=httpx.MockTransport(_serve), policy=RetryPolicy(max_attempts=1)
)
_SHOPIFY = ShopifyClient(
    ShopifyConfig.model_validate({"shop_url": "https://fuzz.myshopify.com"}), "fuzz-token",
    transport=httpx.MockTransport(_serve), retry=RetryPolicy(max_attempts=1), sleep=lambda seconds: None,
)  # fmt: skip
_SQUARE = SquareClient(
    SquareConfig(), "fuzz-token", transport=httpx.MockTransport(_serve), retry=RetryPolicy(max_attempts=1)
)
_ZENDESK = ZendeskClient(
    ZendeskConfig.model_validate({"base_url": "https://fuzz.zendesk.test", "email": "agent@example.jp"}),
    "fuzz-token", transport=httpx.MockTransport(_serve), retry=RetryPolicy(max_attempts=1),
)  # fmt: skip


def parse(data: bytes) -> object:
    """``rest 200``, ``shopify 200`` … on the first line picks the client and the status; the rest is the body."""
    global _status, _body  # the mock transport serves the current input
    first, _, _body = data.partition(b"\n")
    client, _, status = first.decode("latin-1").partition(" ")
    if not status.isascii() or not status.isdigit() or not 100 <= int(status[:3]) <= 599:
        return None
    _status = int(status[:3])
    if client == "rest":
        return _REST.get_json("/v1/customers")
    if client == "shopify":
        return _SHOPIFY.query("customers-page", "query { customers { nodes { id } } }", {})
    if client == "square":
        return _SQUARE.search("/v2/customers/search", {"limit": 100})
    if client == "zendesk":
        return _ZENDESK.export_page("users", start_time=0, cursor=None)
    return None


def seeds() -> Iterator[bytes]:
    """Pages of the sandboxes' records, a THROTTLED refusal and a 429 with Shopify's cost extension."""
    rows = example_rows()
    yield _input("rest", 200, {"data": rows["customers"], "next_cursor": "cur_2"})
    yield _input("rest", 503, {"error": "unavailable"})
    shop = shopify_shop()
    bucket = {"maximumAvailable": 2000.0, "currentlyAvailable": 1948.0, "restoreRate": 100.0}
    cost = {"requestedQueryCost": 52, "actualQueryCost": 12, "throttleStatus": bucket}
    nodes = [shop.customer(index) for index in range(1, 4)]
    page = {"nodes": nodes, "pageInfo": {"hasNextPage": True, "endCursor": "eyJsYXN0X2lkIjozfQ=="}}
    yield _input("shopify", 200, {"data": {"customers": page}, "extensions": {"cost": cost}})
    refusal = {"message": "Throttled", "extensions": {"code": "THROTTLED"}}
    throttled = {"errors": [refusal], "extensions": {"cost": cost}}
    yield _input("shopify", 200, throttled)
    yield _input("shopify", 429, throttled)
    seller = square_seller()
    yield _input("square", 200, {"customers": [seller.customer(index) for index in range(1, 4)], "cursor": "c2"})
    yield _input("square", 400, {"errors": [{"category": "INVALID_REQUEST_ERROR", "code": "BAD_REQUEST"}]})
    users = zendesk_account()["users"]
    meta = {"has_more": True, "after_cursor": "MTU3NjYxMzUzOS4wfHw0NTF8", "before_cursor": None}
    yield _input("zendesk", 200, {"users": users, "meta": meta, "end_of_stream": False})
    yield _input("zendesk", 422, {"error": "RecordInvalid", "details": {"email": [{"error": "DuplicateValue"}]}})


def _input(client: str, status: int, body: Any) -> bytes:
    return f"{client} {status}\n".encode() + json.dumps(body, ensure_ascii=False).encode()


TARGET = FuzzTarget("api_pages", parse, (SyncError,), seeds, "records")
