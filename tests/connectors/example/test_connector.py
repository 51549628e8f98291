"""The example connector on its sandbox: cursors, deadlines, writes, webhooks, config, registration."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import timedelta
from importlib.metadata import entry_points

import pytest
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from connectors.example import EXAMPLE_CONNECTOR_TYPE, ExampleConfig, ExampleConnector
from connectors.example.webhooks import WebhookVerifier, parse_delivery
from connectors.loopback import LoopbackServer
from core.errors import ConfigError, PermanentError, RetryableError, WebhookRejected
from core.plugins.manager import ENTRY_POINT_GROUP, build_plugin_manager
from core.records import Profile
from core.sync.conformance import read_all
from core.sync.contract import OutboundMessage, OutboundWriter, Rejected, WebhookReceiver
from core.sync.cursor import StreamCursor
from core.sync.registry import ConnectorRegistry, InstanceConfig


def records_of(batches):
    return [record for batch in batches for record in batch.records]


# ── reading ────────────────────────────────────────────────────────────────────────────────────────


def test_a_full_read_takes_one_request_per_page(sandbox, connector):
    batches = read_all(connector, "customers")
    assert [len(batch.records) for batch in batches] == [10, 10, 10, 10, 10, 7]
    assert sandbox.state.request_count() == 6


def test_cursors_keep_the_query_between_pages_and_the_high_water_mark_at_the_end(connector):
    batches = read_all(connector, "orders")
    middle, last = StreamCursor.from_json(batches[0].cursor), StreamCursor.from_json(batches[-1].cursor)
    assert middle.page is not None and middle.updated_since is None  # the page token's own query: a full read
    assert last.page is None
    assert last.updated_since == max(record.source_updated_at for record in records_of(batches))


def test_a_resumed_incremental_read_keeps_its_query_window_across_pages(connector):
    start = StreamCursor.from_json(read_all(connector, "orders")[-1].cursor).for_new_run(timedelta(days=3650))
    batches = read_all(connector, "orders", start.to_json())
    assert len(batches) > 1
    assert all(StreamCursor.from_json(b.cursor).updated_since == start.updated_since for b in batches[:-1])


def test_a_cursor_moved_back_by_the_engines_lookback_rereads_exactly_the_window(connector):
    batches = read_all(connector, "orders")
    resumed = StreamCursor.from_json(batches[-1].cursor).for_new_run(timedelta(hours=6))
    again = records_of(read_all(connector, "orders", resumed.to_json()))
    window = {r.external_id for r in records_of(batches) if r.source_updated_at >= resumed.updated_since}
    assert {record.external_id for record in again} == window


def test_a_page_of_only_garbage_keeps_the_previous_high_water_mark(sandbox, connect):
    sandbox.state.serve_garbage(1)
    first = next(iter(connect(page_size=3).read("customers", None)))
    assert all(isinstance(record, Rejected) for record in first.records)
    assert StreamCursor.from_json(first.cursor).updated_since is None


def test_a_hanging_api_surfaces_as_retryable_at_the_request_deadline(sandbox, connect):
    sandbox.state.hang_next(1, seconds=30)
    with pytest.raises(RetryableError, match="timeout"):
        read_all(connect(timeout_s=0.2), "orders")


def test_a_maintenance_page_instead_of_json_is_permanent(sandbox, connector):
    sandbox.state.serve_non_json(1)
    with pytest.raises(PermanentError, match="not JSON"):
        read_all(connector, "customers")


def test_an_unknown_stream_is_permanent(connector):
    with pytest.raises(PermanentError):
        read_all(connector, "inventory")


def test_a_corrupt_stored_cursor_is_a_config_error(connector):
    with pytest.raises(ConfigError):
        read_all(connector, "customers", "{not json")


# ── outbound ───────────────────────────────────────────────────────────────────────────────────────


def tags_message(key: str = "outbox-7", **payload: object) -> OutboundMessage:
    return OutboundMessage("member.tags", key, {"customer_id": "cus_000002", "tags": ["gold"], **payload})


def test_member_tags_are_written_once_however_often_delivered(sandbox, connector):
    assert isinstance(connector, OutboundWriter)
    connector.deliver(tags_message())
    connector.deliver(tags_message())
    assert sandbox.state.writes == ["outbox-7"]
    assert sandbox.state.record("customers", "cus_000002")["tags"] == ["gold"]


def test_member_tags_for_an_unknown_customer_are_permanent(connector):
    with pytest.raises(PermanentError, match="404"):
        connector.deliver(tags_message(customer_id="cus_999999"))


def test_an_invalid_tags_payload_is_permanent_and_names_the_field(connector):
    with pytest.raises(PermanentError, match="tags"):
        connector.deliver(tags_message(tags="gold"))


def test_an_unsupported_outbound_kind_is_permanent(connector):
    with pytest.raises(PermanentError):
        connector.deliver(OutboundMessage("member.points", "k", {}))


def test_a_write_throttled_by_the_api_is_retryable(sandbox, connector):
    sandbox.state.throttle_next(1, retry_after=1)
    with pytest.raises(RetryableError):
        connector.deliver(tags_message())
    assert sandbox.state.writes == []


# ── webhooks ───────────────────────────────────────────────────────────────────────────────────────


def rotating(sandbox, *secrets: str) -> ExampleConnector:
    config = ExampleConfig(base_url=sandbox.url)
    return EXAMPLE_CONNECTOR_TYPE.factory(
        "shop", config, {"token_env": sandbox.token, "webhook_secret_env": ",".join(secrets)}
    )


def test_both_secrets_are_accepted_while_rotating(sandbox):
    connector = rotating(sandbox, "old-secret", " new-secret ")
    for secret in ("old-secret", "new-secret"):
        delivery = sandbox.webhook_delivery("customers", "cus_000001", secret=secret)
        assert connector.verify_webhook(delivery.headers, delivery.body).startswith("evt_")
    retired = sandbox.webhook_delivery("customers", "cus_000001", secret="older-secret")
    with pytest.raises(WebhookRejected):
        connector.verify_webhook(retired.headers, retired.body)
    connector.close()


def test_webhooks_are_refused_when_no_secret_is_configured(sandbox):
    connector = rotating(sandbox, "")
    delivery = sandbox.webhook_delivery("customers", "cus_000001")
    with pytest.raises(WebhookRejected) as caught:
        connector.verify_webhook(delivery.headers, delivery.body)
    assert caught.value.status == 403
    connector.close()


def test_a_delivery_with_a_malformed_timestamp_is_a_400(sandbox, connector):
    delivery = sandbox.webhook_delivery("customers", "cus_000001")
    with pytest.raises(WebhookRejected) as caught:
        connector.verify_webhook({**delivery.headers, "X-Example-Timestamp": "soon"}, delivery.body)
    assert caught.value.status == 400


def test_an_event_type_the_connector_does_not_read_yields_nothing(connector):
    assert connector.parse_webhook({}, b'{"id":"evt_1","type":"inventory.updated","data":{}}') == []


def test_an_event_whose_record_does_not_fit_yields_a_rejected(connector):
    records = connector.parse_webhook({}, b'{"id":"evt_1","type":"order.updated","data":{"id":"ord_1"}}')
    assert [type(record) for record in records] == [Rejected]


def test_a_body_that_is_not_an_event_is_rejected(connector):
    with pytest.raises(WebhookRejected):
        connector.parse_webhook({}, b"[]")


def test_a_delivery_posted_by_the_sandbox_is_verified_before_it_is_parsed(sandbox, connector):
    received: list[object] = []

    async def receive(request: Request) -> JSONResponse:
        body = await request.body()
        try:
            connector.verify_webhook(request.headers, body)
        except WebhookRejected as error:
            return JSONResponse({"error": str(error)}, status_code=error.status)
        received.extend(connector.parse_webhook(request.headers, body))
        return JSONResponse({"ok": True})

    assert isinstance(connector, WebhookReceiver)
    with LoopbackServer(Starlette(routes=[Route("/hooks/example", receive, methods=["POST"])])) as receiver:
        target = f"{receiver.url}/hooks/example"
        delivery = sandbox.webhook_delivery("customers", "cus_000004")
        assert sandbox.post_webhook(target, delivery).status_code == 200
        forged = sandbox.webhook_delivery("customers", "cus_000004", secret="forged")
        assert sandbox.post_webhook(target, forged).status_code == 401
    assert [(type(r), r.external_id) for r in received] == [(Profile, "cus_000004")]


# ── configuration and registration ─────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    "settings",
    [{}, {"base_url": "not a url"}, {"base_url": "https://a.example", "token_env": "MY-TOKEN"},
     {"base_url": "https://a.example", "page_size": 500}, {"base_url": "https://a.example", "colour": "red"}],
    ids=["no-url", "bad-url", "bad-env-name", "page-too-big", "unknown-key"],
)  # fmt: skip
def test_invalid_settings_are_refused(settings):
    with pytest.raises(ValidationError):
        ExampleConfig.model_validate(settings)


def test_the_plugin_registers_a_type_the_registry_builds_from_hub_settings(sandbox, monkeypatch):
    monkeypatch.setenv("SHOP_TOKEN", sandbox.token)
    monkeypatch.setenv("SHOP_HOOK_KEYS", "a,b")
    manager = build_plugin_manager(load_entry_points=False, extra_plugins=("connectors.example.plugin",))
    settings = {"base_url": sandbox.url, "token_env": "SHOP_TOKEN", "webhook_secret_env": "SHOP_HOOK_KEYS"}
    instance = InstanceConfig(name="tokyo-shop", type="example", settings=settings)
    connector = ConnectorRegistry.from_plugins(manager, {"tokyo-shop": instance}).build("tokyo-shop")
    try:
        assert connector.instance == "tokyo-shop"
        assert connector.check().ok
    finally:
        connector.close()


def test_the_plugin_is_published_under_the_connectors_entry_point():
    published = {entry.name: entry.value for entry in entry_points(group=ENTRY_POINT_GROUP)}
    assert published.get("example") == "connectors.example.plugin"


# Found by fuzzing (fuzz/targets/example_webhook.py): both raised ValueError / RecursionError, a 500.
@pytest.mark.parametrize("timestamp", ["²", "9" * 5000])
def test_a_timestamp_int_cannot_read_is_a_400_even_when_signed(timestamp):
    body, key = b'{"id": "evt_1", "type": "customer.updated", "data": {}}', "example-test-key"
    mac = hmac.new(key.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    headers = {"X-Example-Timestamp": timestamp, "X-Example-Delivery-Id": "evt_1",
               "X-Example-Signature": base64.b64encode(mac.digest()).decode()}  # fmt: skip
    with pytest.raises(WebhookRejected) as caught:
        WebhookVerifier([key]).verify(headers, body)
    assert caught.value.status == 400


def test_a_body_nested_past_the_json_decoders_limit_is_a_400():
    with pytest.raises(WebhookRejected) as caught:
        parse_delivery("shop", b"[" * 100_000)
    assert caught.value.status == 400
