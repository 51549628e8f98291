"""How long the nightly loyalty jobs take for 200,000 members, without first earning a million purchases.

    .venv/bin/python bench/loyalty_jobs_bench.py [--purchases 1000000] [--members 200000] [--database both]

The store is seeded directly (outside the clock): members with sealed birthdays, a customer id at the
destination ``shop`` and, one in two, an email consent (as ``loyalty_bench.py`` seeds them), who joined
(``created_at``) at moments spread evenly over the ``JOIN_YEARS`` before the purchases begin, so that about one
in twelve has the anniversary in any month, as in a real member base; two years of purchases, one in twenty
partly refunded; and the earn lots of the last 365 days (older ones have lapsed and are left out, as if
written off). Then, with the shipped rules (segments and member statuses pushed to ``shop``):

    period end   ``run_rank_period_end`` once for the new year (a yearly job, timed apart);
    nightly      ``run_nightly`` — every job of the nightly list, each in its own transaction — on the first
                 night (the segments are filled for the first time, one twelfth of the members have their
                 birthday benefit and one twelfth the anniversary benefit, the member status job tells ``shop``
                 every member's status: a member number decrypted and a ``member.loyalty`` entry per member) and
                 on the night after (only the changes).

``loyalty_bench.py`` runs the same nights after real earning; this bench exists to measure the nightly jobs
quickly and on both databases. The process collects garbage as the hub's bulk processes do
(``hub.workers.collector``). Target: nightly jobs ≤ 60 s for 200,000 members. Each job also shows this
process's CPU time: all of the work on SQLite, the Python side only on PostgreSQL.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

sys.path.insert(0, str(Path(__file__).resolve().parent))

from databases import throwaway_database
from loyalty_bench import (
    DAYS,
    START,
    TARGET_JOBS_S,
    _analyze,
    _load,
    _purchases,
    _rules_pushing_to_shop,
    _seed_members,
)
from sqlalchemy import Engine, bindparam, update

from core.crypto.keyring import KeyRing
from core.crypto.sealing import MemberSealer
from core.loyalty import LoyaltyEngine, LoyaltyRules
from core.loyalty.nightly import run_nightly
from core.store.database import create_hub_engine, upgrade_database
from core.store.members import _insert_rows
from core.store.models import Member, PointLedgerEntry, Purchase, PurchaseAdjustment, table_of
from core.sync.payloads import PayloadSealer
from hub.workers.collector import collect_less_often

JOIN_YEARS = 5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--purchases", type=int, default=1_000_000)
    parser.add_argument("--members", type=int, default=200_000)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    collect_less_often()  # as `hub loyalty run-jobs` and `hub worker` do
    print(f"MemberHub nightly loyalty jobs: {args.members:,} members, {args.purchases:,} purchases")
    with tempfile.TemporaryDirectory(prefix="memberhub-loyalty-jobs-") as workdir:
        for database in ["sqlite", "postgresql"] if args.database == "both" else [args.database]:
            with throwaway_database(database, Path(workdir), prefix="memberhub_loyalty") as url:
                engine = create_hub_engine(url)
                try:
                    _run(database, engine, args)
                finally:
                    engine.dispose()
    return 0


def _run(database: str, engine: Engine, args: argparse.Namespace) -> None:
    upgrade_database(engine)
    sealer = MemberSealer(KeyRing.generate())
    rules = _rules_pushing_to_shop()
    rng = random.Random(args.seed)
    started = time.perf_counter()
    members = _seed_members(engine, sealer, args.members, rng)
    _spread_join_dates(engine, members, rng)
    _seed_history(engine, rules, members, args.purchases, rng)
    _analyze(engine)
    print(f"{database}: seeded in {time.perf_counter() - started:.1f} s")
    loyalty = LoyaltyEngine(rules, lambda: START, outbox=PayloadSealer(engine, sealer.ring, "outbox"))
    first = START + timedelta(days=DAYS + 3, hours=3)
    started = time.perf_counter()
    with engine.begin() as conn:
        period = loyalty.run_rank_period_end(conn, first)
    print(f"  period end    once a year: {period.rank_changes:,} rank changes in {time.perf_counter() - started:.1f} s")
    for label, night in (("first night", first), ("night after", first + timedelta(days=1))):
        _analyze(engine)  # autovacuum's work between two nights (a night rewrites every member's scores)
        started = time.perf_counter()
        runs = run_nightly(engine, loyalty, sealer, night)
        total = time.perf_counter() - started  # on PostgreSQL the analytics reports run beside other jobs
        print(f"  nightly       {label} ({night:%Y-%m-%d} JST), load average {_load()}:")
        for run in runs:
            print(f"                {run.name:<16} {run.seconds:6.1f} s  (cpu {run.cpu_seconds:5.1f} s)  {run.summary}")
        verdict = "met" if total <= TARGET_JOBS_S else "MISSED"
        cpu = sum(run.cpu_seconds for run in runs)
        target = f"target all nightly jobs ≤ {TARGET_JOBS_S:.0f} s"
        print(f"                {target}: {total:.1f} s {verdict} (cpu {cpu:.1f} s)", flush=True)


def _spread_join_dates(engine: Engine, members: list[UUID], rng: random.Random) -> None:
    """Members joined over the ``JOIN_YEARS`` before the purchases begin, evenly, as a real member base has.

    (``loyalty_bench`` seeds every member as joined at ``START``: every anniversary would fall in one month.)
    """
    span = timedelta(days=365 * JOIN_YEARS).total_seconds()
    m = table_of(Member).c
    statement = update(table_of(Member)).where(m.id == bindparam("_id")).values(created_at=bindparam("_at"))
    with engine.begin() as conn:
        for start in range(0, len(members), 10_000):
            chunk = members[start : start + 10_000]
            joined = [START - timedelta(seconds=rng.random() * span) for _ in chunk]
            conn.execute(statement, [{"_id": member, "_at": at} for member, at in zip(chunk, joined, strict=True)])


def _seed_history(engine: Engine, rules: LoyaltyRules, members: list[UUID], count: int, rng: random.Random) -> None:
    """Purchases, refunds, and an earn lot for every purchase of the last 365 days."""
    lots_from = START + timedelta(days=DAYS - 365)
    next_id = 1
    with engine.begin() as conn:
        for batch in _purchases(members, count, rng):
            ids = range(next_id, next_id + len(batch))
            next_id += len(batch)
            rows = [{"id": purchase_id, **row} for purchase_id, row in zip(ids, batch, strict=True)]
            _insert_rows(conn, table_of(Purchase), rows)
            refunds = [
                {"purchase_id": row["id"], "source": "pos", "external_id": f"f{row['id']}", "kind": "refund",
                 "amount": row["total_amount"] // 3, "occurred_at": row["purchased_at"]}
                for row in rows if row["id"] % 20 == 0
            ]  # fmt: skip
            _insert_rows(conn, table_of(PurchaseAdjustment), refunds)
            lots = [_lot(rules, row) for row in rows if row["purchased_at"] >= lots_from]
            _insert_rows(conn, table_of(PointLedgerEntry), lots)


def _lot(rules: LoyaltyRules, row: dict[str, Any]) -> dict[str, Any]:
    at = row["purchased_at"]
    return {
        "member_id": row["member_id"], "kind": "earn", "points": row["total_amount"] // 100, "status": "available",
        "source_event": f"purchase:pos:{row['external_id']}", "rule_version": rules.version, "occurred_at": at,
        "available_at": at + timedelta(days=rules.earning.pending_days), "expires_at": rules.expiry.expires_at(at),
        "note": None, "created_at": at, "purchase_id": row["id"], "rank_code": "regular", "campaign_codes": None,
        "unrecovered_points": None,
    }  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
