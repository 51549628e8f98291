"""Operator lookups against the hub served over HTTP while a full sync runs (issue 7).

    .venv/bin/python bench/console_lookup_bench.py [--members 200000] [--events 2000000] [--quick] [--baseline]
                     [--rates 10 25 50 75 100] [--seconds 20] [--sync-records 1000000] [--operators 20]
                     [--workers 1] [--sync-niceness 10 [0 …]]

A throw-away PostgreSQL database (on the server of MEMBERHUB_TEST_PG_URL, as the tests use) is initialised
as ``hub init`` does and seeded like bench/timeline_bench.py's store: demo members and their history, heavy
members included. The hub then runs as it would in production, each part in its own process:

    server  ``hub serve --workers N`` (uvicorn, ``--workers`` processes, one by default, its access log off, the
            hub's JSON request log on) with ``[console] openings_per_hour = 100000`` in hub.toml;
    sync    a full refresh of a ``bench`` connector instance (bench/ingest_source.py: N/5 new customers and
            4N/5 orders, both streams at once), started before the load and stopped after it (console_sync.py;
            ``--baseline`` first runs the same steps without it), at ``[sync] niceness`` from ``--sync-niceness``;
            several values run the steps once per value, each during a sync of a new instance;
    load    bench/console_load.py: open-loop lookups (search by phone or member number in varied notations →
            summary → first timeline page) by ``--operators`` operators, each with an API token, at each
            ``--rates`` for ``--seconds``, after a warm-up; latency runs from when a lookup was due.

Per step it prints the lookups/s achieved, p50/p99/max, errors, each request's own p50/p99, the CPU share of
the server (and its CPU per lookup), the sync, PostgreSQL, the load generator and the whole machine, and
whether the sync was still running; then the verdict on the target: p99 ≤ 100 ms at 50 lookups/s during the
sync, no errors. ``--quick`` is a smoke run (5,000 members, 5-second steps).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench import console_processes as processes  # noqa: E402
from bench.databases import throwaway_database  # noqa: E402
from bench.ingest_bench import PROFILE_EVERY  # noqa: E402
from bench.timeline_bench import seed_store  # noqa: E402
from bench.timeline_events import Plan  # noqa: E402
from core.access import ApiTokens, Role  # noqa: E402
from core.store.members import fetch_members  # noqa: E402
from core.store.models import Base  # noqa: E402
from hub.runtime import Hub, init_hub  # noqa: E402
from hub.settings import HubSettings  # noqa: E402

INSTANCE = "bench-shop"
TARGET_RATE, TARGET_P99_MS = 50, 100.0
QUICK = {"members": 5_000, "events": 50_000, "seconds": 5.0, "sync_records": 200_000}
WARM_UP = {"rate": 10, "seconds": 5}
TARGETS = 20_000  # members the load looks up: more than the sealer's 4,096 cached data keys


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    heavy = min(1_000, args.members // 200)
    plan = Plan(args.members, args.events, heavy, min(500, args.events // 4 // max(heavy, 1)), seed=args.seed)
    print(
        f"MemberHub console lookup benchmark: {plan.members:,} members, {plan.events:,} timeline events "
        f"({plan.heavy:,} heavy × {plan.heavy_events:,}); background full sync of {args.sync_records:,} records; "
        f"sync niceness {', '.join(map(str, args.sync_niceness))}; {args.workers} server process(es); "
        f"{os.cpu_count()} CPUs, load average {_load_averages()} at the start"
    )
    with (
        tempfile.TemporaryDirectory(prefix="memberhub-console-bench-") as workdir,
        throwaway_database("postgresql", Path(workdir), prefix="memberhub_console") as url,
    ):
        settings = _settings(Path(workdir), url)
        load_plan = _seed(settings, plan, args)
        plan_file = Path(workdir) / "load-plan.json"
        plan_file.write_text(json.dumps(load_plan), encoding="utf-8")
        environment = processes.environment(settings)
        engine = sa.create_engine(url)
        with processes.server(environment, Path(workdir), args.workers) as (base_url, server):
            if args.baseline:
                print("\nwithout the sync:")
                alone = _drive(base_url, plan_file, environment, processes.Usage(server, None, engine))
            runs = []
            for run, niceness in enumerate(args.sync_niceness):
                instance = _configure_sync(settings, args.sync_records, run, niceness)
                title = f"during the sync ({instance}, niceness {niceness})"
                print(f"\n{title}:")
                with processes.sync(environment, Path(workdir), instance) as syncing:
                    usage = processes.Usage(server, syncing, engine)
                    runs.append((title, _drive(base_url, plan_file, environment, usage)))
        engine.dispose()
        if args.baseline:
            _report("without the sync", alone)
        for title, steps in runs:
            _report(title, steps)
    return 0


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=200_000)
    parser.add_argument("--events", type=int, default=2_000_000, help="timeline events in all")
    parser.add_argument("--rates", type=float, nargs="+", default=[10, 25, 50, 75, 100], help="lookups/s")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each step")
    parser.add_argument("--sync-records", type=int, default=1_000_000, help="records the background sync reads")
    parser.add_argument("--operators", type=int, default=20, help="operators (API tokens) sharing the lookups")
    parser.add_argument("--workers", type=int, default=1, help="hub serve's worker processes")
    parser.add_argument(
        "--sync-niceness", type=int, nargs="+", default=[10], help="[sync] niceness of hub.toml; each value one sync"
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: " + ", ".join(f"{k} {v:,}" for k, v in
                                                                                         QUICK.items()))  # fmt: skip
    parser.add_argument("--baseline", action="store_true", help="run the steps without the sync first")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    if args.quick:
        vars(args).update(QUICK)
    return args


def _settings(workdir: Path, url: str) -> HubSettings:
    """The hub's settings, its key file outside the repository, and a hub.toml without connectors yet."""
    home, keys = workdir / "home", workdir / "keys"
    home.mkdir()
    settings = HubSettings(home, keys / "keyring.json", url, home / "hub.toml")
    settings.config_file.write_text(_HUB_TOML, encoding="utf-8")
    return settings


