"""Where the engine puts records: the protocol the ingest pipeline implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import Connection

from core.events import DomainEvent
from core.records import CanonicalRecord
from core.sync.dead_letters import Quarantined


@dataclass(frozen=True)
class SinkResult:
    """What one batch did to the store: rows written (inserted or changed), records refused, domain events.

    The caller publishes the events (merges, points, ranks) once the batch's transaction has committed.
    """

    written: int
    refused: Sequence[Quarantined] = field(default=())
    events: Sequence[DomainEvent] = field(default=())


class RecordSink(Protocol):
    """Stores canonical records idempotently inside the caller's transaction.

    Implementations upsert by (source, external_id), ignore versions older than the stored
    ``source_updated_at``, and refuse (never raise for) a record that fails the hub's validation.
    """

    def apply(self, conn: Connection, records: Sequence[CanonicalRecord], *, disjoint: bool = False) -> SinkResult:
        """Store one batch's records; the caller commits them together with the stream's cursor.

        ``disjoint``: the batch is one of several committing at once that never hold the same records (the
        slices of one backfill), so they need not wait for each other.
        """
        ...
