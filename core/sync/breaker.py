"""A circuit breaker per connector instance, persisted so that every worker process and restart shares it.

    closed ──fail_max consecutive failures──▶ open ──reset_timeout──▶ half_open (one probe)
      ▲                                        ▲                          │
      └──────────── probe succeeds ────────────┼──────────────────────────┤
                                               └────── probe fails ───────┘

While open, calls are refused with :class:`CircuitOpenError` without touching the external system. When
the timeout has passed, exactly one process wins the right to probe (a conditional UPDATE in the store);
its success closes the circuit, its failure opens it for another ``reset_timeout``. A prober that dies
holds its lease for ``reset_timeout`` only; then another process may probe.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Row

from core.errors import CircuitOpenError
from core.logs import get_logger
from core.store import breakers as repo
from core.store.database import read_only
from core.store.models import utcnow

__all__ = ["CLOSED", "HALF_OPEN", "OPEN", "BreakerState", "CircuitBreaker", "Clock"]

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
Clock = Callable[[], datetime]
_ERROR_CLASS_LENGTH = 128  # circuit_breakers.last_error_class

_log = get_logger(__name__)


@dataclass(frozen=True)
class BreakerState:
    """What the CLI and the health page show of one breaker; a breaker that never failed is closed."""

    connector: str
    state: str
    consecutive_failures: int = 0
    opened_at: datetime | None = None
    next_probe_at: datetime | None = None
    last_error_class: str | None = None
    updated_at: datetime | None = None


class CircuitBreaker:
    """The breaker of one connector instance: ask :meth:`before_call`, then report the outcome."""

    def __init__(
        self,
        engine: Engine,
        connector: str,
        *,
        fail_max: int = 5,
        reset_timeout: float = 60.0,
        clock: Clock = utcnow,
    ) -> None:
        self.engine = engine
        self.connector = connector
        self.fail_max = fail_max
        self.reset_timeout = timedelta(seconds=reset_timeout)
        self.clock = clock

    def before_call(self) -> None:
        """Return if a call may go out; raise :class:`CircuitOpenError` while the circuit is open.

        Once the timeout has passed, the first caller (in any process) is let through as the probe.
        """
        now = self.clock()
        current = self.state()
        if current.state != CLOSED and (current.next_probe_at is None or current.next_probe_at <= now):
            with self.engine.begin() as conn:
                won = repo.claim_probe(conn, self.connector, now=now, lease_until=now + self.reset_timeout)
            if won:
                _log.info("circuit half-open, probing", connector=self.connector)
                return
            current = self.state()  # another process is probing, or has closed the circuit meanwhile
        if current.state == CLOSED:
            return
        raise CircuitOpenError(_refusal(current))

    def record_success(self) -> None:
        """A call succeeded: close the circuit and forget past failures."""
        current = self.state()
        if current.state == CLOSED and current.consecutive_failures == 0:
            return  # the common case stays a read: no write lock per successful call
        with self.engine.begin() as conn:
            repo.close_breaker(conn, self.connector, self.clock())
        if current.state != CLOSED:
            _log.info("circuit closed", connector=self.connector)

    def record_failure(self, error_class: str) -> None:
        """A call failed with ``error_class``: count it; open at ``fail_max`` or after a failed probe."""
        now = self.clock()
        with self.engine.begin() as conn:
            row = repo.lock_breaker(conn, self.connector, now)
            values = self._after_failure(row, error_class[:_ERROR_CLASS_LENGTH], now)
            repo.update_breaker(conn, self.connector, **values)
        if values.get("state") == OPEN:
            _log.warning(
                "circuit opened",
                connector=self.connector,
                error_class=error_class,
                count=values["consecutive_failures"],
            )

    def state(self) -> BreakerState:
        """The breaker as stored now."""
        with read_only(self.engine).connect() as conn:
            row = repo.fetch_breaker(conn, self.connector)
        if row is None:
            return BreakerState(connector=self.connector, state=CLOSED)
        return BreakerState(
            connector=row.connector,
            state=row.state,
            consecutive_failures=row.consecutive_failures,
            opened_at=row.opened_at,
            next_probe_at=row.next_probe_at,
            last_error_class=row.last_error_class,
            updated_at=row.updated_at,
        )

    def _after_failure(self, row: Row[Any], error_class: str, now: datetime) -> dict[str, object]:
        failures = row.consecutive_failures + 1
        values: dict[str, object] = {
            "consecutive_failures": failures,
            "last_error_class": error_class,
            "updated_at": now,
        }
        if row.state == HALF_OPEN or (row.state == CLOSED and failures >= self.fail_max):
            values |= {"state": OPEN, "opened_at": now, "next_probe_at": now + self.reset_timeout}
        return values


def _refusal(current: BreakerState) -> str:
    until = current.next_probe_at.isoformat() if current.next_probe_at else "the next probe"
    if current.state == HALF_OPEN:
        return f"circuit breaker of {current.connector} is half-open: a probe is under way until {until}"
    last = f" after {current.last_error_class}" if current.last_error_class else ""
    return f"circuit breaker of {current.connector} is open{last} until {until}"
