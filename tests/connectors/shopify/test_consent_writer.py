"""``member.consent`` delivered to the Shopify emulator over loopback: the customer's email marketing consent."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.shopify import ShopifyConfig, ShopifyConnector
from connectors.shopify.sandbox import SandboxServer
from core.errors import PermanentError
from core.sync.contract import OutboundMessage
from core.sync.retry import RetryPolicy
from tests.connectors.shopify.factories import FakeTime, shopify_connector

MEMBER = "0b7c4f3e-9d51-4c1e-8a57-3f2d2b9a6c10"


@pytest.fixture
def customer(shop: SandboxServer) -> str:
    """A customer with an email address (Shopify keeps email consent only for those)."""
    return next(g for g in shop.record_ids("customers") if shop.state.record("customers", g)["email"])


@pytest.fixture
def connector(shop: SandboxServer) -> ShopifyConnector:
    return shopify_connector(shop)


def change(customer: str | None, subscribed: bool = False, at: str = "2026-04-01T10:00:00.250+09:00",
           **fields: Any) -> OutboundMessage:  # fmt: skip
    """A ``member.consent`` message as ``core.sync.consent_messages`` writes it."""
    payload = {"member_id": MEMBER, "customer_id": customer, "channel": "email", "subscribed": subscribed,
               "changed_at": at, **fields}  # fmt: skip
    return OutboundMessage("member.consent", f"consent:shop:7:1:{customer}", payload, MEMBER)


def consent(shop: SandboxServer, customer: str) -> dict[str, Any]:
    return dict(shop.state.record("customers", customer)["emailMarketingConsent"])


def test_an_unsubscribe_reaches_the_customer_dated_when_the_member_made_it(shop, connector, customer):
    connector.deliver(change(customer))

    assert consent(shop, customer) == {
        "marketingState": "UNSUBSCRIBED", "marketingOptInLevel": None, "consentUpdatedAt": "2026-04-01T01:00:00Z",
    }  # fmt: skip


def test_a_subscribe_is_a_single_opt_in(shop, connector, customer):
    connector.deliver(change(customer, subscribed=True))

    assert consent(shop, customer)["marketingState"] == "SUBSCRIBED"
    assert consent(shop, customer)["marketingOptInLevel"] == "SINGLE_OPT_IN"


def test_a_consent_delivered_twice_is_written_once(shop, connector, customer):
    connector.deliver(change(customer))
    written = consent(shop, customer)
    connector.deliver(change(customer))

    assert consent(shop, customer) == written
    assert connector.stats.queries == 3  # read, write; the retry reads its own write and stops


def test_a_change_older_than_the_shops_consent_leaves_it_alone(shop, connector, customer):
    connector.deliver(change(customer, subscribed=False, at="2026-05-01T09:00:00+09:00"))

    connector.deliver(change(customer, subscribed=True, at="2026-04-01T09:00:00+09:00"))  # delayed in the outbox

    assert consent(shop, customer)["marketingState"] == "UNSUBSCRIBED"


def test_a_customer_without_an_email_address_is_refused(shop, connector, customer):
    shop.state.update_customer(customer, email=None)

    with pytest.raises(PermanentError, match=f"the customer of member {MEMBER} has no email address in shop"):
        connector.deliver(change(customer))


def test_a_customer_unknown_to_the_shop_is_refused(shop, connector):
    with pytest.raises(PermanentError, match=f"the customer of member {MEMBER} does not exist in shop shopify-test"):
        connector.deliver(change("gid://shopify/Customer/1"))


def test_a_member_without_a_shopify_customer_is_refused_before_anything_is_sent(shop, connector):
    sent = len(shop.state.requests)

    with pytest.raises(PermanentError, match=f"member.consent: member {MEMBER} has no customer in shop"):
        connector.deliver(change(None))

    assert len(shop.state.requests) == sent


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"channel": "sms"}, "channel"),
        ({"subscribed": "maybe"}, "subscribed"),
        ({"changed_at": "2026-04-01 10:00"}, "changed_at"),
        ({"member_id": "hanako@example.jp"}, "member_id"),
    ],
)
def test_a_malformed_consent_message_is_refused_clearly_without_echoing_its_values(shop, connector, customer,
                                                                                    fields, reason):  # fmt: skip
    with pytest.raises(PermanentError, match=f"member.consent payload invalid: {reason}") as refused:
        connector.deliver(change(customer, **fields))

    assert "hanako" not in str(refused.value)


def test_a_throttled_write_is_retried_after_the_cost_wait(shop, customer):
    time = FakeTime()
    connector = ShopifyConnector("shopify-test", ShopifyConfig(shop_url=shop.url, timeout_s=2.0),
                                 token=shop.access_token, retry=RetryPolicy(max_attempts=3), sleep=time.sleep,
                                 clock=time)  # fmt: skip
    shop.state.throttle_next(1)

    connector.deliver(change(customer))

    assert consent(shop, customer)["marketingState"] == "UNSUBSCRIBED" and connector.stats.throttled == 1
