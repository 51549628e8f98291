"""Backfill through bulk operations against the sandbox: failures, a busy shop, expired results, resuming."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import httpx
import pytest

from connectors.shopify.bulk import BulkExporter, BulkPosition
from connectors.shopify.client import ShopifyClient
from connectors.shopify.config import ShopifyConfig
from connectors.shopify.queries import BULK_RUN
from connectors.shopify.sandbox import SandboxServer
from core.errors import PermanentError, RetryableError, StillRunningError
from core.sync.conformance_batches import backfill_all, records_of
from core.sync.contract import Rejected
from core.sync.cursor import StreamCursor
from tests.connectors.shopify.factories import NO_RETRY, roomy_shop, shopify_connector

BIG = int(os.environ.get("MEMBERHUB_BULK_ORDERS", "20000"))
"""Orders of the big-shop test: MEMBERHUB_BULK_ORDERS=50000 for a longer run; the bench exports 100,000."""


class RecordingTransport(httpx.HTTPTransport):
    """A real loopback transport that keeps every request it sent."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return super().handle_request(request)


@pytest.fixture
def shop() -> Iterator[SandboxServer]:
    with roomy_shop() as server:
        yield server


def started_operations(transport: RecordingTransport) -> int:
    return sum(1 for request in transport.sent if b"bulkOperationRunQuery" in request.content)


def test_a_failed_operation_is_replaced_and_the_backfill_completes(shop):
    transport = RecordingTransport()
    connector = shopify_connector(shop, transport=transport)
    shop.state.fail_next_bulk_operation("INTERNAL_SERVER_ERROR")

    batches = backfill_all(connector, "orders")

    assert sorted(record.external_id for record in records_of(batches)) == sorted(shop.record_ids("orders"))
    assert started_operations(transport) == 2


def test_operations_failing_every_time_end_the_run_as_retryable_after_the_configured_attempts(shop):
    connector = shopify_connector(shop, bulk_max_attempts=2)
    shop.state.fail_next_bulk_operation("TIMEOUT", times=2)
    with pytest.raises(RetryableError, match=r"failed 2 times \(last: FAILED TIMEOUT\)"):
        backfill_all(connector, "orders")


def test_access_denied_is_permanent(shop):
    connector = shopify_connector(shop)
    shop.state.fail_next_bulk_operation("ACCESS_DENIED")
    with pytest.raises(PermanentError, match="ACCESS_DENIED"):
        backfill_all(connector, "customers")


def test_a_run_that_died_after_starting_polls_the_same_operation_again(shop):
    transport = RecordingTransport()
    connector = shopify_connector(shop, transport=transport)
    checkpoint = next(connector.backfill("orders", None))  # committed by the engine, then the process dies

    resumed = backfill_all(connector, "orders", checkpoint.cursor)

    assert checkpoint.records == [] and BulkPosition.from_json(checkpoint.cursor).operation
    assert len(records_of(resumed)) == len(shop.record_ids("orders"))
    assert started_operations(transport) == 1


def test_an_operation_started_by_a_run_whose_cursor_was_lost_is_adopted(shop):
    first = shopify_connector(shop)
    next(first.backfill("orders", None))  # started, but the checkpoint never reached the store
    transport = RecordingTransport()
    second = shopify_connector(shop, transport=transport)

    batches = backfill_all(second, "orders")

    assert len(records_of(batches)) == len(shop.record_ids("orders"))
    assert started_operations(transport) == 1  # refused as in progress, then adopted: no second export


def test_a_foreign_operation_in_progress_is_waited_for(shop):
    with httpx.Client(headers={"X-Shopify-Access-Token": shop.access_token}) as admin:
        foreign = "{ customers { edges { node { id } } } }"
        started = admin.post(shop.graphql_url, json={"query": BULK_RUN, "variables": {"query": foreign}}).json()
    assert started["data"]["bulkOperationRunQuery"]["userErrors"] == []
    transport = RecordingTransport()
    connector = shopify_connector(shop, transport=transport)

    batches = backfill_all(connector, "orders")

    assert len(records_of(batches)) == len(shop.record_ids("orders"))
    assert started_operations(transport) >= 2  # refused while the other ran, then started


def test_an_expired_result_starts_a_new_operation_from_the_beginning(shop):
    connector = shopify_connector(shop)
    batches = iter(connector.backfill("orders", None))
    halfway = [next(batches) for _ in range(3)]
    shop.state.expire_bulk_results()

    rest = backfill_all(connector, "orders", halfway[-1].cursor)

    assert sorted(record.external_id for record in records_of(rest)) == sorted(shop.record_ids("orders"))


