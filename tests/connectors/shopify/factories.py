"""Building the Shopify connector against a running sandbox, the way the tests need it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.shopify import ShopifyConfig, ShopifyConnector
from connectors.shopify.sandbox import SandboxServer
from core.sync.retry import RetryPolicy
from hub.runtime import Hub, init_hub
from hub.settings import HubSettings

ROOMY_BUCKET = {"maximum_available": 50_000.0, "restore_rate": 2_000.0}
"""A cost bucket the kit's many re-reads never empty (restore rate of Shopify's Enterprise plan): these tests
are about reading, not pacing, which has tests of its own on an injected clock."""
NO_RETRY = RetryPolicy(max_attempts=1)
"""The first error surfaces as it is: the conformance kit checks classification; core tests the retrying."""


def roomy_shop() -> SandboxServer:
    """A fresh sandbox whose cost bucket does not run dry under repeated full reads."""
    return SandboxServer(**ROOMY_BUCKET)


class FakeTime:
    """One clock for the sandbox's cost bucket and the connector's pacing: ``sleep`` advances it, instantly."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def shopify_connector(
    server: SandboxServer,
    *,
    retry: RetryPolicy = NO_RETRY,
    transport: httpx.BaseTransport | None = None,
    **settings: Any,
) -> ShopifyConnector:
    """A connector for ``server``: 10 customers or 10 orders a page or backfill batch, polls of bulk operations
    every 20 ms, 2 s request deadline, retries off."""
    config = ShopifyConfig(
        **{"shop_url": server.url, "customers_page_size": 10, "timeout_s": 2.0, "webhook_max_age_s": 300.0,
           "bulk_poll_interval_s": 0.02, "bulk_batch_size": 10, **settings}
    )  # fmt: skip
    return ShopifyConnector(
        "shopify-test",
        config,
        token=server.access_token,
        webhook_secrets=(server.state.webhook_secret,),
        retry=retry,
        transport=transport,
    )


SHOPIFY_HUB_TOML = """
[connectors.{instance}]
type = "shopify"
shop_url = "{url}"
token_env = "TEST_SHOPIFY_TOKEN"
webhook_secret_env = "TEST_SHOPIFY_WEBHOOK_SECRETS"
{settings}
"""


def shopify_hub(
    shop: SandboxServer,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    instance: str,
    loyalty_toml: str | None = None,
    settings: str = "",
) -> Hub:
    """A hub on a SQLite file under ``home`` with one Shopify instance on ``shop`` (more of its ``settings`` as
    TOML lines), and loyalty rules if given."""
    monkeypatch.setenv("TEST_SHOPIFY_TOKEN", shop.access_token)
    monkeypatch.setenv("TEST_SHOPIFY_WEBHOOK_SECRETS", shop.state.webhook_secret)
    data = home / "data"
    data.mkdir()
    (data / "hub.toml").write_text(
        SHOPIFY_HUB_TOML.format(instance=instance, url=shop.url, settings=settings), encoding="utf-8"
    )
    rules = None
    if loyalty_toml is not None:
        rules = data / "loyalty.toml"
        rules.write_text(loyalty_toml, encoding="utf-8")
    settings = HubSettings(
        data, home / "keys" / "keyring.json", f"sqlite:///{data / 'hub.db'}", data / "hub.toml", rules
    )
    opened, _ = init_hub(settings)
    return opened
