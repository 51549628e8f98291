"""Run the fuzz targets, each in its own process for a time budget, and print what each one found.

    python -m fuzz.run --seconds 60 [--target NAME ...] [--workdir DIR]

Each target's corpus starts from its seeds and grows in ``WORKDIR/corpus/NAME`` (kept between runs); inputs
that raised an undocumented exception go to ``WORKDIR/findings/NAME``. The exit status is 1 if any target found
something, so the command can gate CI.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

TARGETS = (
    "shopify_webhook",
    "square_webhook",
    "zendesk_webhook",
    "example_webhook",
    "square_records",
    "shopify_records",
    "shopify_bulk",
    "zendesk_records",
    "klaviyo_records",
    "example_records",
    "api_pages",
    "hub_config",
    "loyalty_rules",
)
_REPOSITORY = Path(__file__).resolve().parent.parent
_DONE = re.compile(r"^#(\d+)\s+DONE\s+cov: (\d+)", re.MULTILINE)
_STATUS = re.compile(r"^#(\d+)\s+\w+\s+cov: (\d+)", re.MULTILINE)
_EXECUTED = re.compile(r"stat::number_of_executed_units: (\d+)")
_QUOTED = re.compile(rb'"[\x20-\x21\x23-\x5b\x5d-\x7e]{1,40}"')
_HEADER = re.compile(rb"^[A-Za-z][A-Za-z0-9-]{1,60}:", re.MULTILINE)
_SYNTAX = (b"[", b"]", b"{", b"}", b'":', b"null", b"true", b"false", b"-1", b"0.5", b"1e400", b"\\u0000", b"\n\n")
_MAX_TOKENS = 400


@dataclass(frozen=True)
class RunResult:
    """One target's run: executions, edges covered, the unique findings and the process's exit status."""

    target: str
    seconds: int
    executions: int
    coverage: int
    findings: tuple[str, ...]
    returncode: int

    @property
    def ok(self) -> bool:
        """No findings, and libFuzzer ended normally."""
        return not self.findings and self.returncode == 0


def write_seeds(target: str, corpus: Path) -> int:
    """Write the target's seeds into ``corpus`` (named by digest, so reruns add nothing twice)."""
    corpus.mkdir(parents=True, exist_ok=True)
    seeds = list(importlib.import_module(f"fuzz.targets.{target}").TARGET.seeds())
    for seed in seeds:
        (corpus / hashlib.sha1(seed).hexdigest()).write_bytes(seed)  # noqa: S324 - a file name, not security
    return len(seeds)


def write_dictionary(seeds: Path, dictionary: Path) -> int:
    """A libFuzzer dictionary of the seeds' JSON strings and header names, plus JSON syntax; how many tokens."""
    tokens = dict.fromkeys(_SYNTAX)
    for seed in sorted(seeds.iterdir()):
        data = seed.read_bytes()
        tokens.update(dict.fromkeys(_QUOTED.findall(data)))
        tokens.update(dict.fromkeys(_HEADER.findall(data)))
    chosen = list(tokens)[:_MAX_TOKENS]
    dictionary.write_text("".join(f'"{_escaped(token)}"\n' for token in chosen))
    return len(chosen)


def _escaped(token: bytes) -> str:
    return "".join(chr(byte) if 0x20 <= byte < 0x7F and byte not in b'"\\' else f"\\x{byte:02x}" for byte in token)


def run_target(target: str, seconds: int, workdir: Path, *, max_len: int = 65536) -> RunResult:
    """Fuzz ``target`` for ``seconds`` in a subprocess and parse libFuzzer's report.

    ``-len_control=0`` lets inputs reach ``max_len`` at once: some bugs need a long input (a thousand ``[``).
    """
    corpus = workdir / "corpus" / target
    seeds = workdir / "seeds" / target
    write_seeds(target, seeds)
    dictionary = workdir / f"{target}.dict"
    write_dictionary(seeds, dictionary)
    corpus.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "fuzz.harness", target,
        f"-max_total_time={seconds}", f"-max_len={max_len}", "-len_control=0", f"-dict={dictionary}",
        "-timeout=20", "-rss_limit_mb=2048", "-print_final_stats=1", f"-artifact_prefix={workdir}/artifacts-{target}-",
        str(corpus), str(seeds),
    ]  # fmt: skip
    environment = {**os.environ, "FUZZ_FINDINGS": str(workdir / "findings")}
    completed = subprocess.run(  # noqa: S603 - our own interpreter and module
        command, cwd=_REPOSITORY, env=environment, capture_output=True, text=True, errors="replace", check=False,
        timeout=seconds + 120,
    )  # fmt: skip
    log = completed.stderr
    (workdir / f"{target}.log").write_text(log)
    return RunResult(target, seconds, _executions(log), _coverage(log), _findings(log), completed.returncode)


def _executions(log: str) -> int:
    found = _EXECUTED.search(log) or _DONE.search(log)
    return int(found.group(1)) if found else 0


def _coverage(log: str) -> int:
    statuses = _STATUS.findall(log)
    return int(statuses[-1][1]) if statuses else 0


def _findings(log: str) -> tuple[str, ...]:
    found = [line.removeprefix("FINDING ") for line in log.splitlines() if line.startswith("FINDING ")]
    if "Uncaught Python exception" in log:  # the harness itself failed: report it, do not hide it
        found.append("harness crashed: see the log")
    return tuple(found)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m fuzz.run", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="time budget of each target")
    parser.add_argument("--target", action="append", choices=TARGETS, help="run only this target (repeatable)")
    parser.add_argument("--workdir", type=Path, help="corpora, findings and logs (default: a directory in /tmp)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the chosen targets one after another; print one line each and return 1 if anything was found."""
    options = _arguments(argv)
    workdir = options.workdir or Path(tempfile.gettempdir()) / "memberhub-fuzz"
    workdir = workdir.resolve()
    results = []
    for target in options.target or TARGETS:
        result = run_target(target, options.seconds, workdir)
        results.append(result)
        status = "ok" if result.ok else f"FAILED (exit {result.returncode})"
        print(
            f"{target:<16} {result.seconds:>5} s {result.executions:>10} execs  cov {result.coverage:>5}  "
            f"findings {len(result.findings)}  {status}", flush=True,
        )  # fmt: skip
        for finding in result.findings:
            print(f"    {finding}", flush=True)
    print(f"workdir: {workdir}")
    return 0 if all(result.ok for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
