"""The Shopify sandbox behaves like the documented GraphQL Admin API over real HTTP on loopback."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectors.loopback import LoopbackServer
from connectors.shopify.sandbox import SIGNATURE_HEADER, SandboxServer
from connectors.shopify.sandbox.data import ShopData
from connectors.shopify.sandbox.state import SandboxState

PAGE = (
    "query($after: String, $q: String) { %s(first: 10, after: $after, sortKey: UPDATED_AT, query: $q) {"
    " pageInfo { hasNextPage endCursor } edges { cursor node { id updatedAt } } } }"
)


def gql(admin: httpx.Client, shop: SandboxServer, query: str, **variables: object) -> dict:
    response = admin.post(shop.graphql_url, json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    return response.json()


def all_ids(admin: httpx.Client, shop: SandboxServer, kind: str, q: str | None = None) -> list[str]:
    ids, after = [], None
    for _ in range(50):  # bounded
        body = gql(admin, shop, PAGE % kind, after=after, q=q)["data"][kind]
        ids += [edge["node"]["id"] for edge in body["edges"]]
        if not body["pageInfo"]["hasNextPage"]:
            return ids
        after = body["pageInfo"]["endCursor"]
    raise AssertionError("pagination did not end")


# ── data ───────────────────────────────────────────────────────────────────────────────────────────


def test_the_same_seed_gives_the_same_shop():
    first, again, other = (SandboxState(seed=seed) for seed in (7, 7, 8))
    ids = first.record_ids("customers")[:5]
    assert [first.record("customers", i) for i in ids] == [again.record("customers", i) for i in ids]
    assert [first.record("customers", i) for i in ids] != [other.record("customers", i) for i in ids]


def test_customers_are_japanese_with_e164_phones_and_prefecture_codes():
    state = SandboxState()
    for customer_id in state.record_ids("customers"):
        customer = state.record("customers", customer_id)
        address = customer["defaultAddress"]
        assert address["countryCodeV2"] == "JP" and address["provinceCode"].startswith("JP-")
        assert len(address["zip"]) == 8 and address["zip"][3] == "-"
        assert customer["phone"] is None or customer["phone"].startswith("+81")
        assert customer["updatedAt"].endswith("Z")


def test_shared_customers_have_the_same_person_and_emails_differing_only_in_case():
    state = SandboxState()
    pairs = state.shared_customers()
    assert pairs
    for online_id, store_id in pairs:
        online, store = state.record("customers", online_id), state.record("customers", store_id)
        assert (online["lastName"], online["phone"]) == (store["lastName"], store["phone"])
        if online["email"]:
            assert online["email"] != store["email"] and online["email"].lower() == store["email"].lower()


def test_orders_are_in_yen_from_web_and_pos_with_refunds_and_cancellations():
    state = SandboxState(orders=400)
    orders = [state.record("orders", order_id) for order_id in state.record_ids("orders")]
    assert {order["sourceName"] for order in orders} == {"web", "pos"}
    assert all(order["retailLocation"] for order in orders if order["sourceName"] == "pos")
    assert all(order["totalPriceSet"]["shopMoney"]["currencyCode"] == "JPY" for order in orders)
    assert any(order["cancelledAt"] for order in orders)
    assert {"PAID", "REFUNDED", "PARTIALLY_REFUNDED"} <= {order["displayFinancialStatus"] for order in orders}


def test_a_hundred_thousand_orders_cost_little_until_read():
    data = ShopData(customers=20_000, orders=100_000, seed=1)
    state = SandboxState(customers=20_000, orders=100_000)
    started = time.perf_counter()
    ids = list(state.records.order_by_updated["orders"].scan(after=None, since=None, before=None))
    assert len(ids) == 100_000 and time.perf_counter() - started < 10
    assert data.order_total(99_999) > 0


# ── auth and versions ──────────────────────────────────────────────────────────────────────────────


def test_a_wrong_token_gets_401_with_shopifys_error_body(shop):
    response = httpx.post(
        shop.graphql_url,
        headers={"X-Shopify-Access-Token": "nope"},
        json={"query": "{ customers(first: 1) { nodes { id } } }"},
    )
    assert response.status_code == 401
    assert response.json() == {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}


def test_a_retired_version_falls_forward_and_an_unknown_one_is_not_found(shop, admin):
    query = {"query": "{ customers(first: 1) { nodes { id } } }"}
    old = admin.post(f"{shop.url}/admin/api/2023-01/graphql.json", json=query)
    assert old.status_code == 200 and old.headers["X-Shopify-API-Version"] == "2025-04"
    assert admin.post(f"{shop.url}/admin/api/2025-02/graphql.json", json=query).status_code == 404


# ── pagination and filters ─────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("kind", ["customers", "orders"])
def test_pagination_by_updated_at_returns_every_record_exactly_once(shop, admin, kind):
    ids = all_ids(admin, shop, kind)
    assert sorted(ids) == sorted(shop.state.record_ids(kind))


def test_a_record_updated_while_paging_moves_to_the_end_without_skipping_others(shop, admin):
    first = gql(admin, shop, PAGE % "orders")["data"]["orders"]
    later_id = shop.state.record_ids("orders")[40]
    shop.state.touch("orders", later_id)
    rest, after = [], first["pageInfo"]["endCursor"]
    while after:
        page = gql(admin, shop, PAGE % "orders", after=after)["data"]["orders"]
        rest += [edge["node"]["id"] for edge in page["edges"]]
        after = page["pageInfo"]["endCursor"] if page["pageInfo"]["hasNextPage"] else None
    seen = [edge["node"]["id"] for edge in first["edges"]] + rest
    assert set(seen) == set(shop.state.record_ids("orders")) and rest[-1] == later_id


def test_updated_at_filter_is_strict_with_greater_and_inclusive_with_greater_or_equal(shop, admin):
    touched = shop.state.touch("customers", shop.state.record_ids("customers")[3])
    moment = touched["updatedAt"]
    assert all_ids(admin, shop, "customers", f"updated_at:>='{moment}'") == [touched["id"]]
    assert all_ids(admin, shop, "customers", f"updated_at:>'{moment}'") == []


def test_refunds_and_cancellations_bump_updated_at(shop, admin):
    order_id = shop.state.record_ids("orders")[0]
    before = shop.state.record("orders", order_id)
    refund = shop.state.add_refund(order_id, 500)
    after = shop.state.record("orders", order_id)
    assert (
        after["updatedAt"] > before["updatedAt"]
        and after["refunds"][-1]["totalRefundedSet"]["shopMoney"]["amount"] == f"{refund.amount}.0"
    )
    cancelled = shop.state.cancel_order(order_id)
    assert cancelled["cancelledAt"] and cancelled["displayFinancialStatus"] == "REFUNDED"
    assert cancelled["currentTotalPriceSet"]["shopMoney"]["amount"] == "0.0"


def test_a_page_without_first_is_an_error(shop, admin):
    body = gql(admin, shop, "{ customers { nodes { id } } }")
    assert body["errors"][0]["message"] == "you must provide one of first or last"


# ── cost and throttling ────────────────────────────────────────────────────────────────────────────


def test_cost_is_reported_requested_by_first_and_actual_by_returned_objects(shop, admin):
    body = gql(admin, shop, "{ orders(first: 100) { nodes { id lineItems(first: 5) { nodes { sku } } } } }")
    cost = body["extensions"]["cost"]
    returned = body["data"]["orders"]["nodes"]
    assert cost["requestedQueryCost"] == 2 + 100 * (1 + 2 + 5)
    assert cost["actualQueryCost"] == 2 + sum(1 + 2 + len(order["lineItems"]["nodes"]) for order in returned)
    status = cost["throttleStatus"]
    assert status["maximumAvailable"] == 2000.0 and status["restoreRate"] == 100.0
    assert status["currentlyAvailable"] >= 2000 - cost["actualQueryCost"] - 1


def test_a_burst_beyond_the_bucket_is_throttled_then_served_after_the_restore_time():
    with (
        SandboxServer(maximum_available=100.0, restore_rate=200.0) as shop,
        httpx.Client(headers={"X-Shopify-Access-Token": shop.access_token}) as admin,
    ):
        query = {"query": "{ customers(first: 40) { nodes { id } } }"}  # requests 42 points
        answers = [admin.post(shop.graphql_url, json=query).json() for _ in range(4)]
        throttled = [answer for answer in answers if "data" not in answer]
        assert throttled, "a burst of 4 × 42 points must overflow a 100-point bucket"
        error = throttled[0]
        assert error["errors"][0]["extensions"]["code"] == "THROTTLED" and error["errors"][0]["message"] == "Throttled"
        assert error["extensions"]["cost"]["actualQueryCost"] is None
        status = error["extensions"]["cost"]["throttleStatus"]
        time.sleep((42 - status["currentlyAvailable"]) / status["restoreRate"] + 0.05)
        assert "data" in admin.post(shop.graphql_url, json=query).json()


def test_a_query_over_the_single_query_limit_is_refused(shop, admin):
    body = gql(admin, shop, "{ orders(first: 250) { nodes { lineItems(first: 250) { nodes { sku } } } } }")
    assert body["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"


# ── bulk operations ────────────────────────────────────────────────────────────────────────────────

BULK = (
    "mutation($q: String!) { bulkOperationRunQuery(query: $q) {"
    " bulkOperation { id status } userErrors { field message code } } }"
)
POLL = "{ currentBulkOperation { id status errorCode objectCount rootObjectCount url } }"
ORDERS_WITH_LINES = (
    "{ orders(query: \"updated_at:>='2025-01-01T00:00:00Z'\") {"
    " edges { node { id name lineItems { edges { node { sku quantity } } } } } } }"
)


def polls_until_finished(admin, shop, limit=200):
    """Every poll's answer up to the first that is no longer RUNNING (the export runs in the background)."""
    answers = []
    for _ in range(limit):
        answers.append(gql(admin, shop, POLL)["data"]["currentBulkOperation"])
        if answers[-1]["status"] != "RUNNING":
            return answers
        time.sleep(0.02)
    raise AssertionError(f"bulk operation still running after {limit} polls")


