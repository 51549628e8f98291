"""The connector HTTP client against a fake wire: classification, retry, Retry-After and PII-free errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from core.errors import PermanentError, RetryableError
from core.sync.http import Action, ConnectorHttpClient, ErrorRule
from core.sync.retry import RetryPolicy

EMAIL = "hanako.yamada@example.jp"
Answer = httpx.Response | type[httpx.TransportError]


class Wire:
    """A fake server: answers requests from a script (the last answer repeats) and keeps what it was sent."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, httpx.Response):
            return answer
        raise answer("simulated", request=request)


def client_for(wire: Wire, waits: list[float], **options: Any) -> ConnectorHttpClient:
    return ConnectorHttpClient(
        "https://shop.example.jp/api",
        headers={"Authorization": "Bearer test"},
        timeout=5.0,
        transport=httpx.MockTransport(wire),
        sleep=waits.append,  # the fake sleep: records each wait instead of waiting
        **options,
    )


@pytest.fixture
def waits() -> list[float]:
    return []


def test_a_429_is_retried_after_its_retry_after_seconds(waits: list[float]) -> None:
    wire = Wire(httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, json={"ok": True}))

    assert client_for(wire, waits).get_json("/orders") == {"ok": True}

    assert len(wire.requests) == 2
    assert len(waits) == 1
    assert 7.0 <= waits[0] <= 60.0


def test_a_retry_after_http_date_is_honoured(waits: list[float]) -> None:
    at = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    wire = Wire(httpx.Response(503, headers={"Retry-After": at}), httpx.Response(200, json=[]))

    client_for(wire, waits).get_json("/orders")

    assert 28.0 <= waits[0] <= 30.0  # the date has whole seconds


@pytest.mark.parametrize("status", [408, 500, 502, 503, 504])
def test_timeouts_and_server_errors_are_retried(waits: list[float], status: int) -> None:
    wire = Wire(httpx.Response(status), httpx.Response(200, json={}))

    client_for(wire, waits).get_json("/orders")

    assert len(wire.requests) == 2


def test_server_errors_wait_within_full_jitter_bounds(waits: list[float]) -> None:
    policy = RetryPolicy(max_attempts=8, base_delay=0.5, max_delay=4.0, max_total=1000.0)
    wire = Wire(httpx.Response(503))

    with pytest.raises(RetryableError):
        client_for(wire, waits, policy=policy).request("GET", "/orders")

    assert len(waits) == 7
    for n, wait in enumerate(waits):
        assert 0.0 <= wait <= min(policy.max_delay, policy.base_delay * 2**n)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_are_permanent_and_sent_exactly_once(waits: list[float], status: int) -> None:
    wire = Wire(httpx.Response(status))

    with pytest.raises(PermanentError) as raised:
        client_for(wire, waits).request("GET", "/orders")

    assert raised.value.status == status
    assert len(wire.requests) == 1
    assert waits == []


def test_attempts_are_capped_then_the_retryable_error_is_raised(waits: list[float]) -> None:
    wire = Wire(httpx.Response(500))
    client = client_for(wire, waits, policy=RetryPolicy(max_attempts=3))

    with pytest.raises(RetryableError) as raised:
        client.request("GET", "/orders")

    assert raised.value.status == 500
    assert len(wire.requests) == 3
    assert (client.stats.requests, client.stats.attempts, client.stats.retries) == (1, 3, 2)
    assert client.stats.waited == pytest.approx(sum(waits))


def test_retrying_stops_before_the_total_time_budget_is_spent(waits: list[float]) -> None:
    wire = Wire(httpx.Response(429, headers={"Retry-After": "7"}))
    client = client_for(wire, waits, policy=RetryPolicy(max_attempts=100, max_total=20.0))

    with pytest.raises(RetryableError):
        client.request("GET", "/orders")

    assert len(wire.requests) == 3
    assert sum(waits) <= 20.0


@pytest.mark.parametrize("error", [httpx.ReadTimeout, httpx.ConnectTimeout, httpx.ConnectError])
def test_timeouts_and_connection_errors_are_retried(waits: list[float], error: type[httpx.TransportError]) -> None:
    wire = Wire(error, httpx.Response(200, json={"ok": True}))

    assert client_for(wire, waits).get_json("/orders") == {"ok": True}
    assert len(wire.requests) == 2