_HUB_TOML = '[hub]\nsource_priority = ["console"]\nnightly_jobs = "off"\n\n[console]\nopenings_per_hour = 100000\n'


def _configure_sync(settings: HubSettings, sync_records: int, run: int, niceness: int) -> str:
    """hub.toml for the ``run``-th sync: ``[sync] niceness`` and a bench instance of its own; returns its name.

    Each run's instance is another source with another seed: its customers and orders are new rows, not
    updates of an earlier run's, so every run stores as much as the first.
    """
    instance, customers = f"{INSTANCE}-{run + 1}", sync_records // PROFILE_EVERY
    settings.config_file.write_text(
        _HUB_TOML.replace('"console"]', f'"console", "{instance}"]') + f"\n[sync]\nniceness = {niceness}\n\n"
        f'[connectors.{instance}]\ntype = "bench"\ncustomers = {customers}\norders = {sync_records - customers}\n'
        f"seed = {2026 + run}\ndeadline_s = 86400\n",
        encoding="utf-8",
    )
    return instance


# ── the store ────────────────────────────────────────────────────────────────────────────────────────


def _seed(settings: HubSettings, plan: Plan, args: argparse.Namespace) -> dict[str, Any]:
    """Initialise and seed the hub; the load plan: tokens, members to look up, warm-up and steps."""
    began = time.perf_counter()
    hub, _ = init_hub(settings)
    try:
        seeded = seed_store(hub.engine, hub.members, plan)
        print(
            f"seeded {plan.members:,} members and {seeded.events:,} events ({seeded.rows:,} rows) in "
            f"{time.perf_counter() - began:,.0f} s (members {seeded.member_seconds:,.0f} s, history "
            f"{seeded.event_seconds:,.0f} s)"
        )
        tokens = ApiTokens(hub.engine)
        return {
            "seed": args.seed,
            "tokens": [
                tokens.issue(f"bench-operator-{n}", Role.OPERATOR, ["members:read"], created_by="bench")
                for n in range(args.operators)
            ],
            "members": _lookup_targets(hub, min(TARGETS, plan.members), args.seed),
            "warm_up": WARM_UP,
            "steps": [{"rate": rate, "seconds": args.seconds} for rate in args.rates],
        }
    finally:
        hub.close()


