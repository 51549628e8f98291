"""Reading and comparing batches in the conformance kit's checks. This module imports pytest: tests only."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence

import pytest

from core.records import CanonicalRecord
from core.sync.contract import Backfiller, Batch, Connector, Rejected, SlicedBackfiller

RESUME_POINTS = 4
"""Batch cursors of one read that a resume check starts from (first, last, and evenly between)."""
MAX_BATCHES = 10_000
"""A read that yields more batches than this against a sandbox is taken to loop forever."""


def read_all(connector: Connector, stream: str, cursor: str | None = None) -> list[Batch]:
    """Every batch of one read, failing the test if the read does not end."""
    return _bounded(connector.read(stream, cursor), f"read of {stream!r}")


def backfill_all(connector: Backfiller, stream: str, cursor: str | None = None) -> list[Batch]:
    """Every batch of one backfill, failing the test if it does not end."""
    return _bounded(connector.backfill(stream, cursor), f"backfill of {stream!r}")


def slice_all(connector: SlicedBackfiller, stream: str, part: str, cursor: str | None = None) -> list[Batch]:
    """Every batch of one slice of a sliced backfill, failing the test if it does not end."""
    return _bounded(connector.backfill_slice(stream, part, cursor), f"slice of {stream!r}")


def records_of(batches: Iterable[Batch]) -> list[CanonicalRecord]:
    """The valid records of ``batches``, in order."""
    return [record for batch in batches for record in batch.records if isinstance(record, CanonicalRecord)]


def rejects_of(batches: Iterable[Batch]) -> list[Rejected]:
    """The rejected items of ``batches``, in order."""
    return [record for batch in batches for record in batch.records if isinstance(record, Rejected)]


def by_id(records: Iterable[CanonicalRecord]) -> dict[str, CanonicalRecord]:
    """Records keyed by external id (a later one wins)."""
    return {record.external_id: record for record in records}


def duplicates(ids: Sequence[str]) -> list[str]:
    """Ids that occur more than once, sorted."""
    return sorted(rid for rid, count in Counter(ids).items() if count > 1)


def difference(expected: set[str], actual: set[str]) -> str:
    """A short description of what is missing and what is unexpected."""
    return f"missing {sorted(expected - actual)[:10]}, unexpected {sorted(actual - expected)[:10]}"


def _bounded(batches: Iterator[Batch], what: str) -> list[Batch]:
    collected: list[Batch] = []
    for batch in batches:
        collected.append(batch)
        if len(collected) > MAX_BATCHES:
            pytest.fail(f"{what} yielded more than {MAX_BATCHES} batches: it does not end")
    return collected


def resume_points(last: int) -> list[int]:
    """Up to ``RESUME_POINTS`` batch numbers in 1..last, spread evenly, always the first and the last."""
    if last <= RESUME_POINTS:
        return list(range(1, last + 1))
    step = (last - 1) / (RESUME_POINTS - 1)
    return sorted({1 + round(i * step) for i in range(RESUME_POINTS)})