def test_a_timeout_that_persists_ends_as_a_retryable_error_naming_its_class(waits: list[float]) -> None:
    wire = Wire(httpx.ReadTimeout)

    with pytest.raises(RetryableError, match=r"^GET /orders: ReadTimeout \(timeout\)$"):
        client_for(wire, waits, policy=RetryPolicy(max_attempts=2)).request("GET", "/orders")


def test_errors_name_method_path_and_status_but_no_query_or_body(waits: list[float]) -> None:
    wire = Wire(httpx.Response(422, json={"errors": {"email": f"{EMAIL} is taken"}}))

    with pytest.raises(PermanentError) as raised:
        client_for(wire, waits).request("POST", f"/customers?email={EMAIL}", json={"email": EMAIL})

    assert str(raised.value) == "POST /customers: HTTP 422 (client error)"
    assert EMAIL in str(wire.requests[0].url)  # the wire did get the query; only the message drops it


def test_retryable_errors_carry_no_query_or_body_either(waits: list[float]) -> None:
    wire = Wire(httpx.Response(503, text=f"backend down while serving {EMAIL}"))
    client = client_for(wire, waits, policy=RetryPolicy(max_attempts=2))

    with pytest.raises(RetryableError) as raised:
        client.request("GET", "/customers/search", params={"query": f"email:{EMAIL}"})

    assert EMAIL not in str(raised.value)
    assert "?" not in str(raised.value)
    assert str(raised.value) == "GET /customers/search: HTTP 503 (server error)"


def test_a_path_template_replaces_a_path_holding_personal_data(waits: list[float]) -> None:
    wire = Wire(httpx.Response(404))

    with pytest.raises(PermanentError, match=r"^GET /customers/\{email\}: HTTP 404"):
        client_for(wire, waits).request("GET", f"/customers/{EMAIL}", template="/customers/{email}")


def test_a_connector_rule_overrides_the_default_table(waits: list[float]) -> None:
    origin_down = ErrorRule(Action.RETRY, "origin unreachable", statuses=(520,))
    wire = Wire(httpx.Response(520), httpx.Response(200, json={}))

    client_for(wire, waits, rules=[origin_down]).get_json("/orders")

    assert len(wire.requests) == 2


def test_a_classify_hook_retries_a_throttle_reported_inside_a_200(waits: list[float]) -> None:
    throttled = {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]}
    wire = Wire(httpx.Response(200, json=throttled), httpx.Response(200, json={"data": {}}))

    def shopify_throttle(response: httpx.Response) -> ErrorRule | None:
        codes = [error["extensions"]["code"] for error in response.json().get("errors", [])]
        return ErrorRule(Action.RETRY, "throttled", retry_after=2.5) if "THROTTLED" in codes else None

    assert client_for(wire, waits, classify=shopify_throttle).get_json("/graphql.json") == {"data": {}}
    assert waits[0] >= 2.5


def test_a_body_that_is_not_json_is_a_permanent_error(waits: list[float]) -> None:
    wire = Wire(httpx.Response(200, text=f"<html>{EMAIL}</html>"))

    with pytest.raises(PermanentError, match=r"^GET /orders: HTTP 200 body is not JSON$"):
        client_for(wire, waits).get_json("/orders?page=2")


def test_requests_go_to_the_base_url_with_the_connector_headers(waits: list[float]) -> None:
    wire = Wire(httpx.Response(200, json={}))

    with client_for(wire, waits) as client:
        client.get_json("/orders", params={"page": 2})

    sent = wire.requests[0]
    assert str(sent.url) == "https://shop.example.jp/api/orders?page=2"
    assert sent.headers["Authorization"] == "Bearer test"


def test_a_body_nested_past_the_json_decoders_limit_is_a_permanent_error_too(waits: list[float]) -> None:
    # Found by fuzzing (fuzz/targets/api_pages.py): json raised RecursionError, which ``except ValueError`` missed.
    wire = Wire(httpx.Response(200, content=b"[" * 100_000))

    with pytest.raises(PermanentError, match=r"^GET /orders: HTTP 200 body is not JSON$"):
        client_for(wire, waits).get_json("/orders")
