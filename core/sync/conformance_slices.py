"""The conformance kit's checks of the ``SlicedBackfiller`` capability (a backfill split into parallel slices).

They join the suite ``core.sync.conformance.conformance_suite`` builds and skip for a connector without the
capability. This module imports pytest: import it from tests only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from core.sync.conformance_batches import (
    by_id,
    duplicates,
    read_all,
    records_of,
    rejects_of,
    resume_points,
    slice_all,
)
from core.sync.contract import Connector, SlicedBackfiller
from core.sync.cursor import StreamCursor

SLICES = 4
"""How many slices the checks ask for (a connector may plan fewer)."""


def slice_checks(streams: Sequence[str]) -> type:
    """A mixin of sliced-backfill tests over ``streams`` for the suite class (which provides the fixtures)."""
    each_stream = pytest.mark.parametrize("stream", streams)

    class SliceChecks:
        @pytest.fixture
        def slicer(self, connector: Connector) -> SlicedBackfiller:
            if not isinstance(connector, SlicedBackfiller):
                pytest.skip("the connector cannot slice a backfill")
            return connector

        @each_stream
        def test_slices_hold_every_record_exactly_once(
            self, slicer: SlicedBackfiller, sandbox: Any, stream: str
        ) -> None:
            """Planned slices are disjoint and together hold the stream; the newest ends on a handover cursor."""
            parts = slicer.backfill_slices(stream, SLICES)
            assert 1 <= len(parts) <= SLICES, f"{len(parts)} slices planned for at most {SLICES}"
            read = [slice_all(slicer, stream, part) for part in parts]
            assert not any(rejects_of(batches) for batches in read)
            ids = [record.external_id for batches in read for record in records_of(batches)]
            assert not duplicates(ids), f"in two slices: {duplicates(ids)[:10]}"
            assert set(ids) == set(sandbox.record_ids(stream))
            handover = StreamCursor.from_json(read[-1][-1].cursor)
            assert handover.updated_since is not None and handover.page is None, (
                "the newest slice must end on a StreamCursor from which incremental reading continues"
            )

        @each_stream
        def test_sliced_records_equal_the_incremental_reads(self, slicer: SlicedBackfiller, stream: str) -> None:
            """A slice maps every record exactly as the page path does (same upsert, no flapping)."""
            parts = slicer.backfill_slices(stream, SLICES)
            sliced = by_id(record for part in parts for record in records_of(slice_all(slicer, stream, part)))
            paged = by_id(records_of(read_all(slicer, stream)))  # type: ignore[arg-type]
            different = [rid for rid, record in sliced.items() if paged.get(rid) != record]
            assert not different, f"the slices and the pages disagree on {different[:10]}"

        def test_a_slice_resumes_from_a_batch_cursor_with_the_remainder(self, slicer: SlicedBackfiller) -> None:
            """From the cursor after any batch of a slice comes exactly the rest of that slice."""
            stream = streams[0]
            parts = slicer.backfill_slices(stream, SLICES)
            batches, part = max(((slice_all(slicer, stream, part), part) for part in parts), key=lambda b: len(b[0]))
            if len(batches) < 2:
                pytest.fail(f"the sandbox must hold more than one batch in a slice of {stream!r} for this test")
            everything = sorted(record.external_id for record in records_of(batches))
            for done in resume_points(len(batches) - 1):
                head = [record.external_id for record in records_of(batches[:done])]
                rest = records_of(slice_all(slicer, stream, part, batches[done - 1].cursor))
                assert sorted(head + [record.external_id for record in rest]) == everything, f"after batch {done}"

        def test_a_slice_the_connector_did_not_plan_is_refused(self, slicer: SlicedBackfiller) -> None:
            """Garbage where a slice belongs is a clear ``PermanentError``, not a read of something else."""
            from core.errors import PermanentError

            with pytest.raises(PermanentError):
                slice_all(slicer, streams[0], "not a slice")

    return SliceChecks
