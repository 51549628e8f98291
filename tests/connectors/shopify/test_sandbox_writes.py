"""The sandbox's writes behave like the documented ``tagsAdd``, ``tagsRemove``, ``metafieldsSet``,
``customerEmailMarketingConsentUpdate`` and ``discountCodeBasicCreate`` (read back by ``codeDiscountNodeByCode``)."""

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


# ── email marketing consent ────────────────────────────────────────────────────────────────────────

CONSENT = (
    "mutation($input: CustomerEmailMarketingConsentUpdateInput!) { customerEmailMarketingConsentUpdate(input: $input)"
    " { customer { id updatedAt emailMarketingConsent { marketingState marketingOptInLevel consentUpdatedAt } }"
    " userErrors { field message code } } }"
)


def consent_input(customer: str, state: str = "UNSUBSCRIBED", **fields: Any) -> dict[str, Any]:
    return {"customerId": customer, "emailMarketingConsent": {"marketingState": state, **fields}}


def test_email_consent_is_recorded_and_read_back_through_the_customer(shop, admin, customer):
    before = shop.state.record("customers", customer)["updatedAt"]
    moment = {"consentUpdatedAt": "2026-04-01T10:00:00+09:00", "marketingOptInLevel": "CONFIRMED_OPT_IN"}

    body = gql(admin, shop, CONSENT, input=consent_input(customer, "SUBSCRIBED", **moment))

    read = gql(admin, shop, "query($id: ID!) { customer(id: $id) { emailMarketingConsent { marketingState"
                            " marketingOptInLevel consentUpdatedAt } } }", id=customer)["data"]["customer"]  # fmt: skip
    payload = body["data"]["customerEmailMarketingConsentUpdate"]
    assert payload["userErrors"] == [] and payload["customer"]["updatedAt"] > before
    assert read["emailMarketingConsent"] == {
        "marketingState": "SUBSCRIBED", "marketingOptInLevel": "CONFIRMED_OPT_IN",
        "consentUpdatedAt": "2026-04-01T01:00:00Z",
    }  # fmt: skip


def test_consent_without_a_date_is_dated_when_it_was_recorded(shop, admin, customer):
    body = gql(admin, shop, CONSENT, input=consent_input(customer))

    customer_now = body["data"]["customerEmailMarketingConsentUpdate"]["customer"]
    assert customer_now["emailMarketingConsent"]["consentUpdatedAt"] is not None


@pytest.mark.parametrize(
    ("arrange", "state", "field", "code"),
    [
        ("unknown", "UNSUBSCRIBED", ["input", "customerId"], "INVALID"),
        ("no email", "UNSUBSCRIBED", ["input", "customerId"], "INVALID"),
        ("", "NOT_SUBSCRIBED", ["input", "emailMarketingConsent", "marketingState"], "INCLUSION"),
        ("", "REDACTED", ["input", "emailMarketingConsent", "marketingState"], "INCLUSION"),
    ],
)
def test_consent_the_shop_cannot_take_is_a_user_error(shop, admin, customer, arrange, state, field, code):
    if arrange == "no email":
        shop.state.update_customer(customer, email=None)
    target = "gid://shopify/Customer/1" if arrange == "unknown" else customer

    body = gql(admin, shop, CONSENT, input=consent_input(target, state))

    payload = body["data"]["customerEmailMarketingConsentUpdate"]
    assert payload["customer"] is None
    assert [(error["field"], error["code"]) for error in payload["userErrors"]] == [(field, code)]


# ── basic code discounts ───────────────────────────────────────────────────────────────────────────

DISCOUNT = (
    "mutation($d: DiscountCodeBasicInput!) { discountCodeBasicCreate(basicCodeDiscount: $d) {"
    " codeDiscountNode { id } userErrors { field message code } } }"
)
BY_CODE = """query($code: String!) { codeDiscountNodeByCode(code: $code) { id codeDiscount { __typename
  ... on DiscountCodeBasic { title startsAt endsAt usageLimit appliesOncePerCustomer asyncUsageCount
    customerSelection { ... on DiscountCustomers { customers { id } } ... on DiscountCustomerAll { allCustomers } }
    customerGets { value { ... on DiscountAmount { amount { amount currencyCode } appliesOnEachItem }
                           ... on DiscountPercentage { percentage } }
                   items { ... on AllDiscountItems { allItems } } } } } } }"""


