"""Authenticating and reading Example API webhook deliveries.

The signature is checked over the raw body, in constant time, before anything parses it; the signed
timestamp must be within five minutes of our clock, so a captured delivery cannot be replayed later. During
a secret rotation both secrets are configured and either one is accepted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

from connectors.example.streams import STREAMS
from core.errors import WebhookRejected
from core.records import CanonicalRecord
from core.sync.contract import Rejected
from core.sync.mapping import map_record
from core.sync.signatures import require_signature
from core.sync.wire import INTEGER_TEXT, decode_json

SIGNATURE_HEADER = "x-example-signature"
TIMESTAMP_HEADER = "x-example-timestamp"
DELIVERY_ID_HEADER = "x-example-delivery-id"
TOLERANCE_S = 300.0
_MAPPERS = {stream.event_type: stream.mapper for stream in STREAMS.values()}


class WebhookVerifier:
    """Checks deliveries against the configured secrets (one, or two while rotating)."""

    def __init__(self, secrets: Sequence[str], *, clock: Callable[[], float] = time.time) -> None:
        self._keys = tuple(secret.encode() for secret in secrets if secret)
        self._clock = clock

    def verify(self, headers: Mapping[str, str], body: bytes) -> str:
        """Return the delivery id of an authentic, fresh delivery; raise ``WebhookRejected`` otherwise."""
        if not self._keys:
            raise WebhookRejected("webhooks are not configured: no signing secret", status=403)
        signed = {name.lower(): value for name, value in headers.items()}
        timestamp = signed.get(TIMESTAMP_HEADER, "")
        delivery_id = signed.get(DELIVERY_ID_HEADER, "").strip()
        if not INTEGER_TEXT.fullmatch(timestamp) or not delivery_id:
            raise WebhookRejected("timestamp or delivery id header missing or malformed", status=400)
        require_signature(signed.get(SIGNATURE_HEADER), timestamp.encode() + b"." + body, self._keys)
        if abs(self._clock() - int(timestamp)) > TOLERANCE_S:
            raise WebhookRejected("timestamp outside the five-minute window", status=401)
        return delivery_id


def parse_delivery(source: str, body: bytes) -> list[CanonicalRecord | Rejected]:
    """The record an event carries; an event type we do not read yields nothing."""
    try:
        event = decode_json(body)
        event_type, data = str(event["type"]), event["data"]
    except (ValueError, TypeError, KeyError):
        raise WebhookRejected("delivery body is not an Example event", status=400) from None
    mapper = _MAPPERS.get(event_type.partition(".")[0])
    return [] if mapper is None else [map_record(source, data, mapper)]
