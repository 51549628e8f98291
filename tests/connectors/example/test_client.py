"""The client's error-classification table and request shapes, over a fake wire (httpx.MockTransport)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from connectors.example.client import ExampleClient
from connectors.example.config import ExampleConfig
from core.errors import PermanentError, RetryableError
from tests.connectors.example.factories import NO_RETRY

TOKEN = "tok-secret-123"
SINCE = datetime(2026, 4, 1, 10, 0, tzinfo=UTC)
PAGE = {"data": [{"id": "cus_1"}], "next_cursor": "abc"}


def client_answering(handler) -> ExampleClient:
    config = ExampleConfig(base_url="https://api.example.jp/", page_size=10)
    return ExampleClient(config, TOKEN, transport=httpx.MockTransport(handler), retry=NO_RETRY)


def answer(status: int, body: object = None, headers: dict[str, str] | None = None):
    def handler(request: httpx.Request) -> httpx.Response:
        content = body if body is not None else {"errors": [{"code": "x", "detail": "山田 taro@example.jp"}]}
        return httpx.Response(status, json=content, headers=headers)

    return handler


def list_page(client: ExampleClient):
    return client.list_page("/v1/customers", updated_since=SINCE, cursor="c1", limit=10)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_are_permanent(status):
    with pytest.raises(PermanentError) as caught:
        list_page(client_answering(answer(status)))
    assert caught.value.status == status


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, 520])
def test_rate_limits_and_server_errors_are_retryable(status):
    with pytest.raises(RetryableError) as caught:
        list_page(client_answering(answer(status)))
    assert caught.value.status == status


def test_retry_after_in_seconds_is_carried():
    with pytest.raises(RetryableError) as caught:
        list_page(client_answering(answer(429, headers={"Retry-After": "7"})))
    assert caught.value.retry_after == 7


def test_retry_after_as_an_http_date_is_turned_into_seconds():
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    with pytest.raises(RetryableError) as caught:
        list_page(client_answering(answer(429, headers={"Retry-After": when})))
    assert 25 < caught.value.retry_after <= 30


@pytest.mark.parametrize("error", [httpx.ReadTimeout("slow"), httpx.ConnectError("refused")])
def test_timeouts_and_connection_errors_are_retryable(error):
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    with pytest.raises(RetryableError):
        list_page(client_answering(handler))


def test_error_messages_name_the_endpoint_but_no_query_token_or_body():
    with pytest.raises(PermanentError) as caught:
        list_page(client_answering(answer(422)))
    message = str(caught.value)
    assert message.startswith("GET /v1/customers: HTTP 422")
    for secret in ("updated_since", "2026", TOKEN, "山田", "taro@example.jp"):
        assert secret not in message


@pytest.mark.parametrize(
    "response",
    [httpx.Response(200, text="<html>メンテナンス中</html>"), httpx.Response(200, json={"items": []}),
     httpx.Response(200, json={"data": [], "next_cursor": 5})],
    ids=["html", "no-data-list", "bad-cursor"],
)  # fmt: skip
def test_a_body_that_is_not_a_page_is_permanent(response):
    with pytest.raises(PermanentError):
        list_page(client_answering(lambda request: response))


def test_a_page_request_sends_the_token_the_cursor_and_the_inclusive_mark():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=PAGE)

    page = list_page(client_answering(handler))
    assert (page.items, page.next_cursor) == (PAGE["data"], "abc")
    request = seen[0]
    assert request.url.path == "/v1/customers"
    assert dict(request.url.params) == {"limit": "10", "updated_since": SINCE.isoformat(), "cursor": "c1"}
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_put_tags_sends_the_idempotency_key_and_escapes_the_id():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"data": {}})

    client_answering(handler).put_tags("cus/1", ["gold"], idempotency_key="ob-42")
    assert seen[0].method == "PUT"
    assert seen[0].url.raw_path == b"/v1/customers/cus%2F1/tags"
    assert seen[0].headers["Idempotency-Key"] == "ob-42"
    assert json.loads(seen[0].content) == {"tags": ["gold"]}
