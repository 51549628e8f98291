"""Everything the sandbox knows: its rows, credentials, rate budget, queued faults, writes and request log.

One lock guards it, because the server thread and the test thread both use it. The test thread drives it
through the fault-injection methods (the ``FaultInjector`` protocol of ``core.sync.conformance``).
"""

from __future__ import annotations

import copy
import math
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from connectors.example.sandbox.data import generate_dataset
from connectors.example.sandbox.webhooks import SignedDelivery, signed_delivery
from connectors.sandbox_faults import FaultInjection

STREAMS = ("customers", "orders")
_EVENT_NAMES = {"customers": "customer.updated", "orders": "order.updated"}
PageKey = tuple[datetime, str]


@dataclass(frozen=True)
class RateLimit:
    """A fixed window: at most ``requests`` authenticated requests every ``window_s`` seconds."""

    requests: int = 300
    window_s: float = 60.0


@dataclass(frozen=True)
class LoggedRequest:
    """One request the sandbox answered."""

    method: str
    path: str
    status: int


@dataclass(frozen=True)
class StoredResponse:
    """What a write answered, replayed for a repeated ``Idempotency-Key``."""

    fingerprint: str
    status: int
    body: dict[str, Any]


@dataclass
class _Window:
    started: float
    used: int = 0


@dataclass
class SandboxState(FaultInjection):
    """The sandbox's world. Defaults give 57 customers and 83 orders: neither a multiple of a page size."""

    customers: int = 57
    orders: int = 83
    seed: int = 2026
    token: str = "sandbox-token"  # noqa: S105 - the emulator's published test credentials
    webhook_secret: str = "sandbox-webhook-secret"  # noqa: S105
    rate_limit: RateLimit | None = field(default_factory=RateLimit)
    latency_s: float = 0.0
    """Added to every request, like a real API's round trip (crash tests use it to stretch a sync)."""
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], float] = time.time
    requests: list[LoggedRequest] = field(default_factory=list)
    writes: list[str] = field(default_factory=list)
    """Idempotency keys of the writes actually applied (a replay adds nothing)."""

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self.stopping = threading.Event()
        data = generate_dataset(customers=self.customers, orders=self.orders, seed=self.seed)
        self._rows = {stream: {row["id"]: row for row in data[stream]} for stream in STREAMS}
        self._init_faults()
        self._window = _Window(self.clock())
        self._idempotency: dict[str, StoredResponse] = {}

    # ── data ───────────────────────────────────────────────────────────────────────────────────────

    def record_ids(self, stream: str) -> set[str]:
        """Ids of every row of ``stream``."""
        with self._lock:
            return set(self._rows[stream])

    def record(self, stream: str, record_id: str) -> dict[str, Any]:
        """A copy of one row as the API serves it."""
        with self._lock:
            return copy.deepcopy(self._rows[stream][record_id])

    def page(
        self,
        stream: str,
        *,
        updated_since: datetime | None,
        after: PageKey | None,
        limit: int,
        updated_before: datetime | None = None,
        descending: bool = False,
    ) -> tuple[list[dict[str, Any]], PageKey | None]:
        """Rows by ``(updated_at, id)`` in ``[updated_since, updated_before)`` and strictly past ``after``.

        ``descending`` serves the newest first (``after`` then means strictly before). Returns the page and
        the key to continue after, or ``None`` on the last page. The key is a position, not an offset, so a
        row that moves to the end because it was updated cannot shift others past it.
        """
        with self._lock:
            rows = sorted(self._rows[stream].values(), key=page_key, reverse=descending)
            chosen = [
                row for row in rows
                if (updated_since is None or _updated_at(row) >= updated_since)
                and (updated_before is None or _updated_at(row) < updated_before)
                and (after is None or (page_key(row) < after if descending else page_key(row) > after))
            ]  # fmt: skip
            served = copy.deepcopy(chosen[:limit])
            return served, (page_key(served[-1]) if len(chosen) > limit else None)

    def update_record(self, stream: str, record_id: str, **changes: Any) -> dict[str, Any]:
        """Change a row (or just touch it): it gets an ``updated_at`` later than every other row's."""
        with self._lock:
            row = self._rows[stream][record_id]
            latest = max(_updated_at(other) for other in self._rows[stream].values())
            row.update(changes, updated_at=(latest + timedelta(seconds=1)).isoformat(timespec="seconds"))
            return copy.deepcopy(row)

    # ── fault injection ────────────────────────────────────────────────────────────────────────────

    def reject_credentials(self) -> None:
        """Revoke the current token: every client still using it gets 401 from now on."""
        with self._lock:
            self.token = secrets.token_urlsafe(16)

    # ── requests, budget, writes ───────────────────────────────────────────────────────────────────

    def log(self, method: str, path: str, status: int) -> None:
        """Record an answered request."""
        with self._lock:
            self.requests.append(LoggedRequest(method, path, status))

    def request_count(self, path: str | None = None) -> int:
        """How many requests were answered (under ``path``, if given)."""
        with self._lock:
            return sum(1 for request in self.requests if path is None or request.path.startswith(path))

    def spend_budget(self) -> int | None:
        """Count a request against the rate limit; when over it, whole seconds until the window resets."""
        if self.rate_limit is None:
            return None
        with self._lock:
            now = self.clock()
            if now - self._window.started >= self.rate_limit.window_s:
                self._window = _Window(now)
            if self._window.used >= self.rate_limit.requests:
                return max(1, math.ceil(self._window.started + self.rate_limit.window_s - now))
            self._window.used += 1
            return None

    def write_once(
        self, key: str, fingerprint: str, apply: Callable[[], tuple[int, dict[str, Any]]]
    ) -> tuple[StoredResponse, bool]:
        """Run ``apply`` once per idempotency key; returns the stored response and whether it is a replay."""
        with self._lock:
            if key in self._idempotency:
                return self._idempotency[key], True
            status, body = apply()
            stored = StoredResponse(fingerprint, status, body)
            if status < 500:  # a failed attempt may be retried with the same key (as Stripe does)
                self._idempotency[key] = stored
            if status < 300:
                self.writes.append(key)
            return stored, False

    # ── webhooks ───────────────────────────────────────────────────────────────────────────────────

    def webhook_delivery(
        self, stream: str, record_id: str, *, secret: str | None = None, age_s: float = 0.0
    ) -> SignedDelivery:
        """A signed ``<kind>.updated`` event carrying the row, as if sent ``age_s`` seconds ago."""
        timestamp = int(self.wall_clock() - age_s)
        event = {
            "id": f"evt_{uuid.uuid4().hex}",
            "type": _EVENT_NAMES[stream],
            "created_at": timestamp,
            "data": self.record(stream, record_id),
        }
        return signed_delivery(event, secret=secret or self.webhook_secret, timestamp=timestamp)


def page_key(row: dict[str, Any]) -> PageKey:
    """The sort and pagination key of a row."""
    return _updated_at(row), row["id"]


def _updated_at(row: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(row["updated_at"])
