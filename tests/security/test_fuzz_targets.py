"""Item 26: the parsers of outside input raise only their documented errors, under atheris (fuzz/).

Each target replays its realistic seeds in-process, then fuzzes for a couple of seconds in its own process,
two at a time (the machine's two CPUs); the long runs (10 minutes a parser class) are ``python -m fuzz.run``
and their figures are in docs/security.md.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from fuzz.run import TARGETS, run_target
from fuzz.target import FuzzTarget, judge

SECONDS_EACH = 2


def _target(name: str) -> FuzzTarget:
    target: FuzzTarget = importlib.import_module(f"fuzz.targets.{name}").TARGET
    return target


def _require_atheris() -> None:
    """Skip without atheris on a developer machine; in CI (``CI=true``) the fuzz run is required."""
    if importlib.util.find_spec("atheris") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but atheris is not installed (pip install -e '.[dev]')")
        pytest.skip("atheris is not installed (pip install -e '.[dev]'); the fuzz targets were not run")


def test_an_undocumented_exception_is_a_finding_and_a_documented_one_is_not() -> None:
    def parse(data: bytes) -> object:
        if data == b"documented":
            raise ValueError("refused")
        return {"present": 1}[data.decode()]

    target = FuzzTarget("oracle", parse, (ValueError,), lambda: [], "records")

    assert judge(target, b"documented") is None
    assert judge(target, b"present") is None
    finding = judge(target, b"absent")
    assert finding is not None
    assert finding.error == "KeyError: 'absent'"
    assert finding.signature.startswith("KeyError at tests/security/test_fuzz_targets.py:")


@pytest.mark.parametrize("name", TARGETS)
def test_every_seed_parses_without_an_undocumented_error(name: str) -> None:
    target = _target(name)
    seeds = list(target.seeds())

    assert seeds, f"{name} has no seeds"
    assert [judge(target, seed) for seed in seeds] == [None] * len(seeds)


@pytest.mark.slow
def test_fuzzing_finds_nothing_but_documented_errors(tmp_path: Path) -> None:
    _require_atheris()
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = {
            result.target: result
            for result in pool.map(lambda name: run_target(name, SECONDS_EACH, tmp_path / name), TARGETS)
        }

    assert {name: (result.findings, result.returncode) for name, result in results.items() if not result.ok} == {}
    assert all(result.executions > 100 for result in results.values()), {n: r.executions for n, r in results.items()}
