"""Webhook signature checks shared by the connectors: a base64 HMAC-SHA256 header against rotating keys.

Every connector signs a different message (a timestamp and the body, the notification URL and the body …);
what they share is here: reading the header, and comparing the signature with the HMAC under every configured
key — all of them, in constant time, so the time taken tells nothing about which key, if any, matched.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence

from core.errors import WebhookRejected


def require_signature(value: str | None, message: bytes, keys: Sequence[bytes]) -> None:
    """Raise ``WebhookRejected`` (401) unless ``value`` is the base64 HMAC-SHA256 of ``message`` under a key."""
    given = decoded_signature(value)
    expected = [hmac.new(key, message, hashlib.sha256).digest() for key in keys]
    matches = [hmac.compare_digest(given, candidate) for candidate in expected]  # all, not first match
    if not any(matches):
        raise WebhookRejected("signature does not match", status=401)


def decoded_signature(value: str | None) -> bytes:
    """The raw bytes of a base64 signature header; ``WebhookRejected`` (401) if it is missing or not base64."""
    if not value:
        raise WebhookRejected("signature header missing", status=401)
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise WebhookRejected("signature header is not base64", status=401) from None
