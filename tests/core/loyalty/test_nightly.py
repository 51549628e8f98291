"""The nightly list: every job once, in order, each in its own transaction; on PostgreSQL RFM and the loyalty
scores run beside other jobs, and no job JIT-compiles its queries; the reports are read beside the segments and
statuses on both databases and cached afterwards."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from core.loyalty import nightly
from core.loyalty.nightly import run_nightly
from core.store.models import MemberScore, ReportCache
from tests.core.loyalty.conftest import purchase

NIGHT = datetime(2026, 6, 2, 18, 30, tzinfo=UTC)  # 03:30 on 3 June in Japan
ORDER = [
    "expiry", "expiry notices", "rank period end", "birthday", "anniversary", "rfm", "loyalty score", "segments",
    "member status", "analytics",
]  # fmt: skip


@pytest.fixture
def kit(loyalty_kit):
    bought = datetime(2026, 5, 20, 3, 0, tzinfo=UTC)
    loyalty_kit.clock.now = bought
    loyalty_kit.ingest([purchase("r-1", "c-1", 4_000, bought), purchase("r-2", "c-2", 12_000, bought)])
    return loyalty_kit


def test_every_job_runs_once_in_order_and_the_reports_are_cached(kit):
    published = []
    runs = run_nightly(kit.engine, kit.loyalty, kit.directory.sealer, NIGHT, published.append)

    assert [run.name for run in runs] == ORDER
    assert len(published) == len(ORDER), "each job's events are handed on once its transaction committed"
    with kit.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(MemberScore)).scalar_one() == 2
        assert sorted(conn.execute(select(ReportCache.period).distinct()).scalars()) == ["2026-05", "2026-06"]


def test_rfm_and_the_scores_run_beside_other_jobs_on_postgresql_and_the_reports_on_both(kit, monkeypatch):
    threads: dict[str, str] = {}
    jit: set[str] = set()

    def watched(name: str, job):
        def run(conn):
            threads[name] = threading.current_thread().name
            if conn.dialect.name == "postgresql":
                jit.add(conn.exec_driver_sql("SHOW jit").scalar_one())
            return job(conn)

        return run

    original = nightly._run_job
    monkeypatch.setattr(nightly, "_run_job", lambda engine, name, job: original(engine, name, watched(name, job)))
    assert tuple(ORDER) == nightly.ORDER
    run_nightly(kit.engine, kit.loyalty, kit.directory.sealer, NIGHT)

    beside = {job for job, thread in threads.items() if thread.startswith("nightly-beside")}
    on_postgresql = kit.engine.dialect.name == "postgresql"
    assert beside == ({"rfm", "loyalty score", "analytics"} if on_postgresql else {"analytics"})
    assert len(threads) == len(ORDER)
    assert jit == ({"off"} if on_postgresql else set())


def test_a_failing_report_fails_the_night_after_the_other_jobs_committed(kit, monkeypatch):
    def broken(conn, rules, now):
        raise RuntimeError("report failed")

    monkeypatch.setattr(nightly, "build_reports", broken)
    with pytest.raises(RuntimeError, match="report failed"):
        run_nightly(kit.engine, kit.loyalty, kit.directory.sealer, NIGHT)
    with kit.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(MemberScore)).scalar_one() == 2
        assert conn.execute(select(func.count()).select_from(ReportCache)).scalar_one() == 0
