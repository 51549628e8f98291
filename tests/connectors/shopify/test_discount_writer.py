"""``coupon.issued`` delivered to the Shopify emulator over loopback: one basic code discount per coupon."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.shopify import ShopifyConfig, ShopifyConnector
from connectors.shopify.sandbox import SandboxServer
from core.errors import PermanentError, RetryableError
from core.sync.contract import OutboundMessage
from core.sync.retry import RetryPolicy
from tests.connectors.shopify.factories import FakeTime, shopify_connector

MEMBER = "0b7c4f3e-9d51-4c1e-8a57-3f2d2b9a6c10"
CODE = "OWABI-7KQM-X2PD-94HT"
ISSUED = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
EXPIRES = ISSUED + timedelta(days=30)


@pytest.fixture
def customer(shop: SandboxServer) -> str:
    return shop.record_ids("customers")[0]


@pytest.fixture
def connector(shop: SandboxServer) -> ShopifyConnector:
    return shopify_connector(shop)


def coupon(customer: str | None, **fields: Any) -> OutboundMessage:
    """A ``coupon.issued`` message as ``core.loyalty.coupon_messages`` writes it."""
    payload = {
        "member_id": MEMBER, "customer_id": customer, "coupon_code": CODE, "template": "apology-500",
        "name_ja": "お詫びクーポン（500円引き）", "name_en": "Apology coupon (500 yen off)", "value_type": "amount",
        "value": 500, "max_uses": 1, "issued_at": ISSUED.isoformat(), "expires_at": EXPIRES.isoformat(), **fields,
    }  # fmt: skip
    return OutboundMessage("coupon.issued", "coupon:41:email", payload, MEMBER)


def created(shop: SandboxServer) -> dict[str, Any]:
    node = shop.state.discount(CODE)
    assert node is not None, "no discount with the coupon's code"
    return dict(node["codeDiscount"])


def iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_coupon_becomes_a_single_use_discount_code_for_its_customer_while_it_is_valid(shop, connector, customer):
    connector.deliver(coupon(customer))

    discount = created(shop)
    assert (discount["startsAt"], discount["endsAt"]) == (iso_z(ISSUED), iso_z(EXPIRES))
    assert discount["title"] == "お詫びクーポン（500円引き）"
    assert [person["id"] for person in discount["customerSelection"]["customers"]] == [customer]
    assert (discount["usageLimit"], discount["appliesOncePerCustomer"]) == (1, True)
    amount = {"amount": "500.0", "currencyCode": "JPY"}
    assert discount["customerGets"]["value"] == {"__typename": "DiscountAmount", "amount": amount,
                                                 "appliesOnEachItem": False}  # fmt: skip


def test_a_coupon_written_without_its_issue_time_starts_when_it_is_delivered(shop, connector, customer):
    written = coupon(customer)
    older = {key: value for key, value in written.payload.items() if key != "issued_at"}
    before = datetime.now(UTC).replace(microsecond=0)

    connector.deliver(OutboundMessage(written.kind, written.idempotency_key, older, MEMBER))

    assert before <= datetime.fromisoformat(created(shop)["startsAt"]) <= datetime.now(UTC)


def test_a_percent_coupon_of_three_uses_is_a_percentage_usable_three_times(shop, connector, customer):
    connector.deliver(coupon(customer, value_type="percent", value=10, max_uses=3))

    discount = created(shop)
    assert discount["customerGets"]["value"] == {"__typename": "DiscountPercentage", "percentage": 0.1}
    assert (discount["usageLimit"], discount["appliesOncePerCustomer"]) == (3, False)


def test_a_coupon_delivered_twice_creates_one_discount(shop, connector, customer):
    connector.deliver(coupon(customer))
    connector.deliver(coupon(customer))  # the retry of a delivery whose answer was lost

    assert shop.state.discount_count() == 1
    assert connector.stats.queries == 3  # create; create answered TAKEN, then the code looked up


def test_a_coupon_of_a_member_without_a_shopify_customer_is_open_to_all_customers(shop, connector):
    connector.deliver(coupon(None))

    assert created(shop)["customerSelection"] == {"__typename": "DiscountCustomerAll", "allCustomers": True}


def test_a_customer_unknown_to_the_shop_is_refused_without_personal_data_or_the_code(shop, connector):
    with pytest.raises(PermanentError) as refused:
        connector.deliver(coupon("gid://shopify/Customer/1"))

    assert str(refused.value) == (
        "coupon.issued: Shopify refused the discount write: "
        "basicCodeDiscount.customerSelection.customers.add.0 [INVALID]: Customer does not exist"
    )
    assert shop.state.discount_count() == 0


def test_an_expired_coupon_is_refused_before_anything_is_sent(shop, connector, customer):
    sent = len(shop.state.requests)
    expired = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()

    with pytest.raises(PermanentError, match=f"the coupon of member {MEMBER} expired before it reached shop"):
        connector.deliver(coupon(customer, expires_at=expired))

    assert len(shop.state.requests) == sent


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"value_type": "points"}, "value_type"),
        ({"value_type": "percent", "value": 150}, "at most 100 percent"),
        ({"coupon_code": "owabi 7kqm"}, "coupon_code"),
        ({"expires_at": "2026-05-01T00:00:00"}, "expires_at"),  # no offset: which midnight?
        ({"member_id": "hanako@example.jp"}, "member_id"),
        ({"customer_id": "12345"}, "is not a Shopify customer id"),
    ],
)
def test_a_malformed_coupon_is_refused_clearly_without_echoing_its_values(shop, connector, fields, reason):
    with pytest.raises(PermanentError, match=reason) as refused:
        connector.deliver(coupon("gid://shopify/Customer/7100000000001", **fields))

    assert "hanako" not in str(refused.value) and "owabi" not in str(refused.value).lower()
    assert shop.state.discount_count() == 0


def test_a_throttled_create_is_retried_after_the_cost_wait(shop, customer):
    time = FakeTime()
    connector = ShopifyConnector("shopify-test", ShopifyConfig(shop_url=shop.url, timeout_s=2.0),
                                 token=shop.access_token, retry=RetryPolicy(max_attempts=3), sleep=time.sleep,
                                 clock=time)  # fmt: skip
    shop.state.throttle_next(1)

    connector.deliver(coupon(customer))

    assert shop.state.discount_count() == 1 and connector.stats.throttled == 1


def test_a_server_error_is_retryable_and_creates_nothing(shop, connector, customer):
    shop.state.fail_next(1, 503)

    with pytest.raises(RetryableError):
        connector.deliver(coupon(customer))

    assert shop.state.discount_count() == 0
