"""How long the analytics reports take for 200,000 members and 2,000,000 purchases, and a cached page render.

    .venv/bin/python bench/analytics_bench.py [--members 200000] [--purchases 2000000] [--database both]
                                              [--renders 300]

For each database, in a hub initialised on a throw-away database (a SQLite file, or a fresh PostgreSQL database
on the server of MEMBERHUB_TEST_PG_URL), seeded as ``loyalty_jobs_bench.py`` seeds it: members with sealed
birthdays, two years of purchases (one in twenty partly refunded) and the earn lots of the last 365 days; then
the rank period end one year in (every cluster judged: rank history), and survey answers (satisfaction 1–5,
recommend 0–10) for one purchase in twenty. The rules are the shipped ones plus a campaign with a 10 % holdout
in the report month. Then:

    reports   every report of ``core.analytics`` for the last month of the data, each computed and cached in its
              own transaction (what ``hub analytics refresh --month`` does), timed one by one;
    page      GET /analytics for each report in turn, signed in as a supervisor, through the real app in process
              (cache hits: the report is read from report_cache, its views, charts and tables rendered):
              latency percentiles over ``--renders`` requests.

Targets: the whole set of reports ≤ 30 s on either database; a cached page p99 ≤ 100 ms.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from databases import throwaway_database
from loyalty_bench import _analyze, _load, _seed_members
from loyalty_jobs_bench import _seed_history
from sqlalchemy import Engine, select
from timeline_bench import percentile

from core.access import Role
from core.analytics.book import compute_report
from core.analytics.catalog import REPORTS
from core.analytics.months import Month
from core.logs import configure_logging
from core.loyalty import LoyaltyEngine
from core.loyalty.periods import JST
from core.store.members import _insert_rows
from core.store.models import Purchase, SurveyResponse, table_of
from hub.runtime import Hub, init_hub
from hub.settings import HubSettings

ROOT = Path(__file__).resolve().parents[1]
MONTH = Month(2026, 11)  # the last whole month of the data (START + 730 days ends on 31 December 2026)
NOW = datetime(2026, 12, 3, 3, 30, tzinfo=JST)
PERIOD_END = datetime(2026, 1, 2, 3, 30, tzinfo=JST)
TARGET_REPORTS_S = 30.0
TARGET_PAGE_P99_MS = 100.0
SURVEY_EVERY = 20
HOLDOUT_CAMPAIGN = """
[[campaigns]]
code = "bench-holdout"
name_ja = "ベンチ用キャンペーン"
name_en = "Bench campaign"
starts_at = 2026-11-01
ends_at = 2026-12-01
multiplier = 1.5
holdout_percent = 10
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=200_000)
    parser.add_argument("--purchases", type=int, default=2_000_000)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--renders", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    configure_logging(level="WARNING")  # one log line per request would be most of the page render's time
    print(f"MemberHub analytics: {args.members:,} members, {args.purchases:,} purchases, month {MONTH}")
    with tempfile.TemporaryDirectory(prefix="memberhub-analytics-") as workdir:
        for database in ["sqlite", "postgresql"] if args.database == "both" else [args.database]:
            place = Path(workdir) / database
            place.mkdir()
            with throwaway_database(database, place, prefix="memberhub_analytics") as url:
                hub, _ = init_hub(_settings(place, url))
                try:
                    _run(database, hub, args)
                finally:
                    hub.close()
    return 0


def _settings(place: Path, url: str) -> HubSettings:
    """A hub on ``url``: its home, a key file outside it, and the shipped rules plus the holdout campaign."""
    home = place / "home"
    home.mkdir()
    rules = home / "loyalty.toml"
    rules.write_text((ROOT / "config" / "loyalty.toml").read_text(encoding="utf-8") + HOLDOUT_CAMPAIGN, "utf-8")
    return HubSettings(home, place / "keys" / "keyring.json", url, home / "hub.toml", rules)


