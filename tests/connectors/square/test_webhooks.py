"""Square notifications: the signature over the notification URL and raw body, key rotation, ID-only orders."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from connectors.square import SquareConnector
from connectors.square.sandbox import SIGNATURE_HEADER, SandboxServer, signature
from connectors.square.webhooks import WebhookVerifier
from core.errors import WebhookRejected
from core.records import Profile, Purchase
from core.sync.contract import Rejected


def test_a_signed_customer_notification_is_accepted_and_carries_the_customer(
    sandbox: SandboxServer, connector: SquareConnector
) -> None:
    customer_id = sandbox.record_ids("customers")[3]
    delivery = sandbox.webhook_delivery("customers", customer_id)
    assert connector.verify_webhook(delivery.headers, delivery.body) == delivery.event_id
    [profile] = connector.parse_webhook(delivery.headers, delivery.body)
    assert isinstance(profile, Profile) and profile.external_id == customer_id


def test_an_order_notification_carries_ids_only_so_the_order_is_read_again(
    sandbox: SandboxServer, connector: SquareConnector
) -> None:
    order_id = sandbox.record_ids("orders")[5]
    delivery = sandbox.webhook_delivery("orders", order_id)
    assert b"line_items" not in delivery.body
    before = sandbox.state.request_count("GET", "/v2/orders/")
    [order] = connector.parse_webhook(delivery.headers, delivery.body)
    assert isinstance(order, Purchase) and order.external_id == order_id and order.lines
    assert sandbox.state.request_count("GET", "/v2/orders/") == before + 1


def test_an_order_still_open_yields_nothing(sandbox: SandboxServer, connector: SquareConnector) -> None:
    completed = set(sandbox.record_ids("orders"))
    open_ticket = next(
        sandbox.state.records.record_id("orders", index)
        for index in range(1, sandbox.state.orders + 1)
        if sandbox.state.records.record_id("orders", index) not in completed
    )
    delivery = sandbox.webhook_delivery("orders", open_ticket)
    assert connector.parse_webhook(delivery.headers, delivery.body) == []


def test_a_notification_signed_with_another_key_is_rejected(sandbox: SandboxServer, connector: SquareConnector) -> None:
    delivery = sandbox.webhook_delivery("customers", sandbox.record_ids("customers")[0], secret="someone-elses-key")
    with pytest.raises(WebhookRejected, match="signature"):
        connector.verify_webhook(delivery.headers, delivery.body)


def test_a_notification_signed_for_another_url_is_rejected(sandbox: SandboxServer, connector: SquareConnector) -> None:
    delivery = sandbox.webhook_delivery("customers", sandbox.record_ids("customers")[0])
    forged = signature(sandbox.state.signature_key, "https://attacker.example/hook", delivery.body)
    with pytest.raises(WebhookRejected, match="signature"):
        connector.verify_webhook({**delivery.headers, SIGNATURE_HEADER: forged}, delivery.body)


def test_the_url_is_the_configured_one_byte_for_byte(
    sandbox: SandboxServer, connect: Callable[..., SquareConnector]
) -> None:
    with_slash = connect(notification_url=sandbox.state.notification_url + "/")
    delivery = sandbox.webhook_delivery("customers", sandbox.record_ids("customers")[0])
    with pytest.raises(WebhookRejected):
        with_slash.verify_webhook(delivery.headers, delivery.body)


def test_during_a_key_rotation_both_keys_are_accepted(
    sandbox: SandboxServer, connect: Callable[..., SquareConnector]
) -> None:
    rotating = connect(signature_keys=("new-signature-key", sandbox.state.signature_key))
    for key in ("new-signature-key", sandbox.state.signature_key):
        delivery = sandbox.webhook_delivery("customers", sandbox.record_ids("customers")[0], secret=key)
        assert rotating.verify_webhook(delivery.headers, delivery.body) == delivery.event_id


def test_a_notification_older_than_the_retry_window_is_rejected(
    sandbox: SandboxServer, connector: SquareConnector
) -> None:
    delivery = sandbox.webhook_delivery("customers", sandbox.record_ids("customers")[0], age_s=301)
    with pytest.raises(WebhookRejected, match="window"):
        connector.verify_webhook(delivery.headers, delivery.body)


def test_without_a_notification_url_webhooks_are_refused(
    sandbox: SandboxServer, connect: Callable[..., SquareConnector]
) -> None:
    delivery = sandbox.webhook_delivery("customers", sandbox.record_ids("customers")[0])
    with pytest.raises(WebhookRejected) as refused:
        connect(notification_url=None).verify_webhook(delivery.headers, delivery.body)
    assert refused.value.status == 403


def test_an_order_notification_without_an_id_is_rejected_as_a_record(connector: SquareConnector) -> None:
    body = (
        b'{"type":"order.updated","event_id":"e1","created_at":"2025-01-01T00:00:00Z","data":{"type":"order_updated"}}'
    )
    [rejected] = connector.parse_webhook({}, body)
    assert isinstance(rejected, Rejected) and "order id" in rejected.reason


def test_other_event_types_yield_nothing(connector: SquareConnector) -> None:
    body = b'{"type":"payment.created","event_id":"e2","created_at":"2025-01-01T00:00:00Z","data":{}}'
    assert connector.parse_webhook({}, body) == []


def test_a_signed_body_nested_past_the_json_decoders_limit_is_a_400_not_a_crash() -> None:
    # Found by fuzzing (fuzz/targets/square_webhook.py): json.loads raised RecursionError, a 500.
    url, body = "https://hub.example.jp/webhooks/square", b"[" * 100_000
    verifier = WebhookVerifier(["key"], url, max_age_s=3600, max_skew_s=300)
    with pytest.raises(WebhookRejected) as caught:
        verifier.verify({SIGNATURE_HEADER: signature("key", url, body)}, body)
    assert caught.value.status == 400
