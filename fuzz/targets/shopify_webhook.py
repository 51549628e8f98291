"""Shopify webhook deliveries: signature and retry-window check, then ``parse_delivery`` → ``WebhookRejected`` only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from connectors.shopify.webhooks import SIGNATURE_HEADER, WebhookVerifier, parse_delivery
from core.errors import WebhookRejected
from fuzz.delivery import frame, has_header, hmac_base64, unframe, without
from fuzz.seeds import shopify_shop
from fuzz.target import FuzzTarget

SIGNING_KEY = "fuzz-shopify-secret"
TRIGGERED_AT = datetime(2026, 4, 17, 8, 0, tzinfo=UTC)
_VERIFIER = WebhookVerifier([SIGNING_KEY], max_age_s=48 * 3600, max_skew_s=300, clock=TRIGGERED_AT.timestamp)


def parse(data: bytes) -> object:
    """Verify (signing an unsigned input first) and parse, as ``ShopifyConnector`` does; orders are not re-read."""
    headers, body = unframe(data)
    if not has_header(headers, SIGNATURE_HEADER):
        headers[SIGNATURE_HEADER] = hmac_base64(SIGNING_KEY, body)
    _VERIFIER.verify(headers, body)
    return parse_delivery("shopify-fuzz", headers, body, lambda order_id: None)


def seeds() -> Iterator[bytes]:
    """Every topic the sandbox sends, built from its generated shop."""
    from connectors.shopify.sandbox.webhooks import (
        customer_payload,
        data_request_payload,
        order_payload,
        redact_payload,
        refund_payload,
        shop_redact_payload,
        signed_delivery,
    )

    shop = shopify_shop()
    customer = shop.customer(1)
    payloads = [
        ("customers/create", customer_payload(customer)),
        ("customers/update", customer_payload(shop.customer(2))),
        ("customers/redact", redact_payload(1, "fuzz.myshopify.com", customer, [1001])),
        ("customers/data_request", data_request_payload(1, "fuzz.myshopify.com", customer, [1001])),
        ("shop/redact", shop_redact_payload(1, "fuzz.myshopify.com")),
    ]
    for index in range(1, 7):
        order = shop.order(index)
        payloads.append(("orders/updated", order_payload(order, customer)))
        payloads += [("refunds/create", refund_payload(order, refund)) for refund in order["refunds"]]
    for topic, payload in payloads:
        delivery = signed_delivery(
            topic, payload, secret=SIGNING_KEY, shop_domain="fuzz.myshopify.com", api_version="2025-01",
            triggered_at=TRIGGERED_AT,
        )  # fmt: skip
        yield frame(without(delivery.headers, SIGNATURE_HEADER), delivery.body)


TARGET = FuzzTarget("shopify_webhook", parse, (WebhookRejected,), seeds, "webhooks")
