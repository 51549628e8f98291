"""An API answer nested past the JSON decoder's recursion limit is the client's typed error, never RecursionError.

Found by fuzzing (fuzz/targets/api_pages.py): each client caught ``ValueError`` around ``response.json()``, and a
thousand nested ``[`` raise ``RecursionError`` instead; ``core.sync.http.response_json`` turns it into one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from connectors.shopify.client import ShopifyClient
from connectors.shopify.config import ShopifyConfig
from connectors.square.client import SquareClient
from connectors.square.config import SquareConfig
from connectors.zendesk.client import ZendeskClient
from connectors.zendesk.config import ZendeskConfig
from core.errors import PermanentError, RetryableError, SyncError
from core.sync.retry import RetryPolicy

DEEP = b"[" * 100_000
ONCE = RetryPolicy(max_attempts=1)


def answering(status: int) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(status, content=DEEP))


def shopify_query(status: int) -> Any:
    config = ShopifyConfig.model_validate({"shop_url": "https://tokyo.myshopify.com"})
    client = ShopifyClient(config, "token", transport=answering(status), retry=ONCE, sleep=lambda s: None)
    return client.query("customers", "query { shop { id } }", {})


def square_search(status: int) -> Any:
    client = SquareClient(SquareConfig(), "token", transport=answering(status), retry=ONCE)
    return client.search("/v2/orders/search", {})


def zendesk_export(status: int) -> Any:
    config = ZendeskConfig.model_validate({"base_url": "https://support.example.jp", "email": "agent@example.jp"})
    client = ZendeskClient(config, "token", transport=answering(status), retry=ONCE)
    return client.export_page("users", start_time=0, cursor=None)


@pytest.mark.parametrize(
    ("read", "status", "error"),
    [
        (shopify_query, 200, PermanentError),
        (shopify_query, 429, RetryableError),  # the THROTTLED probe of a 429 body
        (square_search, 200, PermanentError),
        (square_search, 400, PermanentError),  # the error-code probe of a refusal
        (zendesk_export, 200, PermanentError),
        (zendesk_export, 422, PermanentError),  # the RecordInvalid probe
    ],
)
def test_a_deeply_nested_answer_is_the_clients_typed_error(
    read: Callable[[int], Any], status: int, error: type[SyncError]
) -> None:
    with pytest.raises(error):
        read(status)
