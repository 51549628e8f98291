"""The sandbox's customer writes behave like the documented ``tagsAdd``, ``tagsRemove`` and ``metafieldsSet``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connectors.shopify.sandbox import SandboxServer
from tests.connectors.shopify.test_sandbox import gql

TAGS = "mutation($id: ID!, $tags: [String!]!) { %s(id: $id, tags: $tags) { node { id } userErrors { field message } } }"
TAGS_ADD, TAGS_REMOVE = TAGS % "tagsAdd", TAGS % "tagsRemove"
SET = (
    "mutation($m: [MetafieldsSetInput!]!) { metafieldsSet(metafields: $m) {"
    " metafields { id namespace key value type } userErrors { field message code elementIndex } } }"
)
READ = (
    'query($id: ID!) { customer(id: $id) { tags updatedAt rank: metafield(namespace: "memberhub", key: "rank")'
    " { value type ownerType } } }"
)


@pytest.fixture
def customer(shop: SandboxServer) -> str:
    return shop.record_ids("customers")[0]


def metafield(owner: str, key: str = "rank", value: str = "silver", **fields: Any) -> dict[str, Any]:
    return {"ownerId": owner, "namespace": "memberhub", "key": key, "type": "single_line_text_field", "value": value,
            **fields}  # fmt: skip


def test_tags_add_adds_once_and_customer_queries_return_them(shop, admin, customer):
    before = gql(admin, shop, READ, id=customer)["data"]["customer"]

    gql(admin, shop, TAGS_ADD, id=customer, tags=["rank:silver, vip"])  # Shopify splits on commas
    body = gql(admin, shop, TAGS_ADD, id=customer, tags=["vip"])

    after = gql(admin, shop, READ, id=customer)["data"]["customer"]
    listed = gql(admin, shop, "{ customers(first: 250) { nodes { id tags } } }")["data"]["customers"]["nodes"]
    assert body["data"]["tagsAdd"] == {"node": {"id": customer}, "userErrors": []}
    assert after["tags"] == ["rank:silver", "vip"] and after["updatedAt"] > before["updatedAt"]
    assert next(node["tags"] for node in listed if node["id"] == customer) == ["rank:silver", "vip"]


def test_a_mutation_costs_ten_points(shop, admin, customer):
    cost = gql(admin, shop, TAGS_ADD, id=customer, tags=["vip"])["extensions"]["cost"]

    assert cost["requestedQueryCost"] == cost["actualQueryCost"] == 10


def test_tags_remove_removes_and_ignores_absent_tags(shop, admin, customer):
    shop.state.update_customer(customer, tags=["rank:bronze", "vip"])

    body = gql(admin, shop, TAGS_REMOVE, id=customer, tags=["rank:bronze", "never-there"])

    assert body["data"]["tagsRemove"]["userErrors"] == []
    assert shop.state.record("customers", customer)["tags"] == ["vip"]


def test_an_unknown_customer_is_a_user_error_on_id(shop, admin):
    body = gql(admin, shop, TAGS_ADD, id="gid://shopify/Customer/1", tags=["vip"])

    refused = {"node": None, "userErrors": [{"field": ["id"], "message": "Customer does not exist"}]}
    assert body["data"]["tagsAdd"] == refused


def test_an_id_that_is_no_global_id_is_a_top_level_error(shop, admin):
    body = gql(admin, shop, TAGS_REMOVE, id="12345", tags=["vip"])

    assert body["data"]["tagsRemove"] is None and body["errors"][0]["message"] == "invalid id"


def test_a_customer_holds_at_most_250_tags_of_255_characters(shop, admin, customer):
    shop.state.update_customer(customer, tags=[f"t{n}" for n in range(249)])

    too_long = gql(admin, shop, TAGS_ADD, id=customer, tags=["x" * 256])["data"]["tagsAdd"]["userErrors"]
    fits = gql(admin, shop, TAGS_ADD, id=customer, tags=["one-more"])["data"]["tagsAdd"]["userErrors"]
    over = gql(admin, shop, TAGS_ADD, id=customer, tags=["one-too-many"])["data"]["tagsAdd"]["userErrors"]

    assert too_long[0]["field"] == ["tags"] and "255" in too_long[0]["message"]
    assert fits == []
    assert over == [{"field": ["tags"], "message": "Customer can't have more than 250 tags"}]


def test_metafields_are_set_and_read_through_the_customer(shop, admin, customer):
    body = gql(admin, shop, SET, m=[metafield(customer), metafield(customer, "points", "1200", type="number_integer")])
    again = gql(admin, shop, SET, m=[metafield(customer, value="gold")])  # overwrites, same metafield

    read = gql(admin, shop, READ, id=customer)["data"]["customer"]["rank"]
    first, second = body["data"]["metafieldsSet"]["metafields"], again["data"]["metafieldsSet"]["metafields"]
    assert [(m["key"], m["value"], m["type"]) for m in first] == [
        ("rank", "silver", "single_line_text_field"), ("points", "1200", "number_integer"),
    ]  # fmt: skip
    assert second[0]["id"] == first[0]["id"]
    assert read == {"value": "gold", "type": "single_line_text_field", "ownerType": "CUSTOMER"}


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        ({"namespace": "mh"}, "namespace", "TOO_SHORT"),
        ({"key": "k"}, "key", "TOO_SHORT"),
        ({"key": "k" * 65}, "key", "TOO_LONG"),
        ({"key": "rank.level"}, "key", "INVALID"),
        ({"type": "colour"}, "type", "INVALID_TYPE"),
        ({"type": None}, "type", "BLANK"),
        ({"type": "number_integer", "value": "12.5"}, "value", "INVALID_VALUE"),
        ({"type": "number_integer", "value": "9007199254740992"}, "value", "INVALID_VALUE"),
        ({"value": "two\nlines"}, "value", "INVALID_VALUE"),
        ({"ownerId": "gid://shopify/Customer/1"}, "ownerId", "INVALID"),
    ],
)
def test_an_invalid_metafield_is_a_user_error_and_nothing_is_set(shop, admin, customer, fields, field, code):
    body = gql(admin, shop, SET, m=[metafield(customer, "points", "7", type="number_integer"),
                                    metafield(customer, **fields)])  # fmt: skip

    [error] = body["data"]["metafieldsSet"]["userErrors"]
    assert (error["field"], error["code"], error["elementIndex"]) == (["metafields", "1", field], code, 1)
    assert body["data"]["metafieldsSet"]["metafields"] is None
    assert shop.state.records.metafield(1, "memberhub", "points") is None  # atomic: the valid one was not set


def test_an_existing_metafield_keeps_its_type(shop, admin, customer):
    gql(admin, shop, SET, m=[metafield(customer)])
    body = gql(admin, shop, SET, m=[metafield(customer, type="json", value="{}")])

    [error] = body["data"]["metafieldsSet"]["userErrors"]

    assert error["code"] == "INVALID_TYPE"


def test_at_most_25_metafields_are_set_at_a_time(shop, admin, customer):
    body = gql(admin, shop, SET, m=[metafield(customer, f"key{n}") for n in range(26)])

    [error] = body["data"]["metafieldsSet"]["userErrors"]
    assert (error["field"], error["code"]) == (["metafields"], "LESS_THAN_OR_EQUAL_TO")


def test_writes_are_throttled_like_queries(shop: SandboxServer, admin: httpx.Client, customer):
    shop.state.throttle_next(1)

    body = admin.post(shop.graphql_url, json={"query": TAGS_ADD, "variables": {"id": customer, "tags": ["vip"]}}).json()

    assert body["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert shop.state.record("customers", customer)["tags"] == []
