"""SQL for the sync engine's bookkeeping: cursors, runs, dead letters, the outbox and system keys."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, update

from core.store.models import DeadLetter, OutboxMessage, SyncRun, SyncState, SystemKey, table_of

STATE = table_of(SyncState)
RUNS = table_of(SyncRun)
DEAD = table_of(DeadLetter)
OUTBOX = table_of(OutboxMessage)
SYSTEM_KEYS = table_of(SystemKey)


# ── cursors ────────────────────────────────────────────────────────────────────────────────────────


def load_cursor(conn: Connection, connector: str, stream: str) -> str | None:
    """The committed cursor of a stream (lane included in ``stream``), or ``None`` before the first batch."""
    query = select(STATE.c.cursor).where(STATE.c.connector == connector, STATE.c.stream == stream)
    return conn.scalar(query)


def save_cursor(conn: Connection, connector: str, stream: str, cursor: str | None, now: datetime) -> None:
    """Store a stream's cursor in the caller's transaction (the one that wrote its batch)."""
    where = (STATE.c.connector == connector, STATE.c.stream == stream)
    if conn.execute(update(STATE).where(*where).values(cursor=cursor, updated_at=now)).rowcount == 0:
        conn.execute(insert(STATE).values(connector=connector, stream=stream, cursor=cursor, updated_at=now))


# ── runs ───────────────────────────────────────────────────────────────────────────────────────────


def start_run(conn: Connection, connector: str, stream: str, lane: str, cursor: str | None, now: datetime) -> int:
    """Record a run as running and return its id."""
    values = {
        "connector": connector,
        "stream": stream,
        "lane": lane,
        "status": "running",
        "started_at": now,
        "cursor_before": cursor,
    }
    return int(conn.execute(insert(RUNS).values(**values).returning(RUNS.c.id)).scalar_one())


def add_run_progress(
    conn: Connection, run_id: int, *, read: int, written: int, quarantined: int, cursor: str | None
) -> None:
    """Add one committed batch's counts to its run, in the batch's transaction."""
    conn.execute(
        update(RUNS)
        .where(RUNS.c.id == run_id)
        .values(
            records_read=RUNS.c.records_read + read,
            records_written=RUNS.c.records_written + written,
            records_quarantined=RUNS.c.records_quarantined + quarantined,
            cursor_after=cursor,
        )
    )


def finish_run(
    conn: Connection,
    run_id: int,
    status: str,
    now: datetime,
    *,
    error_class: str | None = None,
    error_message: str | None = None,
) -> None:
    """Close a run with its outcome."""
    values = {
        "status": status,
        "finished_at": now,
        "error_class": error_class,
        "error_message": (error_message or "")[:500] or None,
    }
    conn.execute(update(RUNS).where(RUNS.c.id == run_id).values(**values))


def get_run(conn: Connection, run_id: int) -> Row[Any]:
    """One run row."""
    return conn.execute(select(RUNS).where(RUNS.c.id == run_id)).one()


def recent_runs(conn: Connection, *, limit: int, connector: str | None = None) -> list[Row[Any]]:
    """The newest runs first."""
    query = select(RUNS).order_by(RUNS.c.id.desc()).limit(limit)
    if connector:
        query = query.where(RUNS.c.connector == connector)
    return list(conn.execute(query))


def abandon_stale_runs(conn: Connection, connector: str, stream: str, lane: str, now: datetime) -> int:
    """Mark runs left 'running' by a crashed process as failed (called while holding the stream's lock)."""
    where = (
        RUNS.c.connector == connector,
        RUNS.c.stream == stream,
        RUNS.c.lane == lane,
        RUNS.c.status == "running",
    )
    values = {
        "status": "failed",
        "finished_at": now,
        "error_class": "Abandoned",
        "error_message": "the process running it stopped before finishing",
    }
    return conn.execute(update(RUNS).where(*where).values(**values)).rowcount


# ── dead letters ───────────────────────────────────────────────────────────────────────────────────


def add_dead_letters(conn: Connection, rows: Sequence[dict[str, object]]) -> None:
    """Quarantine rejected records (payloads already sealed)."""
    if rows:
        conn.execute(insert(DEAD), list(rows))


def list_dead_letters(
    conn: Connection, *, status: str | None = "pending", connector: str | None = None, limit: int = 100
) -> list[Row[Any]]:
    """Dead letters without their payload, newest first."""
    columns = [c for c in DEAD.c if c.name != "payload_ct"]
    query = select(*columns).order_by(DEAD.c.id.desc()).limit(limit)
    if status:
        query = query.where(DEAD.c.status == status)
    if connector:
        query = query.where(DEAD.c.connector == connector)
    return list(conn.execute(query))


def get_dead_letter(conn: Connection, dead_letter_id: int) -> Row[Any] | None:
    """One dead letter with its sealed payload."""
    return conn.execute(select(DEAD).where(DEAD.c.id == dead_letter_id)).first()


def mark_dead_letter(conn: Connection, dead_letter_id: int, status: str, now: datetime) -> bool:
    """Move a pending dead letter to replayed or discarded; ``False`` if it was not pending."""
    query = update(DEAD).where(DEAD.c.id == dead_letter_id, DEAD.c.status == "pending")
    return conn.execute(query.values(status=status, replayed_at=now)).rowcount == 1


def count_dead_letters(conn: Connection) -> dict[tuple[str, str], int]:
    """Pending dead letters per (connector, stream)."""
    query = (
        select(DEAD.c.connector, DEAD.c.stream, func.count())
        .where(DEAD.c.status == "pending")
        .group_by(DEAD.c.connector, DEAD.c.stream)
    )
    return {(connector, stream): int(n) for connector, stream, n in conn.execute(query)}


# ── system keys ────────────────────────────────────────────────────────────────────────────────────


def get_system_key(conn: Connection, name: str) -> Row[Any] | None:
    """A wrapped system data key by name."""
    return conn.execute(select(SYSTEM_KEYS).where(SYSTEM_KEYS.c.name == name)).first()


def insert_system_key(conn: Connection, name: str, kek_version: int, wrapped: bytes, now: datetime) -> None:
    """Store a new wrapped system key."""
    conn.execute(insert(SYSTEM_KEYS).values(name=name, kek_version=kek_version, wrapped_key=wrapped, created_at=now))


def system_keys_to_rewrap(conn: Connection, primary_version: int) -> list[Row[Any]]:
    """System keys wrapped under a KEK version other than the primary."""
    return list(conn.execute(select(SYSTEM_KEYS).where(SYSTEM_KEYS.c.kek_version != primary_version)))


def replace_system_key(conn: Connection, name: str, old_version: int, wrapped: bytes, new_version: int) -> bool:
    """Store a re-wrapped system key unless it changed meanwhile."""
    query = update(SYSTEM_KEYS).where(SYSTEM_KEYS.c.name == name, SYSTEM_KEYS.c.kek_version == old_version)
    return conn.execute(query.values(wrapped_key=wrapped, kek_version=new_version)).rowcount == 1


def system_key_versions(conn: Connection) -> dict[int, int]:
    """System keys per KEK version."""
    query = select(SYSTEM_KEYS.c.kek_version, func.count()).group_by(SYSTEM_KEYS.c.kek_version)
    return {int(version): int(n) for version, n in conn.execute(query)}


# ── outbox ─────────────────────────────────────────────────────────────────────────────────────────


def enqueue_outbox(conn: Connection, row: dict[str, object]) -> bool:
    """Add an outbound message unless one with the same idempotency key exists; ``True`` if added."""
    key = row["idempotency_key"]
    if conn.scalar(select(OUTBOX.c.id).where(OUTBOX.c.idempotency_key == key)) is not None:
        return False
    conn.execute(insert(OUTBOX).values(**row))
    return True


def due_outbox(conn: Connection, destination: str, now: datetime, limit: int) -> list[Row[Any]]:
    """Pending messages of one destination whose next attempt is due, oldest first."""
    query = (
        select(OUTBOX)
        .where(OUTBOX.c.destination == destination, OUTBOX.c.status == "pending", OUTBOX.c.next_attempt_at <= now)
        .order_by(OUTBOX.c.id)
        .limit(limit)
    )
    return list(conn.execute(query))


def lease_outbox(conn: Connection, message_id: int, seen_next_attempt_at: datetime, lease_until: datetime) -> bool:
    """Claim one due message for delivery until ``lease_until``; ``False`` if another dispatcher got it.

    A conditional update instead of a held row lock: no transaction stays open during the HTTP call, and a
    dispatcher that dies mid-delivery simply lets the lease expire (the idempotency key absorbs the resend).
    """
    query = update(OUTBOX).where(
        OUTBOX.c.id == message_id,
        OUTBOX.c.status == "pending",
        OUTBOX.c.next_attempt_at == seen_next_attempt_at,
    )
    return conn.execute(query.values(next_attempt_at=lease_until)).rowcount == 1


def mark_outbox_delivered(conn: Connection, message_id: int, now: datetime) -> None:
    """Record a successful delivery."""
    values = {
        "status": "delivered",
        "delivered_at": now,
        "attempts": OUTBOX.c.attempts + 1,
        "last_error": None,
    }
    conn.execute(update(OUTBOX).where(OUTBOX.c.id == message_id).values(**values))


def mark_outbox_failed(conn: Connection, message_id: int, *, error: str, next_attempt_at: datetime | None) -> None:
    """Record a failed attempt: retry at ``next_attempt_at``, or give up when it is ``None``."""
    values: dict[str, object] = {"attempts": OUTBOX.c.attempts + 1, "last_error": error[:500]}
    if next_attempt_at is None:
        values["status"] = "failed"
    else:
        values["next_attempt_at"] = next_attempt_at
    conn.execute(update(OUTBOX).where(OUTBOX.c.id == message_id).values(**values))


def outbox_counts(conn: Connection) -> dict[tuple[str, str], int]:
    """Messages per (destination, status)."""
    query = select(OUTBOX.c.destination, OUTBOX.c.status, func.count()).group_by(OUTBOX.c.destination, OUTBOX.c.status)
    return {(destination, status): int(n) for destination, status, n in conn.execute(query)}


def outbox_destinations_due(conn: Connection, now: datetime) -> list[str]:
    """Destinations with at least one message due now."""
    query = (
        select(OUTBOX.c.destination)
        .where(OUTBOX.c.status == "pending", OUTBOX.c.next_attempt_at <= now)
        .distinct()
        .order_by(OUTBOX.c.destination)
    )
    return list(conn.scalars(query))
