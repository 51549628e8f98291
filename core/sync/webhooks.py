"""Webhook intake: verify over the raw body, deduplicate by delivery id, then the same pipeline as polling.

A delivery is authenticated before anything parses it, stored with its delivery id in the transaction that
writes its records (so a redelivery is recognised even after a crash), and its records go through the same
idempotent upserts as a polled page — polling later fills the gaps of missed deliveries without double effects.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine

from core.errors import WebhookRejected
from core.events import Publish, no_observers
from core.records import CanonicalRecord
from core.store.records import record_delivery
from core.sync.contract import Rejected, WebhookReceiver
from core.sync.dead_letters import Quarantined, quarantine
from core.sync.payloads import PayloadSealer
from core.sync.registry import ConnectorRegistry
from core.sync.sink import RecordSink

MAX_BODY_BYTES = 1024 * 1024
WEBHOOK_STREAM = "webhook"


@dataclass(frozen=True)
class WebhookOutcome:
    """What happened to one delivery."""

    delivery_id: str
    duplicate: bool
    written: int = 0
    quarantined: int = 0


class WebhookIntake:
    """Receives deliveries for connector instances that implement ``WebhookReceiver``."""

    def __init__(
        self,
        engine: Engine,
        registry: ConnectorRegistry,
        sink: RecordSink,
        dead_letters: PayloadSealer,
        *,
        max_body_bytes: int = MAX_BODY_BYTES,
        publish: Publish = no_observers,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.registry = registry
        self.sink = sink
        self.dead_letters = dead_letters
        self.max_body_bytes = max_body_bytes
        self.publish = publish
        self.clock = clock
        self._receivers: dict[str, WebhookReceiver] = {}
        self._lock = threading.Lock()

    def receive(self, instance: str, headers: Mapping[str, str], body: bytes) -> WebhookOutcome:
        """Verify, deduplicate and store one delivery; ``WebhookRejected`` (with an HTTP status) otherwise."""
        if len(body) > self.max_body_bytes:
            raise WebhookRejected(f"body larger than {self.max_body_bytes} bytes", status=413)
        receiver = self._receiver(instance)
        delivery_id = receiver.verify_webhook(headers, body)
        items = receiver.parse_webhook(headers, body)
        records = [item for item in items if isinstance(item, CanonicalRecord) and item.source == instance]
        refused = [Quarantined.from_source(item) for item in items if isinstance(item, Rejected)]
        refused += [
            Quarantined.from_record(item, "record names another source", "ForeignSource")
            for item in items
            if isinstance(item, CanonicalRecord) and item.source != instance
        ]
        now = self.clock()
        with self.engine.begin() as conn:
            if not record_delivery(conn, instance, delivery_id, now):
                return WebhookOutcome(delivery_id, duplicate=True)
            result = self.sink.apply(conn, records)
            refused += list(result.refused)
            quarantine(conn, self.dead_letters, instance, WEBHOOK_STREAM, refused, now)
        self.publish(result.events)
        return WebhookOutcome(delivery_id, False, result.written, len(refused))

    def _receiver(self, instance: str) -> WebhookReceiver:
        with self._lock:
            if instance not in self._receivers:
                if instance not in self.registry.instances or not self.registry.instances[instance].enabled:
                    raise WebhookRejected("no webhook receiver at this address", status=404)
                connector = self.registry.build(instance)
                if not isinstance(connector, WebhookReceiver):
                    connector.close()
                    raise WebhookRejected(f"connector {instance!r} does not receive webhooks", status=404)
                self._receivers[instance] = connector
            return self._receivers[instance]
