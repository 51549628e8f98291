"""The production-mode benchmark's bulk part runs on a small data set and prints every figure it promises.

Timings are not asserted: on a shared machine they say nothing at this size. Its workers part is what
tests/hub/workers/test_sliced_backfill.py does with assertions, so it is not run again here.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "workers_bench.py"
NUMBER = r"[\d,]+(?:\.\d+)?"
pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def _run(*arguments: str) -> str:
    command = [sys.executable, str(BENCH), *arguments]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stderr + completed.stdout
    return completed.stdout


def test_the_bulk_path_and_executemany_are_compared(pg_url: str) -> None:
    report = _run("--part", "bulk", "--orders", "3000")
    assert re.search(r"bulk path — [\d,]+ rows \(purchases \+ lines\)", report)
    for how in ("executemany", "bulk", "bulk upsert (all conflicts)"):
        assert re.search(rf"{re.escape(how)} +{NUMBER} rows/s +× {NUMBER}", report), how
    assert re.search(r"target bulk ≥ 25,000 rows/s: (met|MISSED)", report)
