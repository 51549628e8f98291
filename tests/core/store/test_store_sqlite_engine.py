"""The SQLite engine: a private WAL file whose writers queue for the lock instead of failing."""

from __future__ import annotations

import stat
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, exc, func, insert, select
from sqlalchemy.engine import make_url

from core.errors import ConfigError
from core.ids import new_id
from core.store import HubMeta, RankChange, create_hub_engine, read_only, sqlite_url


def _database_file(engine: Engine) -> Path:
    return Path(make_url(str(engine.url)).database or "")


def test_sqlite_file_is_created_owner_only(sqlite_engine: Engine) -> None:
    mode = stat.S_IMODE(_database_file(sqlite_engine).stat().st_mode)

    assert mode == 0o600


def test_sqlite_file_is_in_wal_mode(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_every_connection_gets_the_bulk_write_settings(sqlite_engine: Engine) -> None:
    readers = read_only(sqlite_engine)  # two writers would queue for the write lock
    with readers.connect() as first, readers.connect() as second:
        for conn in (first, second):
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -65536
            assert conn.exec_driver_sql("PRAGMA mmap_size").scalar() == 1024**3
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 10_000
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL


def test_sqlite_enforces_foreign_keys(sqlite_engine: Engine) -> None:
    orphan = {"member_id": new_id(), "to_rank": "gold", "reason": "test", "changed_at": datetime.now(UTC)}

    with pytest.raises(exc.IntegrityError), sqlite_engine.begin() as conn:
        conn.execute(insert(RankChange).values(orphan))


def test_write_transactions_begin_immediate_and_read_only_ones_deferred(sqlite_engine: Engine) -> None:
    begins: list[str] = []

    @event.listens_for(sqlite_engine, "before_cursor_execute")
    def record_begin(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.startswith("BEGIN"):
            begins.append(statement)

    with sqlite_engine.begin() as conn:
        conn.execute(select(1))
    with read_only(sqlite_engine).connect() as conn:
        conn.execute(select(1))

    assert begins == ["BEGIN IMMEDIATE", "BEGIN"]


def test_second_writer_waits_for_the_first_instead_of_failing(sqlite_engine: Engine) -> None:
    errors: list[BaseException] = []
    started = threading.Event()

    def second_writer() -> None:
        started.set()
        try:
            with sqlite_engine.begin() as conn:
                seen = conn.scalar(select(func.count()).select_from(HubMeta))
                conn.execute(insert(HubMeta).values(key="second", value=str(seen)))
        except Exception as error:
            errors.append(error)

    thread = threading.Thread(target=second_writer)
    with sqlite_engine.begin() as first:
        first.execute(insert(HubMeta).values(key="first", value="0"))
        thread.start()
        assert started.wait(5)
        thread.join(timeout=0.3)
        assert thread.is_alive(), "the second writer should be waiting for the write lock"
    thread.join(timeout=10)

    assert errors == []
    with sqlite_engine.connect() as conn:
        assert conn.scalar(select(HubMeta.value).where(HubMeta.key == "second")) == "1"


def test_read_only_transaction_runs_beside_a_writer(sqlite_engine: Engine) -> None:
    with sqlite_engine.begin() as writer:
        writer.execute(insert(HubMeta).values(key="pending", value="x"))
        with read_only(sqlite_engine).connect() as reader:
            assert reader.scalar(select(func.count()).select_from(HubMeta)) == 0


def test_sqlite_url_round_trips_a_path(tmp_path: Path) -> None:
    path = tmp_path / "hub.sqlite3"

    assert make_url(sqlite_url(path)).database == str(path)


def test_unsupported_database_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="mysql"):
        create_hub_engine("mysql://user:secret@db/hub")
