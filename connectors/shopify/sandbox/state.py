"""Everything the Shopify sandbox knows: records, credentials, cost bucket, bulk operations, faults, request log.

One lock guards it: the server thread executes queries under it while the test thread mutates records and
queues faults through the methods here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from connectors.shopify.sandbox.bulk import BulkOperations
from connectors.shopify.sandbox.cost import CostBucket
from connectors.shopify.sandbox.data import JST, Refund
from connectors.shopify.sandbox.faults import Fault, FaultKind
from connectors.shopify.sandbox.records import ShopRecords
from connectors.shopify.sandbox.schema import SCHEMA
from connectors.shopify.sandbox.webhooks import (
    SignedDelivery,
    customer_payload,
    data_request_payload,
    numeric_id,
    order_payload,
    redact_payload,
    refund_payload,
    shop_redact_payload,
    signed_delivery,
)

SUPPORTED_VERSIONS = ("2025-04", "2025-07", "2025-10", "2026-01")
"""Stable versions the sandbox serves; an older dated version falls forward to the first (shopify.dev versioning)."""
RELEASE_CANDIDATE = "2026-04"


@dataclass(frozen=True)
class LoggedRequest:
    """One request the sandbox answered."""

    path: str
    status: int
    requested_cost: int | None = None
    seconds: float = 0.0
    """How long the sandbox took to answer."""


@dataclass
class SandboxState:
    """The sandbox's shop. Defaults: 57 customers and 83 orders, neither a multiple of a page size."""

    customers: int = 57
    orders: int = 83
    seed: int = 2026
    access_token: str = "shpat_sandbox_token"  # noqa: S105 - the emulator's published test credentials
    webhook_secret: str = "sandbox-client-secret"  # noqa: S105
    shop_domain: str = "memberhub-sandbox.myshopify.com"
    shop_id: int = 61_000_000_001
    maximum_available: float = 2000.0
    restore_rate: float = 100.0
    max_query_cost: int = 1000
    throttled_status: int = 200
    """HTTP status of a THROTTLED answer: Shopify's docs do not say; clients must accept 200 and 429."""
    bulk_polls_to_finish: int = 2
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], float] = time.time
    base_url: str = ""
    requests: list[LoggedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        self.stopping = threading.Event()
        self.records = ShopRecords(customers=self.customers, orders=self.orders, seed=self.seed, clock=self.wall_clock)
        self.bucket = CostBucket(self.maximum_available, self.restore_rate, self.clock)
        self.bulk = BulkOperations(
            self.records,
            lambda: SCHEMA,
            polls_to_finish=self.bulk_polls_to_finish,
            clock=self.wall_clock,
            lock=self.lock,
        )
        self._faults: list[Fault] = []

    # ── records ────────────────────────────────────────────────────────────────────────────────────

    def record_ids(self, kind: str) -> list[str]:
        """Every ``id`` of ``kind`` (``customers`` or ``orders``), in id order."""
        with self.lock:
            return [self.records.global_id(kind, index) for index in range(1, self.records.count(kind) + 1)]

    def record(self, kind: str, global_id: str) -> dict[str, Any]:
        """One record as the API renders it."""
        with self.lock:
            return self.records.render(kind, self._index(kind, global_id))

    def touch(self, kind: str, global_id: str) -> dict[str, Any]:
        """Bump a record's ``updatedAt`` past every other's; returns the record."""
        with self.lock:
            self.records.touch(kind, self._index(kind, global_id))
            return self.record(kind, global_id)

    def update_record(self, kind: str, global_id: str) -> dict[str, Any]:
        """``touch``, under the conformance kit's name."""
        return self.touch(kind, global_id)

    def update_customer(self, global_id: str, **changes: Any) -> dict[str, Any]:
        """Edit a customer (``first_name``, ``email``, ``tags`` …); bumps ``updatedAt``."""
        with self.lock:
            self.records.update_customer(self._index("customers", global_id), **changes)
            return self.record("customers", global_id)

    def add_refund(self, order_id: str, amount: int | None = None) -> Refund:
        """Refund part (or the rest) of an order now."""
        with self.lock:
            return self.records.add_refund(self._index("orders", order_id), amount)

    def cancel_order(self, order_id: str, reason: str = "CUSTOMER") -> dict[str, Any]:
        """Cancel an order and refund what is left; returns the order."""
        with self.lock:
            self.records.cancel_order(self._index("orders", order_id), reason)
            return self.record("orders", order_id)

    def shared_customers(self) -> list[tuple[str, str]]:
        """``(online id, in-store id)`` of each person registered twice, emails differing only in case."""
        with self.lock:
            data = self.records.data
            return [
                (self.records.global_id("customers", original), self.records.global_id("customers", index))
                for index in range(1, data.customers + 1)
                if (original := data.twin_of(index)) is not None
            ]

    def discount(self, code: str) -> dict[str, Any] | None:
        """The ``DiscountCodeNode`` created with ``code`` (in any case), as ``codeDiscountNodeByCode`` has it."""
        with self.lock:
            return self.records.discounts.find(code)

    def discount_count(self) -> int:
        """How many code discounts were created."""
        with self.lock:
            return len(self.records.discounts)

    def _index(self, kind: str, global_id: str) -> int:
        index = self.records.index_of(kind, global_id)
        if index is None:
            raise KeyError(global_id)
        return index

    # ── faults ─────────────────────────────────────────────────────────────────────────────────────

    def fail_next(self, n: int, status: int = 503) -> None:
        """Answer the next ``n`` GraphQL requests with ``status`` and an error body."""
        self._queue(Fault("fail", n, status=status))

    def hang_next(self, n: int = 1, seconds: float = 30.0) -> None:
        """The next ``n`` requests wait ``seconds`` (or until the server stops), then get 504."""
        self._queue(Fault("hang", n, status=504, seconds=seconds))

    def throttle_next(self, n: int, retry_after: int | None = None) -> None:
        """The next ``n`` queries are THROTTLED whatever the bucket holds.

        ``retry_after`` is accepted for the conformance kit and ignored: a THROTTLED answer carries no
        ``Retry-After``; the client derives its wait from ``throttleStatus``.
        """
        self._queue(Fault("throttle", n))

    def serve_garbage(self, n: int) -> None:
        """The next ``n`` answers carry broken records (null id, unreadable time, amount in words)."""
        self._queue(Fault("garbage", n))

    def fail_next_bulk_operation(self, error_code: str = "INTERNAL_SERVER_ERROR", times: int = 1) -> None:
        """The next ``times`` bulk operations end FAILED with ``error_code``."""
        with self.lock:
            self.bulk.fail_next(error_code, times)

    def fail_next_export(self) -> None:
        """``fail_next_bulk_operation``, under the conformance kit's name."""
        self.fail_next_bulk_operation()

    def expire_bulk_results(self) -> None:
        """Every result URL handed out so far answers 404 from now on, as after Shopify's 7 days."""
        with self.lock:
            self.bulk.expire_results()

    def drain_bucket(self) -> None:
        """Empty the cost bucket."""
        self.bucket.drain()

    def reject_credentials(self) -> None:
        """Revoke the access token: from now on it gets 401."""
        with self.lock:
            self.access_token = "shpat_revoked"  # noqa: S105

    def take_fault(self, kinds: frozenset[FaultKind]) -> Fault | None:
        """Consume one request's worth of the oldest queued fault of ``kinds``."""
        with self.lock:
            for fault in self._faults:
                if fault.kind in kinds and fault.remaining > 0:
                    fault.remaining -= 1
                    return fault
            return None

    def _queue(self, fault: Fault) -> None:
        with self.lock:
            self._faults = [*(queued for queued in self._faults if queued.remaining > 0), fault]

    # ── request log ────────────────────────────────────────────────────────────────────────────────

    def log(self, path: str, status: int, requested_cost: int | None = None, seconds: float = 0.0) -> None:
        """Record an answered request."""
        with self.lock:
            self.requests.append(LoggedRequest(path, status, requested_cost, seconds))

    def busy_seconds(self) -> float:
        """Seconds the sandbox spent answering requests and running bulk exports (for benchmarks)."""
        with self.lock:
            return sum(request.seconds for request in self.requests) + self.bulk.export_seconds()

    # ── webhooks ───────────────────────────────────────────────────────────────────────────────────

    def webhook(
        self, topic: str, global_id: str = "", *, secret: str | None = None, age_s: float = 0.0
    ) -> SignedDelivery:
        """A signed delivery of ``topic`` about a customer or order (``refunds/create``: its latest refund).

        ``age_s`` dates ``X-Shopify-Triggered-At`` that long ago (negative: in the future), as a retried
        delivery carries its original trigger time; ``shop/redact`` needs no record id.
        """
        with self.lock:
            payload = self._webhook_payload(topic, global_id)
        triggered = datetime.fromtimestamp(self.wall_clock() - age_s, JST)
        return signed_delivery(
            topic, payload, secret=secret or self.webhook_secret, shop_domain=self.shop_domain,
            api_version=SUPPORTED_VERSIONS[-1], triggered_at=triggered,
        )  # fmt: skip

    def deliver(
        self, url: str, delivery: SignedDelivery, *, times: int = 1, timeout_s: float = 5.0
    ) -> list[httpx.Response]:
        """POST ``delivery`` to a hub ``times`` times with the same webhook id, as Shopify's retries may."""
        return [
            httpx.post(url, content=delivery.body, headers=delivery.headers, timeout=timeout_s) for _ in range(times)
        ]

    def _webhook_payload(self, topic: str, global_id: str) -> dict[str, Any]:
        if topic == "shop/redact":
            return shop_redact_payload(self.shop_id, self.shop_domain)
        if topic.startswith("customers/"):
            person = self.record("customers", global_id)
            if topic == "customers/redact":
                return redact_payload(self.shop_id, self.shop_domain, person, self._orders_of(global_id))
            if topic == "customers/data_request":
                return data_request_payload(self.shop_id, self.shop_domain, person, self._orders_of(global_id))
            return customer_payload(person)
        order = self.record("orders", global_id)
        index = order["_customer"]
        customer = None if index is None else self.records.customer(index)
        if topic == "refunds/create":
            if not order["refunds"]:
                raise ValueError(f"{global_id} has no refund")
            return refund_payload(order, order["refunds"][-1])
        return order_payload(order, customer)

    def _orders_of(self, customer_id: str) -> list[int]:
        index = self._index("customers", customer_id)
        data = self.records.data
        return [
            numeric_id(self.records.global_id("orders", order))
            for order in range(1, data.orders + 1)
            if data.order_customer(order) == index
        ]