def discount(customer: str | None, code: str = "OWABI-7KQM-X2PD-94HT", **fields: Any) -> dict[str, Any]:
    selection = {"all": True} if customer is None else {"customers": {"add": [customer]}}
    return {
        "title": "お詫びクーポン", "code": code, "startsAt": "2026-04-01T10:00:00+09:00",
        "endsAt": "2026-05-01T00:00:00+09:00", "customerSelection": selection,
        "customerGets": {"value": {"discountAmount": {"amount": "500", "appliesOnEachItem": False}},
                         "items": {"all": True}},
        "usageLimit": 1, "appliesOncePerCustomer": True, **fields,
    }  # fmt: skip


def test_a_discount_code_is_created_and_found_by_its_code_in_any_case(shop, admin, customer):
    body = gql(admin, shop, DISCOUNT, d=discount(customer))

    node = gql(admin, shop, BY_CODE, code="owabi-7kqm-x2pd-94ht")["data"]["codeDiscountNodeByCode"]
    created = body["data"]["discountCodeBasicCreate"]
    assert created["userErrors"] == [] and node["id"] == created["codeDiscountNode"]["id"]
    assert body["extensions"]["cost"]["requestedQueryCost"] == 10
    assert node["codeDiscount"] == {
        "__typename": "DiscountCodeBasic", "title": "お詫びクーポン", "startsAt": "2026-04-01T01:00:00Z",
        "endsAt": "2026-04-30T15:00:00Z", "usageLimit": 1, "appliesOncePerCustomer": True, "asyncUsageCount": 0,
        "customerSelection": {"customers": [{"id": customer}]},
        "customerGets": {"value": {"amount": {"amount": "500.0", "currencyCode": "JPY"}, "appliesOnEachItem": False},
                         "items": {"allItems": True}},
    }  # fmt: skip


def test_a_percentage_for_all_customers(shop, admin):
    gql(admin, shop, DISCOUNT, d=discount(None, customerGets={"value": {"percentage": 0.1}, "items": {"all": True}}))

    basic = gql(admin, shop, BY_CODE, code="OWABI-7KQM-X2PD-94HT")["data"]["codeDiscountNodeByCode"]["codeDiscount"]
    assert basic["customerSelection"] == {"allCustomers": True}
    assert basic["customerGets"]["value"] == {"percentage": 0.1}


def test_a_code_already_in_the_shop_is_taken_whatever_its_case(shop, admin, customer):
    gql(admin, shop, DISCOUNT, d=discount(customer))

    again = gql(admin, shop, DISCOUNT, d=discount(customer, code="owabi-7kqm-x2pd-94ht"))

    refused = again["data"]["discountCodeBasicCreate"]
    assert refused["codeDiscountNode"] is None
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [(["basicCodeDiscount", "code"], "TAKEN")]
    assert shop.state.discount_count() == 1


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        ({"title": " "}, ["title"], "BLANK"),
        ({"code": ""}, ["code"], "BLANK"),
        ({"code": "X" * 256}, ["code"], "TOO_LONG"),
        ({"startsAt": None}, ["startsAt"], "BLANK"),
        ({"endsAt": "2026-04-01T10:00:00+09:00"}, ["endsAt"], "INVALID"),
        ({"usageLimit": 0}, ["usageLimit"], "GREATER_THAN_OR_EQUAL_TO"),
        ({"customerSelection": None}, ["customerSelection"], "BLANK"),
        ({"customerSelection": {"all": False}}, ["customerSelection"], "INVALID"),
        ({"customerSelection": {"customers": {"add": ["gid://shopify/Customer/1"]}}},
         ["customerSelection", "customers", "add", "0"], "INVALID"),
        ({"customerGets": {"value": {"percentage": 1.5}, "items": {"all": True}}},
         ["customerGets", "value", "percentage"], "VALUE_OUTSIDE_RANGE"),
        ({"customerGets": {"value": {"discountAmount": {"amount": "0"}}, "items": {"all": True}}},
         ["customerGets", "value", "discountAmount", "amount"], "GREATER_THAN"),
        ({"customerGets": {"value": {}, "items": {"all": True}}}, ["customerGets", "value"], "INVALID"),
        ({"customerGets": {"value": {"percentage": 0.1}}}, ["customerGets", "items"], "BLANK"),
    ],
)  # fmt: skip
def test_an_invalid_discount_is_a_user_error_and_nothing_is_created(shop, admin, customer, fields, field, code):
    body = gql(admin, shop, DISCOUNT, d=discount(customer, **fields))

    refused = body["data"]["discountCodeBasicCreate"]
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [(["basicCodeDiscount", *field], code)]
    assert refused["codeDiscountNode"] is None and shop.state.discount_count() == 0
