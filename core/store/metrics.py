"""SQL for the Prometheus metrics: aggregates of sync runs, cursors and breakers, read at scrape time.

Every query groups by connector instance and stream (or destination) and returns counts, states and times
only: nothing here reads a member, a payload or an error message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select

from core.store.breakers import BREAKERS
from core.store.sync import RUNS, STATE

__all__ = [
    "LatestRun",
    "StreamTotals",
    "breaker_states",
    "failed_runs_by_class",
    "incremental_cursors",
    "last_successes",
    "latest_runs",
    "stream_totals",
]

_BACKFILL_MARK = "@"  # the engine keeps a full refresh's cursor under "<stream>@backfill"


@dataclass(frozen=True)
class StreamTotals:
    """Records of one stream over every recorded run."""

    connector: str
    stream: str
    read: int
    written: int
    quarantined: int


@dataclass(frozen=True)
class LatestRun:
    """The newest run of one stream: its status and when it ended (or started, while running)."""

    connector: str
    stream: str
    status: str
    at: datetime


def stream_totals(conn: Connection) -> list[StreamTotals]:
    """Records read, written and quarantined per (connector, stream), summed over ``sync_runs``."""
    query = select(
        RUNS.c.connector,
        RUNS.c.stream,
        func.coalesce(func.sum(RUNS.c.records_read), 0),
        func.coalesce(func.sum(RUNS.c.records_written), 0),
        func.coalesce(func.sum(RUNS.c.records_quarantined), 0),
    ).group_by(RUNS.c.connector, RUNS.c.stream)
    return [StreamTotals(c, s, int(r), int(w), int(q)) for c, s, r, w, q in conn.execute(query)]


def latest_runs(conn: Connection) -> list[LatestRun]:
    """The newest run of every (connector, stream), whatever its lane."""
    newest = select(func.max(RUNS.c.id).label("id")).group_by(RUNS.c.connector, RUNS.c.stream).subquery()
    query = select(
        RUNS.c.connector, RUNS.c.stream, RUNS.c.status, func.coalesce(RUNS.c.finished_at, RUNS.c.started_at)
    ).join(newest, RUNS.c.id == newest.c.id)
    return [LatestRun(c, s, status, at) for c, s, status, at in conn.execute(query)]


def last_successes(conn: Connection) -> dict[tuple[str, str], datetime]:
    """When the newest succeeded run of every (connector, stream) finished."""
    query = (
        select(RUNS.c.connector, RUNS.c.stream, func.max(RUNS.c.finished_at))
        .where(RUNS.c.status == "succeeded")
        .group_by(RUNS.c.connector, RUNS.c.stream)
    )
    return {(c, s): at for c, s, at in conn.execute(query) if at is not None}


def failed_runs_by_class(conn: Connection) -> dict[tuple[str, str], int]:
    """Failed runs per (connector, error class); a failure without a class counts as ``unknown``."""
    error_class = func.coalesce(RUNS.c.error_class, "unknown")
    query = (
        select(RUNS.c.connector, error_class, func.count())
        .where(RUNS.c.status == "failed")
        .group_by(RUNS.c.connector, error_class)
    )
    return {(c, e): int(n) for c, e, n in conn.execute(query)}


def incremental_cursors(conn: Connection) -> dict[tuple[str, str], str]:
    """The committed cursor of every incremental stream (full-refresh cursors left out)."""
    query = select(STATE.c.connector, STATE.c.stream, STATE.c.cursor).where(STATE.c.cursor.is_not(None))
    return {(c, s): cursor for c, s, cursor in conn.execute(query) if _BACKFILL_MARK not in s}


def breaker_states(conn: Connection) -> dict[str, tuple[str, int]]:
    """State and consecutive failures of every breaker that has a row (one that never failed may have none)."""
    query = select(BREAKERS.c.connector, BREAKERS.c.state, BREAKERS.c.consecutive_failures)
    return {c: (state, int(failures)) for c, state, failures in conn.execute(query)}
