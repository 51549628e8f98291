"""The throw-away database a benchmark run writes into: a SQLite file, or a fresh PostgreSQL database."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

PG_ADMIN_URL = os.environ.get("MEMBERHUB_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@contextmanager
def throwaway_database(database: str, workdir: Path, *, prefix: str, file_name: str = "hub.sqlite3") -> Iterator[str]:
    """The URL of an empty database (``sqlite`` or ``postgresql``), deleted or dropped when the block ends."""
    if database == "sqlite":
        path = workdir / file_name
        yield f"sqlite:///{path}"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{secrets.token_hex(6)}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
