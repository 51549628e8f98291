"""The Square emulator reproduces the API's rules that the connector must live with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from connectors import town
from connectors.shopify.sandbox.records import ShopRecords
from connectors.square import SquareConnector
from connectors.square.sandbox import RateLimit, SandboxServer, SandboxState
from connectors.square.sandbox.search import search_orders
from core.errors import RetryableError
from core.sync.conformance import read_all
from tests.connectors.square.factories import square_sandbox

ISO_START = "2020-01-01T00:00:00.000Z"


def orders_query(locations: list[str], *, filter_field: str = "updated_at", sort_field: str = "UPDATED_AT",
                 limit: int = 10, cursor: str | None = None) -> dict[str, Any]:  # fmt: skip
    body: dict[str, Any] = {
        "location_ids": locations, "limit": limit,
        "query": {"filter": {"state_filter": {"states": ["COMPLETED"]},
                             "date_time_filter": {filter_field: {"start_at": ISO_START}}},
                  "sort": {"sort_field": sort_field, "sort_order": "ASC"}},
    }  # fmt: skip
    if cursor:
        body["cursor"] = cursor
    return body


def first_error(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["errors"][0]
    return error


def test_a_date_filter_on_another_field_than_the_sort_is_refused(sandbox: SandboxServer, api: httpx.Client) -> None:
    locations = sandbox.state.location_ids()[:10]
    answer = api.post("/v2/orders/search", json=orders_query(locations, filter_field="created_at"))
    assert answer.status_code == 400
    assert first_error(answer)["category"] == "INVALID_REQUEST_ERROR"
    assert "must match" in first_error(answer)["detail"]


def test_more_than_ten_locations_are_refused(sandbox: SandboxServer, api: httpx.Client) -> None:
    answer = api.post("/v2/orders/search", json=orders_query(sandbox.state.location_ids()[:11]))
    assert answer.status_code == 400
    assert first_error(answer)["field"] == "location_ids"


def test_customers_cannot_be_sorted_by_updated_at(api: httpx.Client) -> None:
    answer = api.post("/v2/customers/search", json={"query": {"sort": {"field": "UPDATED_AT"}}})
    assert answer.status_code == 400 and first_error(answer)["code"] == "INVALID_ENUM_VALUE"


def test_a_cursor_is_valid_only_for_the_query_that_issued_it(sandbox: SandboxServer, api: httpx.Client) -> None:
    locations = sandbox.state.location_ids()[:10]
    cursor = api.post("/v2/orders/search", json=orders_query(locations)).json()["cursor"]
    assert api.post("/v2/orders/search", json=orders_query(locations, cursor=cursor, limit=20)).status_code == 200
    changed = api.post("/v2/orders/search", json=orders_query(locations[:9], cursor=cursor))
    assert changed.status_code == 400 and first_error(changed)["code"] == "INVALID_CURSOR"


def test_pages_follow_one_another_in_updated_at_order_without_repeats(
    sandbox: SandboxServer, api: httpx.Client
) -> None:
    locations = sandbox.state.location_ids()[:10]
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        answer = api.post("/v2/orders/search", json=orders_query(locations, cursor=cursor)).json()
        seen += answer.get("orders", [])
        cursor = answer.get("cursor")
        if cursor is None:
            break
    stamps = [order["updated_at"] for order in seen]
    assert stamps == sorted(stamps) and len({order["id"] for order in seen}) == len(seen)
    assert {order["state"] for order in seen} == {"COMPLETED"}
    assert {order["location_id"] for order in seen} <= set(locations)


def test_offline_sales_arrive_late_with_their_original_created_at() -> None:
    with square_sandbox(orders=400) as sandbox:
        late = [order for order_id in sandbox.record_ids("orders")
                if (order := sandbox.state.record("orders", order_id))["updated_at"] > order["closed_at"]
                and not order.get("refunds")]  # fmt: skip
    assert late, "some sales must reach Square after they were closed"
    assert all(order["created_at"] < order["updated_at"] for order in late)


def test_a_customer_edit_stays_out_of_searches_for_the_lag() -> None:
    now = [1_800_000_000.0]
    with SandboxServer(search_lag_s=30.0, clock=lambda: now[0]) as sandbox:
        customer_id = sandbox.record_ids("customers")[0]
        sandbox.state.update_customer(customer_id, given_name="新しい名前")
        headers = {"Authorization": f"Bearer {sandbox.access_token}"}

        def searched() -> dict[str, Any]:
            body = {"limit": 100, "query": {"sort": {"field": "CREATED_AT", "order": "ASC"}}}
            customers = httpx.post(f"{sandbox.url}/v2/customers/search", json=body, headers=headers).json()
            return next(found for found in customers["customers"] if found["id"] == customer_id)

        assert searched()["given_name"] != "新しい名前"
        retrieved = httpx.get(f"{sandbox.url}/v2/customers/{customer_id}", headers=headers).json()
        assert retrieved["customer"]["given_name"] == "新しい名前"
        now[0] += 31
        assert searched()["given_name"] == "新しい名前"


def test_a_rate_limited_request_gets_429_rate_limited_without_retry_after() -> None:
    with square_sandbox(rate_limit=RateLimit(requests=2, window_s=60)) as sandbox:
        headers = {"Authorization": f"Bearer {sandbox.access_token}"}
        answers = [httpx.get(f"{sandbox.url}/v2/locations", headers=headers) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert first_error(answers[2]) == {
        "category": "RATE_LIMIT_ERROR",
        "code": "RATE_LIMITED",
        "detail": "Too many requests",
    }
    assert "retry-after" not in answers[2].headers


def test_a_missing_or_revoked_token_gets_401(sandbox: SandboxServer, api: httpx.Client) -> None:
    assert httpx.get(f"{sandbox.url}/v2/locations").status_code == 401
    sandbox.state.reject_credentials()
    answer = api.get("/v2/locations")
    assert answer.status_code == 401 and first_error(answer)["category"] == "AUTHENTICATION_ERROR"


def test_a_malformed_square_version_is_refused(api: httpx.Client) -> None:
    assert api.get("/v2/locations", headers={"Square-Version": "latest"}).status_code == 400


def test_a_keyed_create_is_replayed_and_a_reused_key_with_another_body_refused(
    sandbox: SandboxServer, api: httpx.Client
) -> None:
    body = {"idempotency_key": "create-1", "given_name": "一郎", "family_name": "鈴木", "phone_number": "080-1111-2222"}
    first = api.post("/v2/customers", json=body)
    again = api.post("/v2/customers", json=body)
    assert first.status_code == again.status_code == 200 and first.json() == again.json()
    assert len(sandbox.record_ids("customers")) == sandbox.state.customers + 1
    reused = api.post("/v2/customers", json={**body, "given_name": "二郎"})
    assert reused.status_code == 400 and first_error(reused)["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert sandbox.state.writes == ["create-1"]


def test_a_customer_without_a_name_or_contact_is_not_created(api: httpx.Client) -> None:
    answer = api.post("/v2/customers", json={"idempotency_key": "create-2", "note": "常連"})
    assert answer.status_code == 400 and first_error(answer)["code"] == "MISSING_REQUIRED_PARAMETER"


def test_a_stale_version_is_refused_with_409(sandbox: SandboxServer, api: httpx.Client) -> None:
    customer_id = sandbox.record_ids("customers")[0]
    answer = api.put(f"/v2/customers/{customer_id}", json={"reference_id": "M1", "version": 99})
    assert answer.status_code == 409 and first_error(answer)["code"] == "VERSION_MISMATCH"


def test_batch_retrieve_returns_the_orders_it_knows(sandbox: SandboxServer, api: httpx.Client) -> None:
    wanted = sandbox.record_ids("orders")[:3]
    answer = api.post("/v2/orders/batch-retrieve", json={"order_ids": [*wanted, "NOSUCHORDER"]}).json()
    assert [order["id"] for order in answer["orders"]] == wanted


def test_injected_faults_answer_with_squares_error_body(sandbox: SandboxServer, api: httpx.Client) -> None:
    sandbox.state.fail_next(1, 503)
    sandbox.state.throttle_next(1)
    assert first_error(api.get("/v2/locations"))["code"] == "SERVICE_UNAVAILABLE"
    assert first_error(api.get("/v2/locations"))["code"] == "RATE_LIMITED"
    assert api.get("/v2/locations").status_code == 200


def test_customers_are_town_people_in_square_notations() -> None:
    state = SandboxState(customers=40, seed=7)
    people = state.records.data.person_numbers
    shared = [number for number in people if number <= state.people]
    assert shared and len(shared) < len(people), "most are shared with the shop, some met only at the till"
    for index, number in enumerate(people, start=1):
        someone = town.person(7, number)
        customer = state.records.customer(index)
        assert customer["family_name"] in (someone.last_name, someone.last_kana)
        digits = someone.mobile or ""
        international = f"+81 {digits[1:3]}-{digits[3:7]}-{digits[7:]}"
        assert customer.get("phone_number") in (None, someone.mobile_dashed, someone.mobile, international)
        assert "reference_id" not in customer


def test_the_same_seed_gives_the_same_seller() -> None:
    first, second = SandboxState(seed=11), SandboxState(seed=11)
    ids = first.record_ids("orders")
    assert ids == second.record_ids("orders")
    assert first.record("orders", ids[7]) == second.record("orders", ids[7])
    assert SandboxState(seed=12).record_ids("customers") != first.record_ids("customers")


def test_a_hundred_thousand_orders_are_searched_without_building_them() -> None:
    state = SandboxState(orders=100_000, customers=500)
    answer = search_orders(state.records, orders_query(state.location_ids()[:10], limit=1000), state.now_ms())
    assert len(answer["orders"]) == 1000 and "cursor" in answer


@pytest.mark.parametrize("stream", ["customers", "orders"])
def test_garbage_spoils_the_first_records_of_one_page(sandbox: SandboxServer, api: httpx.Client, stream: str) -> None:
    sandbox.state.serve_garbage(1)
    body = orders_query(sandbox.state.location_ids()[:10]) if stream == "orders" else {"limit": 10}
    records = api.post(f"/v2/{stream}/search", json=body).json()[stream]
    assert "id" not in records[0] and "id" in records[3]


def test_the_same_people_shop_in_the_square_stores_and_the_shopify_shop() -> None:
    square, shop = SandboxState(seed=2026), ShopRecords(customers=57, orders=0, seed=2026)
    shared = [(index, number) for index, number in enumerate(square.records.data.person_numbers, start=1)
              if number <= shop.count("customers") and shop.data.twin_of(number) is None]  # fmt: skip
    assert shared
    for index, number in shared:
        online = shop.customer(number)
        at_the_till = square.records.customer(index)
        assert at_the_till["family_name"] in (online["lastName"], town.person(2026, number).last_kana)
        assert (at_the_till.get("email_address") or "").lower() in ("", (online["email"] or "").lower())


def test_a_request_left_hanging_times_out_as_retryable(
    sandbox: SandboxServer, connect: Callable[..., SquareConnector]
) -> None:
    sandbox.state.hang_next(1, seconds=5.0)
    with pytest.raises(RetryableError, match="timeout"):
        read_all(connect(timeout_s=0.3), "customers")


def test_a_sale_rung_up_now_is_the_newest_order_with_its_coupon_code(sandbox: SandboxServer, api: httpx.Client) -> None:
    customer = sandbox.record_ids("customers")[0]
    lines = [("TOWEL-01", "今治タオル", 2, 3_300)]

    order = sandbox.state.ring_up(customer, lines, coupon_code="OWABI-TEST-0001", discount_yen=500)

    assert order["customer_id"] == customer and order["state"] == "COMPLETED"
    assert order["total_money"] == {"amount": 2_800, "currency": "JPY"}
    assert order["discounts"][0]["metadata"] == {"coupon_code": "OWABI-TEST-0001"}
    assert order["id"] in sandbox.record_ids("orders")
    newest = api.post("/v2/orders/search", json=orders_query([order["location_id"]], limit=1000)).json()["orders"][-1]
    assert newest["id"] == order["id"]
