"""The transactional outbox: one destination failing keeps its messages pending while others drain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from connectors.example.sandbox import SandboxServer
from core.store.models import OutboxMessage
from core.sync.outbox import OutboxDispatcher, OutboxPolicy, enqueue
from tests.core.sync.conftest import example_instance


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _enqueue_tags(kit, destination, customer_ids, clock):
    with kit.engine.begin() as conn:
        for customer_id in customer_ids:
            enqueue(
                conn,
                kit.outbox,
                destination=destination,
                kind="member.tags",
                idempotency_key=f"{destination}:{customer_id}:gold",
                payload={"customer_id": customer_id, "tags": ["rank:gold", "segment:vip"]},
                now=clock(),
            )


def _statuses(kit, destination):
    with kit.engine.connect() as conn:
        query = select(OutboxMessage.status, OutboxMessage.attempts).where(OutboxMessage.destination == destination)
        return [tuple(row) for row in conn.execute(query)]


@pytest.fixture
def two_destinations(sync_kit):
    with SandboxServer(customers=6, orders=1) as up, SandboxServer(customers=6, orders=1) as down:
        instances = {
            "up": example_instance("up", up.url, max_attempts=1),
            "down": example_instance("down", down.url, max_attempts=1),
        }  # the outbox has its own backoff
        registry = sync_kit.registry(instances)
        yield up, down, registry


def test_a_failing_destination_keeps_its_messages_pending_while_others_are_delivered(sync_kit, two_destinations):
    up, down, registry = two_destinations
    clock = FakeClock()
    down.state.fail_next(10_000, 503)
    _enqueue_tags(sync_kit, "up", sorted(up.record_ids("customers"))[:4], clock)
    _enqueue_tags(sync_kit, "down", sorted(down.record_ids("customers"))[:3], clock)
    dispatcher = OutboxDispatcher(
        sync_kit.engine,
        sync_kit.outbox,
        registry.build,
        clock=clock,
        seed=1,
        policy=OutboxPolicy(base_delay_s=30, max_delay_s=3600, max_attempts=50),
    )

    reports = {report.destination: report for report in dispatcher.dispatch_due()}
    assert (reports["up"].delivered, reports["down"].retrying) == (4, 3)
    assert _statuses(sync_kit, "up") == [("delivered", 1)] * 4
    assert _statuses(sync_kit, "down") == [("pending", 1)] * 3
    assert len(up.state.writes) == 4

    for _ in range(20):  # an hour of outage: still pending, retried with backoff, never lost
        clock.now += timedelta(minutes=3)
        dispatcher.dispatch_due()
    assert {status for status, _ in _statuses(sync_kit, "down")} == {"pending"}

    down.state.clear_faults()
    clock.now += timedelta(hours=2)
    assert dispatcher.dispatch_due()[0].delivered == 3
    assert {status for status, _ in _statuses(sync_kit, "down")} == {"delivered"}


def test_a_destination_missing_from_the_config_waits_without_holding_up_the_others(sync_kit, two_destinations):
    up, _, registry = two_destinations
    clock = FakeClock()
    _enqueue_tags(sync_kit, "up", sorted(up.record_ids("customers"))[:2], clock)
    _enqueue_tags(sync_kit, "mail", ["c-1", "c-2"], clock)  # e.g. loyalty rules naming an instance not set up yet
    dispatcher = OutboxDispatcher(sync_kit.engine, sync_kit.outbox, registry.build, clock=clock, seed=1)

    reports = {report.destination: report for report in dispatcher.dispatch_due()}

    assert reports["up"].delivered == 2
    assert reports["mail"].unavailable and "mail" in reports["mail"].unavailable
    assert _statuses(sync_kit, "mail") == [("pending", 0)] * 2  # kept, untouched, for when it is configured


def test_a_resend_after_a_lost_acknowledgement_is_absorbed_by_the_idempotency_key(sync_kit, two_destinations):
    up, _, registry = two_destinations
    clock = FakeClock()
    customer = sorted(up.record_ids("customers"))[0]
    _enqueue_tags(sync_kit, "up", [customer], clock)
    connector = registry.build("up")

    class AckLost:
        outbound_kinds = connector.outbound_kinds

        def deliver(self, message):
            connector.deliver(message)
            raise ConnectionResetError("acknowledgement lost")

    OutboxDispatcher(sync_kit.engine, sync_kit.outbox, lambda _: AckLost(), clock=clock).dispatch("up")
    assert _statuses(sync_kit, "up") == [("pending", 1)]
    clock.now += timedelta(hours=1)
    OutboxDispatcher(sync_kit.engine, sync_kit.outbox, registry.build, clock=clock).dispatch("up")
    assert _statuses(sync_kit, "up") == [("delivered", 2)]
    assert len(up.state.writes) == 1  # the second PUT was answered from the idempotency store


def test_a_failed_domain_transaction_leaves_no_outbox_message(sync_kit):
    clock = FakeClock()
    with pytest.raises(RuntimeError), sync_kit.engine.begin() as conn:
        enqueue(
            conn,
            sync_kit.outbox,
            destination="up",
            kind="member.tags",
            idempotency_key="k1",
            payload={"customer_id": "c1", "tags": []},
            now=clock(),
        )
        raise RuntimeError("the domain change failed after the outbox row was written")
    assert _statuses(sync_kit, "up") == []
