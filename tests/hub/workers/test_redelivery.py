"""Two real ``hub worker`` processes on the machine's Redis and PostgreSQL: a worker SIGKILLed mid-sync loses
nothing — its message comes back after the visibility timeout, the other worker resumes the run from the last
committed cursor — nothing is stored twice, and the stream lock keeps each stream to one run at a time; a
worker stopped with SIGTERM hands its run back at once.
"""

from __future__ import annotations

import signal
import uuid
from collections import Counter
from datetime import UTC, datetime

import pytest

from connectors.example.sandbox import SandboxServer
from tests.hub.workers.conftest import VISIBILITY_TIMEOUT_S, Deployment, use_broker, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
REDIS_DB = 12  # this module's own database on the machine's Redis

STREAMS = ("customers", "orders")
SYNC = "memberhub.sync_stream"
CUSTOMERS = 80


def _sandbox(seed: int) -> SandboxServer:
    # 16 pages of 5 customers, each request 0.15 s away: a customers run lasts a few seconds
    return SandboxServer(customers=CUSTOMERS, orders=40, seed=seed, latency_s=0.15, rate_limit=None)


def _running(deployment: Deployment, connector: str, stream: str) -> bool:
    return any(
        run.connector == connector and run.stream == stream and run.status == "running" and run.records_read
        for run in deployment.runs()
    )


def _holder(deployment: Deployment, task_id: str) -> str | None:
    """The worker that received ``task_id`` (Celery logs each message it receives)."""
    return next((name for name in ("a", "b") if task_id in deployment.log(name)), None)


def _at_most_one_running_per_stream(deployment: Deployment, seen: Counter[tuple[str, str]]) -> None:
    running = Counter((run.connector, run.stream, run.lane) for run in deployment.runs() if run.status == "running")
    seen.update(key for key, count in running.items() if count > 1)


@pytest.mark.timeout(120)
def test_a_worker_killed_mid_sync_loses_nothing_and_stores_nothing_twice(deployment, machine_redis):
    client = use_broker(deployment, machine_redis)
    with _sandbox(1) as tokyo, _sandbox(2) as osaka:
        deployment.configure({"tokyo": tokyo, "osaka": osaka})
        deployment.start_workers("a", "b")

        first = str(uuid.uuid4())
        client.send_task(SYNC, args=["tokyo", "customers"], task_id=first)
        wait_until(lambda: _running(deployment, "tokyo", "customers"), timeout_s=30, what="tokyo/customers running")
        holder = wait_until(lambda: _holder(deployment, first), timeout_s=5, what="worker holding the first task")
        survivor = "b" if holder == "a" else "a"
        for connector, stream in (("tokyo", "orders"), ("osaka", "customers"), ("osaka", "orders")):
            client.send_task(SYNC, args=[connector, stream])

        assert _running(deployment, "tokyo", "customers"), "the first run ended before the kill: stretch it"
        deployment.kill(holder)
        killed_at = datetime.now(UTC)

        overlaps: Counter[tuple[str, str]] = Counter()

        def all_streams_done() -> bool:
            _at_most_one_running_per_stream(deployment, overlaps)
            runs = deployment.runs()
            done = {(run.connector, run.stream) for run in runs if run.status == "succeeded"}
            resumed = [run for run in runs if run.stream == "customers" and run.connector == "tokyo"]
            return len(done) == 4 and resumed[-1].status == "succeeded" and resumed[-1].started_at > killed_at

        wait_until(all_streams_done, timeout_s=60, what="every stream synced after the kill")

        runs = deployment.runs()
        tokyo_customers = [run for run in runs if (run.connector, run.stream) == ("tokyo", "customers")]
        killed, *after = tokyo_customers
        redelivered_after_s = (after[0].started_at - killed_at).total_seconds()
        print(f"\nredelivered {redelivered_after_s:.1f} s after SIGKILL (visibility timeout {VISIBILITY_TIMEOUT_S} s)")

        assert not overlaps, f"two runs of one stream at once: {overlaps}"
        assert (killed.status, killed.error_class) == ("failed", "Abandoned")
        assert 0 < killed.records_read < CUSTOMERS
        assert first in deployment.log(survivor), "the killed worker's message was delivered again"
        assert killed.records_read + after[0].records_read == CUSTOMERS, "resumed after the last committed batch"
        for name, sandbox in (("tokyo", tokyo), ("osaka", osaka)):
            links, purchases = deployment.external_ids("source_links", name), deployment.external_ids("purchases", name)
            assert sorted(links) == sorted(sandbox.record_ids("customers"))
            assert sorted(purchases) == sorted(sandbox.record_ids("orders"))
        assert deployment.duplicate_ledger_events() == []


@pytest.mark.timeout(90)
def test_a_stream_runs_once_at_a_time_and_a_stopped_worker_hands_its_run_to_another(deployment, machine_redis):
    client = use_broker(deployment, machine_redis)
    with _sandbox(3) as tokyo:
        deployment.configure({"tokyo": tokyo})
        deployment.start_workers("a", "b")
        task = str(uuid.uuid4())
        client.send_task(SYNC, args=["tokyo", "customers"], task_id=task)
        wait_until(lambda: _running(deployment, "tokyo", "customers"), timeout_s=30, what="tokyo/customers running")
        holder = wait_until(lambda: _holder(deployment, task), timeout_s=5, what="worker holding the task")
        other = "b" if holder == "a" else "a"
        client.send_task(SYNC, args=["tokyo", "customers"])  # the same stream again, while it runs
        wait_until(
            lambda: "stream busy elsewhere" in deployment.log(other),
            timeout_s=15,
            what="the second tokyo/customers task refused by the stream lock",
        )

        stopping = deployment.processes[holder]
        stopping.send_signal(signal.SIGTERM)  # as systemd or docker stop: a warm shutdown
        assert stopping.wait(timeout=15) == 0
        wait_until(
            lambda: [run.status for run in deployment.runs()][-1:] == ["succeeded"],
            timeout_s=45,  # the other worker redoes the interrupted run: 30 s ran out once on a machine at load 4–5
            what="the run finished by the other worker",
        )
        stopped, finished = deployment.runs()  # the refused task started no run

    assert (stopped.status, stopped.error_class) == ("partial", "Interrupted")
    assert task in deployment.log(other), "the message went back to the queue at once"
    assert stopped.records_read + finished.records_read == CUSTOMERS
    assert sorted(deployment.external_ids("source_links", "tokyo")) == sorted(tokyo.record_ids("customers"))
