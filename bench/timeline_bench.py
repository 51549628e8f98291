"""How fast the console reads a member: the member summary and the first timeline page, decryption included.

    .venv/bin/python bench/timeline_bench.py [--members 200000] [--events 2000000] [--database sqlite|postgresql|both]

Per database, a throw-away store (PostgreSQL on the server of MEMBERHUB_TEST_PG_URL, as the tests use) is
seeded with demo members (``MemberDirectory.insert_validated``, 1,000 a transaction) and their history:
``--heavy`` members (1,000) with ``--heavy-events`` events each (500), every kind mixed and from several
sources, one in ten of them a cluster of two merged members sharing those events; the rest of the events
spread over the other members. History rows go in by the driver's executemany, built before each insert;
text members wrote (inquiry subjects and messages, survey free text) is sealed as ingest seals it.
PostgreSQL is analysed after 5 and 50 batches and after the load, as autovacuum would; SQLite is left as the
hub leaves it.

It then times ``MemberSummaries.member_summary`` and ``MemberTimeline.page`` (50 entries) for every heavy
member in random order, after a warm-up on 50 of them, and reports p50/p99 and the statements per call.
The seeding's leftovers are frozen out of the cyclic GC before the clock starts (``gc.freeze()``).
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import quantiles
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench.databases import throwaway_database  # noqa: E402
from bench.timeline_events import BATCH, EventFactory, Plan  # noqa: E402
from core.crypto.key_providers import KeyFileProvider  # noqa: E402
from core.crypto.keyring import KeyRing  # noqa: E402
from core.crypto.sealing import MemberSealer, WrappedDataKey  # noqa: E402
from core.members.directory import MemberDirectory  # noqa: E402
from core.members.erasure import ErasureLedger  # noqa: E402
from core.members.keys import load_verified_ring  # noqa: E402
from core.members.summary import MemberSummaries  # noqa: E402
from core.members.timeline import MemberTimeline  # noqa: E402
from core.store import identity  # noqa: E402
from core.store.database import create_hub_engine, upgrade_database  # noqa: E402
from core.store.models import Base  # noqa: E402
from core.store.records import member_keys  # noqa: E402
from hub.demo import demo_profiles  # noqa: E402

PAGE = 50
WARM_UP = 50
ANALYSED_AFTER_BATCHES = (5, 50)
TARGET_P99_MS = 20.0


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    plan = Plan(args.members, args.events, args.heavy, args.heavy_events, seed=args.seed)
    databases = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    print(
        f"MemberHub timeline benchmark: {plan.members:,} members, {plan.events:,} timeline events "
        f"({plan.heavy:,} heavy members × {plan.heavy_events:,}), {os.cpu_count()} CPUs"
    )
    with tempfile.TemporaryDirectory(prefix="memberhub-timeline-bench-") as workdir:
        for database in databases:
            with throwaway_database(database, Path(workdir), prefix="memberhub_timeline") as url:
                _run(database, url, Path(workdir), plan, args.samples)
    return 0


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=200_000)
    parser.add_argument("--events", type=int, default=2_000_000, help="timeline events in all")
    parser.add_argument("--heavy", type=int, default=1_000, help="members with --heavy-events events each")
    parser.add_argument("--heavy-events", type=int, default=500)
    parser.add_argument("--samples", type=int, default=1_000, help="heavy members timed (at most --heavy)")
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    if args.heavy * args.heavy_events > args.events or args.heavy > args.members:
        parser.error("the heavy members need more events, or members, than given")
    return args


def _run(database: str, url: str, workdir: Path, plan: Plan, samples: int) -> None:
    engine = create_hub_engine(url)
    upgrade_database(engine)
    keys = workdir / f"keys-{database}"
    provider = KeyFileProvider(keys / "keyring.json")
    provider.create(KeyRing.generate())
    directory = MemberDirectory(engine, MemberSealer(load_verified_ring(engine, provider)), ErasureLedger(keys / "l"))
    seeded = seed_store(engine, directory, plan)
    # What seeding left (Faker, the generator) is frozen out of the cyclic GC, as in store_bench.py: a hub
    # process serving the console does not carry it, and full collections walking it would bill the reads.
    gc.collect()
    gc.freeze()
    heavy = random.Random(plan.seed).sample(seeded.heavy, min(samples, len(seeded.heavy)))
    summaries, timeline = MemberSummaries(directory), MemberTimeline(engine, directory.sealer)
    result = _measure(engine, heavy, summaries, timeline)
    engine.dispose()
    _report(database, plan, seeded, result)


# ── seeding ──────────────────────────────────────────────────────────────────────────────────────────


@dataclass
class Seeded:
    """What the seeding made and how long it took."""

    heavy: list[Any]
    events: int = 0
    rows: int = 0
    member_seconds: float = 0.0
    event_seconds: float = 0.0


def seed_store(engine: sa.Engine, directory: MemberDirectory, plan: Plan) -> Seeded:
    """Members 1,000 a transaction, each batch followed by its members' history in the same transaction.

    PostgreSQL is analysed after the 5th and 50th batch and at the end, as autovacuum would (the test server
    runs without it): with no statistics, the member-number uniqueness check scans the whole blind index.
    Its id sequences are then moved past the ids the history was given, so the hub can insert after it.
    """
    factory = EventFactory(plan)
    seeded = Seeded(heavy=[])
    tables: set[str] = set()
    for start in range(0, plan.members, BATCH):
        if start // BATCH in ANALYSED_AFTER_BATCHES:
            _analyse(engine)
        count = min(BATCH, plan.members - start)
        profiles = [profile.validated() for profile in demo_profiles(count, seed=plan.seed + start)]
        with engine.begin() as conn:
            began = time.perf_counter()
            ids = directory.insert_validated(conn, profiles, factory.now)
            seeded.member_seconds += time.perf_counter() - began
            ciphers = {
                row.id: directory.sealer.cipher_for(WrappedDataKey(row.wrapped_dek, row.kek_version, row.dek_version))
                for row in member_keys(conn, ids)
            }
            batch = factory.batch(start, ids, ciphers)
            began = time.perf_counter()
            for merged, root in batch.merges:
                identity.mark_merged(conn, merged, root)
            for table, rows in batch.rows.items():
                _insert(conn, Base.metadata.tables[table], rows)
                tables.add(table)
            seeded.event_seconds += time.perf_counter() - began
        seeded.heavy.extend(batch.heavy)
        seeded.events += batch.events
        seeded.rows += sum(map(len, batch.rows.values()))
    _analyse(engine)
    _advance_id_sequences(engine, tables)
    return seeded


def _analyse(engine: sa.Engine) -> None:
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")


def _advance_id_sequences(engine: sa.Engine, tables: set[str]) -> None:
    """SQLite numbers new rows from the largest id; PostgreSQL's sequences must be told."""
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as conn:
        for table in sorted(tables):
            if "id" in Base.metadata.tables[table].c:
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM \"{table}\""
                )


