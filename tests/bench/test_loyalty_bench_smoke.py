"""The loyalty benchmark runs end to end on a small data set and prints every figure it promises.

Timings are not asserted: on a shared machine they say nothing in a few-thousand-purchase run.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "loyalty_bench.py"
NUMBER = r"[\d,]+(?:\.\d+)?"


@pytest.fixture(scope="module")
def report() -> str:
    completed = subprocess.run(
        [sys.executable, str(BENCH), "--purchases", "3000", "--members", "600", "--database", "sqlite", "--verify"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


@pytest.mark.slow
def test_earning_rate_and_what_was_written_are_reported(report: str) -> None:
    assert re.search(rf"earning +3,000 purchases: apply_purchases {NUMBER} purchases/s \({NUMBER} s\)", report)
    assert re.search(rf"{NUMBER} ledger entries, {NUMBER} rank upgrades", report)
    assert re.search(rf"target ≥ 20,000 purchases/s earning: {NUMBER} (met|MISSED)", report)


@pytest.mark.slow
def test_the_nightly_jobs_are_timed_and_judged(report: str) -> None:
    assert re.search(rf"period end +600 members judged, {NUMBER} rank changes in {NUMBER} s", report)
    assert re.search(rf"expiry job +first run over two years: {NUMBER} lots lapsed in {NUMBER} s", report)
    assert re.search(rf"the night after: {NUMBER} lots lapsed in {NUMBER} s", report)
    assert re.search(rf"target nightly jobs ≤ 60 s \(a night's expiry \+ period end\): {NUMBER} s (met|MISSED)", report)


@pytest.mark.slow
def test_the_ledger_it_built_verifies_without_differences(report: str) -> None:
    assert re.search(rf"verify +3,000 purchases, {NUMBER} clusters, 0 differences", report)
