from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connectors.example import ExampleConnector
from connectors.example.sandbox import SandboxServer
from tests.connectors.example.factories import example_connector


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    """A fresh sandbox on loopback: 57 customers, 83 orders."""
    with SandboxServer() as server:
        yield server


@pytest.fixture
def connect(sandbox: SandboxServer) -> Iterator[Callable[..., ExampleConnector]]:
    """Builds connectors for ``sandbox`` with settings overridden (``page_size=3`` …), closed afterwards."""
    built: list[ExampleConnector] = []

    def build(**settings: Any) -> ExampleConnector:
        built.append(example_connector(sandbox, **settings))
        return built[-1]

    yield build
    for connector in built:
        connector.close()


@pytest.fixture
def connector(connect: Callable[..., ExampleConnector]) -> ExampleConnector:
    """The example connector for ``sandbox``: 10-record pages, retries off."""
    return connect()
