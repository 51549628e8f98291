"""A Shopify backfill through the hub's engine: every order stored, the lane's cursor cleared, and the incremental
lane taking over at the bulk operation's start instead of reading the whole shop again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from connectors.shopify.sandbox import SandboxServer
from core.store import models
from core.store import sync as sync_repo
from core.store.database import read_only
from core.sync.cursor import StreamCursor
from hub.runtime import Hub
from tests.connectors.shopify.factories import roomy_shop, shopify_hub

SHOP = "tokyo-online"


@pytest.fixture
def shop() -> Iterator[SandboxServer]:
    with roomy_shop() as server:
        yield server


@pytest.fixture
def hub(shop: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    opened = shopify_hub(shop, tmp_path, monkeypatch, instance=SHOP)
    yield opened
    opened.close()


def test_a_backfill_stores_the_shop_and_hands_the_incremental_lane_its_start(shop, hub):
    reports = [hub.sync.run(SHOP, stream, full_refresh=True) for stream in ("customers", "orders")]
    changed = shop.record_ids("orders")[5]
    shop.state.touch("orders", changed)
    incremental = hub.sync.run(SHOP, "orders")

    assert [report.status for report in reports] == ["succeeded", "succeeded"]
    assert reports[1].records_read == len(shop.record_ids("orders"))
    with read_only(hub.engine).connect() as conn:
        stored = conn.scalar(select(func.count()).select_from(models.Purchase).where(models.Purchase.source == SHOP))
        backfill_cursor = sync_repo.load_cursor(conn, SHOP, "orders@backfill")
        lanes = conn.execute(select(models.SyncRun.lane).where(models.SyncRun.stream == "orders")).scalars().all()
    assert stored == len(shop.record_ids("orders"))
    assert backfill_cursor is None
    assert lanes == ["backfill", "incremental"]
    assert incremental.status == "succeeded" and 1 <= incremental.records_read < 10, incremental
    assert StreamCursor.from_json(_cursor(hub, "orders")).updated_since is not None


def test_a_backfill_never_moves_the_incremental_cursor_back(shop, hub):
    ahead = StreamCursor(datetime.now(UTC) + timedelta(days=1)).to_json()
    with hub.engine.begin() as conn:
        sync_repo.save_cursor(conn, SHOP, "orders", ahead, datetime.now(UTC))

    assert hub.sync.run(SHOP, "orders", full_refresh=True).status == "succeeded"

    assert _cursor(hub, "orders") == ahead


def _cursor(hub: Hub, stream: str) -> str | None:
    with read_only(hub.engine).connect() as conn:
        return sync_repo.load_cursor(conn, SHOP, stream)


def test_an_export_longer_than_a_run_is_waited_on_by_the_next_run_and_never_opens_the_breaker(tmp_path, monkeypatch):
    with SandboxServer(bulk_polls_to_finish=1_000) as slow:
        hub = shopify_hub(
            slow, tmp_path, monkeypatch, instance=SHOP, settings="bulk_max_wait_s = 0.3\nbulk_poll_interval_s = 0.05"
        )
        try:
            waiting = [hub.sync.run(SHOP, "customers", full_refresh=True) for _ in range(6)]
            slow.state.bulk.polls_to_finish = 1
            done = hub.sync.run(SHOP, "customers", full_refresh=True)
            with read_only(hub.engine).connect() as conn:
                breaker = conn.execute(
                    select(models.CircuitBreakerState.state, models.CircuitBreakerState.consecutive_failures)
                ).first()
        finally:
            hub.close()

    assert {(report.status, report.error_class) for report in waiting} == {("failed", "StillRunningError")}
    assert breaker is None or tuple(breaker) == ("closed", 0)
    assert done.status == "succeeded" and done.records_read == len(slow.record_ids("customers"))
    assert slow.state.bulk.started == 1
