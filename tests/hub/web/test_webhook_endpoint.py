"""Webhooks over HTTP: a Shopify sandbox signs deliveries, the hub's endpoint verifies them before parsing.

Covers the list's items 28–31: forged → 401 and nothing stored; duplicates processed once; oversized or
unbounded bodies → 413 before verification, with bounded memory; both secrets during a rotation.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from connectors.shopify.sandbox import SandboxServer
from core.store import models
from core.store.database import read_only
from hub.runtime import Hub, init_hub
from hub.settings import HubSettings
from hub.web import create_app
from tests.connectors.shopify.factories import roomy_shop
from tests.hub.web.served import served

HUB_TOML = """
[connectors.tokyo-online]
type = "shopify"
shop_url = "{url}"
token_env = "TEST_SHOPIFY_TOKEN"
webhook_secret_env = "TEST_SHOPIFY_WEBHOOK_SECRETS"
"""


@pytest.fixture
def shop() -> Iterator[SandboxServer]:
    with roomy_shop() as server:
        yield server


@pytest.fixture
def hub(shop: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    monkeypatch.setenv("TEST_SHOPIFY_TOKEN", shop.access_token)
    monkeypatch.setenv("TEST_SHOPIFY_WEBHOOK_SECRETS", f"{shop.state.webhook_secret}, next-secret")
    home = tmp_path / "data"
    home.mkdir()
    (home / "hub.toml").write_text(HUB_TOML.format(url=shop.url), encoding="utf-8")
    opened, _ = init_hub(HubSettings(home, tmp_path / "keys" / "keyring.json", f"sqlite:///{home / 'hub.db'}",
                                     home / "hub.toml"))  # fmt: skip
    yield opened
    opened.close()


@pytest.fixture
def client(hub: Hub) -> TestClient:
    return TestClient(create_app(hub), base_url="https://testserver")


def _count(hub: Hub, model: type) -> int:
    with read_only(hub.engine).connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model)).scalar_one())


def test_a_signed_delivery_is_accepted_fast_and_its_records_stored(shop, hub, client):
    delivery = shop.state.webhook("orders/create", shop.record_ids("orders")[0])
    started = time.perf_counter()
    response = client.post("/webhooks/tokyo-online", content=delivery.body, headers=delivery.headers)
    assert response.status_code == 200, response.text
    assert time.perf_counter() - started < 5
    assert response.json()["written"] > 0 and not response.json()["duplicate"]
    assert _count(hub, models.Purchase) == 1


def test_a_forged_delivery_is_401_and_leaves_no_row(shop, hub, client):
    forged = shop.state.webhook("orders/create", shop.record_ids("orders")[0], secret="not-the-secret")
    response = client.post("/webhooks/tokyo-online", content=forged.body, headers=forged.headers)
    assert response.status_code == 401
    assert "line_items" not in response.text and "email" not in response.text
    for model in (models.Purchase, models.WebhookDelivery, models.OutboxMessage, models.DeadLetter):
        assert _count(hub, model) == 0


def test_a_delivery_retried_eight_times_is_processed_once(shop, hub, client):
    delivery = shop.state.webhook("customers/update", shop.record_ids("customers")[0])
    answers = [client.post("/webhooks/tokyo-online", content=delivery.body, headers=delivery.headers) for _ in range(8)]
    assert [a.status_code for a in answers] == [200] * 8
    assert [a.json()["duplicate"] for a in answers] == [False] + [True] * 7
    assert _count(hub, models.WebhookDelivery) == 1


def test_both_secrets_verify_during_a_rotation(shop, client):
    for secret in (shop.state.webhook_secret, "next-secret"):
        delivery = shop.state.webhook("customers/update", shop.record_ids("customers")[1], secret=secret)
        response = client.post("/webhooks/tokyo-online", content=delivery.body, headers=delivery.headers)
        assert response.status_code == 200, response.text


def test_a_declared_ten_mebibyte_body_is_413_before_it_is_read(shop, hub, client):
    delivery = shop.state.webhook("orders/create", shop.record_ids("orders")[0])
    body = delivery.body + b" " * (10 * 1024 * 1024)
    response = client.post("/webhooks/tokyo-online", content=body, headers=delivery.headers)
    assert response.status_code == 413
    assert _count(hub, models.WebhookDelivery) == 0


def test_an_unbounded_chunked_body_is_cut_at_the_limit(shop, hub):
    """Over real HTTP (the test client would buffer the whole body first): 256 MiB streamed, memory stays flat."""
    delivery = shop.state.webhook("orders/create", shop.record_ids("orders")[0])
    sent = 0

    def endless() -> Iterator[bytes]:
        nonlocal sent
        for _ in range(4096):  # 256 MiB if nobody stopped reading
            sent += 1
            yield b"x" * 65_536

    headers = {k: v for k, v in delivery.headers.items() if k.lower() != "content-length"}
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    with served(create_app(hub)) as base_url:
        try:
            response = httpx.post(f"{base_url}/webhooks/tokyo-online", content=endless(), headers=headers, timeout=30)
            assert response.status_code == 413
        except httpx.TransportError:
            pass  # the server answered 413 and closed while the client was still sending
    growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - peak_before
    assert growth < 64 * 1024 * 1024, f"peak memory grew by {growth / 2**20:.0f} MiB for a {sent / 16:.0f} MiB body"
    assert _count(hub, models.WebhookDelivery) == 0


@pytest.mark.parametrize("instance", ["no-such-shop", "../etc"])
def test_a_delivery_for_an_unknown_instance_is_refused(shop, client, instance):
    delivery = shop.state.webhook("customers/update", shop.record_ids("customers")[0])
    response = client.post(f"/webhooks/{instance}", content=delivery.body, headers=delivery.headers)
    assert response.status_code in (404, 422)
