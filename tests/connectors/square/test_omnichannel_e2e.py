"""End to end through the hub: the town's people who shop online and at the Square tills become one member each,
and a profile the shop knows better is written back to their Square customers by the outbox dispatcher."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.shopify.sandbox import SandboxServer as ShopSandbox
from connectors.shopify.sandbox import SandboxState as ShopState
from connectors.square.sandbox import SandboxServer
from core.store import models
from core.store import records as records_repo
from core.store.database import read_only
from hub.runtime import Hub, init_hub
from hub.settings import HubSettings
from hub.web import create_app
from tests.connectors.square.factories import square_sandbox
from tests.hub.web.served import served
from tests.loyalty_files import one_rank_rules

SHOP, TILLS = "shopify-tokyo", "square-ginza"
KATAKANA = re.compile(r"[\u30a0-\u30ff]+")
HUB_TOML = """
[connectors.{shop}]
type = "shopify"
shop_url = "{shop_url}"
token_env = "TEST_SHOPIFY_TOKEN"

[connectors.{tills}]
type = "square"
base_url = "{square_url}"
token_env = "TEST_SQUARE_TOKEN"
webhook_signature_key_env = "TEST_SQUARE_SIGNATURE_KEYS"
notification_url = "{notification_url}"

[profiles]
destinations = ["{tills}"]
"""
LOYALTY_TOML = one_rank_rules("square-e2e", extra='\n[member_status]\ndestinations = ["square-ginza"]\n')


@pytest.fixture
def shop() -> Iterator[ShopSandbox]:
    with ShopSandbox(state=ShopState(maximum_available=50_000.0, restore_rate=2_000.0)) as server:  # never throttles
        yield server


@pytest.fixture
def tills() -> Iterator[SandboxServer]:
    with square_sandbox() as server:
        yield server


@pytest.fixture
def hub(shop: ShopSandbox, tills: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    secrets = {
        "TEST_SHOPIFY_TOKEN": shop.access_token,
        "SHOPIFY_WEBHOOK_SECRETS": shop.state.webhook_secret,  # the name the Shopify config reads by default
        "TEST_SQUARE_TOKEN": tills.access_token,
        "TEST_SQUARE_SIGNATURE_KEYS": tills.state.signature_key,
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    data = tmp_path / "data"
    data.mkdir()
    toml = HUB_TOML.format(shop=SHOP, tills=TILLS, shop_url=shop.url, square_url=tills.url,
                           notification_url=tills.state.notification_url)  # fmt: skip
    (data / "hub.toml").write_text(toml, encoding="utf-8")
    (data / "loyalty.toml").write_text(LOYALTY_TOML, encoding="utf-8")
    database = f"sqlite:///{data / 'hub.db'}"
    settings = HubSettings(data, tmp_path / "keys" / "keyring.json", database, data / "hub.toml", data / "loyalty.toml")
    opened, _ = init_hub(settings)
    yield opened
    opened.close()


def shared_people(shop: ShopSandbox, tills: SandboxServer) -> list[tuple[str, str]]:
    """``(Shopify id, Square id)`` of town people with a customer record in both (the shop's twins left out)."""
    shop_data, square = shop.state.records.data, tills.state.records
    return [
        (shop.state.records.global_id("customers", number), square.record_id("customers", index))
        for index, number in enumerate(square.data.person_numbers, start=1)
        if number <= shop_data.customers and shop_data.twin_of(number) is None
    ]


@pytest.mark.slow
def test_people_of_both_channels_are_one_member_and_square_learns_their_profile(
    shop: ShopSandbox, tills: SandboxServer, hub: Hub
) -> None:
    assert hub.sync.run(TILLS, "customers").status == "succeeded"
    assert hub.sync.run(SHOP, "customers").status == "succeeded"
    assert hub.sync.run(TILLS, "orders").status == "succeeded"
    pairs = shared_people(shop, tills)
    with read_only(hub.engine).connect() as conn:
        keys = [(source, customer) for pair in pairs for source, customer in zip((SHOP, TILLS), pair, strict=True)]
        links = records_repo.linked_members(conn, keys)
    joined = [pair for pair in pairs if links.get((SHOP, pair[0])) == links.get((TILLS, pair[1]))]
    assert len(joined) >= len(pairs) // 2, "most people shopping in both channels must be one member"

    before = {square_id: tills.state.record("customers", square_id) for _, square_id in joined}
    reports = [report for report in hub.dispatcher.dispatch_all([TILLS]) if report.delivered]
    assert reports, "profile changes learnt from the shop must be written to the Square customers"
    changed = [square_id for square_id, old in before.items() if tills.state.record("customers", square_id) != old]
    assert changed
    assert tills.state.request_count("PUT", "/v2/customers/") >= len(changed)
    online = dict((square_id, shop_id) for shop_id, square_id in joined)
    in_kanji_now = [
        square_id for square_id in changed
        if KATAKANA.fullmatch(before[square_id]["family_name"])
        and tills.state.record("customers", square_id)["family_name"]
        == shop.state.record("customers", online[square_id])["lastName"]
    ]  # fmt: skip
    assert in_kanji_now, "a name the clerk typed in katakana is written in kanji once the shop has told the hub"


@pytest.mark.slow
def test_the_nightly_status_job_gives_every_square_customer_of_a_member_its_member_number(
    tills: SandboxServer, hub: Hub
) -> None:
    assert hub.sync.run(TILLS, "customers").status == "succeeded"
    assert hub.sync.run(TILLS, "orders").status == "succeeded"
    hub.run_loyalty_jobs()
    [report] = hub.dispatcher.dispatch_all([TILLS])
    assert report.delivered and not report.failed
    numbers = [
        tills.state.record("customers", customer).get("reference_id") for customer in tills.record_ids("customers")
    ]
    assert all(numbers), "every customer is a member, and its number is what a clerk now sees at the till"
    assert len(set(numbers)) == len(numbers), "each customer is its own member here: no shop has joined them"


@pytest.mark.slow
def test_a_refund_notified_by_square_reaches_the_members_purchase_once(tills: SandboxServer, hub: Hub) -> None:
    assert hub.sync.run(TILLS, "customers").status == "succeeded"
    assert hub.sync.run(TILLS, "orders").status == "succeeded"
    order_id = next(
        order_id for order_id in tills.record_ids("orders")
        if (order := tills.state.record("orders", order_id)).get("customer_id") and not order.get("refunds")
    )  # fmt: skip
    tills.state.add_refund(order_id, 500)
    delivery = tills.webhook_delivery("orders", order_id)  # signed for the subscription's public URL
    with served(create_app(hub)) as base_url:  # … and reaching the hub behind its proxy, twice (a retry)
        answers = [tills.state.post(delivery, f"{base_url}/webhooks/{TILLS}") for _ in range(2)]
    assert [answer.status_code for answer in answers] == [200, 200]
    with read_only(hub.engine).connect() as conn:
        stored = conn.execute(
            select(models.Purchase.status, models.PurchaseAdjustment.amount)
            .join(models.PurchaseAdjustment, models.PurchaseAdjustment.purchase_id == models.Purchase.id)
            .where(models.Purchase.source == TILLS, models.Purchase.external_id == order_id)
        ).all()
    assert [(row.status, row.amount) for row in stored] == [("partially_refunded", 500)]
