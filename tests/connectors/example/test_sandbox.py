"""The sandbox behaves like the documented Example API: data, pagination, auth, limits, faults, writes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections import Counter
from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest

from connectors.example.sandbox import RateLimit, SandboxServer, SandboxState
from connectors.example.sandbox.data import BURST, generate_dataset
from core.normalize import normalize_phone


@pytest.fixture
def api(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    """A plain HTTP client with the sandbox's token."""
    with httpx.Client(base_url=sandbox.url, headers={"Authorization": f"Bearer {sandbox.token}"}) as client:
        yield client


def all_pages(api: httpx.Client, path: str, **params: object) -> list[dict]:
    rows, cursor = [], None
    while True:
        body = api.get(path, params={**params, **({"cursor": cursor} if cursor else {})}).json()
        rows += body["data"]
        cursor = body["next_cursor"]
        if cursor is None:
            return rows


UNAUTHORIZED = "access token is missing or invalid"


def key(row: dict) -> tuple[datetime, str]:
    return datetime.fromisoformat(row["updated_at"]), row["id"]


# ── data ───────────────────────────────────────────────────────────────────────────────────────────


def test_same_seed_gives_the_same_data_and_another_seed_other_data():
    first = generate_dataset(customers=20, orders=20, seed=7)
    assert first == generate_dataset(customers=20, orders=20, seed=7)
    assert first != generate_dataset(customers=20, orders=20, seed=8)


def test_customers_have_japanese_names_kana_mobile_phones_and_postal_codes():
    customers = generate_dataset(customers=57, orders=0, seed=2026)["customers"]
    for customer in customers:
        assert re.fullmatch(r"[ァ-ヶー]+", customer["family_name_kana"] + customer["given_name_kana"])
        assert re.fullmatch(r"\d{3}-\d{4}", customer["postal_code"])
        if customer["phone"] is not None:
            assert re.fullmatch(r"0[789]0-\d{4}-\d{4}", customer["phone"])
            assert normalize_phone(customer["phone"]).startswith("+81")
    assert sum(customer["email"] is None for customer in customers) > 0, "some customers gave no email"


def test_orders_charge_ten_percent_tax_and_include_refunds_and_cancellations():
    orders = generate_dataset(customers=10, orders=83, seed=2026)["orders"]
    for order in orders:
        assert order["subtotal"] == sum(line["amount"] for line in order["line_items"])
        assert order["tax"] == (order["subtotal"] - order["discount"]) * 10 // 100
        assert order["total"] == order["subtotal"] - order["discount"] + order["tax"]
        assert all(refund["amount"] <= order["total"] for refund in order["refunds"])
    assert {order["state"] for order in orders} >= {"completed", "canceled", "refunded"}
    assert {order["channel"] for order in orders} == {"pos", "ec"}


@pytest.mark.parametrize("stream", ["customers", "orders"])
def test_a_bulk_update_ties_more_rows_than_a_page_holds(stream):
    """So that resuming inside a tie is exercised whatever the page size up to BURST - 1."""
    rows = sorted(generate_dataset(customers=57, orders=83, seed=2026)[stream], key=key)
    assert Counter(row["updated_at"] for row in rows).most_common(1)[0][1] >= BURST > 10
    assert any(rows[i - 1]["updated_at"] == rows[i]["updated_at"] for i in range(10, len(rows), 10))


# ── pagination ─────────────────────────────────────────────────────────────────────────────────────


