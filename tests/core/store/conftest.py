"""Engines on a fresh SQLite file and a fresh PostgreSQL database, empty or migrated to head."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from core.store import create_hub_engine, upgrade_database


@pytest.fixture
def empty_engine(db_url: str) -> Iterator[Engine]:
    """A hub engine on a database without any schema, once per backend."""
    engine = create_hub_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(empty_engine: Engine) -> Engine:
    """A hub engine on a database migrated to the newest revision, once per backend."""
    upgrade_database(empty_engine)
    return empty_engine


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    """A hub engine on a migrated SQLite file."""
    engine = create_hub_engine(sqlite_url)
    upgrade_database(engine)
    yield engine
    engine.dispose()
