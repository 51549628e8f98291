from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.shopify.sandbox import SandboxServer as ShopSandbox
from connectors.zendesk import ZendeskConnector
from connectors.zendesk.sandbox import SandboxServer
from tests.connectors.zendesk.factories import TownHub, small_sandbox, town_hub, zendesk_connector


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    """A fresh small sandbox on loopback: 20 end-users, 26 tickets, no export delay nor budgets."""
    with small_sandbox() as server:
        yield server


@pytest.fixture
def connect(sandbox: SandboxServer) -> Iterator[Callable[..., ZendeskConnector]]:
    """Builds connectors for ``sandbox`` with settings overridden (``page_size=3`` …), closed afterwards."""
    built: list[ZendeskConnector] = []

    def build(**settings: Any) -> ZendeskConnector:
        built.append(zendesk_connector(sandbox, **settings))
        return built[-1]

    yield build
    for connector in built:
        connector.close()


@pytest.fixture
def connector(connect: Callable[..., ZendeskConnector]) -> ZendeskConnector:
    """The Zendesk connector for ``sandbox``: 10-row pages, retries off."""
    return connect()


@pytest.fixture
def api(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    """A plain HTTP client for ``sandbox`` carrying the agent's API token (Basic ``{email}/token:{token}``)."""
    with httpx.Client(base_url=sandbox.url, auth=(f"{sandbox.email}/token", sandbox.token), timeout=10) as client:
        yield client


@pytest.fixture
def town(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TownHub]:
    """A hub reading the town's Shopify shop and its call center, whose callers are all shop customers."""
    with ShopSandbox() as shop, SandboxServer(users=30, tickets=40, people=57) as zendesk:
        opened = town_hub(shop, zendesk, tmp_path, monkeypatch)
        yield opened, shop, zendesk
        opened.close()
