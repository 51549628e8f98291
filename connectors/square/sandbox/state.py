"""Everything the Square sandbox knows: records, credentials, faults, rate budget, idempotency keys, webhooks.

One lock guards it: the server thread answers requests under it while the test thread edits records and queues
faults through the methods here.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from connectors.sandbox_faults import FaultInjection
from connectors.square.sandbox.data import SquareData, iso
from connectors.square.sandbox.records import SquareRecords
from connectors.square.sandbox.webhooks import SignedDelivery, customer_data, event, order_data, signed_delivery

STREAMS = ("customers", "orders")


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
    """What a keyed write answered, replayed for the same ``idempotency_key`` and body."""

    fingerprint: str
    status: int
    body: dict[str, Any]


@dataclass
class SandboxState(FaultInjection):
    """The sandbox's seller. Defaults: 40 customers, 90 orders at 12 stores (more than one search's 10)."""

    customers: int = 40
    orders: int = 90
    people: int = 57
    """Town people ``1..people`` are shared with the other sandboxes (the Shopify one's 57 customers)."""
    locations: int = 12
    seed: int = 2026
    access_token: str = "EAAAl-sandbox-access-token"  # noqa: S105 - the emulator's published test credentials
    signature_key: str = "sandbox-signature-key"
    notification_url: str = "https://hub.example.jp/webhooks/square"
    merchant_id: str = "MLSANDBOX8Q2J5"
    search_lag_s: float = 1.0
    """How long a customer edit stays out of searches (searches see the previous version meanwhile)."""
    rate_limit: RateLimit | None = None
    clock: Callable[[], float] = time.time
    """Wall clock, Unix seconds: stamps edits and times the search lag."""
    monotonic: Callable[[], float] = time.monotonic
    requests: list[LoggedRequest] = field(default_factory=list)
    writes: list[str] = field(default_factory=list)
    """Idempotency keys of the keyed writes actually applied (a replay adds nothing)."""

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        self.stopping = threading.Event()
        data = SquareData(
            customers=self.customers, orders=self.orders, people=self.people, locations=self.locations, seed=self.seed
        )
        self.records = SquareRecords(data, clock_ms=self.now_ms, search_lag_ms=int(self.search_lag_s * 1000))
        self._init_faults()
        self._window: tuple[float, int] = (self.monotonic(), 0)
        self._idempotency: dict[str, StoredResponse] = {}
        self._subscriber: str | None = None

    def now_ms(self) -> int:
        """The sandbox clock in epoch milliseconds."""
        return int(self.clock() * 1000)

    # ── records ────────────────────────────────────────────────────────────────────────────────────

    def record_ids(self, stream: str) -> list[str]:
        """Ids a full read of ``stream`` returns: every customer, every COMPLETED order."""
        with self.lock:
            indexes = range(1, self.records.count(stream) + 1)
            return [
                self.records.record_id(stream, index)
                for index in indexes
                if stream == "customers" or not self.records.is_open(index)
            ]

    def record(self, stream: str, record_id: str) -> dict[str, Any]:
        """One record as the API renders it now."""
        with self.lock:
            index = self.index(stream, record_id)
            return self.records.customer(index) if stream == "customers" else self.records.order(index)

    def index(self, stream: str, record_id: str) -> int:
        """The index behind an id; ``KeyError`` if there is none."""
        index = self.records.index_of(stream, record_id)
        if index is None:
            raise KeyError(record_id)
        return index

    def update_record(self, stream: str, record_id: str) -> dict[str, Any]:
        """Touch a record: ``updated_at`` becomes now and later than every other (the conformance kit's edit)."""
        with self.lock:
            self.records.touch(stream, self.index(stream, record_id))
        self.notify(stream, record_id, "customer.updated" if stream == "customers" else "order.updated")
        return self.record(stream, record_id)

    def update_customer(self, customer_id: str, **changes: Any) -> dict[str, Any]:
        """Edit a customer as a clerk would (``given_name``, ``phone_number`` …); returns it."""
        with self.lock:
            self.records.update_customer(self.index("customers", customer_id), changes)
        self.notify("customers", customer_id, "customer.updated")
        return self.record("customers", customer_id)

    def add_refund(self, order_id: str, amount: int | None = None) -> dict[str, Any]:
        """Refund part (or the rest) of an order now; returns the order."""
        with self.lock:
            self.records.add_refund(self.index("orders", order_id), amount)
        self.notify("orders", order_id, "order.updated")
        return self.record("orders", order_id)

    def ring_up(
        self, customer_id: str | None, lines: list[tuple[str, str, int, int]], *, location: int = 1,
        coupon_code: str | None = None, discount_yen: int = 0,
    ) -> dict[str, Any]:  # fmt: skip
        """A sale at a till now, for ``customer_id`` (``None``: walk-in), paid at once; returns the order.

        ``lines`` are ``(sku, name, quantity, gross yen)``; a ``coupon_code`` is entered as an order discount of
        ``discount_yen`` carrying the code in its metadata, as the hub's coupons are at the till.
        """
        with self.lock:
            customer = None if customer_id is None else self.index("customers", customer_id)
            discount = (coupon_code, "クーポン", discount_yen) if coupon_code or discount_yen else None
            index = self.records.ring_up(customer, location, lines, discount)
            order_id = self.records.record_id("orders", index)
        self.notify("orders", order_id, "order.created")
        return self.record("orders", order_id)

    def location_ids(self) -> list[str]:
        """Every location's id."""
        data = self.records.data
        return [data.location_id(number) for number in range(1, data.locations + 1)]

    # ── faults ─────────────────────────────────────────────────────────────────────────────────────

    def reject_credentials(self) -> None:
        """Revoke the access token: from now on it gets 401 ``UNAUTHORIZED``."""
        with self.lock:
            self.access_token = "EAAAl-revoked"  # noqa: S105

    # ── requests, budget, keyed writes ─────────────────────────────────────────────────────────────

    def log(self, method: str, path: str, status: int) -> None:
        """Record an answered request."""
        with self.lock:
            self.requests.append(LoggedRequest(method, path, status))

    def request_count(self, method: str | None = None, path: str | None = None) -> int:
        """How many requests were answered (of ``method``, under ``path``)."""
        with self.lock:
            return sum(
                1 for request in self.requests
                if (method is None or request.method == method) and (path is None or request.path.startswith(path))
            )  # fmt: skip

    def spend_budget(self) -> bool:
        """Count a request against the rate limit; ``False`` when over it (Square then answers 429)."""
        if self.rate_limit is None:
            return True
        with self.lock:
            started, used = self._window
            now = self.monotonic()
            if now - started >= self.rate_limit.window_s:
                started, used = now, 0
            self._window = (started, used + 1)
            return used < self.rate_limit.requests

    def write_once(
        self, key: str, fingerprint: str, apply: Callable[[], tuple[int, dict[str, Any]]]
    ) -> tuple[StoredResponse, bool]:
        """Run ``apply`` once per idempotency key; returns the stored response and whether it is a replay."""
        with self.lock:
            if key in self._idempotency:
                return self._idempotency[key], True
            status, body = apply()
            stored = StoredResponse(fingerprint, status, body)
            if status < 500:
                self._idempotency[key] = stored
            if status < 300:
                self.writes.append(key)
            return stored, False

    # ── webhooks ───────────────────────────────────────────────────────────────────────────────────

    def webhook_delivery(
        self, stream: str, record_id: str, *, secret: str | None = None, age_s: float = 0.0, event_type: str = ""
    ) -> SignedDelivery:
        """A signed ``customer.updated`` (the customer) or ``order.updated`` (ids only) created ``age_s`` ago."""
        with self.lock:
            index = self.index(stream, record_id)
            if stream == "customers":
                kind, data = event_type or "customer.updated", customer_data(self.records.customer(index))
            else:
                kind = event_type or "order.updated"
                data = order_data(kind, self.records.order_summary(index))
            body = event(self.merchant_id, kind, iso(int((self.clock() - age_s) * 1000)), data)
            return signed_delivery(body, key=secret or self.signature_key, notification_url=self.notification_url)

    def deliver_webhooks_to(self, url: str, signature_key: str | None = None) -> None:
        """Subscribe ``url``: every later edit is POSTed there, signed for it, as the seller's subscription does."""
        with self.lock:
            self._subscriber = url
            self.notification_url = url
            if signature_key is not None:
                self.signature_key = signature_key

    def post(self, delivery: SignedDelivery, url: str | None = None, *, timeout_s: float = 5.0) -> httpx.Response:
        """POST one delivery (to the subscriber, by default)."""
        target = url or self._subscriber or self.notification_url
        return httpx.post(target, content=delivery.body, headers=delivery.headers, timeout=timeout_s)

    def notify(self, stream: str, record_id: str, event_type: str) -> None:
        """POST a notification of an edit to the subscriber, if there is one, from a background thread."""
        if self._subscriber is None:
            return
        delivery = self.webhook_delivery(stream, record_id, event_type=event_type)
        threading.Thread(target=self._post_quietly, args=(delivery,), daemon=True).start()

    def _post_quietly(self, delivery: SignedDelivery) -> None:
        with contextlib.suppress(httpx.HTTPError):  # Square would retry later; the sandbox drops it
            self.post(delivery)
