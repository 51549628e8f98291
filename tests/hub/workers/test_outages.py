"""Outages the workers ride out: the broker gone for a while, the database gone in the middle of a run.

The broker is a ``redis-server`` of the test's own (the machine's Redis is shared), killed and started again on
the same port; the database is reached through a loopback proxy that cuts every connection, as a restart does.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from connectors.example.sandbox import SandboxServer
from tests.hub.workers.conftest import Deployment, use_broker, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
REDIS_DB = 13  # this module's own database on the machine's Redis

OUTAGE_S = 2.0  # a real outage has a real length: there is no clock to inject into Redis or PostgreSQL


def _succeeded_since(deployment: Deployment, moment: datetime, streams: tuple[str, ...]) -> bool:
    done = {run.stream for run in deployment.runs() if run.status == "succeeded" and run.started_at > moment}
    return done >= set(streams)


@pytest.mark.timeout(120)
def test_worker_and_beat_reconnect_after_the_broker_was_down(deployment, private_redis):
    use_broker(deployment, private_redis.url)
    with SandboxServer(rate_limit=None) as tokyo:
        deployment.configure({"tokyo": tokyo}, page_size=50, schedule="every 2s")
        beat = deployment.start("beat", "beat")
        deployment.start_workers("worker")
        started = datetime.now(UTC)
        wait_until(
            lambda: _succeeded_since(deployment, started, ("customers", "orders")),
            timeout_s=30,
            what="scheduled runs",
        )

        private_redis.kill()
        time.sleep(OUTAGE_S)
        private_redis.start()
        back = datetime.now(UTC)
        wait_until(
            lambda: _succeeded_since(deployment, back, ("customers", "orders")),
            timeout_s=45,
            what="scheduled runs after the broker came back",
        )
        reconnected_after_s = min(run.started_at for run in deployment.runs() if run.started_at > back) - back
        print(f"\nfirst run {reconnected_after_s.total_seconds():.1f} s after the broker came back")

    assert deployment.processes["worker"].poll() is None and beat.poll() is None, "both rode out the outage"
    assert deployment.external_ids("source_links", "tokyo") != []


@pytest.mark.timeout(120)
def test_a_run_cut_off_from_the_database_fails_cleanly_and_the_retry_resumes_it(deployment, machine_redis, pg_proxy):
    client = use_broker(deployment, machine_redis)
    proxied = deployment.database_url.replace(":5432/", f":{pg_proxy.port}/")
    with SandboxServer(customers=60, orders=10, latency_s=0.05, rate_limit=None) as tokyo:
        deployment.configure({"tokyo": tokyo})
        deployment.start_workers("worker", env={"HUB_DATABASE_URL": proxied})
        client.send_task("memberhub.sync_stream", args=["tokyo", "customers"])
        wait_until(lambda: _running_with_records(deployment), timeout_s=30, what="customers run in progress")

        pg_proxy.cut()
        (broken,) = deployment.runs()
        committed = len(deployment.external_ids("source_links", "tokyo"))
        assert broken.status == "running" and 0 < broken.records_read < 60
        assert committed == broken.records_read, "only whole batches are stored"
        assert deployment.cursor("tokyo", "customers") == broken.cursor_after, "the cursor of the last batch stored"
        wait_until(
            lambda: "Retry in" in deployment.log("worker"), timeout_s=15, what="the task failing over to a retry"
        )
        time.sleep(OUTAGE_S)
        pg_proxy.restore()

        wait_until(lambda: deployment.runs()[-1].status == "succeeded", timeout_s=45, what="the retried run to succeed")
        customers = tokyo.record_ids("customers")

    broken, *later = deployment.runs()
    resumed = next(run for run in later if run.status == "succeeded")
    assert (broken.status, broken.error_class) == ("failed", "Abandoned")
    assert broken.records_read + resumed.records_read == 60, "resumed from the committed cursor"
    assert sorted(deployment.external_ids("source_links", "tokyo")) == sorted(customers)


def _running_with_records(deployment: Deployment) -> bool:
    return any(run.status == "running" and run.records_read for run in deployment.runs())
