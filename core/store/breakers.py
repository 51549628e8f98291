"""SQL for the circuit breakers of connector instances; their rules live in ``core.sync.breaker``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Row, Table, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from core.store.models import CircuitBreakerState

BREAKERS = cast(Table, CircuitBreakerState.__table__)


def fetch_breaker(conn: Connection, connector: str) -> Row[Any] | None:
    """The stored breaker of ``connector``, or ``None`` while it has never failed."""
    return conn.execute(select(BREAKERS).where(BREAKERS.c.connector == connector)).first()


def lock_breaker(conn: Connection, connector: str, now: datetime) -> Row[Any]:
    """The breaker of ``connector``, created closed if missing and locked until the transaction ends.

    On SQLite the write transaction (``BEGIN IMMEDIATE``) already holds the database lock.
    """
    _insert_if_missing(conn, connector=connector, updated_at=now)
    query = select(BREAKERS).where(BREAKERS.c.connector == connector).with_for_update()
    return conn.execute(query).one()


def update_breaker(conn: Connection, connector: str, **values: object) -> None:
    """Write new values into the breaker of ``connector``."""
    conn.execute(update(BREAKERS).where(BREAKERS.c.connector == connector).values(**values))


def claim_probe(conn: Connection, connector: str, *, now: datetime, lease_until: datetime) -> bool:
    """Move an open breaker whose probe is due to ``half_open``; ``True`` for the one caller that won.

    A single conditional UPDATE: when processes race, the database applies them one after another and
    only the first still finds the probe due. A half-open breaker whose probe lease ran out (the prober
    died) can be claimed again.
    """
    result = conn.execute(
        update(BREAKERS)
        .where(BREAKERS.c.connector == connector)
        .where(BREAKERS.c.state.in_(("open", "half_open")))
        .where(or_(BREAKERS.c.next_probe_at.is_(None), BREAKERS.c.next_probe_at <= now))
        .values(state="half_open", next_probe_at=lease_until, updated_at=now)
    )
    return result.rowcount == 1


def close_breaker(conn: Connection, connector: str, now: datetime) -> None:
    """Close the breaker of ``connector`` and forget its failures; a closed, clean breaker is left alone."""
    conn.execute(
        update(BREAKERS)
        .where(BREAKERS.c.connector == connector)
        .where(or_(BREAKERS.c.state != "closed", BREAKERS.c.consecutive_failures > 0))
        .values(state="closed", consecutive_failures=0, opened_at=None, next_probe_at=None, updated_at=now)
    )


def _insert_if_missing(conn: Connection, **values: object) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(postgresql.insert(BREAKERS).values(**values).on_conflict_do_nothing())
    else:
        conn.execute(sqlite.insert(BREAKERS).values(**values).on_conflict_do_nothing())