def _insert(conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """One executemany of tuples in the driver's form, each column converted by its own bind processor."""
    if not rows:
        return
    names = list(rows[0])
    columns = []
    for name in names:
        process = table.c[name].type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
        values = [row[name] for row in rows]
        columns.append(values if process is None else list(map(process, values)))
    quote = conn.dialect.identifier_preparer.quote
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    statement = (
        f"INSERT INTO {quote(table.name)} ({', '.join(map(quote, names))}) VALUES ({', '.join([marker] * len(names))})"
    )
    conn.exec_driver_sql(statement, list(zip(*columns, strict=True)))


# ── measuring ────────────────────────────────────────────────────────────────────────────────────────


@dataclass
class Timings:
    """Milliseconds per call, and statements per call."""

    summary_ms: list[float]
    page_ms: list[float]
    summary_statements: float
    page_statements: float
    load: float  # the machine's 1-minute load average when the timing ended


def _measure(engine: sa.Engine, members: list[Any], summaries: MemberSummaries, timeline: MemberTimeline) -> Timings:
    statements = [0]

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _count(*_: object) -> None:
        statements[0] += 1

    for member in members[:WARM_UP]:
        summaries.member_summary(member)
        timeline.page(member, limit=PAGE)
    summary_ms, page_ms = [], []
    summary_statements = page_statements = 0
    for member in members:
        before, began = statements[0], time.perf_counter()
        summary = summaries.member_summary(member)
        summary_ms.append((time.perf_counter() - began) * 1_000)
        middle, began = statements[0], time.perf_counter()
        page = timeline.page(member, limit=PAGE)
        page_ms.append((time.perf_counter() - began) * 1_000)
        summary_statements += middle - before
        page_statements += statements[0] - middle
        assert len(page.entries) == PAGE and summary.purchases.purchase_count > 0, "a heavy member lacks history"
    sa.event.remove(engine, "before_cursor_execute", _count)
    count = len(members)
    return Timings(summary_ms, page_ms, summary_statements / count, page_statements / count, os.getloadavg()[0])


# ── report ───────────────────────────────────────────────────────────────────────────────────────────


def _report(database: str, plan: Plan, seeded: Seeded, result: Timings) -> None:
    seconds = seeded.member_seconds + seeded.event_seconds
    print(
        f"\n{database}: seeded {plan.members:,} members and {seeded.events:,} events ({seeded.rows:,} rows) in "
        f"{seconds:,.1f} s (members {seeded.member_seconds:,.1f} s, history {seeded.event_seconds:,.1f} s, "
        f"{seeded.rows / seeded.event_seconds:,.0f} rows/s); load average {result.load:.2f} after the timing"
    )
    figures = (("member summary", result.summary_ms, result.summary_statements),
               (f"timeline page ({PAGE})", result.page_ms, result.page_statements))  # fmt: skip
    for label, timings, statements in figures:
        p50, p99 = percentile(timings, 50), percentile(timings, 99)
        verdict = "met" if p99 <= TARGET_P99_MS else "MISSED"
        print(
            f"  {label}: p50 {p50:.2f} ms, p99 {p99:.2f} ms over {len(timings):,} heavy members "
            f"({statements:.1f} statements each); target p99 ≤ {TARGET_P99_MS:.0f} ms: {verdict}"
        )


def percentile(values: list[float], percent: int) -> float:
    """The ``percent``-th percentile (inclusive method), or the only value."""
    return quantiles(values, n=100, method="inclusive")[percent - 1] if len(values) > 1 else values[0]


if __name__ == "__main__":
    sys.exit(main())
