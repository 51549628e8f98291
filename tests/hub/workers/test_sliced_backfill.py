"""A backfill fanned out in slices over two real ``hub worker`` processes (the machine's Redis and PostgreSQL)
stores exactly what a single-process backfill stores: a single-process full refresh afterwards finds nothing
to write and leaves every stored row as it was.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import text

from connectors.example.sandbox import SandboxServer
from tests.hub.workers.conftest import Deployment, use_broker, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
REDIS_DB = 14  # this module's own database on the machine's Redis

SLICES = 4
CUSTOMERS, ORDERS = 60, 400

_SNAPSHOT = {
    "purchases": "SELECT source, external_id, status, total_amount, member_id FROM purchases ORDER BY external_id",
    "lines": "SELECT count(*) FROM purchase_lines",
    "links": "SELECT source, external_id, member_id FROM source_links ORDER BY external_id",
    "members": "SELECT count(*) FROM members",
    "ledger": "SELECT source_event, kind, points FROM point_ledger ORDER BY source_event, kind",
}


def _snapshot(deployment: Deployment) -> dict[str, list[Any]]:
    with deployment.db.connect() as conn:
        return {name: [tuple(row) for row in conn.execute(text(query))] for name, query in _SNAPSHOT.items()}


def _plan_done(deployment: Deployment) -> bool:
    with deployment.db.connect() as conn:
        planned = conn.execute(text("SELECT count(*) FROM backfill_slices")).scalar()
    slices = [run for run in deployment.runs() if run.lane.startswith("slice")]
    return planned == 0 and len(slices) >= 2 * SLICES and all(run.status == "succeeded" for run in slices)


@pytest.mark.timeout(150)
def test_a_backfill_sliced_over_two_workers_stores_exactly_what_one_process_stores(deployment, machine_redis):
    use_broker(deployment, machine_redis)
    with SandboxServer(customers=CUSTOMERS, orders=ORDERS, seed=7, latency_s=0.05, rate_limit=None) as shop:
        deployment.configure({"shop": shop}, page_size=20)
        deployment.start_workers("a", "b")
        queued = deployment.cli("sync", "shop", "--full-refresh", "--slices", str(SLICES), "--queue").stdout
        assert queued.count("queued shop/") == 2, queued
        wait_until(lambda: _plan_done(deployment), timeout_s=90, what="both streams backfilled in slices")
        sliced = _snapshot(deployment)

        single = deployment.cli("sync", "shop", "--full-refresh")
        after_single = _snapshot(deployment)

    slice_runs = [run for run in deployment.runs() if run.lane.startswith("slice")]
    per_worker = {name: len(re.findall(r"memberhub\.backfill_slice\[", deployment.log(name))) for name in "ab"}
    assert all(per_worker.values()), f"every worker took slices: {per_worker}"
    assert sum(run.records_read for run in slice_runs if run.stream == "orders") == ORDERS, "slices overlap"
    assert sorted(deployment.external_ids("purchases", "shop")) == sorted(shop.record_ids("orders"))
    assert sorted(deployment.external_ids("source_links", "shop")) == sorted(shop.record_ids("customers"))
    assert deployment.duplicate_ledger_events() == []
    whole = [run for run in deployment.runs() if run.lane == "backfill"]
    assert [run.status for run in whole] == ["succeeded", "succeeded"], single.stdout
    assert sum(run.records_written for run in whole) == 0, "the single-process backfill found something to write"
    assert after_single == sliced
