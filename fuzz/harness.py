"""Runs one target under atheris: ``python -m fuzz.harness NAME [libFuzzer options] [corpus dirs]``.

The parsers are imported inside ``atheris.instrument_imports`` so the fuzzer sees their branches, and
``fuzz.mutations`` adds the hostile shapes byte mutations miss to libFuzzer's own mutations. An input
that raises an undocumented exception is saved to ``$FUZZ_FINDINGS`` and reported once per bug (type and
place) on a ``FINDING`` line; the run goes on, so one run collects every bug it reaches rather than the first.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import atheris  # type: ignore[import-untyped]

from fuzz.mutations import hostile
from fuzz.target import FuzzTarget, judge, save_finding

_PROJECT_PACKAGES = ["connectors", "core", "hub", "tomllib"]
_NOT_PARSERS = [f"connectors.{name}.sandbox" for name in ("example", "klaviyo", "shopify", "square", "zendesk")]


def load_target(name: str) -> FuzzTarget:
    """The ``TARGET`` of module ``fuzz.targets.<name>``, its parsers instrumented for coverage."""
    with atheris.instrument_imports(include=_PROJECT_PACKAGES, exclude=_NOT_PARSERS):
        module = importlib.import_module(f"fuzz.targets.{name}")
    target: FuzzTarget = module.TARGET
    return target


def main(argv: list[str]) -> None:
    """Fuzz the target named by ``argv[1]``; the other arguments go to libFuzzer."""
    target = load_target(argv[1])
    findings_dir = Path(os.environ.get("FUZZ_FINDINGS", "fuzz-findings")) / target.name
    seen: set[str] = set()

    def one_input(data: bytes) -> None:
        finding = judge(target, data)
        if finding is None:
            return
        path = save_finding(findings_dir, finding, data)
        if finding.signature not in seen:
            seen.add(finding.signature)
            print(f"FINDING {finding.signature} | {finding.error} | {path}", file=sys.stderr, flush=True)

    def mutate(data: bytes, max_size: int, seed: int) -> bytes:
        spliced = hostile(data, max_size, seed)
        return atheris.Mutate(data, max_size) if spliced is None else spliced

    sys.setrecursionlimit(1000)  # the interpreter's default, whatever the launcher set
    atheris.Setup([argv[0], *argv[2:]], one_input, custom_mutator=mutate)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
