"""One shopper, two Shopify customer records (online and at a POS till, emails differing only in case): one member
whose timeline holds both channels, with points earned once per order though orders come by webhook and by polling."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.shopify.sandbox import SandboxServer
from core.members.timeline import MemberTimeline
from core.store import models
from core.store import records as records_repo
from core.store.database import read_only
from hub.runtime import Hub
from hub.web import create_app
from tests.connectors.shopify.factories import roomy_shop, shopify_hub
from tests.hub.web.served import served
from tests.loyalty_files import one_rank_rules

SHOP = "tokyo-online"
LOYALTY_TOML = one_rank_rules("omni-1", ranks="window_months = 12")


@pytest.fixture
def shop() -> Iterator[SandboxServer]:
    with roomy_shop() as server:
        yield server


@pytest.fixture
def hub(shop: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    opened = shopify_hub(shop, tmp_path, monkeypatch, instance=SHOP, loyalty_toml=LOYALTY_TOML)
    yield opened
    opened.close()


def shopper_with_both_channels(shop: SandboxServer) -> tuple[str, str, list[str], list[str]]:
    """Online and in-store customer ids of a shared shopper with orders in both, and those orders' ids."""
    records = shop.state.records
    data = records.data
    for online, in_store in shop.state.shared_customers():
        owners = {records.index_of("customers", online): False, records.index_of("customers", in_store): True}
        orders: dict[bool, list[str]] = {False: [], True: []}
        for index in range(1, data.orders + 1):
            pos = data.is_pos(index)
            if owners.get(data.order_customer(index)) is pos and not records.cancellation(index):
                orders[pos].append(records.global_id("orders", index))
        if orders[False] and orders[True]:
            return online, in_store, orders[False], orders[True]
    raise AssertionError("the sandbox has no shared shopper with orders online and in a store")


def test_a_shopper_online_and_in_store_is_one_member_and_earns_once_per_order_by_webhook_and_polling(shop, hub):
    online, in_store, web_orders, till_orders = shopper_with_both_channels(shop)
    emails = [shop.state.record("customers", customer)["email"] for customer in (online, in_store)]
    assert emails[0] != emails[1] and emails[0].lower() == emails[1].lower()

    assert hub.sync.run(SHOP, "customers").status == "succeeded"
    with served(create_app(hub)) as base_url:
        for order_id in (web_orders[0], till_orders[0]):  # the shop tells the hub at once, twice (a retry) …
            delivery = shop.state.webhook("orders/create", order_id)
            answers = shop.state.deliver(f"{base_url}/webhooks/{SHOP}", delivery, times=2)
            assert [answer.status_code for answer in answers] == [200, 200]
    assert hub.sync.run(SHOP, "orders").status == "succeeded"  # … and polling reads the same orders again
    assert hub.sync.run(SHOP, "orders", full_refresh=True).status == "succeeded"  # … and so does a backfill

    with read_only(hub.engine).connect() as conn:
        links = records_repo.linked_members(conn, [(SHOP, online), (SHOP, in_store)])
        member = links[(SHOP, online)]
        earned = conn.execute(
            select(models.Purchase.external_id, models.PointLedgerEntry.points)
            .join(models.PointLedgerEntry, models.PointLedgerEntry.purchase_id == models.Purchase.id)
            .where(models.PointLedgerEntry.kind == "earn", models.Purchase.external_id.in_(web_orders + till_orders))
        ).all()
    assert links[(SHOP, in_store)] == member, "the two customer records must be one member"
    page = MemberTimeline(hub.engine, hub.members.sealer).page(member, kinds=["purchase"], limit=200)
    channels = {entry.external_id: entry.channel for entry in page.entries}
    assert {channels.get(order_id) for order_id in web_orders} == {"online"}
    assert {channels.get(order_id) for order_id in till_orders} == {"store"}
    per_order = Counter(order_id for order_id, _ in earned)
    assert set(per_order.values()) == {1}, f"points earned more than once: {per_order}"
    assert web_orders[0] in per_order and till_orders[0] in per_order
