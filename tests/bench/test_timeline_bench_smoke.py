"""The timeline benchmark runs end to end on a small store and prints every figure it promises.

Timings are not asserted: on a shared machine they say nothing about a 2,000-member store.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "timeline_bench.py"
NUMBER = r"[\d,]+(?:\.\d+)?"


@pytest.fixture(scope="module")
def report() -> str:
    arguments = ["--members", "2000", "--events", "20000", "--heavy", "20", "--heavy-events", "200"]
    completed = subprocess.run(
        [sys.executable, str(BENCH), *arguments, "--database", "sqlite"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


@pytest.mark.slow
def test_the_store_is_seeded_with_the_planned_members_and_events(report: str) -> None:
    assert "2,000 members, 20,000 timeline events (20 heavy members × 200)" in report
    assert re.search(rf"sqlite: seeded 2,000 members and 20,000 events \({NUMBER} rows\) in {NUMBER} s", report)
    assert re.search(rf"load average {NUMBER} after the timing", report)


@pytest.mark.slow
def test_summary_and_first_page_percentiles_are_reported_and_judged(report: str) -> None:
    for label in ("member summary", r"timeline page \(50\)"):
        assert re.search(
            rf"{label}: p50 {NUMBER} ms, p99 {NUMBER} ms over 20 heavy members \({NUMBER} statements each\); "
            rf"target p99 ≤ 20 ms: (met|MISSED)",
            report,
        )
