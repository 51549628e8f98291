"""One run per stream at a time, across threads and processes: locks that die with their holder.

PostgreSQL: a session advisory lock (released by the server when the connection drops). SQLite: an
exclusive ``flock`` on a file beside the database (released by the kernel when the process dies).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text

from core.errors import StreamBusyError


@contextmanager
def stream_lock(engine: Engine, key: str) -> Iterator[None]:
    """Hold the lock named ``key`` for the block; ``StreamBusyError`` at once if someone else holds it."""
    if engine.dialect.name == "postgresql":
        with _advisory_lock(engine, key):
            yield
    else:
        with _file_lock(Path(engine.url.database or ".").parent, key):
            yield


def _lock_number(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)


@contextmanager
def _advisory_lock(engine: Engine, key: str) -> Iterator[None]:
    number = _lock_number(key)
    conn = engine.connect()
    try:
        acquired = conn.scalar(text("SELECT pg_try_advisory_lock(:n)"), {"n": number})
        conn.commit()
        if not acquired:
            raise StreamBusyError(f"{key} is already running in another worker")
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:n)"), {"n": number})
            conn.commit()
    finally:
        conn.close()


@contextmanager
def _file_lock(directory: Path, key: str) -> Iterator[None]:
    lock_dir = directory / "locks"
    lock_dir.mkdir(mode=0o700, exist_ok=True)
    path = lock_dir / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StreamBusyError(f"{key} is already running in another worker") from None
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