def test_bulk_operation_runs_to_completion_and_its_jsonl_links_children_with_parent_id(shop, admin):
    started = gql(admin, shop, BULK, q=ORDERS_WITH_LINES)["data"]["bulkOperationRunQuery"]
    assert started["userErrors"] == [] and started["bulkOperation"]["status"] == "CREATED"
    statuses = [poll["status"] for poll in polls_until_finished(admin, shop)]
    assert statuses[0] == "RUNNING" and statuses[-1] == "COMPLETED"
    assert set(statuses[:-1]) == {"RUNNING"} and len(statuses) >= shop.state.bulk_polls_to_finish
    done = gql(admin, shop, POLL)["data"]["currentBulkOperation"]
    assert done["status"] == "COMPLETED"
    lines = [json.loads(line) for line in httpx.get(done["url"]).text.splitlines()]
    orders = [line for line in lines if "__parentId" not in line]
    children = [line for line in lines if "__parentId" in line]
    assert sorted(order["id"] for order in orders) == sorted(shop.state.record_ids("orders"))
    assert int(done["objectCount"]) == len(lines) and int(done["rootObjectCount"]) == len(orders)
    seen: set[str] = set()
    for line in lines:  # children come after their parent
        if "__parentId" in line:
            assert line["__parentId"] in seen
        else:
            seen.add(line["id"])
    assert children and all("lineItems" not in order for order in orders)


