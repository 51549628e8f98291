"""Example API webhooks: timestamped signature, five-minute window, ``parse_delivery`` → ``WebhookRejected`` only."""

from __future__ import annotations

from collections.abc import Iterator

from connectors.example.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookVerifier, parse_delivery
from core.errors import WebhookRejected
from fuzz.delivery import frame, has_header, hmac_base64, unframe, without
from fuzz.seeds import example_rows
from fuzz.target import FuzzTarget

SIGNING_KEY = "fuzz-example-secret"
NOW_S = 1_776_446_290
_VERIFIER = WebhookVerifier([SIGNING_KEY], clock=lambda: NOW_S)


def parse(data: bytes) -> object:
    """Verify (signing an unsigned input first) and parse, as ``ExampleConnector`` does."""
    headers, body = unframe(data)
    if not has_header(headers, SIGNATURE_HEADER):
        stamp = next((value for name, value in headers.items() if name.lower() == TIMESTAMP_HEADER), "")
        headers[SIGNATURE_HEADER] = hmac_base64(SIGNING_KEY, stamp.encode() + b"." + body)
    _VERIFIER.verify(headers, body)
    return parse_delivery("example-fuzz", body)


def seeds() -> Iterator[bytes]:
    """``customer.updated`` and ``order.updated`` events carrying the sandbox's generated rows."""
    from connectors.example.sandbox.webhooks import signed_delivery

    rows = example_rows()
    events = [("customer.updated", row) for row in rows["customers"]] + [
        ("order.updated", row) for row in rows["orders"]
    ]
    for number, (kind, row) in enumerate(events, start=1):
        event = {"id": f"evt_{number:08d}", "type": kind, "created_at": NOW_S, "data": row}
        delivery = signed_delivery(event, secret=SIGNING_KEY, timestamp=NOW_S)
        yield frame(without(delivery.headers, SIGNATURE_HEADER), delivery.body)


TARGET = FuzzTarget("example_webhook", parse, (WebhookRejected,), seeds, "webhooks")
