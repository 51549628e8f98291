"""The engine against example connectors over real HTTP on loopback, with injected faults."""

from __future__ import annotations

from sqlalchemy import func, select

from connectors.example.sandbox import SandboxServer
from core.store.models import DeadLetter, Purchase, SourceLink, SyncRun
from core.sync.breaker import CircuitBreaker
from tests.core.sync.conftest import example_instance


def _stored_ids(kit, model, source):
    with kit.engine.connect() as conn:
        return set(conn.scalars(select(model.external_id).where(model.source == source)))


def test_one_connector_raising_hanging_throttled_or_serving_garbage_never_harms_the_others(sync_kit):
    with (
        SandboxServer(customers=45, orders=70) as healthy,
        SandboxServer(customers=30, orders=30) as raising,
        SandboxServer(customers=30, orders=30) as hanging,
        SandboxServer(customers=40, orders=40) as throttled,
        SandboxServer(customers=40, orders=60) as garbage,
    ):
        raising.state.fail_next(1000, 400)
        hanging.state.hang_next(1000, seconds=20)
        throttled.state.throttle_next(3, retry_after=1)
        garbage.state.serve_garbage(2, path="/v1/orders")
        instances = [
            example_instance("healthy", healthy.url),
            example_instance("raising", raising.url),
            example_instance("hanging", hanging.url, deadline_s=4.0, breaker_fail_max=1),
            example_instance("throttled", throttled.url),
            example_instance("garbage", garbage.url),
        ]
        engine = sync_kit.sync_engine(*instances)
        jobs = [(instance.name, stream) for instance in instances for stream in ("customers", "orders")]
        reports = {(r.connector, r.stream): r for r in engine.run_many(jobs, workers=10)}

    for stream in ("customers", "orders"):
        assert reports[("healthy", stream)].status == "succeeded"
        assert reports[("throttled", stream)].status == "succeeded"
        assert reports[("raising", stream)].error_class == "PermanentError"
    assert reports[("hanging", "customers")].error_class == "DeadlineExceededError"
    assert CircuitBreaker(sync_kit.engine, "hanging").state().state == "open"
    assert _stored_ids(sync_kit, Purchase, "healthy") == healthy.record_ids("orders")
    assert _stored_ids(sync_kit, SourceLink, "healthy") >= healthy.record_ids("customers")
    assert _stored_ids(sync_kit, Purchase, "throttled") == throttled.record_ids("orders")
    assert sum(1 for r in throttled.state.requests if r.status == 429) == 3

    garbage_run = reports[("garbage", "orders")]
    assert garbage_run.status == "succeeded" and garbage_run.records_quarantined > 0
    with sync_kit.engine.connect() as conn:
        reasons = list(conn.scalars(select(DeadLetter.reason).where(DeadLetter.connector == "garbage")))
    assert len(reasons) == garbage_run.records_quarantined and all(reasons)
    stored = _stored_ids(sync_kit, Purchase, "garbage")
    assert len(stored) + garbage_run.records_quarantined >= len(garbage.record_ids("orders"))
    assert len(stored) >= len(garbage.record_ids("orders")) - garbage_run.records_quarantined


def test_incremental_run_resumes_from_the_cursor_and_picks_up_updates(sync_kit):
    with SandboxServer(customers=30, orders=50) as sandbox:
        engine = sync_kit.sync_engine(example_instance("shop", sandbox.url, lookback_s=0))
        first = engine.run("shop", "orders")
        order_id = sorted(sandbox.record_ids("orders"))[0]
        sandbox.state.update_record("orders", order_id)
        before = len(sandbox.state.requests)
        second = engine.run("shop", "orders")
        pages_read = len(sandbox.state.requests) - before
    assert first.records_read == 50 and first.status == "succeeded"
    assert second.status == "succeeded" and 1 <= second.records_read <= 2 and pages_read == 1
    with sync_kit.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Purchase).where(Purchase.source == "shop")) == 50
        runs = conn.scalars(select(SyncRun.status).order_by(SyncRun.id)).all()
    assert runs == ["succeeded", "succeeded"]


def test_a_full_refresh_runs_in_its_own_lane_and_rereads_everything(sync_kit):
    with SandboxServer(customers=20, orders=25) as sandbox:
        engine = sync_kit.sync_engine(example_instance("shop", sandbox.url))
        engine.run("shop", "orders")
        refresh = engine.run("shop", "orders", full_refresh=True)
        incremental = engine.run("shop", "orders")
    assert (refresh.lane, refresh.records_read, refresh.records_written) == ("backfill", 25, 0)
    assert incremental.lane == "incremental" and incremental.records_read < 25


def test_the_same_stream_never_runs_twice_at_once(sync_kit):
    with SandboxServer(customers=20, orders=20) as sandbox:
        sandbox.state.hang_next(1, seconds=3, path="/v1/orders")
        engine = sync_kit.sync_engine(example_instance("shop", sandbox.url))
        reports = engine.run_many([("shop", "orders"), ("shop", "orders")], workers=2)
    assert sorted(report.status for report in reports) == ["skipped", "succeeded"]
    assert next(r for r in reports if r.status == "skipped").error_class == "StreamBusyError"


def test_a_backfill_does_not_hold_up_incremental_runs_of_the_same_stream(sync_kit):
    import threading

    with SandboxServer(customers=10, orders=60, latency_s=0.1) as sandbox:
        engine = sync_kit.sync_engine(example_instance("shop", sandbox.url, page_size=5))
        engine.run("shop", "orders")
        backfill = {}
        worker = threading.Thread(
            target=lambda: backfill.update(report=engine.run("shop", "orders", full_refresh=True))
        )
        worker.start()
        incremental = engine.run("shop", "orders")  # while the 12-page backfill is still reading
        still_running = worker.is_alive()
        worker.join()
    assert still_running and incremental.status == "succeeded" and incremental.lane == "incremental"
    assert backfill["report"].status == "succeeded" and backfill["report"].records_read == 60
