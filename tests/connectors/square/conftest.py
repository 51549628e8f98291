from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from connectors.square import SquareConnector
from connectors.square.sandbox import SandboxServer
from tests.connectors.square.factories import square_connector, square_sandbox


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    """A fresh Square sandbox on loopback: 40 customers, 90 orders at 12 stores, no search lag."""
    with square_sandbox() as server:
        yield server


@pytest.fixture
def connect(sandbox: SandboxServer) -> Iterator[Callable[..., SquareConnector]]:
    """Builds connectors for ``sandbox`` with settings overridden, closed afterwards."""
    built: list[SquareConnector] = []

    def build(**settings: Any) -> SquareConnector:
        built.append(square_connector(sandbox, **settings))
        return built[-1]

    yield build
    for connector in built:
        connector.close()


@pytest.fixture
def connector(connect: Callable[..., SquareConnector]) -> SquareConnector:
    """The Square connector for ``sandbox``: 10-record pages, retries off."""
    return connect()


@pytest.fixture
def api(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    """A plain HTTP client for the sandbox, carrying its token and a Square-Version."""
    headers = {"Authorization": f"Bearer {sandbox.access_token}", "Square-Version": "2025-01-23"}
    with httpx.Client(base_url=sandbox.url, headers=headers, timeout=10) as client:
        yield client
