"""Building the example connector against a running sandbox, the way the tests need it."""

from __future__ import annotations

from typing import Any

from connectors.example import ExampleConfig, ExampleConnector
from connectors.example.sandbox import SandboxServer
from core.sync.retry import RetryPolicy

NO_RETRY = RetryPolicy(max_attempts=1)
"""The first error surfaces as it is: these tests check classification; core tests the retrying."""


def example_connector(server: SandboxServer, **settings: Any) -> ExampleConnector:
    """A connector for ``server`` with 10-record pages, a 2 s request deadline and retries off."""
    config = ExampleConfig(**{"base_url": server.url, "page_size": 10, "timeout_s": 2.0, **settings})
    return ExampleConnector(
        "example-test",
        config,
        token=server.token,
        webhook_secrets=(server.state.webhook_secret,),
        retry=NO_RETRY,
    )
