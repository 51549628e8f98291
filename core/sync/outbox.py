"""The transactional outbox: domain changes write messages in their own transaction; dispatchers push them.

Each destination (a connector instance with an ``OutboundWriter``) is dispatched on its own: a destination
that is down keeps its messages pending with growing delays while the others drain. Delivery is at least
once; every message carries an idempotency key the destination uses to drop duplicates.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote
from uuid import UUID

from sqlalchemy import Connection, Engine, Row

from core.errors import MemberHubError, PermanentError, RetryableError
from core.logs import get_logger
from core.store import sync as repo
from core.sync.contract import OutboundMessage, OutboundWriter
from core.sync.payloads import PayloadSealer

TABLE = "outbox"
log = get_logger(__name__)
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class OutboxPolicy:
    """Backoff between delivery attempts and when to give up."""

    base_delay_s: float = 30.0
    max_delay_s: float = 3600.0
    max_attempts: int = 25
    lease_s: float = 300.0

    def next_attempt(self, attempts: int, now: datetime, rng: random.Random) -> datetime | None:
        """Full-jitter exponential backoff after ``attempts`` failures; ``None`` once attempts are used up."""
        if attempts >= self.max_attempts:
            return None
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** max(attempts - 1, 0))
        return now + timedelta(seconds=max(1.0, rng.uniform(0, ceiling)))


@dataclass(frozen=True)
class DispatchReport:
    """What one dispatch pass did for one destination; ``unavailable`` says why nothing could be sent."""

    destination: str
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    unavailable: str | None = None


def enqueue(
    conn: Connection,
    sealer: PayloadSealer,
    *,
    destination: str,
    kind: str,
    idempotency_key: str,
    payload: Mapping[str, Any],
    now: datetime,
    member_id: UUID | None = None,
) -> bool:
    """Write an outbound message in the caller's (domain) transaction; a repeated key is ignored."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return repo.enqueue_outbox(
        conn,
        {
            "destination": destination,
            "kind": kind,
            "member_id": member_id,
            "idempotency_key": idempotency_key,
            "payload_ct": sealer.seal(text, owner=_owner(idempotency_key)),
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        },
    )


class OutboxDispatcher:
    """Pushes due messages to their destinations' writers."""

    def __init__(
        self,
        engine: Engine,
        sealer: PayloadSealer,
        writer_for: Callable[[str], OutboundWriter],
        *,
        policy: OutboxPolicy | None = None,
        clock: Clock = lambda: datetime.now(UTC),
        seed: int | None = None,
    ) -> None:
        self.engine = engine
        self.sealer = sealer
        self.writer_for = writer_for
        self.policy = policy or OutboxPolicy()
        self.clock = clock
        self._rng = random.Random(seed)  # noqa: S311 - jitter, not a secret

    def dispatch(self, destination: str, *, limit: int = 100) -> DispatchReport:
        """Deliver up to ``limit`` due messages of one destination."""
        now = self.clock()
        with self.engine.connect() as conn:
            due = repo.due_outbox(conn, destination, now, limit)
        if not due:
            return DispatchReport(destination)
        try:
            writer = self.writer_for(destination)
        except MemberHubError as error:  # not configured (yet), or cannot write: the messages wait, others go on
            log.warning("outbox destination unavailable", destination=destination, error_class=type(error).__name__)
            return DispatchReport(destination, unavailable=str(error))
        counts = {"delivered": 0, "retrying": 0, "failed": 0}
        for row in due:
            if self._lease(row, now):
                counts[self._deliver(writer, row)] += 1
        report = DispatchReport(destination, counts["delivered"], counts["retrying"], counts["failed"])
        log.info("outbox dispatched", destination=destination, count=report.delivered, status="done")
        return report

    def dispatch_due(self, *, limit: int = 100) -> list[DispatchReport]:
        """Dispatch every destination that has messages due."""
        with self.engine.connect() as conn:
            destinations = repo.outbox_destinations_due(conn, self.clock())
        return self.dispatch_all(destinations, limit=limit)

    def dispatch_all(self, destinations: Sequence[str], *, limit: int = 100) -> list[DispatchReport]:
        """Dispatch every destination in parallel; a slow or failing one never holds up the others."""
        if not destinations:
            return []
        with ThreadPoolExecutor(max_workers=min(8, len(destinations)), thread_name_prefix="outbox") as pool:
            return list(pool.map(lambda d: self.dispatch(d, limit=limit), destinations))

    def _lease(self, row: Row[Any], now: datetime) -> bool:
        with self.engine.begin() as conn:
            return repo.lease_outbox(conn, row.id, row.next_attempt_at, now + timedelta(seconds=self.policy.lease_s))

    def _deliver(self, writer: OutboundWriter, row: Row[Any]) -> str:
        payload = json.loads(self.sealer.open(row.payload_ct, owner=_owner(row.idempotency_key)))
        message = OutboundMessage(row.kind, row.idempotency_key, payload, str(row.member_id) if row.member_id else None)
        try:
            writer.deliver(message)
        except RetryableError as error:
            return self._failed(row, error, permanent=False)
        except PermanentError as error:
            return self._failed(row, error, permanent=True)
        except Exception as error:
            return self._failed(row, error, permanent=False)
        with self.engine.begin() as conn:
            repo.mark_outbox_delivered(conn, row.id, self.clock())
        return "delivered"

    def _failed(self, row: Row[Any], error: Exception, *, permanent: bool) -> str:
        now = self.clock()
        retry_at = None if permanent else self.policy.next_attempt(row.attempts + 1, now, self._rng)
        message = (
            f"{type(error).__name__}: {error}"
            if isinstance(error, RetryableError | PermanentError)
            else (f"{type(error).__name__}: unexpected error in the writer")
        )
        with self.engine.begin() as conn:
            repo.mark_outbox_failed(conn, row.id, error=message, next_attempt_at=retry_at)
        return "failed" if retry_at is None else "retrying"


def _owner(idempotency_key: str) -> str:
    return quote(idempotency_key, safe="")
