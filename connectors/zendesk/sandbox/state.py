"""Everything the sandbox knows besides its rows: credentials, budgets, queued faults, idempotency, webhooks.

One lock guards it, because the server thread and the test thread both use it. The test thread drives it
through the fault-injection methods (the ``FaultInjector`` protocol of ``core.sync.conformance``).
"""

from __future__ import annotations

import collections
import copy
import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from connectors.sandbox_faults import FaultInjection
from connectors.zendesk.sandbox.account import Account, Position, stamp
from connectors.zendesk.sandbox.webhooks import SignedDelivery, WebhookSender, event, signed_delivery
from connectors.zendesk.sandbox.writes import Result

STREAMS = ("users", "tickets")
Lookup = Literal["hit", "miss", "mismatch"]


@dataclass(frozen=True)
class RateLimit:
    """A sliding window: at most ``requests`` requests in any ``window_s`` seconds."""

    requests: int
    window_s: float = 60.0


@dataclass(frozen=True)
class LoggedRequest:
    """One request the sandbox answered."""

    method: str
    path: str
    status: int


@dataclass(frozen=True)
class StoredResponse:
    """What a keyed write answered, replayed for the same ``Idempotency-Key`` and body until it expires."""

    fingerprint: str
    result: Result
    expires: float


@dataclass
class SandboxState(FaultInjection):
    """The sandbox's world. Defaults: 24 end-users (of the town's first 80 persons) and 36 tickets.

    ``export_delay_s`` holds back rows changed that recently (Zendesk: a minute); ``export_rate`` is the
    incremental endpoints' own budget (Zendesk: 10 a minute), ``rate_limit`` the account's for the rest.
    """

    users: int = 24
    tickets: int = 36
    people: int = 80
    seed: int = 2026
    agent_email: str = "memberhub.api@callcenter.example.jp"
    api_token: str = "sandbox-api-token"  # noqa: S105 - the emulator's published test credentials
    oauth_token: str = "sandbox-oauth-token"  # noqa: S105
    webhook_secret: str = "sandbox-webhook-signing-secret"  # noqa: S105
    export_delay_s: float = 60.0
    export_rate: RateLimit | None = field(default_factory=lambda: RateLimit(10, 60.0))
    rate_limit: RateLimit | None = field(default_factory=lambda: RateLimit(700, 60.0))
    idempotency_ttl_s: float = 7200.0
    latency_s: float = 0.0
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], float] = time.time
    requests: list[LoggedRequest] = field(default_factory=list)
    writes: list[str] = field(default_factory=list)
    """Idempotency keys of the keyed writes actually applied (a replay adds nothing)."""

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        self.stopping = threading.Event()
        self.account = Account.generated(users=self.users, tickets=self.tickets, people=self.people, seed=self.seed)
        self._init_faults()
        self._spent: dict[str, collections.deque[float]] = {"export": collections.deque(), "api": collections.deque()}
        self._idempotency: dict[str, StoredResponse] = {}
        self._sender: WebhookSender | None = None

    # ── data ───────────────────────────────────────────────────────────────────────────────────────

    def record_ids(self, stream: str) -> set[str]:
        """Ids of the rows a stream yields: end-users, tickets not deleted."""
        with self.lock:
            rows = self.account.rows(stream).values()
            return {str(row["id"]) for row in rows if row.get("role", "end-user") == "end-user"
                    and row.get("status") != "deleted"}  # fmt: skip

    def record(self, stream: str, record_id: str | int) -> dict[str, Any]:
        """A copy of one user or ticket."""
        with self.lock:
            return copy.deepcopy(self.account.rows(stream)[int(record_id)])

    def thread(self, ticket_id: int) -> list[dict[str, Any]]:
        """A copy of a ticket's comments, oldest first."""
        with self.lock:
            return copy.deepcopy(self.account.comments.get(ticket_id, []))

    def export(
        self, resource: str, *, after: Position, limit: int, exclude_deleted: bool
    ) -> tuple[list[dict[str, Any]], Position, bool]:
        """An export page (``Account.export``) as of now, holding back rows changed within ``export_delay_s``."""
        with self.lock:
            visible_until = self.wall_clock() - self.export_delay_s
            return self.account.export(
                resource, after=after, limit=limit, visible_until=visible_until, exclude_deleted=exclude_deleted
            )

    def update_record(self, stream: str, record_id: str, **changes: Any) -> dict[str, Any]:
        """Change a row (or just touch it): its ``updated_at`` becomes later than every other row's."""
        with self.lock:
            row = self.account.rows(stream)[int(record_id)]
            row.update(changes, updated_at=stamp(self.account.latest(stream) + 1))
            self._notify(stream.rstrip("s"), "name_changed" if stream == "users" else "status_changed", row)
            return copy.deepcopy(row)

    def apply(self, write: Callable[[Account, float], Result]) -> Result:
        """Run a write on the account now and send the webhooks it raises."""
        with self.lock:
            result = write(self.account, self.wall_clock())
            for kind, event_type, row in result.events:
                self._notify(kind, event_type, row)
            return result

    # ── fault injection ────────────────────────────────────────────────────────────────────────────

    def reject_credentials(self) -> None:
        """Revoke the API token and the OAuth token: clients still using them get 401 from now on."""
        with self.lock:
            self.api_token, self.oauth_token = secrets.token_urlsafe(16), secrets.token_urlsafe(16)

    # ── requests, budgets, idempotency ─────────────────────────────────────────────────────────────

    def log(self, method: str, path: str, status: int) -> None:
        """Record an answered request."""
        with self.lock:
            self.requests.append(LoggedRequest(method, path, status))

    def request_count(self, path: str | None = None, *, status: int | None = None) -> int:
        """How many requests were answered (under ``path``, with ``status``, if given)."""
        with self.lock:
            matching = [r for r in self.requests if path is None or r.path.startswith(path)]
            return sum(1 for r in matching if status is None or r.status == status)

    def spend(self, budget: Literal["export", "api"]) -> int | None:
        """Count a request against a budget; when over it, whole seconds until a request is allowed again."""
        limit = self.export_rate if budget == "export" else self.rate_limit
        if limit is None:
            return None
        with self.lock:
            now, spent = self.clock(), self._spent[budget]
            while spent and spent[0] <= now - limit.window_s:
                spent.popleft()
            if len(spent) >= limit.requests:
                return max(1, math.ceil(spent[0] + limit.window_s - now))
            spent.append(now)
            return None

    def idempotent(self, key: str, fingerprint: str, write: Callable[[], Result]) -> tuple[Result, Lookup]:
        """Run ``write`` once per key and body; the same key with another body is a mismatch."""
        with self.lock:
            now = self.clock()
            stored = self._idempotency.get(key)
            if stored is not None and stored.expires > now:
                return stored.result, "hit" if stored.fingerprint == fingerprint else "mismatch"
            result = write()
            if result.status < 500:  # a failed attempt may be retried with the same key
                self._idempotency[key] = StoredResponse(fingerprint, result, now + self.idempotency_ttl_s)
            if result.status < 300:
                self.writes.append(key)
            return result, "miss"

    # ── webhooks ───────────────────────────────────────────────────────────────────────────────────

    def subscribe(self, url: str) -> WebhookSender:
        """Send a signed event to ``url`` for every change from now on (one webhook subscribed to all)."""
        with self.lock:
            if self._sender is not None:
                self._sender.stop()
            self._sender = WebhookSender(url)
            return self._sender

    def webhook_delivery(
        self, stream: str, record_id: str, *, secret: str | None = None, age_s: float = 0.0
    ) -> SignedDelivery:
        """A signed event for one user or ticket, as if sent ``age_s`` seconds ago."""
        kind = "user" if stream == "users" else "ticket"
        row = self.record(stream, record_id)
        at = self.wall_clock() - age_s
        body = event(kind, "created" if kind == "user" else "status_changed", row, at)
        return signed_delivery(body, secret=secret or self.webhook_secret, at=at)

    def close(self) -> None:
        """Stop sending webhooks and release hanging requests."""
        self.stopping.set()
        with self.lock:
            if self._sender is not None:
                self._sender.stop()

    def _notify(self, kind: str, event_type: str, row: dict[str, Any]) -> None:
        if self._sender is not None:
            at = self.wall_clock()
            self._sender.send(signed_delivery(event(kind, event_type, copy.deepcopy(row), at),
                                              secret=self.webhook_secret, at=at))  # fmt: skip
