"""How the Example API signs a webhook delivery, written from its documentation (not shared with the client).

``X-Example-Signature`` is ``base64(HMAC-SHA256(secret, f"{timestamp}." + raw_body))``;
``X-Example-Timestamp`` is Unix seconds; ``X-Example-Delivery-Id`` is the event id, the same on every retry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

SIGNATURE_HEADER = "X-Example-Signature"
TIMESTAMP_HEADER = "X-Example-Timestamp"
DELIVERY_ID_HEADER = "X-Example-Delivery-Id"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Example-Signature`` value of ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


@dataclass(frozen=True)
class SignedDelivery:
    """One webhook POST as it goes on the wire: headers and the exact body bytes that were signed."""

    headers: dict[str, str]
    body: bytes
    timestamp_header: str = field(default=TIMESTAMP_HEADER)


def signed_delivery(event: dict[str, Any], *, secret: str, timestamp: int) -> SignedDelivery:
    """Serialise ``event`` once and sign those bytes."""
    body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature(secret, timestamp, body),
        TIMESTAMP_HEADER: str(timestamp),
        DELIVERY_ID_HEADER: str(event["id"]),
    }
    return SignedDelivery(headers, body)
