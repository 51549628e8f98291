"""Square notifications: signature over URL and body, retry window, ``parse_notification``; ``WebhookRejected`` only."""

from __future__ import annotations

from collections.abc import Iterator

from connectors.square.mapping import customer_to_profile
from connectors.square.webhooks import SIGNATURE_HEADER, WebhookVerifier, parse_notification
from core.errors import WebhookRejected
from fuzz.delivery import frame, has_header, hmac_base64, unframe, without
from fuzz.seeds import square_seller
from fuzz.target import FuzzTarget

KEY = "fuzz-square-signature-key"
URL = "https://hub.example.jp/webhooks/square-fuzz"
NOW_S = 1_790_000_000.0
_VERIFIER = WebhookVerifier([KEY], URL, max_age_s=72 * 3600, max_skew_s=300, clock=lambda: NOW_S)


def parse(data: bytes) -> object:
    """Verify (signing an unsigned input first) and parse, as ``SquareConnector`` does; orders are not re-read."""
    headers, body = unframe(data)
    if not has_header(headers, SIGNATURE_HEADER):
        headers[SIGNATURE_HEADER] = hmac_base64(KEY, URL.encode() + body)
    _VERIFIER.verify(headers, body)
    return parse_notification("square-fuzz", body, customer_to_profile, lambda order_id: None)


def seeds() -> Iterator[bytes]:
    """``customer.created|updated`` carrying the sandbox's customers, ``order.created|updated`` its orders."""
    from connectors.square.sandbox.webhooks import customer_data, event, order_data, signed_delivery

    seller = square_seller()
    created_at = "2026-09-21T13:33:20Z"
    customers = ((1, "customer.created"), (2, "customer.updated"), (3, "customer.updated"))
    bodies = [event("MLFUZZ", kind, created_at, customer_data(seller.customer(index))) for index, kind in customers]
    for index, kind in ((1, "order.created"), (2, "order.updated")):
        order = seller.order(index)
        summary = {"order_id": order["id"], "location_id": order["location_id"], "state": order["state"],
                   "version": 1, "created_at": order["created_at"], "updated_at": order["updated_at"]}  # fmt: skip
        bodies.append(event("MLFUZZ", kind, created_at, order_data(kind, summary)))
    for body in bodies:
        delivery = signed_delivery(body, key=KEY, notification_url=URL)
        yield frame(without(delivery.headers, SIGNATURE_HEADER), delivery.body)


TARGET = FuzzTarget("square_webhook", parse, (WebhookRejected,), seeds, "webhooks")
