"""The Shopify connector on its sandbox: conformance, cursors, cost pacing, retries, mapping, webhooks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from importlib.metadata import entry_points

import pytest
from pydantic import ValidationError

from connectors.shopify import SHOPIFY_CONNECTOR_TYPE, ShopifyConfig, ShopifyConnector
from connectors.shopify.config import DEFAULT_API_VERSION
from connectors.shopify.queries import orders_page_cost
from connectors.shopify.sandbox import SUPPORTED_VERSIONS, SandboxServer
from connectors.shopify.sandbox.state import SandboxState
from core.errors import RetryableError, WebhookRejected
from core.plugins.manager import ENTRY_POINT_GROUP, build_plugin_manager
from core.records import Profile, Purchase
from core.sync.conformance import conformance_suite, read_all
from core.sync.contract import Rejected
from core.sync.cursor import StreamCursor
from core.sync.registry import ConnectorRegistry, InstanceConfig
from core.sync.retry import RetryPolicy
from tests.connectors.shopify.factories import FakeTime, roomy_shop, shopify_connector

TestShopifyConformance = conformance_suite(
    streams=("customers", "orders"),
    sandbox=roomy_shop,
    make_connector=shopify_connector,
    faults=lambda server: server.state,
    name="TestShopifyConformance",
)

RETRY_FAST = RetryPolicy(max_attempts=4, base_delay=0.0, max_delay=30.0)


@pytest.fixture
def shop() -> Iterator[SandboxServer]:
    """A fresh sandbox (57 customers, 83 orders) with a bucket that never runs dry."""
    with roomy_shop() as server:
        yield server


@pytest.fixture
def connector(shop: SandboxServer) -> Iterator[ShopifyConnector]:
    built = shopify_connector(shop)
    yield built
    built.close()


def records_of(batches):
    return [record for batch in batches for record in batch.records]


def by_id(batches):
    return {record.external_id: record for record in records_of(batches)}


# ── incremental reading ────────────────────────────────────────────────────────────────────────────


def test_a_full_read_takes_one_query_per_page_sorted_by_updated_at(shop, connector):
    batches = read_all(connector, "customers")
    assert [len(batch.records) for batch in batches] == [10, 10, 10, 10, 10, 7]
    assert len(shop.state.requests) == 6
    stamps = [record.source_updated_at for record in records_of(batches)]
    assert stamps == sorted(stamps)


def test_an_incremental_run_resumes_from_the_engines_lookback_and_reads_only_the_window(shop, connector):
    first = read_all(connector, "orders")
    resumed = StreamCursor.from_json(first[-1].cursor).for_new_run(timedelta(days=20))
    changed = shop.state.record_ids("orders")[0]
    shop.state.touch("orders", changed)
    again = by_id(read_all(connector, "orders", resumed.to_json()))
    window = {r.external_id for r in records_of(first) if r.source_updated_at >= resumed.updated_since}
    assert set(again) == window | {changed}
    assert len(again) < len(records_of(first))


def test_an_interrupted_run_resumes_at_its_page_with_the_same_query(shop, connector):
    start = StreamCursor.from_json(read_all(connector, "orders")[-1].cursor).for_new_run(timedelta(days=3650))
    reading = connector.read("orders", start.to_json())
    first = next(reading)
    reading.close()
    middle = StreamCursor.from_json(first.cursor)
    assert middle.page is not None and middle.updated_since == start.updated_since
    rest = records_of(read_all(connector, "orders", first.cursor))
    assert {r.external_id for r in first.records} | {r.external_id for r in rest} == set(shop.record_ids("orders"))


# ── cost pacing, THROTTLED and retries ─────────────────────────────────────────────────────────────


def paced(server: SandboxServer, clock: FakeTime, **settings) -> ShopifyConnector:
    config = ShopifyConfig(shop_url=server.url, **settings)
    return ShopifyConnector("shop", config, token=server.access_token, retry=RETRY_FAST, sleep=clock.sleep, clock=clock)


def test_a_query_the_bucket_cannot_pay_for_waits_exactly_until_it_can():
    clock = FakeTime()
    with SandboxServer(SandboxState(clock=clock, maximum_available=1000.0, restore_rate=50.0)) as shop:
        connector = paced(shop, clock, orders_page_size=10)
        reading = connector.read("orders", None)
        next(reading)  # learns the query's requested cost and the bucket
        shop.state.drain_bucket()
        status = shop.state.bucket.status()
        requested = orders_page_cost(10, 10, 10)
        connector._client.pacer.observe("orders", {"cost": {"requestedQueryCost": requested, "throttleStatus": status}})
        next(reading)
        reading.close()
        assert clock.sleeps == [pytest.approx(requested / 50.0)]
        assert connector.stats.paced == 1 and connector.stats.paced_s == pytest.approx(requested / 50.0)
        assert connector.stats.throttled == 0
        connector.close()


def test_a_throttled_query_waits_for_the_restore_rate_then_succeeds():
    clock = FakeTime()
    with SandboxServer(SandboxState(clock=clock)) as shop:
        connector = paced(shop, clock, customers_page_size=50)
        shop.state.drain_bucket()
        batches = read_all(connector, "customers")
        assert len(records_of(batches)) == 57
        assert connector.stats.throttled == 1
        assert clock.sleeps[0] == pytest.approx((2 + 50 * 2) / 100.0)  # requested cost / restore rate
        assert connector.stats.throttled_wait_s == pytest.approx(clock.sleeps[0])
        assert connector.stats.waited_s == pytest.approx(sum(clock.sleeps))
        connector.close()


@pytest.mark.parametrize("status", [200, 429])
def test_throttled_is_retried_whatever_its_http_status(status):
    clock = FakeTime()
    with SandboxServer(SandboxState(clock=clock, throttled_status=status)) as shop:
        connector = paced(shop, clock, customers_page_size=50)
        shop.state.throttle_next(2)
        assert len(records_of(read_all(connector, "customers"))) == 57
        assert connector.stats.throttled == 2
        connector.close()


def test_throttling_that_outlasts_the_attempts_is_retryable_with_the_cost_wait():
    clock = FakeTime()
    with SandboxServer(SandboxState(clock=clock)) as shop:
        connector = paced(shop, clock)
        shop.state.throttle_next(10)
        with pytest.raises(RetryableError) as caught:
            read_all(connector, "customers")
        assert caught.value.retry_after and caught.value.retry_after > 0
        assert len(shop.state.requests) == RETRY_FAST.max_attempts
        connector.close()


def test_server_errors_are_retried_and_the_read_completes(shop):
    connector = shopify_connector(shop, retry=RETRY_FAST)
    shop.state.fail_next(2, 503)
    assert len(records_of(read_all(connector, "customers"))) == 57
    assert connector.stats.retry_wait_s >= 0 and len(shop.state.requests) == 6 + 2
    connector.close()


def test_a_query_over_the_single_query_cost_limit_is_refused_by_config():
    with pytest.raises(ValidationError, match="query cost"):
        ShopifyConfig(shop_url="https://a.myshopify.com", orders_page_size=50, line_items_per_order=50)


def test_the_cost_estimate_matches_what_the_emulator_charges(shop, connector):
    next(iter(connector.read("orders", None)))
    assert connector.stats.requested_cost == orders_page_cost(10, 10, 10)


# ── garbage ────────────────────────────────────────────────────────────────────────────────────────


def test_garbage_orders_are_rejected_without_values_and_the_read_goes_on(shop, connector):
    shop.state.serve_garbage(1)
    batches = read_all(connector, "orders")
    rejects = [r for r in records_of(batches) if isinstance(r, Rejected)]
    assert len(rejects) == 3 and all("千円" not in r.reason and "昨日" not in r.reason for r in rejects)
    assert sum(isinstance(r, Purchase) for r in records_of(batches)) == 83 - 3


def test_a_page_of_only_garbage_keeps_the_previous_high_water_mark(shop):
    connector = shopify_connector(shop, customers_page_size=3)
    shop.state.serve_garbage(1)
    first = next(iter(connector.read("customers", None)))
    assert all(isinstance(record, Rejected) for record in first.records)
    assert StreamCursor.from_json(first.cursor).updated_since is None
    connector.close()


# ── mapping ────────────────────────────────────────────────────────────────────────────────────────


def raw_orders(shop):
    return {oid: shop.state.record("orders", oid) for oid in shop.record_ids("orders")}


def test_a_pos_order_is_a_store_purchase_at_its_locations_store_code(shop):
    connector = shopify_connector(shop, store_codes={"71001": "SHIBUYA"})
    purchases = by_id(read_all(connector, "orders"))
    pos = {oid: raw for oid, raw in raw_orders(shop).items() if raw["sourceName"] == "pos"}
    assert pos
    for order_id, raw in pos.items():
        location = raw["retailLocation"]["id"].rsplit("/", 1)[-1]
        assert purchases[order_id].channel == "store"
        assert purchases[order_id].store_code == ("SHIBUYA" if location == "71001" else location)
    connector.close()


def test_an_online_order_has_lines_discount_codes_and_tax(shop, connector):
    purchases = by_id(read_all(connector, "orders"))
    raw_id, raw = next((i, r) for i, r in raw_orders(shop).items() if r["sourceName"] != "pos" and r["discountCodes"])
    purchase = purchases[raw_id]
    assert (purchase.channel, purchase.store_code) == ("online", None)
    assert purchase.coupon_codes == tuple(raw["discountCodes"])
    assert purchase.total_amount == int(float(raw["totalPriceSet"]["shopMoney"]["amount"]))
    assert purchase.discount_amount > 0 and purchase.tax_amount > 0
    assert [line.amount for line in purchase.lines] == [int(float(x["originalTotalSet"]["shopMoney"]["amount"]))
                                                        for x in raw["_lines"]]  # fmt: skip
    assert purchase.customer_external_id is None or purchase.customer_external_id.startswith("gid://shopify/Customer/")


def test_refunds_become_adjustments_and_a_cancellation_cancels(shop, connector):
    refunded, cancelled = shop.record_ids("orders")[1], shop.record_ids("orders")[2]
    refund = shop.state.add_refund(refunded, 500)
    shop.state.cancel_order(cancelled)
    purchases = by_id(read_all(connector, "orders"))
    assert purchases[refunded].status == "partially_refunded"
    assert [(a.kind, a.amount) for a in purchases[refunded].adjustments][-1] == ("refund", refund.amount)
    kinds = [a.kind for a in purchases[cancelled].adjustments]
    assert purchases[cancelled].status == "cancelled" and kinds[-1] == "cancel" and "refund" in kinds


def test_orders_with_more_line_items_than_a_page_are_completed(shop):
    connector = shopify_connector(shop, line_items_per_order=1)
    purchases = by_id(read_all(connector, "orders"))
    for order_id, raw in raw_orders(shop).items():
        assert len(purchases[order_id].lines) == len(raw["_lines"])
    connector.close()


def test_japanese_names_addresses_and_phones_reach_the_profile(shop, connector):
    profiles = by_id(read_all(connector, "customers"))
    for customer_id in shop.record_ids("customers")[:20]:
        raw, profile = shop.state.record("customers", customer_id), profiles[customer_id]
        address = raw["defaultAddress"]
        assert profile.name == f"{raw['lastName']} {raw['firstName']}"
        assert profile.postal_code == address["zip"]
        assert profile.address.startswith(address["province"] + address["city"] + address["address1"])
        assert profile.phone == raw["phone"] or profile.phone == address["phone"]
        assert isinstance(profile, Profile) and profile.email == raw["email"]


# ── webhooks ───────────────────────────────────────────────────────────────────────────────────────


def test_both_secrets_are_accepted_while_rotating(shop):
    connector = SHOPIFY_CONNECTOR_TYPE.factory(
        "shop", ShopifyConfig(shop_url=shop.url), {"token_env": shop.access_token, "webhook_secret_env": "old, new"}
    )
    customer = shop.record_ids("customers")[0]
    for secret in ("old", "new"):
        delivery = shop.state.webhook("customers/update", customer, secret=secret)
        assert connector.verify_webhook(delivery.headers, delivery.body) == delivery.webhook_id
    with pytest.raises(WebhookRejected):
        forged = shop.state.webhook("customers/update", customer, secret="retired")
        connector.verify_webhook(forged.headers, forged.body)
    connector.close()


def test_a_retried_delivery_keeps_its_webhook_id_for_the_hub_to_deduplicate(shop, connector):
    delivery = shop.state.webhook("orders/create", shop.record_ids("orders")[0])
    ids = {connector.verify_webhook(delivery.headers, delivery.body) for _ in range(2)}
    assert ids == {delivery.webhook_id}


def test_a_delivery_retried_within_shopifys_four_hours_is_accepted(shop):
    connector = ShopifyConnector("shop", ShopifyConfig(shop_url=shop.url), token="t",
                                 webhook_secrets=(shop.state.webhook_secret,))  # fmt: skip
    delivery = shop.state.webhook("customers/create", shop.record_ids("customers")[0], age_s=4 * 3600)
    assert connector.verify_webhook(delivery.headers, delivery.body)
    connector.close()


@pytest.mark.parametrize("header", ["X-Shopify-Webhook-Id", "X-Shopify-Triggered-At"])
def test_a_signed_delivery_without_its_id_or_trigger_time_is_a_400(shop, connector, header):
    delivery = shop.state.webhook("customers/update", shop.record_ids("customers")[0])
    headers = {name: value for name, value in delivery.headers.items() if name != header}
    with pytest.raises(WebhookRejected) as caught:
        connector.verify_webhook(headers, delivery.body)
    assert caught.value.status == 400


def test_a_forged_signature_is_refused_before_the_body_is_parsed(connector):
    with pytest.raises(WebhookRejected) as caught:
        connector.verify_webhook({"X-Shopify-Hmac-Sha256": "bm90IGl0", "X-Shopify-Topic": "orders/create"}, b"{")
    assert caught.value.status == 401


def test_a_refund_delivery_yields_the_order_with_its_refund(shop, connector):
    order_id = shop.record_ids("orders")[4]
    refund = shop.state.add_refund(order_id, 300)
    delivery = shop.state.webhook("refunds/create", order_id)
    connector.verify_webhook(delivery.headers, delivery.body)
    [purchase] = connector.parse_webhook(delivery.headers, delivery.body)
    assert isinstance(purchase, Purchase) and purchase.external_id == order_id
    assert purchase.adjustments[-1].external_id == f"gid://shopify/Refund/{refund.number}"


def test_a_customer_delivery_maps_like_a_page(shop, connector):
    customer_id = shop.record_ids("customers")[3]
    delivery = shop.state.webhook("customers/update", customer_id)
    [from_hook] = connector.parse_webhook(delivery.headers, delivery.body)
    from_page = by_id(read_all(connector, "customers"))[customer_id]
    assert from_hook == from_page


# ── configuration and registration ─────────────────────────────────────────────────────────────────


def test_the_default_api_version_is_the_emulators_newest():
    assert SUPPORTED_VERSIONS[-1] == DEFAULT_API_VERSION


@pytest.mark.parametrize(
    "settings",
    [{}, {"shop_url": "https://a.myshopify.com", "api_version": "2025-02"},
     {"shop_url": "https://a.myshopify.com", "token_env": "MY-TOKEN"},
     {"shop_url": "https://a.myshopify.com", "customers_page_size": 251}],
    ids=["no-url", "not-a-release-month", "bad-env-name", "page-too-big"],
)  # fmt: skip
def test_invalid_settings_are_refused(settings):
    with pytest.raises(ValidationError):
        ShopifyConfig.model_validate(settings)


def test_two_shops_are_built_from_hub_settings_through_the_plugin(shop, monkeypatch):
    monkeypatch.setenv("TOKYO_TOKEN", shop.access_token)
    monkeypatch.setenv("OSAKA_TOKEN", shop.access_token)
    monkeypatch.setenv("HOOK_KEYS", "a,b")
    manager = build_plugin_manager(load_entry_points=False, extra_plugins=("connectors.shopify.plugin",))
    instances = {
        name: InstanceConfig(name=name, type="shopify", settings={
            "shop_url": shop.url, "token_env": token, "webhook_secret_env": "HOOK_KEYS"})
        for name, token in (("tokyo-shop", "TOKYO_TOKEN"), ("osaka-shop", "OSAKA_TOKEN"))
    }  # fmt: skip
    registry = ConnectorRegistry.from_plugins(manager, instances)
    for name in instances:
        connector = registry.build(name)
        try:
            assert connector.instance == name and connector.check().ok
        finally:
            connector.close()


def test_the_plugin_is_published_under_the_connectors_entry_point():
    published = {entry.name: entry.value for entry in entry_points(group=ENTRY_POINT_GROUP)}
    assert published.get("shopify") == "connectors.shopify.plugin"
