"""The ingest benchmark runs end to end on a small data set and prints every figure it promises.

Timings are not asserted: on a shared machine they say nothing in a 3,000-record run.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "ingest_bench.py"
NUMBER = r"[\d,]+(?:\.\d+)?"


@pytest.fixture(scope="module")
def report() -> str:
    completed = subprocess.run(
        [sys.executable, str(BENCH), "--records", "3000", "--db", "sqlite"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


@pytest.mark.slow
def test_every_record_read_is_stored_and_none_quarantined(report: str) -> None:
    assert "sqlite, 3,000 records (600 profiles + 2,400 purchases)" in report
    assert " 0 quarantined" in report


@pytest.mark.slow
def test_engine_rate_and_its_ratio_to_raw_inserts_are_reported(report: str) -> None:
    assert re.search(rf"engine: {NUMBER} records/s \({NUMBER} µs/record", report)
    assert re.search(rf"raw driver executemany: {NUMBER} records/s; engine/raw = {NUMBER}", report)


@pytest.mark.slow
def test_peak_memory_of_the_hub_and_of_the_reader_child_are_reported(report: str) -> None:
    assert re.search(rf"peak RSS: hub process {NUMBER} MB \({NUMBER} MB before the run\)", report)
    assert re.search(rf"reader child {NUMBER} MB \(its own high-water mark {NUMBER} MB\)", report)


@pytest.mark.slow
def test_targets_are_judged(report: str) -> None:
    assert re.search(rf"target ≥ 15,000 records/s on SQLite: {NUMBER} (met|MISSED)", report)
    assert re.search(rf"target peak RSS ≤ 300 MB at 3,000 records: {NUMBER} MB (met|MISSED)", report)
