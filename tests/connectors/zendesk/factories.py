"""Building the Zendesk connector and small sandboxes, the way the tests need them."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from connectors.shopify.sandbox import SandboxServer as ShopSandbox
from connectors.zendesk import ZendeskConfig, ZendeskConnector
from connectors.zendesk.sandbox import SandboxServer
from core.sync.retry import RetryPolicy
from hub.runtime import Hub, init_hub
from hub.settings import HubSettings

SHOP, CALL_CENTER = "tokyo-online", "callcenter"
TownHub = tuple[Hub, ShopSandbox, SandboxServer]
"""A hub with the shop and the call center it reads."""
TOWN_HUB_TOML = """
[console]
inquiry_destinations = ["{call_center}"]

[connectors.{shop}]
type = "shopify"
shop_url = "{shop_url}"
token_env = "TEST_SHOPIFY_TOKEN"
webhook_secret_env = "TEST_SHOPIFY_WEBHOOK_SECRETS"

[connectors.{call_center}]
type = "zendesk"
base_url = "{zendesk_url}"
email = "{email}"
token_env = "TEST_ZENDESK_TOKEN"
webhook_secret_env = "TEST_ZENDESK_WEBHOOK_SECRETS"
page_size = 100
"""

NO_RETRY = RetryPolicy(max_attempts=1)
"""The first error surfaces as it is: the conformance kit checks classification; core tests the retrying."""


def small_sandbox(**options: Any) -> SandboxServer:
    """A sandbox of 20 end-users and 26 tickets with no export delay nor budget: reading, not pacing, is tested.

    Pacing has tests of its own (the export budget, the 60 s hold-back) with those turned back on.
    """
    settings: dict[str, Any] = {"users": 20, "tickets": 26, "people": 60, "export_delay_s": 0.0,
                                "export_rate": None, "rate_limit": None, **options}  # fmt: skip
    return SandboxServer(**settings)


def zendesk_connector(
    server: SandboxServer,
    *,
    retry: RetryPolicy = NO_RETRY,
    sleep: Callable[[float], None] = time.sleep,
    **settings: Any,
) -> ZendeskConnector:
    """A connector for ``server``: 10-row export pages, 2-comment thread pages, 2 s deadline, retries off."""
    config = ZendeskConfig(
        **{"base_url": server.url, "email": server.email, "page_size": 10, "comments_page_size": 2,
           "timeout_s": 2.0, "job_poll_interval_s": 0.01, **settings}
    )  # fmt: skip
    return ZendeskConnector(
        "zendesk-test",
        config,
        token=server.token,
        webhook_secrets=(server.state.webhook_secret,),
        retry=retry,
        sleep=sleep,
    )


def town_hub(shop: ShopSandbox, zendesk: SandboxServer, home: Path, monkeypatch: pytest.MonkeyPatch) -> Hub:
    """A hub on a SQLite file under ``home`` reading the town's shop and call center; console inquiries go to the
    call center."""
    for name, value in (("TEST_SHOPIFY_TOKEN", shop.access_token), ("TEST_ZENDESK_TOKEN", zendesk.token),
                        ("TEST_SHOPIFY_WEBHOOK_SECRETS", shop.state.webhook_secret),
                        ("TEST_ZENDESK_WEBHOOK_SECRETS", zendesk.state.webhook_secret)):  # fmt: skip
        monkeypatch.setenv(name, value)
    data = home / "data"
    data.mkdir()
    toml = TOWN_HUB_TOML.format(shop=SHOP, shop_url=shop.url, call_center=CALL_CENTER, zendesk_url=zendesk.url,
                                email=zendesk.email)  # fmt: skip
    (data / "hub.toml").write_text(toml, encoding="utf-8")
    settings = HubSettings(
        data, home / "keys" / "keyring.json", f"sqlite:///{data / 'hub.db'}", data / "hub.toml", None
    )
    return init_hub(settings)[0]
