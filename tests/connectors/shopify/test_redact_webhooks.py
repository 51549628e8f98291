"""Shopify's compliance webhooks: mapped to request records, and applied through the hub's webhook endpoint.

A signed ``customers/redact`` posted to ``/webhooks/<instance>`` crypto-shreds a member only the shop knew, and
takes only the shop's part from a member a POS knows too (docs/privacy.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from connectors.shopify.sandbox import SandboxServer
from connectors.shopify.sandbox.state import SUPPORTED_VERSIONS
from connectors.shopify.sandbox.webhooks import redact_payload, signed_delivery
from connectors.shopify.webhooks import parse_delivery
from core.crypto.envelope import FieldCipher
from core.errors import DecryptionError, WebhookRejected
from core.records import Profile, Purchase
from core.store import models
from core.sync.contract import Rejected
from hub.runtime import Hub
from hub.web import create_app
from tests.connectors.shopify.factories import roomy_shop, shopify_connector, shopify_hub

INSTANCE = "tokyo-online"


@pytest.fixture
def shop() -> Iterator[SandboxServer]:
    with roomy_shop() as server:
        yield server


@pytest.fixture
def hub(shop: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    opened = shopify_hub(shop, tmp_path, monkeypatch, instance=INSTANCE)
    yield opened
    opened.close()


@pytest.fixture
def post(hub: Hub):
    client = TestClient(create_app(hub), base_url="https://testserver")

    def deliver(delivery) -> dict:
        response = client.post(f"/webhooks/{INSTANCE}", content=delivery.body, headers=delivery.headers)
        assert response.status_code == 200, response.text
        return response.json()

    return deliver


# ── mapping ────────────────────────────────────────────────────────────────────────────────────────


def test_compliance_deliveries_become_request_records_keyed_by_global_ids(shop):
    connector = shopify_connector(shop)
    customer = shop.record_ids("customers")[0]
    records = {}
    for topic in ("customers/redact", "shop/redact", "customers/data_request"):
        delivery = shop.state.webhook(topic, customer)
        assert connector.verify_webhook(delivery.headers, delivery.body) == delivery.webhook_id
        [record] = connector.parse_webhook(delivery.headers, delivery.body)
        assert record.source_updated_at == datetime.fromisoformat(delivery.headers["X-Shopify-Triggered-At"])
        records[topic] = record.model_dump(exclude={"source_updated_at"})
    connector.close()
    assert records == {
        "customers/redact": {"source": "shopify-test", "external_id": customer, "kind": "erasure_request",
                             "scope": "customer"},
        "shop/redact": {"source": "shopify-test", "external_id": f"gid://shopify/Shop/{shop.state.shop_id}",
                        "kind": "erasure_request", "scope": "source"},
        "customers/data_request": {"source": "shopify-test", "external_id": customer, "kind": "data_request",
                                   "request_id": "9999"},
    }  # fmt: skip


def test_a_forged_compliance_delivery_is_refused(shop):
    connector = shopify_connector(shop)
    forged = shop.state.webhook("customers/redact", shop.record_ids("customers")[0], secret="forged")
    with pytest.raises(WebhookRejected):
        connector.verify_webhook(forged.headers, forged.body)
    connector.close()


def test_a_redact_without_a_customer_id_is_rejected_without_the_customers_contact_details(shop):
    connector = shopify_connector(shop)
    payload = {"shop_id": 1, "shop_domain": "x.myshopify.com", "customer": {"email": "hide@example.jp",
               "phone": "+819011112222"}, "orders_to_redact": [5]}  # fmt: skip
    delivery = _signed(shop, "customers/redact", payload)
    [rejected] = connector.parse_webhook(delivery.headers, delivery.body)
    assert isinstance(rejected, Rejected)
    assert "hide@" not in rejected.payload + rejected.reason and "9011112222" not in rejected.payload
    assert json.loads(rejected.payload)["orders_to_redact"] == [5]
    connector.close()


# ── through the hub ────────────────────────────────────────────────────────────────────────────────


def test_redact_crypto_shreds_a_member_only_the_shop_knows(shop, hub, post, tmp_path):
    customer_id = shop.record_ids("customers")[0]
    customer = shop.state.record("customers", customer_id)
    post(shop.state.webhook("customers/update", customer_id))
    member_id = _linked_member(hub, customer_id)
    old_email_ct = _scalar(hub, select(models.Member.email_ct).where(models.Member.id == member_id))
    redact = shop.state.webhook("customers/redact", customer_id)

    assert post(redact)["written"] == 1

    assert hub.members.get(member_id).profile is None
    assert _scalar(hub, select(models.Member.wrapped_dek).where(models.Member.id == member_id)) is None
    for kek in hub.key_provider.load().keks.values():  # no key the hub holds opens what was sealed
        with pytest.raises(DecryptionError):
            FieldCipher(kek).decrypt(old_email_ct, table="members", column="email_ct", owner_id=str(member_id))
    assert hub.members.find(customer["email"]) == [] and hub.members.find(customer["phone"]) == []
    assert hub.members.ledger.member_ids() == [member_id]
    assert _scalar(hub, select(func.count()).where(models.MemberSearchIndex.member_id == member_id)) == 0
    stored = b"".join(path.read_bytes() for path in (tmp_path / "data").glob("hub.db*"))  # with the WAL
    for plaintext in (customer["email"], customer["lastName"], customer["firstName"], customer["phone"]):
        assert plaintext.encode() not in stored

    audit_rows = _scalar(hub, select(func.count()).select_from(models.AuditEvent))
    assert post(redact)["duplicate"] is True  # the same delivery again
    assert post(shop.state.webhook("customers/redact", customer_id))["written"] == 0  # a new delivery, same request
    assert _scalar(hub, select(func.count()).select_from(models.AuditEvent)) == audit_rows


def test_redact_leaves_a_member_the_pos_knows_too_with_the_pos_data(shop, hub, post):
    order_id = shop.record_ids("orders")[0]
    customer_id = shop.record_ids("customers")[shop.state.record("orders", order_id)["_customer"] - 1]
    customer = shop.state.record("customers", customer_id)
    post(shop.state.webhook("customers/update", customer_id))
    post(shop.state.webhook("orders/create", order_id))
    now = datetime.now(UTC)
    name = f"{customer['lastName']} {customer['firstName']}"
    with hub.engine.begin() as conn:  # the POS names the same person later (same phone and name)
        hub.sink.apply(conn, [
            Profile(source="pos-ginza", external_id="P-1", source_updated_at=now, name=name, phone=customer["phone"]),
            Purchase(source="pos-ginza", external_id="R-1", source_updated_at=now, customer_external_id="P-1",
                     channel="store", total_amount=5_400, purchased_at=now),
        ])  # fmt: skip
    member_id = _linked_member(hub, customer_id)
    assert _linked_member(hub, "P-1") == member_id

    assert post(shop.state.webhook("customers/redact", customer_id))["written"] == 1

    profile = hub.members.get(member_id).profile
    assert (profile.name, profile.phone) == (name, customer["phone"])
    assert (profile.email, profile.postal_code, profile.address) == (None, None, None)
    assert hub.members.find(customer["email"]) == []
    assert [m.id for m in hub.members.find(customer["phone"])] == [member_id]
    purchases = select(models.Purchase.source).where(models.Purchase.member_id == member_id)
    assert sorted(_scalars(hub, purchases)) == ["pos-ginza", INSTANCE]
    assert _linked_member(hub, customer_id) is None


def test_redact_of_a_customer_the_hub_never_saw_changes_nothing(shop, hub, post):
    post(shop.state.webhook("customers/update", shop.record_ids("customers")[1]))
    stranger = {"id": "gid://shopify/Customer/999999999", "email": "stranger@example.jp", "phone": None}
    delivery = _signed(shop, "customers/redact", redact_payload(shop.state.shop_id, shop.state.shop_domain,
                                                                stranger, []))  # fmt: skip
    members = _scalars(hub, select(models.Member.updated_at))

    assert post(delivery)["written"] == 0

    assert _scalars(hub, select(models.Member.updated_at)) == members
    assert _scalar(hub, select(func.count()).select_from(models.AuditEvent)) == 0


def test_a_data_request_leaves_an_audit_row_naming_the_member(shop, hub, post):
    customer_id = shop.record_ids("customers")[2]
    post(shop.state.webhook("customers/update", customer_id))

    post(shop.state.webhook("customers/data_request", customer_id))

    row = _rows(hub, select(models.AuditEvent))[0]
    assert (row.actor, row.action, row.member_id) == (INSTANCE, "data_request", _linked_member(hub, customer_id))
    assert row.detail["source_request_id"] == "9999"


# ── helpers ────────────────────────────────────────────────────────────────────────────────────────


def _signed(shop: SandboxServer, topic: str, payload: dict):
    return signed_delivery(
        topic, payload, secret=shop.state.webhook_secret, shop_domain=shop.state.shop_domain,
        api_version=SUPPORTED_VERSIONS[-1], triggered_at=datetime.now(UTC),
    )  # fmt: skip


def _linked_member(hub: Hub, external_id: str):
    link = models.SourceLink
    return _scalar(hub, select(link.member_id).where(link.external_id == external_id))


def _scalar(hub: Hub, query):
    with hub.engine.connect() as conn:
        return conn.scalar(query)


def _scalars(hub: Hub, query) -> list:
    with hub.engine.connect() as conn:
        return list(conn.scalars(query))


def _rows(hub: Hub, query) -> list:
    with hub.engine.connect() as conn:
        return conn.execute(query).all()


# ── malformed deliveries (found by fuzzing, fuzz/targets/shopify_webhook.py) ────────────────────────


def test_a_body_nested_past_the_json_decoders_limit_is_a_400_not_a_crash():
    headers = {"X-Shopify-Topic": "customers/update", "X-Shopify-Triggered-At": "2026-04-17T08:00:00+00:00"}
    with pytest.raises(WebhookRejected) as caught:
        parse_delivery("shopify-test", headers, b"[" * 100_000, lambda order_id: None)
    assert caught.value.status == 400


def test_a_shop_id_of_thousands_of_digits_is_rejected_not_a_crash():
    headers = {"X-Shopify-Topic": "shop/redact", "X-Shopify-Triggered-At": "2026-04-17T08:00:00+00:00"}
    body = json.dumps({"shop_id": "1" * 5000, "shop_domain": "x.myshopify.com"}).encode()
    [rejected] = parse_delivery("shopify-test", headers, body, lambda order_id: None)
    assert isinstance(rejected, Rejected) and rejected.reason == "shop/redact names no shop id"


def test_ids_longer_than_64_bits_are_no_shopify_ids():
    headers = {"X-Shopify-Topic": "shop/redact", "X-Shopify-Triggered-At": "2026-04-17T08:00:00+00:00"}
    body = b'{"shop_id": ' + b"9" * 200 + b"}"
    [rejected] = parse_delivery("shopify-test", headers, body, lambda order_id: None)
    assert isinstance(rejected, Rejected) and rejected.reason == "shop/redact names no shop id"

    headers["X-Shopify-Topic"] = "customers/data_request"
    body = b'{"customer": {"id": 7}, "data_request": {"id": ' + b"9" * 200 + b"}}"
    [request] = parse_delivery("shopify-test", headers, body, lambda order_id: None)
    assert request.external_id == "gid://shopify/Customer/7" and request.request_id is None
