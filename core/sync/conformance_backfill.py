"""The conformance kit's checks of the ``Backfiller`` capability (a stream read through the system's export path).

They join the suite ``core.sync.conformance.conformance_suite`` builds and skip for a connector without the
capability. The recovery check needs the fault injector's optional ``fail_next_export()``. This module imports
pytest: import it from tests only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from core.sync.conformance_batches import (
    backfill_all,
    by_id,
    duplicates,
    read_all,
    records_of,
    rejects_of,
    resume_points,
)
from core.sync.contract import Backfiller, Connector
from core.sync.cursor import StreamCursor


def backfill_checks(streams: Sequence[str]) -> type:
    """A mixin of backfill tests over ``streams`` for the suite class (which provides the fixtures)."""
    each_stream = pytest.mark.parametrize("stream", streams)

    class BackfillChecks:
        @pytest.fixture
        def backfiller(self, connector: Connector) -> Backfiller:
            if not isinstance(connector, Backfiller):
                pytest.skip("the connector has no backfill capability")
            return connector

        @each_stream
        def test_backfill_returns_every_record_exactly_once(
            self, backfiller: Backfiller, sandbox: Any, stream: str
        ) -> None:
            """The export holds every record once, and its last cursor hands over to incremental reading."""
            batches = backfill_all(backfiller, stream)
            assert not rejects_of(batches), rejects_of(batches)[:3]
            ids = [record.external_id for record in records_of(batches)]
            assert not duplicates(ids), f"exported twice: {duplicates(ids)[:10]}"
            assert set(ids) == set(sandbox.record_ids(stream))
            handover = StreamCursor.from_json(batches[-1].cursor)
            assert handover.updated_since is not None and handover.page is None, (
                "a backfill must end on a StreamCursor from which incremental reading continues"
            )

        @each_stream
        def test_backfill_records_equal_the_incremental_reads(self, backfiller: Backfiller, stream: str) -> None:
            """The export path maps every record exactly as the page path does (same upsert, no flapping)."""
            exported = by_id(records_of(backfill_all(backfiller, stream)))
            paged = by_id(records_of(read_all(backfiller, stream)))  # type: ignore[arg-type]
            different = [rid for rid, record in exported.items() if paged.get(rid) != record]
            assert not different, f"the export and the pages disagree on {different[:10]}"

        @each_stream
        def test_backfill_resumes_from_a_batch_cursor_with_the_remainder(
            self, backfiller: Backfiller, stream: str
        ) -> None:
            """From the cursor after a batch comes exactly the rest of the export."""
            batches = backfill_all(backfiller, stream)
            if sum(1 for batch in batches if batch.records) < 2:
                pytest.fail(f"the sandbox must hold more than one batch of {stream!r} for this test")
            everything = [record.external_id for record in records_of(batches)]
            for done in resume_points(len(batches) - 1):
                head = [record.external_id for record in records_of(batches[:done])]
                rest = [
                    record.external_id
                    for record in records_of(backfill_all(backfiller, stream, batches[done - 1].cursor))
                ]
                assert sorted(head + rest) == sorted(everything), f"resumed after batch {done}"

        def test_backfill_recovers_from_a_failed_export(
            self, backfiller: Backfiller, sandbox: Any, faults: Any
        ) -> None:
            """An export job the system fails is replaced by a new one; nothing is missing."""
            fail = getattr(faults, "fail_next_export", None)
            if fail is None:
                pytest.skip("the sandbox cannot fail an export job (no fail_next_export)")
            stream = streams[0]
            fail()
            ids = [record.external_id for record in records_of(backfill_all(backfiller, stream))]
            assert sorted(ids) == sorted(sandbox.record_ids(stream))

    return BackfillChecks