def test_resuming_asks_for_the_rest_of_the_file_with_a_range_and_never_sends_the_token_there(shop):
    transport = RecordingTransport()
    connector = shopify_connector(shop, transport=transport)
    batches = backfill_all(connector, "orders")
    middle = batches[len(batches) // 2]
    offset = BulkPosition.from_json(middle.cursor).offset

    rest = backfill_all(connector, "orders", middle.cursor)

    downloads = [request for request in transport.sent if "/bulk-results/" in request.url.path]
    assert downloads[-1].headers["range"] == f"bytes={offset}-"
    assert all("x-shopify-access-token" not in request.headers for request in downloads)
    done = {record.external_id for batch in batches[: len(batches) // 2 + 1] for record in records_of([batch])}
    assert done | {record.external_id for record in records_of(rest)} == set(shop.record_ids("orders"))
    assert not done & {record.external_id for record in records_of(rest)}


def test_the_last_cursor_hands_over_at_the_operations_start_and_an_empty_shop_needs_no_file():
    with SandboxServer(customers=0, orders=0) as empty:
        batches = backfill_all(shopify_connector(empty), "orders")
    handover = StreamCursor.from_json(batches[-1].cursor)
    assert records_of(batches) == [] and handover.updated_since is not None and handover.page is None


# ── reading a result file ──────────────────────────────────────────────────────────────────────────


def served_file(lines: list[str]) -> httpx.MockTransport:
    body = "".join(line + "\n" for line in lines).encode()

    def answer(request: httpx.Request) -> httpx.Response:
        start = int(request.headers.get("range", "bytes=0-")[6:-1])
        return httpx.Response(206 if start else 200, content=body[start:])

    return httpx.MockTransport(answer)


def exporter(transport: httpx.BaseTransport) -> BulkExporter:
    config = ShopifyConfig(shop_url="https://shop.example", bulk_poll_interval_s=0.01)
    return BulkExporter(
        ShopifyClient(config, "token", transport=transport, retry=NO_RETRY), config, transport=transport
    )


def test_children_join_the_root_they_follow_and_strays_or_broken_lines_are_quarantined():
    order = lambda number: json.dumps({"id": f"gid://shopify/Order/{number}", "name": f"#{number}"})  # noqa: E731
    line = lambda number, parent: json.dumps(  # noqa: E731
        {"id": f"gid://shopify/LineItem/{number}", "sku": "S", "__parentId": f"gid://shopify/Order/{parent}"}
    )
    lines = [order(1), line(11, 1), line(12, 1), order(2), line(21, 1), "{not json", order(3), line(31, 3)]
    found = list(exporter(served_file(lines)).objects("https://storage.example/r.jsonl", 0, {"LineItem": "lineItems"}))

    kept = [item.item for item in found if not isinstance(item.item, Rejected)]
    strays = [item.item for item in found if isinstance(item.item, Rejected)]
    assert [root["id"][-1] for root in kept] == ["1", "2", "3"]
    assert [len(root["lineItems"]["nodes"]) for root in kept] == [2, 0, 1]
    assert [stray.external_id for stray in strays] == ["gid://shopify/Order/1", None]
    assert all("__parentId" not in node for root in kept for node in root["lineItems"]["nodes"])
    ends = [item.end for item in found]
    assert ends == sorted(ends)
    resumed = list(
        exporter(served_file(lines)).objects("https://s.example/r.jsonl", ends[1], {"LineItem": "lineItems"})
    )
    assert [item.item for item in resumed] == [item.item for item in found[2:]]


def test_a_line_nested_past_the_json_decoders_limit_is_quarantined_like_any_broken_line():
    # Found by fuzzing (fuzz/targets/shopify_bulk.py): json.loads raised RecursionError out of objects().
    lines = [json.dumps({"id": "gid://shopify/Order/1"}), "[" * 100_000, json.dumps({"id": "gid://shopify/Order/2"})]
    found = list(exporter(served_file(lines)).objects("https://storage.example/r.jsonl", 0, {"LineItem": "lineItems"}))

    reasons = [item.item.reason if isinstance(item.item, Rejected) else None for item in found]
    assert reasons == [None, "bulk result line is not a JSON object", None]


@pytest.mark.slow
def test_a_big_shop_comes_through_one_bulk_operation_exactly_once():
    with SandboxServer(customers=BIG // 10, orders=BIG, maximum_available=50_000.0, restore_rate=2_000.0) as big:
        transport = RecordingTransport()
        connector = shopify_connector(
            big, transport=transport, timeout_s=30.0, bulk_poll_interval_s=0.2, bulk_batch_size=1_000
        )
        batches = backfill_all(connector, "orders")
        expected = big.record_ids("orders")
        lines = sum(len(big.state.record("orders", oid)["_lines"]) for oid in expected[::500])

    records = records_of(batches)
    assert len(records) == BIG and {record.external_id for record in records} == set(expected)
    assert not [item for batch in batches for item in batch.records if isinstance(item, Rejected)]
    assert sum(len(record.lines) for record in records[::500]) == lines  # spot check: every line item attached
    assert max(len(batch.records) for batch in batches) == 1_000
    assert started_operations(transport) == 1


def test_an_export_still_running_at_the_wait_limit_ends_the_run_and_the_next_run_waits_on():
    with SandboxServer(bulk_polls_to_finish=1_000) as slow:
        connector = shopify_connector(slow, bulk_max_wait_s=0.1)
        batches = connector.backfill("customers", None)
        checkpoint = next(batches)
        with pytest.raises(StillRunningError, match="still RUNNING"):
            next(batches)
        slow.state.bulk.polls_to_finish = 1

        rest = backfill_all(shopify_connector(slow), "customers", checkpoint.cursor)

        assert sorted(record.external_id for record in records_of(rest)) == sorted(slow.record_ids("customers"))
