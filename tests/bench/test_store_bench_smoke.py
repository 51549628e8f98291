"""The store benchmark runs end to end on a small data set and prints every figure it promises.

Timings are not asserted: on a shared machine they say nothing in a 300-member run.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "store_bench.py"
NUMBER = r"[\d,]+(?:\.\d+)?"


@pytest.fixture(scope="module")
def report() -> str:
    completed = subprocess.run(
        [sys.executable, str(BENCH), "--members", "300", "--db", "sqlite"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


@pytest.mark.slow
@pytest.mark.parametrize("label", ["(a) ", "(a′)", "(b) ", "(c) "])
def test_every_variant_reports_rate_time_per_member_and_peak_memory(report: str, label: str) -> None:
    line = next(line for line in report.splitlines() if line.strip().startswith(label))
    assert re.search(rf"{NUMBER}\s+{NUMBER}\s+{NUMBER} MiB\s+[+-]{NUMBER} MiB$", line), line


@pytest.mark.slow
def test_ratios_against_the_limit_and_the_orm_are_reported(report: str) -> None:
    assert re.search(rf"c/a′ = {NUMBER}", report)
    assert re.search(rf"c/b = {NUMBER}", report)
    assert re.search(rf"c = {NUMBER} members/s", report)


@pytest.mark.slow
def test_phone_lookups_report_latency_and_find_every_member(report: str) -> None:
    assert re.search(rf"p50 {NUMBER} ms, p99 {NUMBER} ms", report)
    assert "found 300/300" in report
    assert re.search(rf"phone normalisation of an unseen number: {NUMBER} µs", report)
