from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connectors.klaviyo import KlaviyoConnector
from connectors.klaviyo.sandbox import SandboxServer
from tests.connectors.klaviyo.factories import klaviyo_connector


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    """A fresh Klaviyo sandbox on loopback: 57 profiles, 43 events."""
    with SandboxServer() as server:
        yield server


@pytest.fixture
def connect(sandbox: SandboxServer) -> Iterator[Callable[..., KlaviyoConnector]]:
    """Builds connectors for ``sandbox`` with settings overridden (``profiles_page_size=3`` …), closed afterwards."""
    built: list[KlaviyoConnector] = []

    def build(**settings: Any) -> KlaviyoConnector:
        built.append(klaviyo_connector(sandbox, **settings))
        return built[-1]

    yield build
    for connector in built:
        connector.close()


@pytest.fixture
def connector(connect: Callable[..., KlaviyoConnector]) -> KlaviyoConnector:
    """The Klaviyo connector for ``sandbox``: 10 resources a page, retries off."""
    return connect()
