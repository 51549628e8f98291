"""Building the Square sandbox and connector the way the tests need them."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from connectors.square import SquareConfig, SquareConnector
from connectors.square.sandbox import SandboxServer
from core.sync.retry import RetryPolicy

NO_RETRY = RetryPolicy(max_attempts=1)
"""The first error surfaces as it is: the conformance kit checks classification; core tests the retrying."""


def square_sandbox(**options: Any) -> SandboxServer:
    """A fresh sandbox (40 customers, 90 orders, 12 stores) whose customer search has no lag unless asked."""
    return SandboxServer(**{"search_lag_s": 0.0, **options})


def square_connector(
    server: SandboxServer, *, retry: RetryPolicy = NO_RETRY, transport: httpx.BaseTransport | None = None,
    signature_keys: Sequence[str] | None = None, wall_clock: Callable[[], float] = time.time, **settings: Any,
) -> SquareConnector:  # fmt: skip
    """A connector for ``server``: 10 records a page, 2 s deadline, 5-minute webhook window, no retries."""
    config = SquareConfig(
        **{"base_url": server.url, "customers_page_size": 10, "orders_page_size": 10, "timeout_s": 2.0,
           "notification_url": server.state.notification_url, "webhook_max_age_s": 300.0, **settings}
    )  # fmt: skip
    return SquareConnector(
        "square-test",
        config,
        token=server.access_token,
        signature_keys=(server.state.signature_key,) if signature_keys is None else signature_keys,
        retry=retry,
        transport=transport,
        wall_clock=wall_clock,
    )
