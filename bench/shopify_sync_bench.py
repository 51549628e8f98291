"""Is the hub ever the bottleneck of a Shopify sync? A bulk backfill and an incremental sync through the engine.

    .venv/bin/python bench/shopify_sync_bench.py [--orders 100000] [--changed 10000] [--restore-rate 100]

The Shopify sandbox runs in a process of its own (bench/shopify_emulator.py) with ``--orders`` orders and a
fifth as many customers, at the sandbox's default cost budget (2,000 points, 100 a second: Shopify's Standard
plan) unless ``--restore-rate`` says otherwise. A hub on a throw-away SQLite file then runs, through its own
``SyncEngine`` (reader child, encrypted store):

    backfill     customers, then orders, each through one bulk query operation (``hub sync --full-refresh``);
    incremental  ``--changed`` orders edited in the shop, then one incremental run of ``orders``.

For each phase it prints records/s, the wall time, and how that time splits: the hub's own processing (CPU
seconds of the hub process and of its reader children), the sandbox's (seconds spent answering and exporting),
and the rest — waiting on the cost budget or for the bulk operation. Target: the hub's share ≤ 25% of the wall
time. Peak RSS of the hub process and of the largest reader child is printed too.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.runtime import Hub, init_hub  # noqa: E402
from hub.settings import HubSettings  # noqa: E402

INSTANCE = "bench-shopify"
TARGET_SHARE = 0.25
HUB_TOML = """
[connectors.{instance}]
type = "shopify"
shop_url = "{url}"
token_env = "BENCH_SHOPIFY_TOKEN"
webhook_secret_env = "BENCH_SHOPIFY_SECRETS"
deadline_s = 7200
bulk_poll_interval_s = 1.0
bulk_max_wait_s = 3600
bulk_batch_size = 1000
"""


class Emulator:
    """The sandbox process and its command channel."""

    def __init__(self, orders: int, restore_rate: float) -> None:
        command = [sys.executable, str(ROOT / "bench" / "shopify_emulator.py"), "--orders", str(orders),
                   "--customers", str(max(orders // 5, 1)), "--restore-rate", str(restore_rate)]  # fmt: skip
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.hello = self._read()

    def ask(self, command: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(timeout=30)

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the emulator process ended")
        return json.loads(line)  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--changed", type=int, default=10_000)
    parser.add_argument("--restore-rate", type=float, default=100.0)
    args = parser.parse_args(argv)
    emulator = Emulator(args.orders, args.restore_rate)
    try:
        with tempfile.TemporaryDirectory(prefix="memberhub-shopify-bench-") as work:
            hub = _hub(Path(work), emulator.hello)
            try:
                phases = [_phase("backfill", hub, emulator, [("customers", True), ("orders", True)])]
                emulator.ask(f"touch {args.changed}")
                phases.append(_phase("incremental", hub, emulator, [("orders", False)]))
            finally:
                hub.close()
        # read before the emulator is waited for: from then on RUSAGE_CHILDREN would count it as well
        peaks = _peak_mb(resource.RUSAGE_SELF), _peak_mb(resource.RUSAGE_CHILDREN)
    finally:
        emulator.close()
    print(f"Shopify sync: {args.orders:,} orders, {args.orders // 5:,} customers, restore rate {args.restore_rate:g}/s")
    for phase in phases:
        _report(phase)
    print(f"peak RSS: hub {peaks[0]:.0f} MB, largest reader child {peaks[1]:.0f} MB")
    worst = max(phase["hub_s"] / phase["wall_s"] for phase in phases)
    print(f"hub share of wall time, worst phase: {worst:.1%} (target ≤ {TARGET_SHARE:.0%}): "
          f"{'met' if worst <= TARGET_SHARE else 'MISSED'}")  # fmt: skip
    return 0


def _hub(work: Path, hello: dict[str, Any]) -> Hub:
    os.environ["BENCH_SHOPIFY_TOKEN"] = hello["token"]
    os.environ["BENCH_SHOPIFY_SECRETS"] = hello["secret"]
    data = work / "data"
    data.mkdir()
    (data / "hub.toml").write_text(HUB_TOML.format(instance=INSTANCE, url=hello["url"]), encoding="utf-8")
    settings = HubSettings(data, work / "keys" / "keyring.json", f"sqlite:///{data / 'hub.db'}", data / "hub.toml")
    hub, _ = init_hub(settings)
    return hub


def _phase(name: str, hub: Hub, emulator: Emulator, runs: list[tuple[str, bool]]) -> dict[str, Any]:
    before_busy = emulator.ask("stats")["busy_s"]
    cpu_before = _cpu_s()
    started = time.perf_counter()
    reports = [hub.sync.run(INSTANCE, stream, full_refresh=full) for stream, full in runs]
    wall = time.perf_counter() - started
    hub_s = _cpu_s() - cpu_before
    shop_s = emulator.ask("stats")["busy_s"] - before_busy
    for report in reports:
        if report.status != "succeeded":
            raise SystemExit(f"{name} {report.stream}: {report.status} {report.error_class} {report.error_message}")
    records = {report.stream: report.records_read for report in reports}
    return {"name": name, "records": records, "wall_s": wall, "hub_s": hub_s, "shop_s": shop_s}


def _report(phase: dict[str, Any]) -> None:
    wall, hub_s, shop_s = phase["wall_s"], phase["hub_s"], phase["shop_s"]
    total = sum(phase["records"].values())
    waiting = max(wall - hub_s - shop_s, 0.0)
    read = ", ".join(f"{count:,} {stream}" for stream, count in phase["records"].items())
    print(f"{phase['name']:<12} {read}: {total / wall:,.0f} records/s in {wall:,.1f} s wall | hub {hub_s:,.1f} s "
          f"({hub_s / wall:.1%}), sandbox {shop_s:,.1f} s ({shop_s / wall:.1%}), "
          f"waiting {waiting:,.1f} s ({waiting / wall:.1%})")  # fmt: skip


def _cpu_s() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _peak_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss * 1024 / 1e6  # KiB on Linux


if __name__ == "__main__":
    raise SystemExit(main())
