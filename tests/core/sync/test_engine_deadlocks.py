"""Two slices whose batches lock the same rows in opposite orders: PostgreSQL breaks the deadlock by rolling one
transaction back, and the engine writes that batch again — both slices end complete, nothing lost.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest
from sqlalchemy import Connection, insert, select

from connectors.example.sandbox import SandboxServer
from core.records import CanonicalRecord
from core.store.models import HubMeta, Purchase
from core.sync.engine import SyncEngine
from core.sync.ingest import StoreSink
from core.sync.sink import SinkResult
from tests.core.sync.conftest import example_instance

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


class CrossLockingSink:
    """The store's sink, after taking two row locks in an order that depends on the batch: a deadlock by design.

    The first two attempts (one per slice) lock in opposite orders and meet at a barrier holding their first
    lock, so they are sure to cross; the attempts are counted.
    """

    def __init__(self, store: StoreSink) -> None:
        self.store = store
        self.barrier = threading.Barrier(2, timeout=20)
        self.attempts = 0
        self._lock = threading.Lock()

    def apply(self, conn: Connection, records: Sequence[CanonicalRecord], *, disjoint: bool = False) -> SinkResult:
        with self._lock:
            self.attempts += 1
            attempt = self.attempts
        order = ["lock-a", "lock-b"] if attempt % 2 else ["lock-b", "lock-a"]
        rows = select(HubMeta.key).with_for_update()
        conn.execute(rows.where(HubMeta.key == order[0]))
        if attempt <= 2:
            self.barrier.wait()
        conn.execute(rows.where(HubMeta.key == order[1]))
        return self.store.apply(conn, records, disjoint=disjoint)


def test_a_deadlocked_batch_is_written_again_and_both_slices_complete(sync_kit):
    with sync_kit.engine.begin() as conn:
        conn.execute(insert(HubMeta), [{"key": "lock-a", "value": "1"}, {"key": "lock-b", "value": "1"}])
    sink = CrossLockingSink(sync_kit.sink)
    with SandboxServer(customers=10, orders=200) as sandbox:
        instance = example_instance("shop", sandbox.url, page_size=200)
        engine = SyncEngine(sync_kit.engine, sync_kit.registry({"shop": instance}), sink, sync_kit.dead_letters)
        ids = sorted(sandbox.record_ids("orders"))
        reports = engine.run_backfills([("shop", "orders")], slices=2, workers=2)

    assert [report.status for report in reports] == ["succeeded", "succeeded"], reports
    assert sink.attempts == 3, "one of the two crossing batches was rolled back and written again"
    with sync_kit.engine.connect() as conn:
        assert sorted(conn.scalars(select(Purchase.external_id).where(Purchase.source == "shop"))) == ids
