"""The PostgreSQL pool the server's requests draw from: a connection is pinged only after sitting idle.

Pinging at every checkout (``pool_pre_ping``) cost a round trip per transaction; a connection used moments ago
is handed out as it is, and one idle for ``PING_AFTER_IDLE_S`` is checked and, if the server dropped it,
replaced before any request sees an error.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text

from core.store import database
from core.store.database import create_hub_engine
from tests.conftest import PG_ADMIN_URL


@pytest.fixture
def engine(pg_url: str) -> Iterator[Engine]:
    engine = create_hub_engine(pg_url)
    yield engine
    engine.dispose()


@pytest.fixture
def pings(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The pings the pool sends (the dialect's own ``do_ping``, counted)."""
    sent: list[object] = []
    do_ping = engine.dialect.do_ping

    def counted(dbapi_connection: object) -> bool:
        sent.append(dbapi_connection)
        return do_ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return sent


def backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_connection_used_moments_ago_is_handed_out_without_a_ping(engine: Engine, pings: list[object]):
    first = backend_pid(engine)
    assert backend_pid(engine) == first
    assert pings == []


def test_an_idle_connection_the_server_dropped_is_replaced_before_use(
    engine: Engine, pings: list[object], monkeypatch: pytest.MonkeyPatch
):
    dropped = backend_pid(engine)
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dropped})
    finally:
        admin.dispose()
    monkeypatch.setattr(database, "PING_AFTER_IDLE_S", 0.0)  # as if it had sat idle that long
    assert backend_pid(engine) != dropped
    assert len(pings) == 1