def _run(database: str, hub: Hub, args: argparse.Namespace) -> None:
    engine, rules = hub.engine, hub.loyalty.rules
    rng = random.Random(args.seed)
    started = time.perf_counter()
    members = _seed_members(engine, hub.members.sealer, args.members, rng)
    _seed_history(engine, rules, members, args.purchases, rng)
    loyalty = LoyaltyEngine(rules, lambda: PERIOD_END)
    with engine.begin() as conn:
        ranks = loyalty.run_rank_period_end(conn, PERIOD_END)
    answers = _seed_surveys(engine, rng)
    _analyze(engine)
    print(f"{database}: seeded in {time.perf_counter() - started:,.0f} s ({ranks.rank_changes:,} rank changes, "
          f"{answers:,} survey answers); load average {_load()}")  # fmt: skip
    total = 0.0
    for kind in REPORTS:
        began = time.perf_counter()
        with engine.begin() as conn:
            report = compute_report(conn, kind, rules, MONTH, NOW)
        seconds = time.perf_counter() - began
        total += seconds
        rows = sum(len(table.rows) for table in report.tables)
        print(f"  {kind.name:<18} {seconds:6.2f} s  ({rows:,} rows cached)", flush=True)
    verdict = "met" if total <= TARGET_REPORTS_S else "MISSED"
    print(f"  all reports        {total:6.2f} s  target ≤ {TARGET_REPORTS_S:.0f} s: {verdict}; load {_load()}")
    _renders(hub, args.renders)


def _seed_surveys(engine: Engine, rng: random.Random) -> int:
    """A survey answer a day after one purchase in twenty: satisfaction 1–5 and recommend 0–10, as strings."""
    p = table_of(Purchase).c
    with engine.connect() as conn:
        bought = conn.execute(select(p.id, p.member_id, p.purchased_at).where(p.id % SURVEY_EVERY == 1)).all()
    rows = [_answer(rng, n, member, at + timedelta(days=1)) for n, (_, member, at) in enumerate(bought)]
    with engine.begin() as conn:
        for start in range(0, len(rows), 10_000):
            _insert_rows(conn, table_of(SurveyResponse), rows[start : start + 10_000])
    return len(rows)


def _answer(rng: random.Random, n: int, member: UUID, at: datetime) -> dict[str, Any]:
    answers = {"satisfaction": str(rng.choice((1, 2, 3, 4, 4, 5, 5))), "recommend": str(rng.randrange(11))}
    return {
        "member_id": member, "source": "mail", "external_id": f"s{n}", "survey_code": "post-purchase",
        "score": None, "answers": answers, "answered_at": at, "source_updated_at": at,
    }  # fmt: skip


def _renders(hub: Hub, count: int) -> None:
    """Cached page renders through the app in process, signed in as a supervisor; latency percentiles."""
    from fastapi.testclient import TestClient  # the bench's only use of the test client

    from hub.web import create_app

    app = create_app(hub)
    app.state.web.users.add("bench-supervisor", "bench password of the analytics", Role.SUPERVISOR, locale="ja")
    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    _sign_in(client)
    for kind in REPORTS:  # warm up: the first render of the page compiles its template
        client.get("/analytics", params={"report": kind.name, "month": MONTH.code})
    latencies: list[float] = []
    slowest: dict[str, float] = {}
    for n in range(count):
        kind = REPORTS[n % len(REPORTS)]
        began = time.perf_counter()
        response = client.get("/analytics", params={"report": kind.name, "month": MONTH.code})
        latencies.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, response.text[:200]
        slowest[kind.name] = max(slowest.get(kind.name, 0.0), latencies[-1])
    p99 = percentile(latencies, 99)
    verdict = "met" if p99 <= TARGET_PAGE_P99_MS else "MISSED"
    print(f"  cached page        p50 {percentile(latencies, 50):.1f} ms, p95 {percentile(latencies, 95):.1f} ms, "
          f"p99 {p99:.1f} ms over {count} renders; target p99 ≤ {TARGET_PAGE_P99_MS:.0f} ms: {verdict}")  # fmt: skip
    print("  slowest render     " + ", ".join(f"{name} {ms:.0f} ms" for name, ms in slowest.items()))


def _sign_in(client: Any) -> None:
    import re

    form = client.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', form.text)
    assert token is not None
    data = {"username": "bench-supervisor", "password": "bench password of the analytics", "login_token": token[1]}
    assert client.post("/login", data=data).status_code == 303


if __name__ == "__main__":
    raise SystemExit(main())
