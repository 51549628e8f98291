"""How fast members go into the encrypted store, against the raw driver, the crypto floor and the usual ORM.

    .venv/bin/python bench/store_bench.py [--members 100000] [--db sqlite|postgresql|both]

Per database, the same demo members (generated once, before any clock starts) are stored four ways, each in
a fresh process with a fresh database so that peak memory is its own (the variants are in store_variants.py):

    (a)  canonical plaintext rows, driver executemany, 1,000 per transaction
    (a′) (a)'s driver path writing the hub's tables, plus exactly the crypto primitive calls the design needs
    (b)  SQLAlchemy ORM, one sqlalchemy-utils StringEncryptedType(Unicode, key, AesGcmEngine) per PII field
    (c)  MemberHub: MemberDirectory.add_many per 1,000 through the real code path

then reports members/s, c/a′ and c/b, phone-lookup latency at N members and peak RSS. PostgreSQL runs in a
throw-away database on the server of MEMBERHUB_TEST_PG_URL (as the tests do), dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
from contextlib import suppress
from pathlib import Path
from typing import Any

import store_variants
from databases import throwaway_database

from hub.demo import demo_profiles

LABELS = {
    "a": "(a)  driver executemany, plaintext",
    "a′": "(a′) (a) + bare crypto primitives",
    "b": "(b)  ORM + StringEncryptedType",
    "c": "(c)  MemberDirectory.add_many",
}
TARGETS = {"c_sqlite": 20_000, "c/a′": 0.6, "c/b": 4.0, "p99_ms": 5.0}


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    if args.variant:
        return _run_variant(args)
    databases = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    with tempfile.TemporaryDirectory(prefix="memberhub-bench-") as workdir:
        data = Path(workdir) / "profiles.pickle"
        data.write_bytes(pickle.dumps(demo_profiles(args.members, seed=args.seed)))
        print(f"MemberHub store benchmark: {args.members:,} members, batches of 1,000, {os.cpu_count()} CPUs")
        for database in databases:
            results = {}
            for variant in LABELS:
                file_name = f"{variant.replace('′', '_prime')}.sqlite3"
                with throwaway_database(database, Path(workdir), prefix="memberhub_bench", file_name=file_name) as url:
                    results[variant] = _spawn(variant, url, data, freeze=not args.no_freeze)
            _report(database, args.members, results)
    return 0


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=100_000, help="members per variant (default 100,000)")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--seed", type=int, default=2026, help="demo data seed")
    parser.add_argument(
        "--no-freeze", action="store_true", help="leave the pre-generated data to the cyclic GC while timing"
    )
    # Internal: run one variant in this process and print its result as JSON.
    parser.add_argument("--variant", choices=tuple(LABELS), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# ── one variant, in its own process ──────────────────────────────────────────────────────────────────


def _spawn(variant: str, url: str, data: Path, *, freeze: bool) -> dict[str, Any]:
    script = Path(__file__).resolve()
    command = [sys.executable, str(script), "--variant", variant, "--url", url, "--data", str(data)]
    command += [] if freeze else ["--no-freeze"]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        sys.stderr.write(completed.stderr)
        raise SystemExit(f"variant {variant} failed with exit code {completed.returncode}")
    result: dict[str, Any] = json.loads(completed.stdout.splitlines()[-1])
    return result


def _run_variant(args: argparse.Namespace) -> int:
    store_variants.FREEZE_PREPARED = not args.no_freeze
    with Path(args.data).open("rb") as data:
        profiles = pickle.load(data)
    _reset_peak_rss()  # unpickling peaks above what the data needs (the unpickler's memo)
    loaded = _current_rss_mib()
    result = store_variants.VARIANTS[args.variant](args.url, profiles)
    result.update(members=len(profiles), data_rss_mib=loaded, peak_rss_mib=_peak_rss_mib())
    print(json.dumps(result))
    return 0


def _peak_rss_mib() -> float:
    """This process's peak RSS since the last reset.

    Not ``getrusage().ru_maxrss``: Linux carries the parent's peak over the fork and exec, and the parent
    holds the whole demo data set, so every variant would report the same figure.
    """
    return _proc_status_mib("VmHWM")


def _current_rss_mib() -> float:
    return _proc_status_mib("VmRSS")


def _reset_peak_rss() -> None:
    with suppress(OSError), Path("/proc/self/clear_refs").open("w") as clear_refs:
        clear_refs.write("5")  # Linux: the peak restarts from the current RSS


def _proc_status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"/proc/self/status has no {field} (the benchmark measures memory on Linux only)")


# ── report ───────────────────────────────────────────────────────────────────────────────────────────


def _report(database: str, members: int, results: dict[str, dict[str, Any]]) -> None:
    rate = {variant: members / result["seconds"] for variant, result in results.items()}
    print(f"\n{database}")
    print(f"  {'variant':<40} {'members/s':>10} {'µs/member':>10} {'peak RSS':>12} {'over data':>10}")
    for variant, label in LABELS.items():
        peak, loaded = results[variant]["peak_rss_mib"], results[variant]["data_rss_mib"]
        print(
            f"  {label:<40} {rate[variant]:>10,.0f} {1e6 / rate[variant]:>10.1f} {peak:>8.0f} MiB"
            f" {peak - loaded:>+6.0f} MiB"
        )
    limit, c = results["a′"], results["c"]
    print(f"  of which (a′) crypto alone: {limit['crypto_seconds'] / members * 1e6:.1f} µs/member")
    print(f"  RSS with imports and the demo data loaded, before a variant starts: {c['data_rss_mib']:.0f} MiB")
    for name, ratio in (("c/a′", rate["c"] / rate["a′"]), ("c/b", rate["c"] / rate["b"])):
        print(f"  {name} = {ratio:.2f} {_verdict(ratio >= TARGETS[name])} (target ≥ {TARGETS[name]:g})")
    if database == "sqlite":
        met = rate["c"] >= TARGETS["c_sqlite"]
        print(f"  c = {rate['c']:,.0f} members/s {_verdict(met)} (target ≥ {TARGETS['c_sqlite']:,} on SQLite)")
    p99 = c["lookup_p99_ms"]
    print(
        f"  lookup by phone, MemberDirectory.find at {members:,} members, {c['lookups']:,} mixed notations: "
        f"p50 {c['lookup_p50_ms']:.2f} ms, p99 {p99:.2f} ms {_verdict(p99 <= TARGETS['p99_ms'])} "
        f"(target ≤ {TARGETS['p99_ms']:g} ms), found {c['found']}/{c['lookups']}"
    )
    share = c["phone_parse_us"] / (1e6 / rate["c"])
    print(f"  phone normalisation of an unseen number: {c['phone_parse_us']:.1f} µs = {share:.0%} of (c)'s time")


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


if __name__ == "__main__":
    sys.exit(main())
