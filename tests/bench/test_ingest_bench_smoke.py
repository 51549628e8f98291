"""The ingest benchmark runs end to end at a small size and prints every figure (no timing assertions)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).parents[2] / "bench" / "ingest_bench.py"


@pytest.mark.slow
def test_ingest_bench_prints_rate_ratio_and_peak_memory():
    result = subprocess.run(
        [sys.executable, str(BENCH), "--records", "3000", "--db", "sqlite"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "records/s" in result.stdout and "engine/raw" in result.stdout and "peak RSS" in result.stdout
