"""The Shopify writers against the emulator over loopback: rank and segment tags, metafields, and their errors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.shopify import ShopifyConfig, ShopifyConnector
from connectors.shopify.sandbox import SandboxServer
from core.errors import PermanentError, RetryableError
from core.sync.contract import OutboundMessage, OutboundWriter
from core.sync.retry import RetryPolicy
from tests.connectors.shopify.factories import FakeTime, shopify_connector

MEMBER = "0b7c4f3e-9d51-4c1e-8a57-3f2d2b9a6c10"


@pytest.fixture
def customer(shop: SandboxServer) -> str:
    """A customer the shop has tagged ``rank:bronze`` (and ``vip``, which is not ours to touch)."""
    global_id = shop.record_ids("customers")[0]
    shop.state.update_customer(global_id, tags=["vip", "rank:bronze"])
    return global_id


@pytest.fixture
def connector(shop: SandboxServer) -> ShopifyConnector:
    return shopify_connector(shop)


def rank_change(customer_id: str | None, from_rank: str | None = "bronze", to_rank: str = "silver") -> OutboundMessage:
    payload = {"member_id": MEMBER, "customer_id": customer_id, "from_rank": from_rank, "to_rank": to_rank,
               "points_available": 1_234, "changed_at": "2026-04-01T10:00:00+09:00"}  # fmt: skip
    return OutboundMessage("member.rank", f"rank:shop:1:{customer_id}", payload, MEMBER)


def segment_changes(*changes: dict[str, Any]) -> OutboundMessage:
    return OutboundMessage("member.segments", "segments:shop:2026-04-01T10:00:00+09:00:0", {"changes": list(changes)})


def statuses(*changes: dict[str, Any], rank_flags: tuple[str, ...] = ("priority_reservation", "rank_only_sale")):
    payload = {"changes": list(changes), "rank_flags": list(rank_flags)}
    return OutboundMessage("member.loyalty", "status:shop:2026-04-01T10:00:00+09:00:0", payload)


def tags(shop: SandboxServer, customer_id: str) -> list[str]:
    return list(shop.state.record("customers", customer_id)["tags"])


def metafield(shop: SandboxServer, customer_id: str, key: str) -> dict[str, Any] | None:
    index = shop.state.records.index_of("customers", customer_id)
    assert index is not None
    return shop.state.records.metafield(index, "memberhub", key)


def test_the_connector_is_an_outbound_writer_of_rank_segment_status_coupon_and_consent_messages(connector):
    assert isinstance(connector, OutboundWriter)
    assert set(connector.outbound_kinds) == {
        "member.rank", "member.segments", "member.loyalty", "coupon.issued", "member.consent",
    }  # fmt: skip


def test_a_rank_change_from_bronze_to_silver_swaps_the_tag_and_sets_the_metafields(shop, connector, customer):
    connector.deliver(rank_change(customer))

    assert tags(shop, customer) == ["vip", "rank:silver"]
    rank, points = metafield(shop, customer, "rank"), metafield(shop, customer, "points")
    assert rank is not None and (rank["type"], rank["value"]) == ("single_line_text_field", "silver")
    assert points is not None and (points["type"], points["value"]) == ("number_integer", "1234")


def test_the_whole_rank_change_is_one_request_of_three_mutations(shop, connector, customer):
    connector.deliver(rank_change(customer))

    assert connector.stats.queries == 1 and connector.stats.requested_cost == 30  # 10 points a mutation


def test_a_first_rank_only_adds_its_tag(shop, connector, customer):
    connector.deliver(rank_change(customer, from_rank=None, to_rank="gold"))

    assert tags(shop, customer) == ["vip", "rank:bronze", "rank:gold"]
    assert connector.stats.requested_cost == 20


def test_a_rank_change_delivered_twice_leaves_the_same_customer(shop, connector, customer):
    connector.deliver(rank_change(customer))
    once = shop.state.record("customers", customer)
    connector.deliver(rank_change(customer))

    assert tags(shop, customer) == once["tags"] == ["vip", "rank:silver"]


def test_the_tag_pattern_and_namespace_come_from_the_config(shop, customer):
    connector = shopify_connector(shop, rank_tag="会員ランク:{code}", metafield_namespace="loyalty")

    connector.deliver(rank_change(customer, from_rank=None))

    index = shop.state.records.index_of("customers", customer)
    assert "会員ランク:silver" in tags(shop, customer)
    assert index is not None and shop.state.records.metafield(index, "loyalty", "rank") is not None


@pytest.mark.parametrize("pattern", ["rank", "rank:{code},vip", "{code}:{code}", "{rank}"])
def test_a_tag_pattern_without_one_code_or_with_a_comma_is_refused(shop, pattern):
    with pytest.raises(ValidationError):
        ShopifyConfig(shop_url=shop.url, rank_tag=pattern)


def test_segments_joined_are_added_and_segments_left_removed(shop, connector, customer):
    other = shop.record_ids("customers")[1]
    shop.state.update_customer(other, tags=["segment:online"])

    connector.deliver(segment_changes(
        {"member_id": MEMBER, "customer_id": customer, "segments": ["vip"], "joined": ["vip"], "left": []},
        {"member_id": MEMBER, "customer_id": other, "segments": [], "joined": [], "left": ["online"]},
    ))  # fmt: skip

    assert tags(shop, customer) == ["vip", "rank:bronze", "segment:vip"]
    assert tags(shop, other) == []


def test_rank_benefit_flags_become_tags_and_a_json_metafield_and_flags_no_longer_held_are_removed(
    shop, connector, customer
):
    status = {"member_id": MEMBER, "customer_id": customer, "rank": "gold", "points_available": 10}

    connector.deliver(statuses({**status, "flags": ["priority_reservation", "rank_only_sale"]}))
    granted = tags(shop, customer)
    connector.deliver(statuses({**status, "rank": "silver", "flags": ["priority_reservation"]}))

    assert granted == ["vip", "rank:bronze", "benefit:priority_reservation", "benefit:rank_only_sale"]
    assert tags(shop, customer) == ["vip", "rank:bronze", "benefit:priority_reservation"]
    benefits = metafield(shop, customer, "benefits")
    assert benefits is not None and benefits["type"] == "json"
    assert json.loads(benefits["value"]) == ["priority_reservation"]


def test_a_status_without_flags_writes_nothing_to_the_shop(shop, connector, customer):
    connector.deliver(statuses({"member_id": MEMBER, "customer_id": customer, "rank": "gold", "points_available": 1}))

    assert connector.stats.queries == 0 and tags(shop, customer) == ["vip", "rank:bronze"]


def test_a_member_without_a_shopify_customer_is_refused_without_personal_data(shop, connector):
    sent = len(shop.state.requests)

    with pytest.raises(PermanentError) as refused:
        connector.deliver(rank_change(None))

    assert str(refused.value) == f"member.rank: member {MEMBER} has no customer in shop shopify-test"
    assert len(shop.state.requests) == sent  # nothing was sent


def test_an_unknown_customer_is_a_permanent_error(shop, connector):
    with pytest.raises(PermanentError, match="refused the remove write: id: Customer does not exist"):
        connector.deliver(rank_change("gid://shopify/Customer/1"))


def test_a_user_error_is_permanent(shop, connector, customer):
    shop.state.update_customer(customer, tags=[f"tag-{n}" for n in range(250)])

    with pytest.raises(PermanentError, match=r"refused the add write: tags: Customer can't have more than 250 tags"):
        connector.deliver(rank_change(customer, from_rank=None))


def test_refused_segment_changes_are_reported_after_the_others_went_through(shop, connector, customer):
    with pytest.raises(PermanentError, match=r"^1 of 2 segment changes refused; first: member.segments: "):
        connector.deliver(segment_changes(
            {"member_id": MEMBER, "customer_id": "gid://shopify/Customer/1", "joined": ["vip"]},
            {"member_id": MEMBER, "customer_id": customer, "joined": ["vip"]},
        ))  # fmt: skip

    assert "segment:vip" in tags(shop, customer)


def test_a_revoked_token_stops_a_segment_batch_at_its_first_change(shop, connector, customer):
    shop.state.reject_credentials()
    sent = len(shop.state.requests)
    change = {"member_id": MEMBER, "customer_id": customer, "joined": ["vip"]}

    with pytest.raises(PermanentError, match="401"):
        connector.deliver(segment_changes(change, change, change))

    assert len(shop.state.requests) == sent + 1


def test_throttled_writes_are_retried_after_the_cost_wait(shop, customer):
    time = FakeTime()
    config = ShopifyConfig(shop_url=shop.url, timeout_s=2.0)
    connector = ShopifyConnector("shopify-test", config, token=shop.access_token,
                                 retry=RetryPolicy(max_attempts=3), sleep=time.sleep, clock=time)  # fmt: skip
    shop.state.throttle_next(1)

    connector.deliver(rank_change(customer))

    assert tags(shop, customer) == ["vip", "rank:silver"]
    assert connector.stats.throttled == 1 and time.sleeps


def test_a_server_error_is_retryable(shop, connector, customer):
    shop.state.fail_next(1, 503)

    with pytest.raises(RetryableError):
        connector.deliver(rank_change(customer))
    assert tags(shop, customer) == ["vip", "rank:bronze"]


@pytest.mark.parametrize(
    ("kind", "payload", "message"),
    [
        ("member.tags", {}, "does not write 'member.tags' messages"),
        ("member.rank", {"member_id": MEMBER, "to_rank": "Silver!", "points_available": 1}, "payload invalid: to_rank"),
        ("member.rank", {"member_id": MEMBER, "customer_id": "12345", "to_rank": "silver", "points_available": 1},
         "is not a Shopify customer id"),
    ],
)  # fmt: skip
def test_messages_it_cannot_write_are_permanent_errors(connector, kind, payload, message):
    with pytest.raises(PermanentError, match=message):
        connector.deliver(OutboundMessage(kind, "key", payload))
