from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from connectors.shopify.sandbox import SandboxServer


@pytest.fixture
def shop() -> Iterator[SandboxServer]:
    """A fresh Shopify sandbox on loopback: 57 customers, 83 orders."""
    with SandboxServer() as server:
        yield server


@pytest.fixture
def admin(shop: SandboxServer) -> Iterator[httpx.Client]:
    """A plain HTTP client carrying the sandbox's access token."""
    with httpx.Client(headers={"X-Shopify-Access-Token": shop.access_token}, timeout=10) as client:
        yield client
