"""Webhook notifications as Square sends them, written from its documentation (not shared with the connector).

``x-square-hmacsha256-signature`` is ``base64(HMAC-SHA256(subscription signature key, notification URL + raw
body))``; the URL must be the subscription's, byte for byte. The body names the event (``event_id``, the same on
every retry) and its ``created_at``; no header carries a signed timestamp.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from typing import Any

SIGNATURE_HEADER = "x-square-hmacsha256-signature"


def signature(key: str, notification_url: str, body: bytes) -> str:
    """The ``x-square-hmacsha256-signature`` value of ``body`` sent to ``notification_url``."""
    return base64.b64encode(hmac.new(key.encode(), notification_url.encode() + body, hashlib.sha256).digest()).decode()


@dataclass(frozen=True)
class SignedDelivery:
    """One notification POST as it goes on the wire: headers and the exact body bytes that were signed."""

    headers: dict[str, str]
    body: bytes

    @property
    def timestamp_header(self) -> str | None:
        """``None``: Square signs no timestamp header (the event's ``created_at`` is inside the signed body)."""
        return None

    @property
    def event_id(self) -> str:
        """The event's id, the same on every retry."""
        return str(json.loads(self.body)["event_id"])


def event(merchant_id: str, event_type: str, created_at: str, data: dict[str, Any]) -> dict[str, Any]:
    """A notification body: ``{"merchant_id", "type", "event_id", "created_at", "data"}``."""
    return {
        "merchant_id": merchant_id,
        "type": event_type,
        "event_id": str(uuid.uuid4()),
        "created_at": created_at,
        "data": data,
    }


def customer_data(customer: dict[str, Any]) -> dict[str, Any]:
    """``data`` of ``customer.created|updated``: the whole customer, without ``segment_ids``."""
    carried = {name: value for name, value in customer.items() if name != "segment_ids"}
    return {"type": "customer", "id": customer["id"], "object": {"customer": carried}}


def order_data(event_type: str, summary: dict[str, Any]) -> dict[str, Any]:
    """``data`` of ``order.created|updated``: ids, state, version and times only (``order_created|updated``)."""
    name = event_type.replace(".", "_")
    return {"type": name, "id": summary["order_id"], "object": {name: summary}}


def signed_delivery(body: dict[str, Any], *, key: str, notification_url: str) -> SignedDelivery:
    """Serialise ``body`` once and sign those bytes for ``notification_url``."""
    raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature(key, notification_url, raw),
        "square-environment": "Sandbox",
        "User-Agent": "Square Connect v2",
    }
    return SignedDelivery(headers, raw)
