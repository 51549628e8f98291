"""How fast records go through the whole sync engine into the encrypted store, and in how much memory.

    .venv/bin/python bench/ingest_bench.py [--records 200000 [1000000 …]] [--db sqlite|postgresql|both] [--rss-only]

For each database and each size N, a fresh process with a throw-away database runs:

    engine  SyncEngine.run of the ``bench`` source (bench/ingest_source.py, generated inside the reader child):
            stream ``customers`` (N/5 Japanese profiles), then ``orders`` (4N/5 purchases of 2–3 lines, one in
            five refunded), 1,000 records a batch, each committed with its cursor through the StoreSink;
    raw     the same rows in plaintext (profiles, purchases, lines) by the driver's executemany into plain
            tables of the same database, one transaction per 1,000 records, rows built outside the clock.

It reports records/s (records = profiles + purchases read), engine/raw, and peak RSS: of the hub process
(``RUSAGE_SELF``) and of the reader child (``RUSAGE_CHILDREN``, plus the child's own high-water mark, see
``ReaderPeak``), both read before the raw run. ``--rss-only`` skips the raw run; ``--records 5000`` is a quick
smoke run. PostgreSQL runs in a throw-away database on the server of MEMBERHUB_TEST_PG_URL (as the tests do).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import date
from operator import attrgetter
from pathlib import Path
from types import TracebackType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `bench.ingest_source` here and, inherited through spawn, in the reader child

from bench.databases import throwaway_database  # noqa: E402
from bench.ingest_source import BenchSourceConfig, customer_profile, order_purchase  # noqa: E402

# The hub and the drivers are imported inside the functions that use them: a spawned reader child runs this
# script again as ``__mp_main__``, and should load what a connector needs, not the store.

SOURCE = "bench-shop"
PLUGINS = ("bench.ingest_source",)
BATCH = 1_000
PROFILE_EVERY = 5  # one profile per four purchases
TARGET_RATE_SQLITE = 15_000
TARGET_PEAK_MB = 300


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    if args.url:
        print(json.dumps(_measure(args.url, args.records[0], rss_only=args.rss_only)))
        return 0
    databases = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    print(f"MemberHub ingest benchmark: SyncEngine.run → reader child → StoreSink, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="memberhub-ingest-bench-") as workdir:
        for database in databases:
            results = []
            for records in args.records:
                with throwaway_database(database, Path(workdir), prefix="memberhub_ingest") as url:
                    results.append(_spawn(url, records, rss_only=args.rss_only))
                _report_size(database, results[-1], rss_only=args.rss_only)
            _report_targets(database, results)
    return 0


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, nargs="+", default=[200_000], help="sizes, each in a fresh process")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--rss-only", action="store_true", help="skip the raw-insert comparison")
    parser.add_argument("--url", help=argparse.SUPPRESS)  # internal: measure one size in this process
    return parser.parse_args(argv)


def _spawn(url: str, records: int, *, rss_only: bool) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--url", url, "--records", str(records)]
    completed = subprocess.run([*command, *(["--rss-only"] if rss_only else [])], capture_output=True, text=True)
    if completed.returncode != 0:
        sys.stderr.write(completed.stderr)
        raise SystemExit(f"the {records:,}-record run failed with exit code {completed.returncode}")
    result: dict[str, Any] = json.loads(completed.stdout.splitlines()[-1])
    return result


# ── one size, in its own process ─────────────────────────────────────────────────────────────────────


def _measure(url: str, records: int, *, rss_only: bool) -> dict[str, Any]:
    """The engine run and the peaks it reached, then (unless ``rss_only``) the raw inserts of the same rows."""
    source = BenchSourceConfig(customers=records // PROFILE_EVERY, orders=records - records // PROFILE_EVERY)
    with tempfile.TemporaryDirectory(prefix="memberhub-ingest-keys-") as keys, ReaderPeak() as reader:
        result = _run_engine(url, Path(keys), source)
    result.update(
        records=records,
        hub_peak_mb=_peak_mb(resource.RUSAGE_SELF),
        reader_peak_mb=_peak_mb(resource.RUSAGE_CHILDREN),
        reader_own_peak_mb=reader.peak_kib * 1024 / 1e6,
    )
    if not rss_only:
        result["raw_seconds"] = _insert_plain_rows(url, source)
    return result


def _run_engine(url: str, keys: Path, source: BenchSourceConfig) -> dict[str, Any]:
    """Both streams through ``SyncEngine.run``, assembled as the hub assembles it, with real keys."""
    from core.crypto.key_providers import KeyFileProvider
    from core.crypto.keyring import KeyRing
    from core.crypto.sealing import MemberSealer
    from core.members.directory import MemberDirectory
    from core.members.erasure import ErasureLedger
    from core.members.keys import load_verified_ring
    from core.plugins.manager import build_plugin_manager
    from core.store.database import create_hub_engine, upgrade_database
    from core.sync.engine import SyncEngine
    from core.sync.ingest import StoreSink
    from core.sync.payloads import PayloadSealer
    from core.sync.registry import ConnectorRegistry, InstanceConfig

    engine = create_hub_engine(url)
    upgrade_database(engine)
    provider = KeyFileProvider(keys / "keyring.json")
    provider.create(KeyRing.generate())
    ring = load_verified_ring(engine, provider)
    directory = MemberDirectory(engine, MemberSealer(ring), ErasureLedger(keys / "ledger.jsonl"))
    instance = InstanceConfig(name=SOURCE, type="bench", settings=source.model_dump(), deadline_s=3_600)
    registry = ConnectorRegistry.from_plugins(build_plugin_manager(extra_plugins=PLUGINS), {SOURCE: instance})
    dead_letters = PayloadSealer(engine, ring, "dead_letters")
    sync = SyncEngine(engine, registry, StoreSink(directory), dead_letters, extra_plugins=PLUGINS)
    result: dict[str, Any] = {"written": 0, "quarantined": 0, "hub_start_mb": _current_rss_mb()}
    for stream, kind in (("customers", "profile"), ("orders", "purchase")):
        start = time.perf_counter()
        report = sync.run(SOURCE, stream)
        result[f"{kind}_seconds"] = time.perf_counter() - start
        if report.status != "succeeded":
            raise SystemExit(f"stream {stream}: {report.status} ({report.error_class}: {report.error_message})")
        result[f"{kind}s"] = report.records_read
        result["written"] += report.records_written
        result["quarantined"] += report.records_quarantined
    result["seconds"] = result["profile_seconds"] + result["purchase_seconds"]
    with engine.connect() as conn:
        result["members"] = conn.exec_driver_sql("SELECT count(*) FROM members").scalar_one()
    engine.dispose()
    return result


class ReaderPeak:
    """The reader children's own peak RSS (``VmHWM``), sampled from /proc every 0.1 s while they run.

    ``RUSAGE_CHILDREN`` gives the largest ``ru_maxrss`` of the children, and on Linux a spawned child's starts
    at the hub's RSS at the moment it was forked (exec keeps the high-water mark of the forked image), so
    that figure cannot fall below the hub's size when the reader started.
    """

    def __init__(self) -> None:
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="reader-peak", daemon=True)

    def __enter__(self) -> ReaderPeak:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        import psutil

        hub = psutil.Process()
        while not self._stop.wait(0.1):
            for child in hub.children():
                self.peak_kib = max(self.peak_kib, _high_water_kib(child.pid))


def _high_water_kib(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # the child has just ended
        return 0
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)


def _peak_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss * 1024 / 1e6  # KiB on Linux


def _current_rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


# ── raw inserts: the floor the engine is compared with ───────────────────────────────────────────────

_RAW_TABLES = {
    "raw_profiles": "id BIGINT PRIMARY KEY, source TEXT NOT NULL, external_id TEXT NOT NULL, name TEXT, kana TEXT, "
    "email TEXT, phone TEXT, postal_code TEXT, address TEXT, birthday DATE, source_updated_at {ts} NOT NULL, "
    "UNIQUE (source, external_id)",
    "raw_purchases": "id BIGINT PRIMARY KEY, source TEXT NOT NULL, external_id TEXT NOT NULL, customer_id TEXT, "
    "channel TEXT NOT NULL, store_code TEXT, status TEXT NOT NULL, currency TEXT NOT NULL, total_amount BIGINT NOT "
    "NULL, tax_amount BIGINT NOT NULL, discount_amount BIGINT NOT NULL, purchased_at {ts} NOT NULL, "
    "source_updated_at {ts} NOT NULL, UNIQUE (source, external_id)",
    "raw_purchase_lines": "id BIGINT PRIMARY KEY, purchase_id BIGINT NOT NULL REFERENCES raw_purchases (id), "
    "line_no INTEGER NOT NULL, sku TEXT, product_name TEXT NOT NULL, quantity INTEGER NOT NULL, unit_price BIGINT "
    "NOT NULL, amount BIGINT NOT NULL, UNIQUE (purchase_id, line_no)",
}
_PROFILE_VALUES = attrgetter(
    "source", "external_id", "name", "kana", "email", "phone", "postal_code", "address", "birthday", "source_updated_at"
)
_PURCHASE_VALUES = attrgetter(
    "source", "external_id", "customer_external_id", "channel", "store_code", "status", "currency", "total_amount",
    "tax_amount", "discount_amount", "purchased_at", "source_updated_at",
)  # fmt: skip
_LINE_VALUES = attrgetter("line_no", "sku", "product_name", "quantity", "unit_price", "amount")
_LINES_PER_PURCHASE = 10  # line ids are purchase id × 10 + line number


def _insert_plain_rows(url: str, source: BenchSourceConfig) -> float:
    """Seconds the driver spends inserting the same profiles, purchases and lines in plaintext, 1,000 per commit."""
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    sqlite = parsed.get_backend_name() == "sqlite"
    if sqlite:
        conn: Any = sqlite3.connect(str(parsed.database))
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL"):  # as the hub's engine
            conn.execute(f"PRAGMA {pragma}")
    else:
        conn = psycopg.connect(parsed.set(drivername="postgresql").render_as_string(hide_password=False))
    for table, columns in _RAW_TABLES.items():
        conn.execute(f"CREATE TABLE {table} ({columns.format(ts='TEXT' if sqlite else 'TIMESTAMPTZ')})")
    conn.commit()
    seconds = 0.0
    for statements in _raw_batches(source, sqlite):
        start = time.perf_counter()
        for table, rows in statements:
            markers = ", ".join(["?" if sqlite else "%s"] * len(rows[0]))
            conn.cursor().executemany(f"INSERT INTO {table} VALUES ({markers})", rows)
        conn.commit()
        seconds += time.perf_counter() - start
    conn.close()
    return seconds


def _raw_batches(source: BenchSourceConfig, sqlite: bool) -> Iterator[list[tuple[str, list[tuple[Any, ...]]]]]:
    """Per batch of 1,000 records, the rows for each table, from the records the source generates."""
    for start in range(0, source.customers, BATCH):
        indexes = range(start, min(start + BATCH, source.customers))
        profiles = [(i, _PROFILE_VALUES(customer_profile(SOURCE, i, source.seed))) for i in indexes]
        yield [("raw_profiles", [_plain(i, values, sqlite) for i, values in profiles])]
    for start in range(0, source.orders, BATCH):
        indexes = range(start, min(start + BATCH, source.orders))
        orders = [(i, order_purchase(SOURCE, i, source.customers, source.seed)) for i in indexes]
        lines = [
            _plain(i * _LINES_PER_PURCHASE + line.line_no, (i, *_LINE_VALUES(line)), sqlite)
            for i, order in orders
            for line in order.lines
        ]
        purchases = [_plain(i, _PURCHASE_VALUES(order), sqlite) for i, order in orders]
        yield [("raw_purchases", purchases), ("raw_purchase_lines", lines)]


def _plain(row_id: int, values: Sequence[Any], sqlite: bool) -> tuple[Any, ...]:
    """The row as the driver takes it: dates and timestamps as ISO text on SQLite, which has no such types."""
    return (row_id, *(value.isoformat() if sqlite and isinstance(value, date) else value for value in values))


# ── report ───────────────────────────────────────────────────────────────────────────────────────────


def _report_size(database: str, result: dict[str, Any], *, rss_only: bool) -> None:
    records, rate = result["records"], result["records"] / result["seconds"]
    print(f"\n{database}, {records:,} records ({result['profiles']:,} profiles + {result['purchases']:,} purchases)")
    print(
        f"  engine: {rate:,.0f} records/s ({1e6 / rate:.1f} µs/record; profiles "
        f"{result['profiles'] / result['profile_seconds']:,.0f}/s, purchases "
        f"{result['purchases'] / result['purchase_seconds']:,.0f}/s); {result['written']:,} rows written, "
        f"{result['quarantined']:,} quarantined, {result['members']:,} members"
    )
    if not rss_only:
        raw_rate = records / result["raw_seconds"]
        print(f"  raw driver executemany: {raw_rate:,.0f} records/s; engine/raw = {rate / raw_rate:.3f}")
    hub, start = result["hub_peak_mb"], result["hub_start_mb"]
    reader, own = result["reader_peak_mb"], result["reader_own_peak_mb"]
    print(
        f"  peak RSS: hub process {hub:,.0f} MB ({start:,.0f} MB before the run), "
        f"reader child {reader:,.0f} MB (its own high-water mark {own:,.0f} MB)"
    )


def _report_targets(database: str, results: Sequence[dict[str, Any]]) -> None:
    largest = max(results, key=lambda result: result["records"])
    if database == "sqlite":
        rate = largest["records"] / largest["seconds"]
        print(
            f"  target ≥ {TARGET_RATE_SQLITE:,} records/s on SQLite: {rate:,.0f} {_verdict(rate >= TARGET_RATE_SQLITE)}"
        )
    peak = max(largest["hub_peak_mb"], largest["reader_peak_mb"])
    print(
        f"  target peak RSS ≤ {TARGET_PEAK_MB} MB at {largest['records']:,} records: {peak:,.0f} MB "
        f"{_verdict(peak <= TARGET_PEAK_MB)}"
    )
    if len(results) > 1:
        smallest = min(results, key=lambda result: result["records"])
        print(
            f"  hub peak RSS from {smallest['records']:,} to {largest['records']:,} records: "
            f"{smallest['hub_peak_mb']:,.0f} → {largest['hub_peak_mb']:,.0f} MB"
        )


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


if __name__ == "__main__":
    sys.exit(main())