def test_pages_are_ordered_by_updated_at_then_id_and_cover_every_row(sandbox, api):
    rows = all_pages(api, "/v1/orders", limit=7)
    assert [row["id"] for row in rows] == [row["id"] for row in sorted(rows, key=key)]
    assert {row["id"] for row in rows} == sandbox.record_ids("orders")
    assert sandbox.state.request_count("/v1/orders") == -(-83 // 7)


def test_updated_since_is_inclusive(api):
    rows = all_pages(api, "/v1/customers", limit=200)
    boundary = rows[20]["updated_at"]
    since = all_pages(api, "/v1/customers", limit=200, updated_since=boundary)
    assert [row["id"] for row in since] == [row["id"] for row in rows if row["updated_at"] >= boundary]


def test_cursor_stays_valid_when_rows_are_updated_between_pages(sandbox, api):
    first = api.get("/v1/customers", params={"limit": 10}).json()
    read_before, unread = first["data"][0]["id"], all_pages(api, "/v1/customers", limit=200)[30]["id"]
    sandbox.state.update_record("customers", read_before)
    sandbox.state.update_record("customers", unread)
    rest = all_pages(api, "/v1/customers", limit=10, cursor=first["next_cursor"])
    seen = [row["id"] for row in first["data"] + rest]
    assert set(seen) == sandbox.record_ids("customers"), "no row may be skipped"
    assert [row["id"] for row in rest[-2:]] == [read_before, unread], "updated rows move to the end"


def test_a_cursor_the_api_did_not_issue_is_a_400(api):
    response = api.get("/v1/customers", params={"cursor": "not-a-cursor!"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "invalid_parameter"


def test_updated_since_without_an_offset_is_a_400(api):
    assert api.get("/v1/customers", params={"updated_since": "2026-04-01T10:00:00"}).status_code == 400


# ── auth, budget ───────────────────────────────────────────────────────────────────────────────────


def test_a_wrong_token_gets_401_with_a_json_error_body(sandbox):
    response = httpx.get(f"{sandbox.url}/v1/customers", headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 401
    assert response.json() == {"errors": [{"code": "unauthorized", "detail": UNAUTHORIZED}]}


def test_rejected_credentials_revoke_the_old_token(sandbox, api):
    sandbox.state.reject_credentials()
    assert api.get("/v1/customers").status_code == 401


def test_exhausted_budget_gets_429_with_retry_after_until_the_window_resets():
    now = [1000.0]
    state = SandboxState(rate_limit=RateLimit(requests=2, window_s=30), clock=lambda: now[0])
    with (
        SandboxServer(state) as server,
        httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.token}"}) as api,
    ):
        assert [api.get("/v1/orders").status_code for _ in range(2)] == [200, 200]
        now[0] += 10
        throttled = api.get("/v1/orders")
        assert throttled.status_code == 429
        assert throttled.headers["Retry-After"] == "20"
        assert throttled.json()["errors"][0]["code"] == "rate_limited"
        now[0] += 20
        assert api.get("/v1/orders").status_code == 200


# ── faults ─────────────────────────────────────────────────────────────────────────────────────────


def test_fail_next_answers_the_status_n_times_then_recovers(sandbox, api):
    sandbox.state.fail_next(2, 503)
    statuses = [api.get("/v1/orders").status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert [request.status for request in sandbox.state.requests] == statuses


def test_a_fault_can_target_one_path(sandbox, api):
    sandbox.state.fail_next(1, 500, path="/v1/orders")
    assert api.get("/v1/customers").status_code == 200
    assert api.get("/v1/orders").status_code == 500


def test_throttle_storm_answers_429_with_retry_after_for_n_requests(sandbox, api):
    sandbox.state.throttle_next(2, retry_after=3)
    answers = [api.get("/v1/orders") for _ in range(3)]
    assert [answer.status_code for answer in answers] == [429, 429, 200]
    assert answers[0].headers["Retry-After"] == "3"


def test_hang_outlasts_the_client_deadline(sandbox, api):
    sandbox.state.hang_next(1, seconds=30)
    with pytest.raises(httpx.ReadTimeout):
        api.get("/v1/orders", timeout=0.2)
    assert api.get("/v1/orders").status_code == 200


def test_garbage_breaks_three_rows_of_one_page_and_leaves_the_data_intact(sandbox, api):
    sandbox.state.serve_garbage(1)
    garbage = api.get("/v1/orders", params={"limit": 10}).json()["data"]
    clean = api.get("/v1/orders", params={"limit": 10}).json()["data"]
    assert "id" not in garbage[0]
    assert garbage[1]["total"] == "千円"
    assert garbage[2]["line_items"][0]["quantity"] == -2
    assert garbage[3:] == clean[3:]
    assert all("id" in row and isinstance(row["total"], int) for row in clean)


def test_non_json_fault_serves_an_html_page(sandbox, api):
    sandbox.state.serve_non_json(1)
    response = api.get("/v1/customers")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


# ── writes and webhooks ────────────────────────────────────────────────────────────────────────────


def put_tags(api: httpx.Client, key: str | None, tags: list[str], customer: str = "cus_000001"):
    headers = {"Idempotency-Key": key} if key else {}
    return api.put(f"/v1/customers/{customer}/tags", json={"tags": tags}, headers=headers)


def test_a_repeated_idempotency_key_replays_the_first_answer_without_writing_again(sandbox, api):
    first = put_tags(api, "k-1", ["gold", "vip"])
    again = put_tags(api, "k-1", ["gold", "vip"])
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert sandbox.state.writes == ["k-1"]
    assert sandbox.state.record("customers", "cus_000001")["tags"] == ["gold", "vip"]


def test_an_idempotency_key_reused_with_other_tags_is_a_422(api):
    put_tags(api, "k-2", ["gold"])
    assert put_tags(api, "k-2", ["silver"]).json()["errors"][0]["code"] == "idempotency_key_reused"


def test_a_write_without_an_idempotency_key_is_a_400(api):
    assert put_tags(api, None, ["gold"]).status_code == 400


def test_tags_of_an_unknown_customer_are_a_404(api):
    assert put_tags(api, "k-3", ["gold"], customer="cus_999999").status_code == 404


def test_webhook_signature_follows_the_documented_formula(sandbox):
    delivery = sandbox.webhook_delivery("customers", "cus_000005")
    timestamp = delivery.headers["X-Example-Timestamp"]
    signed = f"{timestamp}.".encode() + delivery.body
    mac = hmac.new(sandbox.state.webhook_secret.encode(), signed, hashlib.sha256)
    assert delivery.headers["X-Example-Signature"] == base64.b64encode(mac.digest()).decode()
    assert delivery.headers["X-Example-Delivery-Id"].startswith("evt_")


def test_a_stopped_sandbox_answers_404(sandbox):
    sandbox.stop()
    assert httpx.get(f"{sandbox.url}/v1/customers").status_code == 404
