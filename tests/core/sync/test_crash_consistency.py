"""Crash consistency (DESIGN §4): a sync killed with SIGKILL at random points resumes to exactly the source."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from sqlalchemy import func, select

from connectors.example.sandbox import SandboxServer
from core.store.models import Purchase, PurchaseAdjustment, PurchaseLine, SourceLink, SyncRun
from tests.core.sync.conftest import SECRET_ENV, TOKEN_ENV

KILLS = int(os.environ.get("MEMBERHUB_CRASH_KILLS", "10"))  # a soak: MEMBERHUB_CRASH_KILLS=200

_SYNCER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from core.crypto.key_providers import KeyFileProvider
    from core.crypto.sealing import MemberSealer
    from core.members.directory import MemberDirectory
    from core.members.erasure import ErasureLedger
    from core.members.keys import load_verified_ring
    from core.plugins.manager import build_plugin_manager
    from core.store.database import create_hub_engine
    from core.sync.engine import SyncEngine
    from core.sync.ingest import StoreSink
    from core.sync.payloads import PayloadSealer
    from core.sync.registry import ConnectorRegistry
    from tests.core.sync.conftest import example_instance

    url, key_file, sandbox_url = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    engine = create_hub_engine(url)
    provider = KeyFileProvider(key_file)
    ring = load_verified_ring(engine, provider)
    directory = MemberDirectory(engine, MemberSealer(ring), ErasureLedger(key_file.parent / "ledger.jsonl"))
    instance = example_instance("shop", sandbox_url, page_size=7, lookback_s=0)
    registry = ConnectorRegistry.from_plugins(build_plugin_manager(), {"shop": instance})
    sync = SyncEngine(engine, registry, StoreSink(directory), PayloadSealer(engine, ring, "dead_letters"))
    # Incremental runs, then full refreshes, so every life of this process has a long run to be killed in.
    for stream, full in (("customers", False), ("orders", False), ("orders", True), ("customers", True)):
        report = sync.run("shop", stream, full_refresh=full)
        if report.status != "succeeded":
            sys.exit(f"{stream}: {report.status} {report.error_class} {report.error_message}")
    """
)


@pytest.mark.slow
def test_sync_killed_at_random_points_resumes_to_exactly_the_source(sync_kit, db_url, tmp_path):
    key_file = tmp_path / "keys" / "keyring.json"
    env = dict(os.environ, **{TOKEN_ENV: "sandbox-token", SECRET_ENV: "sandbox-webhook-secret"})
    rng = random.Random(20261130)
    mid_run_kills = 0
    with SandboxServer(customers=80, orders=160, rate_limit=None, latency_s=0.08) as sandbox:
        command = [sys.executable, "-c", _SYNCER, db_url, str(key_file), sandbox.url]
        for _ in range(KILLS):
            child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            time.sleep(rng.uniform(1.5, 7.0))
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
            if rng.random() < 0.3:  # the source keeps changing between crashes
                stream = rng.choice(["customers", "orders"])
                sandbox.state.update_record(stream, rng.choice(sorted(sandbox.record_ids(stream))))
            mid_run_kills += _killed_after_committing(sync_kit)
        finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        assert finished.returncode == 0, finished.stderr[-3000:]
        source_orders = {
            sandbox.state.record("orders", oid)["id"]: sandbox.state.record("orders", oid)
            for oid in sandbox.record_ids("orders")
        }
        source_customers = sandbox.record_ids("customers")

    assert mid_run_kills >= KILLS // 5, f"only {mid_run_kills} kills landed between committed batches"
    with sync_kit.engine.connect() as conn:
        purchases = dict(conn.execute(select(Purchase.external_id, Purchase.id).where(Purchase.source == "shop")).all())
        lines = conn.scalar(select(func.count()).select_from(PurchaseLine))
        adjustments = conn.scalar(select(func.count()).select_from(PurchaseAdjustment))
        links = set(conn.scalars(select(SourceLink.external_id).where(SourceLink.source == "shop")))
        stale = conn.scalar(select(func.count()).select_from(SyncRun).where(SyncRun.status == "running"))
    assert set(purchases) == set(source_orders)
    assert lines == sum(len(order["line_items"]) for order in source_orders.values())
    assert adjustments == sum(len(order.get("refunds", [])) for order in source_orders.values())
    assert links >= source_customers
    assert stale == 0


def _killed_after_committing(kit) -> bool:
    """Whether the newest run was left running after it had committed at least one batch."""
    with kit.engine.connect() as conn:
        newest = conn.execute(select(SyncRun.status, SyncRun.records_read).order_by(SyncRun.id.desc())).first()
    return newest is not None and newest.status == "running" and newest.records_read > 0
