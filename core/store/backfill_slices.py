"""SQL for sliced backfills: a plan is the rows of one (connector, stream), one per slice."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from core.store.models import BackfillSlice, table_of

SLICES = table_of(BackfillSlice)


def _plan(connector: str, stream: str) -> tuple[Any, ...]:
    return SLICES.c.connector == connector, SLICES.c.stream == stream


def create_plan(conn: Connection, connector: str, stream: str, parts: Sequence[str], now: datetime) -> None:
    """Store a new plan of ``parts`` (the connector's slices, in order); the caller checked none exists."""
    rows = [
        {
            "connector": connector,
            "stream": stream,
            "slice_no": number,
            "slice_count": len(parts),
            "descriptor": part,
            "cursor": None,
            "planned_at": now,
            "finished_at": None,
        }
        for number, part in enumerate(parts)
    ]
    conn.execute(insert(SLICES), rows)


def load_plan(conn: Connection, connector: str, stream: str) -> list[Row[Any]]:
    """Every slice of the stream's plan in order; empty when no sliced backfill is under way."""
    return list(conn.execute(select(SLICES).where(*_plan(connector, stream)).order_by(SLICES.c.slice_no)))


def load_slice(conn: Connection, connector: str, stream: str, number: int) -> Row[Any] | None:
    """One slice of the plan, or ``None`` once the plan is finished (or never held that slice)."""
    query = select(SLICES).where(*_plan(connector, stream), SLICES.c.slice_no == number)
    return conn.execute(query).first()


def save_slice_cursor(conn: Connection, connector: str, stream: str, number: int, cursor: str | None) -> None:
    """Store a slice's cursor in the transaction of the batch that reached it."""
    where = (*_plan(connector, stream), SLICES.c.slice_no == number)
    conn.execute(update(SLICES).where(*where).values(cursor=cursor))


def finish_slice(conn: Connection, connector: str, stream: str, number: int, now: datetime) -> list[Row[Any]] | None:
    """Mark a slice finished; returns every slice of the plan if this was the last one unfinished, else ``None``.

    The plan's head row is locked first (``FOR UPDATE`` on PostgreSQL; SQLite's write transactions are
    serial already), so of two slices finishing at once exactly one sees the plan complete.
    """
    head = select(SLICES.c.slice_no).where(*_plan(connector, stream), SLICES.c.slice_no == 0).with_for_update()
    conn.execute(head)
    where = (*_plan(connector, stream), SLICES.c.slice_no == number, SLICES.c.finished_at.is_(None))
    conn.execute(update(SLICES).where(*where).values(finished_at=now))
    unfinished = select(func.count()).where(*_plan(connector, stream), SLICES.c.finished_at.is_(None))
    if conn.scalar(unfinished):
        return None
    return load_plan(conn, connector, stream)


def delete_plan(conn: Connection, connector: str, stream: str) -> None:
    """Remove a finished (or abandoned) plan."""
    conn.execute(delete(SLICES).where(*_plan(connector, stream)))
