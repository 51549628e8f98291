"""Webhook intake: raw-body verification first, delivery-id deduplication, the same pipeline as polling."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from connectors.example.sandbox import SandboxServer
from core.errors import WebhookRejected
from core.store.models import Purchase, WebhookDelivery
from core.sync.webhooks import WebhookIntake
from tests.core.sync.conftest import example_instance


@pytest.fixture
def shop(sync_kit):
    with SandboxServer(customers=10, orders=15) as sandbox:
        engine = sync_kit.sync_engine(example_instance("shop", sandbox.url))
        intake = WebhookIntake(
            sync_kit.engine, engine.registry, sync_kit.sink, sync_kit.dead_letters, max_body_bytes=64 * 1024
        )
        yield sandbox, engine, intake


def _count(kit, model) -> int:
    with kit.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(model)))


def test_a_redelivered_webhook_is_processed_once(sync_kit, shop):
    sandbox, _, intake = shop
    delivery = sandbox.webhook_delivery("orders", sorted(sandbox.record_ids("orders"))[0])
    outcomes = [intake.receive("shop", delivery.headers, delivery.body) for _ in range(8)]
    assert outcomes[0].duplicate is False and outcomes[0].written >= 1
    assert all(outcome.duplicate for outcome in outcomes[1:])
    assert _count(sync_kit, Purchase) == 1 and _count(sync_kit, WebhookDelivery) == 1


@pytest.mark.parametrize(
    ("forge", "status"),
    [
        (lambda d: (dict(d.headers, **{"X-Example-Signature": "AAAA"}), d.body), 401),
        (lambda d: (d.headers, d.body.replace(b"completed", b"refunded") + b" "), 401),
        (lambda d: ({k: v for k, v in d.headers.items() if "Signature" not in k}, d.body), 401),
    ],
)
def test_forged_deliveries_are_rejected_before_parsing_and_store_nothing(sync_kit, shop, forge, status):
    sandbox, _, intake = shop
    headers, body = forge(sandbox.webhook_delivery("orders", sorted(sandbox.record_ids("orders"))[1]))
    with pytest.raises(WebhookRejected) as rejected:
        intake.receive("shop", headers, body)
    assert rejected.value.status == status
    assert _count(sync_kit, Purchase) == 0 and _count(sync_kit, WebhookDelivery) == 0


def test_a_stale_or_wrongly_signed_delivery_is_rejected(sync_kit, shop):
    sandbox, _, intake = shop
    order = sorted(sandbox.record_ids("orders"))[2]
    for delivery in (
        sandbox.webhook_delivery("orders", order, age_s=600),
        sandbox.webhook_delivery("orders", order, secret="someone-elses-secret"),
    ):
        with pytest.raises(WebhookRejected):
            intake.receive("shop", delivery.headers, delivery.body)
    assert _count(sync_kit, Purchase) == 0


def test_an_oversized_body_is_refused_with_413_before_verification(sync_kit, shop):
    _, _, intake = shop
    with pytest.raises(WebhookRejected) as rejected:
        intake.receive("shop", {}, b"{" + b" " * (64 * 1024) + b"}")
    assert rejected.value.status == 413


def test_polling_after_a_webhook_fills_gaps_without_double_effects(sync_kit, shop):
    sandbox, engine, intake = shop
    order = sorted(sandbox.record_ids("orders"))[3]
    delivery = sandbox.webhook_delivery("orders", order)
    intake.receive("shop", delivery.headers, delivery.body)
    report = engine.run("shop", "orders")
    assert report.status == "succeeded" and report.records_read == 15
    assert _count(sync_kit, Purchase) == 15
    again = engine.run("shop", "orders", full_refresh=True)
    assert again.records_written == 0
