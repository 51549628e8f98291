"""Sliced backfills: planned once, slices read in parallel, resumed where they stopped, handed over at the end."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select

from connectors.example.sandbox import SandboxServer
from core.store.models import BackfillSlice, Purchase, SyncRun, SyncState
from core.sync.cursor import StreamCursor
from tests.core.sync.conftest import example_instance

ORDERS = 240


def _purchase_ids(kit):
    with kit.engine.connect() as conn:
        return list(conn.scalars(select(Purchase.external_id).where(Purchase.source == "shop")))


def _plan_rows(kit):
    with kit.engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(BackfillSlice))


def _incremental_mark(kit):
    with kit.engine.connect() as conn:
        stored = conn.scalar(
            select(SyncState.cursor).where(SyncState.connector == "shop", SyncState.stream == "orders")
        )
    return StreamCursor.from_json(stored)


def test_slices_read_every_record_exactly_once_and_hand_over_to_the_incremental_lane(sync_kit):
    with SandboxServer(customers=30, orders=ORDERS) as sandbox:
        engine = sync_kit.sync_engine(example_instance("shop", sandbox.url, page_size=20))
        reports = engine.run_backfills([("shop", "orders")], slices=4, workers=4)
        stored_ids = sandbox.record_ids("orders")
        newest = max(datetime.fromisoformat(sandbox.state.record("orders", rid)["updated_at"]) for rid in stored_ids)
        before = len(sandbox.state.requests)
        after_handover = engine.run("shop", "orders")
        pages_after = len(sandbox.state.requests) - before

    assert sorted(report.lane for report in reports) == ["slice 1", "slice 2", "slice 3", "slice 4"]
    assert all(report.status == "succeeded" for report in reports), reports
    assert sum(report.records_read for report in reports) == ORDERS, "slices overlap or miss records"
    assert all(report.records_read > 0 for report in reports), "a slice of equal time came out empty"
    stored = _purchase_ids(sync_kit)
    assert len(stored) == len(set(stored)) and set(stored) == sandbox.record_ids("orders")
    assert _plan_rows(sync_kit) == 0, "the last slice deletes the finished plan"
    assert _incremental_mark(sync_kit).updated_since == newest
    assert after_handover.status == "succeeded" and pages_after == 1, "incremental reading starts at the mark"


def test_an_interrupted_slice_resumes_from_its_cursor_and_finished_slices_do_not_run_again(sync_kit):
    with SandboxServer(customers=30, orders=ORDERS) as sandbox:
        engine = sync_kit.sync_engine(example_instance("shop", sandbox.url, page_size=20, max_attempts=1))
        numbers = engine.plan_backfill("shop", "orders", 3)
        first = engine.run_slice("shop", "orders", numbers[0])
        sandbox.state.fail_next(1, 400, path="/v1/orders", spare=2)  # the second slice's third page
        broken = engine.run_slice("shop", "orders", numbers[1])
        assert engine.plan_backfill("shop", "orders", 3) == numbers[1:], "a plan under way is taken up, not redone"
        rest = engine.run_backfills([("shop", "orders")], slices=3, workers=2)
        again = engine.run_slice("shop", "orders", numbers[0])

    assert first.status == "succeeded" and broken.status == "partial" and broken.records_read == 40
    assert [report.status for report in rest] == ["succeeded", "succeeded"]
    read = first.records_read + broken.records_read + sum(report.records_read for report in rest)
    assert ORDERS <= read <= ORDERS + 20, "the broken slice resumed after its last committed page"
    assert again.status == "skipped" and again.run_id is None, "a slice delivered after the plan ended does nothing"
    assert set(_purchase_ids(sync_kit)) == sandbox.record_ids("orders") and _plan_rows(sync_kit) == 0
    with sync_kit.engine.connect() as conn:
        lanes = conn.scalars(select(SyncRun.lane).where(SyncRun.status == "partial")).all()
    assert lanes == ["slice 2"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # planning is the engine's, whatever the store
def test_a_connector_that_cannot_slice_is_backfilled_whole_and_a_failed_plan_spares_the_others(sync_kit, monkeypatch):
    from connectors.square.sandbox import SandboxServer as SquareSandbox
    from core.sync.registry import InstanceConfig

    with SquareSandbox(search_lag_s=0.0) as square, SandboxServer(customers=10, orders=30) as down:
        monkeypatch.setenv("TEST_SQUARE_TOKEN", square.access_token)
        monkeypatch.setenv("TEST_SQUARE_KEYS", square.state.signature_key)
        till = InstanceConfig(
            name="till",
            type="square",
            settings={
                "base_url": square.url,
                "token_env": "TEST_SQUARE_TOKEN",
                "webhook_signature_key_env": "TEST_SQUARE_KEYS",
                "orders_page_size": 20,
            },
        )
        down.state.fail_next(100, 401)
        engine = sync_kit.sync_engine(till, example_instance("down", down.url, max_attempts=1))
        reports = engine.run_backfills([("till", "orders"), ("down", "orders")], slices=4, workers=2)

    whole, unplanned = reports
    assert (whole.lane, whole.status) == ("backfill", "succeeded") and whole.records_read > 0
    assert (unplanned.status, unplanned.error_class, unplanned.run_id) == ("failed", "PermanentError", None)
    assert "planning the backfill failed" in unplanned.error_message and _plan_rows(sync_kit) == 0
