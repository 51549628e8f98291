"""Production mode's throughput on PostgreSQL: the bulk path against executemany, and 1 against 2 workers.

    .venv/bin/python bench/workers_bench.py [--orders 200000] [--customers 50000] [--slices 8]
                                            [--part bulk|workers|both]

bulk     purchases of the ingest benchmark's shape (one purchase row and 2–3 line rows each) written into a
         throw-away database migrated to the newest schema, 1,000 purchases a transaction, rows built outside
         the clock: by executemany (the driver's pipelined INSERT, the store's path for small batches), by the
         bulk path (``core.store.bulk.copy_insert``: COPY into a staging table + INSERT … SELECT, the store's
         path from 200 rows), and by the bulk path as an upsert (``ON CONFLICT DO UPDATE``) over the same keys
         again. Reported: rows/s (purchase + line rows) and the ratio to executemany. Target: ≥ 25,000 rows/s.
workers  the ingest benchmark's ``bench`` source (bench/ingest_source.py, loaded with HUB_PLUGIN_MODULES) in a
         real hub on a throw-away PostgreSQL database: its customers synced first (not timed), then the orders
         backfilled in ``--slices`` slices (``hub sync … --full-refresh --slices N --queue``) by 1, then (on a
         fresh database) 2 real ``hub worker --concurrency 1`` processes on the machine's Redis. Reported:
         purchases/s from the first slice's start to the last slice's end (from ``sync_runs``), and the ratio.
         Target: 2 workers ≥ 1.6 × 1 worker. ``--anonymous``: orders without customers (no member to look up, no
         points to earn), the engine and the store alone.

The machine has two cores, which the workers share with PostgreSQL and their connector processes. PostgreSQL runs
on the server of MEMBERHUB_TEST_PG_URL (as the tests do); Redis at MEMBERHUB_BENCH_REDIS_URL, else
redis://127.0.0.1:6379/15, on a queue of the run's own.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.databases import throwaway_database  # noqa: E402

BATCH = 1_000
BULK_TARGET_ROWS_S = 25_000
WORKERS_TARGET_RATIO = 1.6
REDIS_URL = os.environ.get("MEMBERHUB_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
SOURCE = "bench-shop"
SLICE_RUNS = (
    "SELECT status, started_at, finished_at, records_read, error_class, error_message FROM sync_runs"
    " WHERE lane LIKE 'slice%'"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--slices", type=int, default=8)
    parser.add_argument("--part", choices=("bulk", "workers", "both"), default="both")
    parser.add_argument(
        "--anonymous", action="store_true", help="orders without customers: no member to find, no points to earn"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="workers-bench-") as workdir:
        if args.part in ("bulk", "both"):
            _report_bulk(_measure_bulk(Path(workdir), args.orders))
        if args.part in ("workers", "both"):
            rates = {count: _measure_workers(Path(workdir), count, args) for count in (1, 2)}
            _report_workers(rates)
    return 0


# ── bulk path ──────────────────────────────────────────────────────────────────────────────────────


def _measure_bulk(workdir: Path, orders: int) -> dict[str, float]:
    from core.store.database import create_hub_engine, upgrade_database
    from core.store.models import Purchase, PurchaseLine, table_of

    purchases, lines = table_of(Purchase), table_of(PurchaseLine)
    batches = list(_purchase_batches(orders))
    rows = sum(len(heads) + len(items) for heads, items in batches)
    rates: dict[str, float] = {}
    with throwaway_database("postgresql", workdir, prefix="bench_bulk") as url:
        engine = create_hub_engine(url)
        upgrade_database(engine)

        def write(how: str, *, prefix: str, upsert: bool = False) -> float:
            """Rows/s of the writes and commits alone (the lookup of the purchases' ids is not counted)."""
            spent = 0.0
            for heads, items in batches:
                with engine.begin() as conn:
                    started = time.perf_counter()
                    _store(conn, how, purchases, _keyed(heads, prefix), upsert=upsert)
                    spent += time.perf_counter() - started
                    if not upsert:  # an upsert of the purchases leaves their lines alone
                        line_rows = _lines_of(conn, items, prefix)
                        started = time.perf_counter()
                        _store(conn, how, lines, line_rows)
                        spent += time.perf_counter() - started
                    started = time.perf_counter()
                spent += time.perf_counter() - started  # the commit
            return rows / spent

        rates["executemany"] = write("executemany", prefix="m")
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")  # as autovacuum would have by now: the same plans for every phase
        rates["bulk"] = write("bulk", prefix="b")
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        purchase_rows = sum(len(heads) for heads, _ in batches)
        upsert_rate = write("bulk", prefix="b", upsert=True)  # every key exists: each row is an update
        rates["bulk upsert (all conflicts)"] = upsert_rate * purchase_rows / rows  # only purchase rows were written
        engine.dispose()
    rates["rows"] = rows
    return rates


def _store(conn: Any, how: str, table: Any, dicts: list[dict[str, Any]], *, upsert: bool = False) -> None:
    """Write ``dicts`` into ``table`` by executemany, the bulk path, or the bulk path as an upsert on the key."""
    from core.store.bulk import copy_insert
    from core.store.members import _driver_parameters, _insert_statement

    names = list(dicts[0])
    values = _driver_parameters(conn.dialect, table, names, dicts)
    if values is None:
        raise SystemExit(f"{table.name}: the rows leave a column with a Python default out")
    if how == "executemany":
        conn.exec_driver_sql(_insert_statement(conn, table, names), values)
    elif upsert:
        key = ("source", "external_id")
        copy_insert(conn, table, names, values, conflict=key, update=[name for name in names if name not in key])
    else:
        copy_insert(conn, table, names, values)


def _purchase_batches(orders: int) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """Purchases and their lines as the ingest sink stores them, 1,000 purchases a batch, deterministic."""
    rng = random.Random(2026)
    start = datetime(2026, 4, 1, tzinfo=UTC)
    for first in range(0, orders, BATCH):
        heads, items = [], []
        for number in range(first, min(first + BATCH, orders)):
            moment = start + timedelta(minutes=number)
            amounts = [rng.choice((990, 1650, 2420, 8800)) * rng.randint(1, 3) for _ in range(rng.randint(2, 3))]
            heads.append({
                "member_id": None, "source": SOURCE, "external_id": f"{number:08d}", "channel": "store",
                "store_code": f"S{number % 12:02d}", "status": "completed", "currency": "JPY",
                "total_amount": sum(amounts), "tax_amount": sum(amounts) // 11, "discount_amount": 0,
                "purchased_at": moment, "source_updated_at": moment, "created_at": moment,
            })  # fmt: skip
            items.extend(
                {"external_id": f"{number:08d}", "line_no": line, "sku": f"SKU-{1000 + line}",
                 "product_name": "今治タオル", "quantity": 1, "unit_price": amount, "amount": amount,
                 "refunded_quantity": 0}
                for line, amount in enumerate(amounts, 1)
            )  # fmt: skip
        yield heads, items


def _keyed(heads: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    return [{**head, "external_id": f"{prefix}-{head['external_id']}"} for head in heads]


def _lines_of(conn: Any, items: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    """The line rows, each pointing at its purchase's id (looked up as the sink does after its insert)."""
    from sqlalchemy import select

    from core.store.models import Purchase

    keys = sorted({f"{prefix}-{item['external_id']}" for item in items})
    query = select(Purchase.external_id, Purchase.id).where(Purchase.source == SOURCE, Purchase.external_id.in_(keys))
    ids = {row.external_id: row.id for row in conn.execute(query)}
    return [{"purchase_id": ids[f"{prefix}-{item['external_id']}"], **_without_key(item)} for item in items]


def _without_key(item: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in item.items() if name != "external_id"}


def _report_bulk(rates: dict[str, float]) -> None:
    rows = int(rates.pop("rows"))
    base = rates["executemany"]
    print(f"\nbulk path — {rows:,} rows (purchases + lines) into PostgreSQL, {BATCH:,} purchases a transaction")
    for how, rate in rates.items():
        print(f"  {how:<30} {rate:>10,.0f} rows/s   × {rate / base:.2f}")
    met = rates["bulk"] >= BULK_TARGET_ROWS_S
    print(f"  target bulk ≥ {BULK_TARGET_ROWS_S:,} rows/s: {'met' if met else 'MISSED'}")


# ── 1 vs 2 workers ─────────────────────────────────────────────────────────────────────────────────


def _measure_workers(workdir: Path, count: int, args: argparse.Namespace) -> float:
    """Purchases/s of a sliced backfill of the orders run by ``count`` real ``hub worker`` processes."""
    from sqlalchemy import create_engine, text

    home = workdir / f"hub-{count}"
    with throwaway_database("postgresql", workdir, prefix=f"bench_workers{count}") as url:
        env = _hub_env(home, url)
        _hub(env, "init")
        customers = 0 if args.anonymous else args.customers
        (home / "hub.toml").write_text(
            f'[connectors.{SOURCE}]\ntype = "bench"\ncustomers = {customers}\norders = {args.orders}\n'
            "page_size = 1000\ndeadline_s = 3600\n",
            encoding="utf-8",
        )
        if customers:
            _hub(env, "sync", SOURCE, "--stream", "customers")
        database = create_engine(url)
        with _workers(env, count, home):
            busy_before = _cpu_times()
            _hub(env, "sync", SOURCE, "--stream", "orders", "--full-refresh", "--slices", str(args.slices), "--queue")
            deadline = time.monotonic() + 3_600
            while time.monotonic() < deadline:
                with database.connect() as conn:
                    left = conn.execute(text("SELECT count(*) FROM backfill_slices")).scalar_one()
                    runs = conn.execute(text(SLICE_RUNS)).all()
                if left == 0 and runs and all(run.status == "succeeded" for run in runs):
                    break
                failed = [run for run in runs if run.status in ("failed", "partial")]
                if failed:
                    error = f"{failed[0].error_class}: {failed[0].error_message}"
                    raise SystemExit(f"a slice failed with {count} worker(s): {error}")
                time.sleep(0.5)
            else:
                raise SystemExit(f"the backfill did not finish within an hour with {count} worker(s)")
            busy = _busy_share(busy_before, _cpu_times())
        seconds = (max(run.finished_at for run in runs) - min(run.started_at for run in runs)).total_seconds()
        read = sum(run.records_read for run in runs)
        database.dispose()
    if read != args.orders:
        raise SystemExit(f"{read:,} purchases read, {args.orders:,} expected")
    print(
        f"  {count} worker(s): {read:,} purchases in {seconds:.1f} s ({len(runs)} slice runs), "
        f"machine busy {busy:.0%} of {os.cpu_count()} cores",
        flush=True,
    )
    return read / seconds


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot, from /proc/stat."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def _busy_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    return (after[0] - before[0]) / max(after[1] - before[1], 1)


def _hub_env(home: Path, url: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("HUB_")}
    return env | {
        "HUB_HOME": str(home),
        "HUB_KEY_FILE": str(home.parent / f"{home.name}-keys" / "keyring.json"),
        "HUB_DATABASE_URL": url,
        "HUB_PLUGIN_MODULES": "bench.ingest_source",
        "PYTHONPATH": str(ROOT),
        "HUB_BROKER_URL": REDIS_URL,
        "HUB_BROKER_QUEUE": f"memberhub-bench-{secrets.token_hex(4)}",
        "HUB_BROKER_VISIBILITY_TIMEOUT": "7200",
        "HUB_LOG_LEVEL": "WARNING",
    }


def _hub(env: dict[str, str], *command: str) -> None:
    result = subprocess.run([sys.executable, "-m", "hub.cli.app", *command], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"hub {' '.join(command)} failed:\n{result.stderr}{result.stdout}")


@contextmanager
def _workers(env: dict[str, str], count: int, home: Path) -> Iterator[None]:
    """``count`` ``hub worker --concurrency 1`` processes, ready to consume; killed with their children after."""
    processes = []
    try:
        for number in range(count):
            log = (home / f"worker-{number}.log").open("w", encoding="utf-8")
            command = [sys.executable, "-m", "hub.cli.app", "worker", "--concurrency", "1"]
            processes.append(
                subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            )
        for number in range(count):
            deadline = time.monotonic() + 60
            while "worker ready" not in (home / f"worker-{number}.log").read_text(encoding="utf-8"):
                if time.monotonic() > deadline or processes[number].poll() is not None:
                    raise SystemExit(f"worker {number} did not start: see {home}/worker-{number}.log")
                time.sleep(0.2)
        yield
    finally:
        for process in processes:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _report_workers(rates: dict[int, float]) -> None:
    ratio = rates[2] / rates[1]
    print("\nsliced backfill of the orders on PostgreSQL, real hub workers (concurrency 1 each)")
    for count, rate in rates.items():
        print(f"  {count} worker(s) {rate:>10,.0f} purchases/s")
    verdict = "met" if ratio >= WORKERS_TARGET_RATIO else "MISSED"
    print(f"  2 workers / 1 worker: × {ratio:.2f} (target ≥ {WORKERS_TARGET_RATIO}: {verdict})")


if __name__ == "__main__":
    raise SystemExit(main())
