"""A sync earns points in the batch's transaction and tells observers only after it has committed."""

from __future__ import annotations

from sqlalchemy import func, select

from connectors.example.sandbox import SandboxServer
from core.events import DomainEvent, PointsChanged
from core.loyalty import LoyaltyEngine, load_rules
from core.loyalty.rules import SHIPPED_RULES
from core.store.models import PointLedgerEntry, Purchase
from core.sync.engine import SyncEngine
from core.sync.ingest import StoreSink
from tests.core.sync.conftest import SyncKit, example_instance


def _engine_with_loyalty(kit: SyncKit, heard: list[tuple[DomainEvent, int]], url: str) -> SyncEngine:
    loyalty = LoyaltyEngine(load_rules(SHIPPED_RULES), kit.directory.clock)
    sink = StoreSink(kit.directory, loyalty=loyalty)

    def publish(events):
        # what another connection can see when the observer is told: the batch must be committed already
        with kit.engine.connect() as conn:
            stored = conn.scalar(select(func.count()).select_from(PointLedgerEntry))
        heard.extend((event, stored) for event in events)

    instance = example_instance("shop", url, page_size=10)
    return SyncEngine(kit.engine, kit.registry({"shop": instance}), sink, kit.dead_letters, publish=publish)


def test_synced_purchases_earn_points_once_and_events_follow_the_commit(sync_kit):
    heard: list[tuple[DomainEvent, int]] = []
    with SandboxServer(customers=10, orders=30) as sandbox:
        engine = _engine_with_loyalty(sync_kit, heard, sandbox.url)
        assert engine.run("shop", "customers").status == "succeeded"
        first = engine.run("shop", "orders")
        again = engine.run("shop", "orders", full_refresh=True)
    assert first.status == again.status == "succeeded"
    with sync_kit.engine.connect() as conn:
        with_member = Purchase.member_id.is_not(None)
        member_purchases = conn.scalar(select(func.count()).select_from(Purchase).where(with_member))
        earned = conn.execute(
            select(func.count(), func.count(func.distinct(PointLedgerEntry.purchase_id))).where(
                PointLedgerEntry.kind == "earn"
            )
        ).one()
        total = conn.scalar(select(func.coalesce(func.sum(PointLedgerEntry.points), 0)))
    assert member_purchases and earned == (member_purchases, member_purchases)  # one earn entry per purchase
    points_events = [(event, stored) for event, stored in heard if isinstance(event, PointsChanged)]
    assert points_events, "earning must be announced to observers"
    assert all(stored > 0 for _, stored in points_events), "observers were told before the batch committed"
    assert sum(event.delta for event, _ in points_events) == total  # the full refresh announced nothing new
