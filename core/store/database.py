"""Engines for the hub database and its schema revision: SQLite embedded, PostgreSQL in production."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, inspect, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import InvalidatePoolError

from core.errors import ConfigError, NotInitialisedError

if TYPE_CHECKING:  # Alembic is imported where a migration is run or looked up: opening a current hub needs none
    from alembic.config import Config
    from alembic.script import ScriptDirectory

__all__ = [
    "READ_ONLY_OPTION",
    "create_hub_engine",
    "database_revision",
    "head_revision",
    "read_only",
    "require_current_schema",
    "sqlite_url",
    "upgrade_database",
]

READ_ONLY_OPTION = "memberhub_read_only"
SCHEMA_HEAD = "0015_purchases_spend_index"
"""The newest migration's revision: a database at it is current without Alembic loading every migration script
(a test checks it against Alembic's head; a new migration updates it)."""
_MIGRATIONS = Path(__file__).with_name("migrations")
_SQLITE_PRAGMAS = (
    "PRAGMA busy_timeout=30000",  # first, so that switching to WAL waits for a lock too; 15 s starved a writer of 8
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=NORMAL",
    # Measured on loyalty earning at 500,000 purchases (docs/benchmarks.md): a 64 MiB page cache per connection
    # (the default is 2 MiB) and reads through a memory map cut the time inside SQLite from 57 to 42 µs a
    # purchase; checkpointing the WAL every 10,000 pages (≈ 40 MiB) instead of 1,000 writes each index page
    # once for many commits: with both, the batches plus their commits went from 5,214 to 7,182 purchases/s.
    "PRAGMA cache_size=-65536",
    "PRAGMA mmap_size=1073741824",
    "PRAGMA wal_autocheckpoint=10000",
)
# PostgreSQL advisory lock held during an upgrade: web and worker containers that start together and
# both run `hub db upgrade` queue on it instead of racing to create the same tables.
_PG_MIGRATION_LOCK = int.from_bytes(b"hub-ddl", "big")
_Bindable = TypeVar("_Bindable", Engine, Connection)
PING_AFTER_IDLE_S = 10.0
"""A pooled PostgreSQL connection idle this long is checked with a round trip before it is used again."""
_IDLE_SINCE = "memberhub_idle_since"


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of the SQLite file at ``path``."""
    return f"sqlite:///{path}"


def create_hub_engine(url: str) -> Engine:
    """An engine for a ``sqlite:///`` file or a ``postgresql+psycopg://`` server, configured for the hub.

    Bound parameters are kept out of error messages: they hold ciphertext and blind-index digests.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    if parsed.get_backend_name() == "postgresql":
        return _postgresql_engine(parsed)
    raise ConfigError(f"unsupported database URL scheme {parsed.drivername!r}; use sqlite:/// or postgresql://")


def read_only(bindable: _Bindable) -> _Bindable:
    """The same engine or connection, marked so that SQLite opens its transactions deferred (``BEGIN``).

    Use it for transactions that only read: they then run beside a writer instead of queueing behind it.
    """
    return bindable.execution_options(**{READ_ONLY_OPTION: True})


def head_revision() -> str:
    """The newest schema revision of the migration scripts (Alembic reads every one of them)."""
    head = _script_directory().get_current_head()
    assert head is not None, "the migration scripts have no head"
    return head


def database_revision(engine: Engine) -> str | None:
    """The schema revision the database is at, or ``None`` when it has no schema yet."""
    with read_only(engine).connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade_database(engine: Engine) -> str:
    """Bring the schema to the newest revision in one transaction and return that revision.

    Running it again on a current database changes nothing.
    """
    from alembic import command

    config = _alembic_config()
    with _migration_transaction(engine) as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    return head_revision()


def require_current_schema(engine: Engine) -> None:
    """Raise :class:`NotInitialisedError` unless the database schema is at the newest revision."""
    current = database_revision(engine)
    if current is None:
        raise NotInitialisedError("the hub database has no schema yet — run `hub init` or `hub db upgrade`")
    if current == SCHEMA_HEAD:
        return
    head = head_revision()
    if current == head:
        return
    if not _is_known_revision(current):
        raise NotInitialisedError(
            f"the hub database schema is at revision {current}, which this version of MemberHub does not "
            "know — upgrade MemberHub"
        )
    raise NotInitialisedError(
        f"the hub database schema is at revision {current} but this version of MemberHub needs {head} "
        "— run `hub db upgrade`"
    )


@contextmanager
def _migration_transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction for a whole upgrade, serialised against other upgrades.

    On SQLite, foreign keys are switched off meanwhile (the pragma is ignored inside a transaction): batch
    migrations rebuild a table by dropping it, and with foreign keys on that drop would cascade-delete child
    rows, say every blind index of every member. The keys are checked before the commit instead.
    """
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            with conn.begin():
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
                yield conn
            return
        _set_sqlite_foreign_keys(conn, enabled=False)
        try:
            with conn.begin():
                yield conn
                _check_sqlite_foreign_keys(conn)
        finally:
            _set_sqlite_foreign_keys(conn, enabled=True)


def _set_sqlite_foreign_keys(conn: Connection, *, enabled: bool) -> None:
    # Straight to the driver: a statement through SQLAlchemy would open a transaction first.
    driver_connection = conn.connection.driver_connection
    assert driver_connection is not None
    driver_connection.execute(f"PRAGMA foreign_keys={'ON' if enabled else 'OFF'}")


def _check_sqlite_foreign_keys(conn: Connection) -> None:
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        tables = sorted({row[0] for row in broken})
        raise RuntimeError(f"the migration left rows with broken foreign keys in {', '.join(tables)}")


def _sqlite_engine(url: URL) -> Engine:
    engine = create_engine(url, hide_parameters=True)
    path = _sqlite_file(url)
    if path is not None:
        event.listen(engine, "do_connect", _private_file_creator(path))
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin_sqlite_transaction)
    return engine


def _postgresql_engine(url: URL) -> Engine:
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    engine = create_engine(
        url,
        hide_parameters=True,
        pool_size=10,
        max_overflow=10,
        # Firewalls and poolers drop idle connections silently; replace them before that happens.
        pool_recycle=1800,
        connect_args={"application_name": "memberhub"},
    )
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection before handing it out only if it sat idle ``PING_AFTER_IDLE_S`` or longer.

    ``pool_pre_ping`` pings at every checkout: one more round trip for each of a busy server's transactions.
    A connection used moments ago is alive unless the server itself just went away; then its next statement
    fails, SQLAlchemy sees the disconnect and replaces every pooled connection, as after a failed ping.
    """
    dialect = engine.dialect

    def note_idle(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    def ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.pop(_IDLE_SINCE, None)
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                raise InvalidatePoolError() from error  # the pool drops its connections and checks out anew
            raise

    event.listen(engine, "checkin", note_idle)
    event.listen(engine, "checkout", ping_if_idle)


def _sqlite_file(url: URL) -> Path | None:
    """The database file of a SQLite URL, or ``None`` for an in-memory or ``file:`` URI database."""
    if url.database in (None, "", ":memory:") or url.query.get("uri"):
        return None
    return Path(url.database)


def _private_file_creator(path: Path) -> Callable[..., None]:
    """A ``do_connect`` hook creating the database file owner-only (0600) before SQLite creates it."""

    def create_private_file(*_args: Any) -> None:
        if path.parent.is_dir():
            with suppress(FileExistsError):
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))

    return create_private_file


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # Stop pysqlite from issuing its own (deferred) BEGIN; `_begin_sqlite_transaction` issues ours.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def _begin_sqlite_transaction(conn: Connection) -> None:
    # In WAL mode a deferred transaction that has read and then writes gets SQLITE_BUSY at once, without
    # waiting for busy_timeout, when another connection is writing or has committed since its read.
    # Writers therefore take the write lock up front and wait their turn; readers stay deferred.
    if conn.get_execution_options().get(READ_ONLY_OPTION):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.set_main_option("path_separator", "os")
    return config


def _script_directory() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config())


def _is_known_revision(revision: str) -> bool:
    from alembic.util.exc import CommandError

    try:
        return _script_directory().get_revision(revision) is not None
    except CommandError:
        return False
