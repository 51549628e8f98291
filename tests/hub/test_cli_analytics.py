"""``hub analytics``: the reports recomputed from the CLI into the cache the console reads."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, select

from core.store.models import ReportCache

pytestmark = pytest.mark.slow


def test_refresh_caches_every_report_of_the_months_named_and_refuses_a_bad_month(hub_cli):
    hub_cli("init")
    names = hub_cli("analytics", "reports").stdout.split()
    refreshed = hub_cli("analytics", "refresh", "--month", "2026-10", "--month", "2026-11").stdout
    refused = hub_cli("analytics", "refresh", "--month", "2026-13", ok=False)

    assert "2026-10" in refreshed and "2026-11" in refreshed
    engine = create_engine(f"sqlite:///{hub_cli.home / 'hub.sqlite3'}")
    with engine.connect() as conn:
        cached = {(row.report, row.period) for row in conn.execute(select(ReportCache.report, ReportCache.period))}
    engine.dispose()
    assert {(name, month) for name in names for month in ("2026-10", "2026-11")} <= cached
    assert refused.returncode == 2 and "--month" in refused.stderr and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
