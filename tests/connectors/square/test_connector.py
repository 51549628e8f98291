"""The Square connector on its sandbox: location groups, run windows, late sales, search lag, retries, registration."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import timedelta
from importlib.metadata import entry_points

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectors.loopback import LoopbackServer
from connectors.square import SquareConnector
from connectors.square.sandbox import SandboxServer
from core.errors import PermanentError, RetryableError
from core.plugins.manager import ENTRY_POINT_GROUP, build_plugin_manager
from core.records import CanonicalRecord, Profile, Purchase
from core.sync.conformance import read_all
from core.sync.contract import Batch
from core.sync.cursor import StreamCursor
from core.sync.registry import ConnectorRegistry, InstanceConfig
from core.sync.retry import RetryPolicy
from tests.connectors.square.factories import square_connector, square_sandbox


def records_of(batches: list[Batch]) -> list[CanonicalRecord]:
    return [record for batch in batches for record in batch.records if isinstance(record, CanonicalRecord)]


def purchases_of(batches: list[Batch]) -> list[Purchase]:
    return [record for record in records_of(batches) if isinstance(record, Purchase)]


def profiles_of(batches: list[Batch]) -> list[Profile]:
    return [record for record in records_of(batches) if isinstance(record, Profile)]


def searched_locations(sandbox: SandboxServer) -> list[str]:
    return [request.path for request in sandbox.state.requests if request.path == "/v2/orders/search"]


def test_orders_of_twelve_stores_are_read_ten_locations_a_query(
    sandbox: SandboxServer, connector: SquareConnector
) -> None:
    batches = read_all(connector, "orders")
    pages = [StreamCursor.from_json(batch.cursor).page for batch in batches]
    groups = {tuple(json.loads(page)["locations"]) for page in pages if page}
    assert sorted(len(group) for group in groups) == [2, 10]
    assert {purchase.store_code for purchase in purchases_of(batches)} == set(sandbox.state.location_ids())


def test_configured_locations_and_store_codes_limit_and_name_the_stores(
    sandbox: SandboxServer, connect: Callable[..., SquareConnector]
) -> None:
    shibuya, shinjuku = sandbox.state.location_ids()[:2]
    connector = connect(location_ids=[shibuya, shinjuku], store_codes={shibuya: "S001"})
    purchases = purchases_of(read_all(connector, "orders"))
    assert purchases and {purchase.store_code for purchase in purchases} == {"S001", shinjuku}
    assert sandbox.state.request_count("GET", "/v2/locations") == 0


def test_a_run_resumed_between_location_groups_sends_its_own_query_again(
    sandbox: SandboxServer, connector: SquareConnector
) -> None:
    batches = read_all(connector, "orders")
    everything = {record.external_id for record in records_of(batches)}
    switch = next(
        number for number, batch in enumerate(batches)
        if json.loads(StreamCursor.from_json(batch.cursor).page or "{}").get("cursor") is None
    )  # fmt: skip
    rest = records_of(read_all(connector, "orders", batches[switch].cursor))
    head = {record.external_id for record in records_of(batches[: switch + 1])}
    assert head | {record.external_id for record in rest} == everything


def test_the_run_window_ends_when_the_run_started(connect: Callable[..., SquareConnector]) -> None:
    before_any_sale = 1_700_000_000.0
    connector = connect(wall_clock=lambda: before_any_sale)
    assert records_of(read_all(connector, "orders")) == []


def test_a_late_offline_sale_is_read_by_the_next_run(sandbox: SandboxServer, connector: SquareConnector) -> None:
    first = read_all(connector, "orders")
    late = sandbox.record_ids("orders")[0]
    sandbox.state.update_record("orders", late)  # the till uploads it now; created_at stays months ago
    resumed = StreamCursor.from_json(first[-1].cursor).for_new_run(timedelta(minutes=5))
    again = {record.external_id: record for record in purchases_of(read_all(connector, "orders", resumed.to_json()))}
    assert late in again
    assert again[late].source_updated_at > again[late].purchased_at + timedelta(days=30)


def test_a_customer_edit_hidden_by_search_lag_is_read_by_a_later_run() -> None:
    clock = [1_800_000_000.0]
    with square_sandbox(search_lag_s=30.0, clock=lambda: clock[0]) as sandbox:
        connector = square_connector(sandbox, wall_clock=lambda: clock[0])
        finished = read_all(connector, "customers")
        edited = sandbox.record_ids("customers")[5]
        sandbox.state.update_customer(edited, family_name="新姓")
        clock[0] += 1
        hidden = read_all(connector, "customers", StreamCursor.from_json(finished[-1].cursor).to_json())
        assert not any((record.name or "").startswith("新姓") for record in profiles_of(hidden))
        clock[0] += 60
        later = StreamCursor.from_json(hidden[-1].cursor).for_new_run(timedelta(minutes=2))
        found = {
            record.external_id: record for record in profiles_of(read_all(connector, "customers", later.to_json()))
        }
        assert (found[edited].name or "").startswith("新姓")
        connector.close()


def test_a_rate_limit_without_retry_after_waits_the_configured_time_and_is_retried(
    sandbox: SandboxServer, connect: Callable[..., SquareConnector]
) -> None:
    connector = connect(retry=RetryPolicy(max_attempts=3, base_delay=0.0, max_delay=0.05), rate_limited_wait_s=0.01)
    sandbox.state.throttle_next(2)
    assert len(records_of(read_all(connector, "customers"))) == len(sandbox.record_ids("customers"))


def test_a_rate_limit_storm_surfaces_with_the_configured_wait(
    sandbox: SandboxServer, connector: SquareConnector
) -> None:
    sandbox.state.throttle_next(1)
    with pytest.raises(RetryableError, match="RATE_LIMIT_ERROR/RATE_LIMITED") as caught:
        read_all(connector, "customers")
    assert caught.value.retry_after == 2.0


def test_a_refused_query_names_squares_error_code(sandbox: SandboxServer, connector: SquareConnector) -> None:
    batches = read_all(connector, "customers")
    page = StreamCursor.from_json(batches[0].cursor)
    broken = StreamCursor(page.updated_since, page.page.replace('"cursor":"', '"cursor":"x') if page.page else None)
    with pytest.raises(PermanentError, match="INVALID_CURSOR"):
        read_all(connector, "customers", broken.to_json())


def test_a_maintenance_page_instead_of_json_is_permanent(sandbox: SandboxServer, connector: SquareConnector) -> None:
    sandbox.state.serve_non_json(1)
    with pytest.raises(PermanentError, match="not JSON"):
        read_all(connector, "orders")


def test_check_reports_a_revoked_token(sandbox: SandboxServer, connector: SquareConnector) -> None:
    assert connector.check().ok
    sandbox.state.reject_credentials()
    result = connector.check()
    assert not result.ok and "401" in result.message and "AUTHENTICATION_ERROR" in result.message


def test_the_plugin_registers_the_square_type(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_SQUARE_TOKEN", sandbox.access_token)
    monkeypatch.setenv("TEST_SQUARE_KEYS", f"new-key,{sandbox.state.signature_key}")
    manager = build_plugin_manager(load_entry_points=False, extra_plugins=("connectors.square.plugin",))
    settings = {
        "base_url": sandbox.url,
        "token_env": "TEST_SQUARE_TOKEN",
        "webhook_signature_key_env": "TEST_SQUARE_KEYS",
        "notification_url": sandbox.state.notification_url,
    }
    registry = ConnectorRegistry.from_plugins(
        manager, {"square-ginza": InstanceConfig(name="square-ginza", type="square", settings=settings)}
    )
    connector = registry.build("square-ginza")
    try:
        assert connector.check().ok
        delivery = sandbox.webhook_delivery("customers", sandbox.record_ids("customers")[0])
        assert isinstance(connector, SquareConnector) and connector.verify_webhook(delivery.headers, delivery.body)
    finally:
        connector.close()


def test_webhooks_delivered_to_a_url_arrive_signed_for_it(
    sandbox: SandboxServer, connect: Callable[..., SquareConnector]
) -> None:
    received: list[tuple[dict[str, str], bytes]] = []

    async def hook(request: Request) -> Response:
        received.append((dict(request.headers), await request.body()))
        return Response(status_code=200)

    with LoopbackServer(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as hub:
        sandbox.deliver_webhooks_to(f"{hub.url}/hook")
        connector = connect(notification_url=f"{hub.url}/hook")
        customer_id = sandbox.record_ids("customers")[0]
        sandbox.state.update_customer(customer_id, note="VIP")
        deadline = time.monotonic() + 5
        while not received and time.monotonic() < deadline:
            time.sleep(0.01)  # the sandbox posts from a background thread, as Square posts on its own schedule
    headers, body = received[0]
    assert connector.verify_webhook(headers, body)
    [profile] = connector.parse_webhook(headers, body)
    assert profile.external_id == customer_id


def test_the_plugin_is_published_under_the_connectors_entry_point() -> None:
    published = {entry.name: entry.value for entry in entry_points(group=ENTRY_POINT_GROUP)}
    assert published.get("square") == "connectors.square.plugin"