def test_only_one_bulk_query_runs_at_a_time(shop, admin):
    first = gql(admin, shop, BULK, q=ORDERS_WITH_LINES)["data"]["bulkOperationRunQuery"]["bulkOperation"]
    second = gql(admin, shop, BULK, q=ORDERS_WITH_LINES)["data"]["bulkOperationRunQuery"]
    assert second["bulkOperation"] is None
    error = second["userErrors"][0]
    assert error["code"] == "OPERATION_IN_PROGRESS" and first["id"] in error["message"]


def test_a_failed_bulk_operation_reports_its_error_code_and_no_url(shop, admin):
    shop.state.fail_next_bulk_operation("TIMEOUT")
    started = gql(admin, shop, BULK, q=ORDERS_WITH_LINES)["data"]["bulkOperationRunQuery"]["bulkOperation"]
    node = "query($id: ID!) { node(id: $id) { ... on BulkOperation { status errorCode url } } }"
    polls = [gql(admin, shop, node, id=started["id"])["data"]["node"] for _ in range(2)]
    assert polls[-1] == {"status": "FAILED", "errorCode": "TIMEOUT", "url": None}


def test_a_bulk_query_without_a_connection_is_rejected(shop, admin):
    body = gql(admin, shop, BULK, q='{ customer(id: "gid://shopify/Customer/1") { id } }')
    assert body["data"]["bulkOperationRunQuery"]["userErrors"][0]["code"] == "INVALID"