def _lookup_targets(hub: Hub, count: int, seed: int) -> list[dict[str, str]]:
    """Random active members with what a caller would give: phone (national digits) and member number."""
    with hub.engine.connect() as conn:
        members = Base.metadata.tables["members"]
        ids = list(conn.execute(sa.select(members.c.id).where(members.c.status == "active").order_by("id")).scalars())
        chosen = random.Random(seed).sample(ids, min(count, len(ids)))
        found = [hub.members.decrypt_row(row) for row in fetch_members(conn, chosen)]
    return [
        {"member_id": str(m.id), "phone": "0" + m.profile.phone[3:], "member_number": m.member_number}
        for m in found
        if m.profile and m.profile.phone and m.profile.phone.startswith("+81") and m.member_number
    ]


def _drive(base_url: str, plan_file: Path, environment: dict[str, str], usage: processes.Usage) -> list[dict[str, Any]]:
    """Run the load process (console_load.py); per step, its figures and what the server, sync and machine did."""
    command = [sys.executable, str(ROOT / "bench" / "console_load.py"), base_url, str(plan_file)]
    load = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, text=True)
    assert load.stdout is not None
    steps = []
    print(f"  {HEADER}")
    for line in load.stdout:
        figures = json.loads(line)
        if "starting" in figures:
            usage.start()
            continue
        steps.append(figures | usage.since_start())
        print(f"  {_row(steps[-1])}", flush=True)
    if load.wait() != 0:
        raise SystemExit(f"the load process failed (exit {load.returncode})")
    return steps


# ── report ───────────────────────────────────────────────────────────────────────────────────────────

COLUMNS = (
    ("offered", 8), ("achieved", 9), ("p50 ms", 8), ("p99 ms", 8), ("max ms", 8), ("errors", 6), ("sync", 7),
    ("nice", 4), ("rows/s", 6), ("server", 7), ("ms/lookup", 9), ("sync", 7), ("postgres", 8), ("machine", 7),
    ("load", 5),
    ("search p50/p99", 15), ("summary p50/p99", 15), ("timeline p50/p99", 16), ("load gen", 8), ("send lag", 8),
)  # fmt: skip
HEADER = " ".join(f"{title:>{width}}" for title, width in COLUMNS)


def _row(step: dict[str, Any]) -> str:
    requests = [f"{ms[0]:.1f}/{ms[1]:.1f}" if ms else "-" for ms in step["requests_ms"].values()]
    server_ms = 10 * step["server_cpu"] / step["achieved"] if step["achieved"] else float("nan")
    cells = (
        f"{step['rate']:g}/s", f"{step['achieved']:.1f}/s", *(f"{step[key]:.1f}" for key in ("p50_ms", "p99_ms",
        "max_ms")), sum(step["errors"].values()), step["sync"], step["sync_nice"],
        f"{step['synced_per_s']:.0f}", f"{step['server_cpu']:.0f} %", f"{server_ms:.1f}",
        *(f"{step[key]:.0f} %" for key in ("sync_cpu", "postgres_cpu", "machine_cpu")),
        f"{step['load']:.2f}", *requests, f"{step['load_cpu']:.0f} %", f"{step['max_send_lag_ms']:.0f} ms",
    )  # fmt: skip
    return " ".join(f"{cell:>{width}}" for cell, (_, width) in zip(cells, COLUMNS, strict=True))


def _report(title: str, steps: list[dict[str, Any]]) -> None:
    print(f"\n{title}:\n{HEADER}\n" + "\n".join(_row(step) for step in steps))
    print(
        "rows/s: members and purchases the sync stored per second; CPU in percent of one CPU: server (with its "
        "workers), sync (with its reader children), postgres (the backends on the bench database), load gen; "
        "machine: percent of all "
        f"{os.cpu_count()}; ms/lookup: server CPU per lookup; load: 1-minute load average at the end; send lag: how "
        "late the load generator sent its latest lookup"
    )
    for step in steps:
        if step["errors"]:
            print(f"  errors at {step['rate']:g}/s: {step['errors']}")
    target = next((step for step in steps if step["rate"] == TARGET_RATE), None)
    if target is None or target["sync"] == "off":
        return
    errors = sum(target["errors"].values())
    met = target["p99_ms"] <= TARGET_P99_MS and not errors and target["sync"] == "running"
    print(
        f"target p99 ≤ {TARGET_P99_MS:.0f} ms at {TARGET_RATE} lookups/s during the sync, no errors: "
        f"p99 {target['p99_ms']:.1f} ms, {errors} errors, sync {target['sync']} — {'met' if met else 'MISSED'}"
    )


def _load_averages() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


if __name__ == "__main__":
    sys.exit(main())
