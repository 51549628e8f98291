"""How Zendesk signs and sends a webhook delivery, written from its documentation (not shared with the client).

``X-Zendesk-Webhook-Signature`` is ``base64(HMAC-SHA256(signing secret, timestamp + raw body))``;
``X-Zendesk-Webhook-Signature-Timestamp`` is the ISO 8601 moment of signing (UTC, ``Z``). Event bodies carry
``type`` (``zen:event-type:ticket.status_changed``), the event ``id`` (the same on every retry), ``subject``
(``zen:ticket:1001``) and a ``detail`` holding the object's ids and dates.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import queue
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

SIGNATURE_HEADER = "X-Zendesk-Webhook-Signature"
TIMESTAMP_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"
WEBHOOK_ID_HEADER = "X-Zendesk-Webhook-Id"
INVOCATION_HEADER = "X-Zendesk-Webhook-Invocation-Id"
ACCOUNT_ID = 9_100_001
WEBHOOK_ID = "01JSANDBOXWEBHOOK0000000001"
_DETAIL_FIELDS = {
    "user": ("id", "email", "external_id", "role", "created_at", "updated_at"),
    "ticket": ("id", "external_id", "requester_id", "assignee_id", "status", "subject", "via", "tags",
               "created_at", "updated_at"),
}  # fmt: skip


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Zendesk-Webhook-Signature`` of ``body`` signed at ``timestamp``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


@dataclass(frozen=True)
class SignedDelivery:
    """One webhook POST as it goes on the wire: headers and the exact body bytes that were signed."""

    headers: dict[str, str]
    body: bytes
    timestamp_header: str = field(default=TIMESTAMP_HEADER)


def event(kind: str, event_type: str, row: dict[str, Any], at: float) -> dict[str, Any]:
    """An event body for a user or ticket ``row`` (``kind``: ``user`` or ``ticket``)."""
    detail = {name: row.get(name) for name in _DETAIL_FIELDS[kind]}
    if kind == "ticket":
        detail["status"] = str(row.get("status", "")).upper()  # ticket events spell statuses in capitals
    return {
        "type": f"zen:event-type:{kind}.{event_type}", "account_id": ACCOUNT_ID, "id": str(uuid.uuid4()),
        "time": _stamp(at), "zendesk_event_version": "2022-11-06", "subject": f"zen:{kind}:{row.get('id')}",
        "detail": detail, "event": {},
    }  # fmt: skip


def signed_delivery(body_object: dict[str, Any], *, secret: str, at: float) -> SignedDelivery:
    """Serialise the event once and sign those bytes, as sent at ``at`` (Unix seconds)."""
    body = json.dumps(body_object, ensure_ascii=False, separators=(",", ":")).encode()
    timestamp = _stamp(at)
    headers = {
        "Content-Type": "application/json",
        WEBHOOK_ID_HEADER: WEBHOOK_ID,
        INVOCATION_HEADER: str(uuid.uuid4().int % 10**12),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
        TIMESTAMP_HEADER: timestamp,
    }
    return SignedDelivery(headers, body)


class WebhookSender:
    """Posts deliveries to a subscriber from a background thread, in order; ``sent`` keeps each answer's status."""

    def __init__(self, url: str, *, timeout_s: float = 5.0) -> None:
        self.url = url
        self.sent: list[int] = []
        self._queue: queue.Queue[SignedDelivery | None] = queue.Queue()
        self._timeout_s = timeout_s
        self._thread = threading.Thread(target=self._run, name="zendesk-sandbox-webhooks", daemon=True)
        self._thread.start()

    def send(self, delivery: SignedDelivery) -> None:
        """Queue one delivery."""
        self._queue.put(delivery)

    def flush(self) -> None:
        """Wait until every queued delivery was answered (or failed)."""
        self._queue.join()

    def stop(self) -> None:
        """Finish what is queued and stop."""
        self._queue.put(None)
        self._thread.join(timeout=self._timeout_s * 2)

    def _run(self) -> None:
        while (delivery := self._queue.get()) is not None:
            try:
                response = httpx.post(
                    self.url, content=delivery.body, headers=delivery.headers, timeout=self._timeout_s
                )
                self.sent.append(response.status_code)
            except httpx.HTTPError:
                self.sent.append(0)
            finally:
                self._queue.task_done()
        self._queue.task_done()


def _stamp(at: float) -> str:
    return datetime.fromtimestamp(int(at), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