# ── webhooks ───────────────────────────────────────────────────────────────────────────────────────


def test_webhook_signature_verifies_with_the_secret_and_not_with_another(shop):
    delivery = shop.state.webhook("orders/create", shop.state.record_ids("orders")[0])
    expected = base64.b64encode(hmac.new(shop.state.webhook_secret.encode(), delivery.body, hashlib.sha256).digest())
    assert hmac.compare_digest(delivery.headers[SIGNATURE_HEADER].encode(), expected)
    forged = base64.b64encode(hmac.new(b"another-secret", delivery.body, hashlib.sha256).digest())
    assert not hmac.compare_digest(delivery.headers[SIGNATURE_HEADER].encode(), forged)
    payload = json.loads(delivery.body)
    assert payload["currency"] == "JPY" and payload["created_at"].endswith("+09:00")


def test_webhooks_are_posted_to_the_hub_with_shopify_headers_and_may_repeat_a_delivery(shop):
    received: list[tuple[dict[str, str], bytes]] = []

    async def hub(request: Request) -> Response:
        received.append((dict(request.headers), await request.body()))
        return Response(status_code=200)

    order_id = shop.state.record_ids("orders")[1]
    shop.state.add_refund(order_id, 300)
    delivery = shop.state.webhook("refunds/create", order_id)
    with LoopbackServer(Starlette(routes=[Route("/webhooks/shopify", hub, methods=["POST"])])) as server:
        responses = shop.state.deliver(f"{server.url}/webhooks/shopify", delivery, times=2)
    assert [response.status_code for response in responses] == [200, 200]
    assert [headers["x-shopify-webhook-id"] for headers, _ in received] == [delivery.webhook_id] * 2
    assert received[0][0]["x-shopify-topic"] == "refunds/create" and received[0][1] == delivery.body
    assert json.loads(delivery.body)["transactions"][0]["amount"] == "300.0"


def test_customer_redact_lists_the_customers_orders(shop):
    order = shop.state.record("orders", shop.state.record_ids("orders")[0])
    customer_id = shop.state.record_ids("customers")[order["_customer"] - 1]
    payload = json.loads(shop.state.webhook("customers/redact", customer_id).body)
    assert int(order["id"].rsplit("/", 1)[1]) in payload["orders_to_redact"]


# ── faults ─────────────────────────────────────────────────────────────────────────────────────────


def test_injected_5xx_then_recovery(shop, admin):
    shop.state.fail_next(2, status=502)
    query = {"query": "{ customers(first: 1) { nodes { id } } }"}
    assert [admin.post(shop.graphql_url, json=query).status_code for _ in range(3)] == [502, 502, 200]


def test_a_hung_request_times_out_on_the_client(shop, admin):
    shop.state.hang_next(1, seconds=5)
    with pytest.raises(httpx.ReadTimeout):
        admin.post(shop.graphql_url, json={"query": "{ customers(first: 1) { nodes { id } } }"}, timeout=0.3)


def test_injected_throttle_answers_in_shopify_shape(shop, admin):
    shop.state.throttle_next(1)
    body = gql(admin, shop, "{ customers(first: 1) { nodes { id } } }")
    assert body["errors"][0]["extensions"]["code"] == "THROTTLED" and "data" not in body


def test_garbage_pages_carry_broken_records(shop, admin):
    shop.state.serve_garbage(1)
    query = "{ orders(first: 5) { nodes { id updatedAt totalPriceSet { shopMoney { amount } } } } }"
    nodes = gql(admin, shop, query)["data"]["orders"]["nodes"]
    assert nodes[0]["id"] is None and nodes[1]["updatedAt"] == "昨日"
    assert nodes[2]["totalPriceSet"]["shopMoney"]["amount"] == "千円"
