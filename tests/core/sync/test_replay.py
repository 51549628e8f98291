"""Dead letters: quarantined with a reason and a sealed payload, inspectable, replayed exactly once."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from connectors.example.sandbox import SandboxServer
from core.records import Profile
from core.store.models import DeadLetter, Purchase, SourceLink
from core.sync.contract import Rejected
from core.sync.dead_letters import Quarantined, open_payload, quarantine
from core.sync.replay import DeadLetterNotFoundError, replay_dead_letter
from tests.core.sync.conftest import example_instance

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def _quarantine(kit, connector, stream, item):
    with kit.engine.begin() as conn:
        quarantine(conn, kit.dead_letters, connector, stream, [item], NOW)
    with kit.engine.connect() as conn:
        return conn.scalar(select(func.max(DeadLetter.id)))


def _count(kit, model, **where):
    with kit.engine.connect() as conn:
        query = select(func.count()).select_from(model)
        for column, value in where.items():
            query = query.where(getattr(model, column) == value)
        return conn.scalar(query)


def test_a_garbage_page_quarantines_its_bad_records_with_reasons_and_sealed_payloads(sync_kit):
    with SandboxServer(customers=5, orders=30) as sandbox:
        sandbox.state.serve_garbage(1, path="/v1/orders")
        report = sync_kit.sync_engine(example_instance("shop", sandbox.url, page_size=10)).run("shop", "orders")
    assert report.status == "succeeded" and report.records_quarantined >= 1
    assert _count(sync_kit, Purchase) == 30 - report.records_quarantined
    with sync_kit.engine.connect() as conn:
        rows = conn.execute(select(DeadLetter)).all()
    for row in rows:
        assert row.reason and row.error_class == "MappingError"
        assert b'"id"' not in row.payload_ct and b"line_items" not in row.payload_ct
        assert "raw" in open_payload(sync_kit.dead_letters, row)


def test_a_record_whose_mapping_was_fixed_is_replayed_exactly_once(sync_kit):
    with SandboxServer(customers=5, orders=5) as sandbox:
        registry = sync_kit.registry({"shop": example_instance("shop", sandbox.url)})
        order = sandbox.state.record("orders", sorted(sandbox.record_ids("orders"))[0])
        # quarantined by an older mapper that refused it; today's mapper accepts the same raw object
        dead = _quarantine(
            sync_kit,
            "shop",
            "orders",
            Quarantined.from_source(
                Rejected(order["id"], "line_items: unsupported by mapper v1", json.dumps(order, ensure_ascii=False))
            ),
        )
        outcome = replay_dead_letter(sync_kit.engine, sync_kit.dead_letters, sync_kit.sink, registry, dead, NOW)
        assert outcome.stored
        with pytest.raises(DeadLetterNotFoundError):
            replay_dead_letter(sync_kit.engine, sync_kit.dead_letters, sync_kit.sink, registry, dead, NOW)
    assert _count(sync_kit, Purchase, external_id=order["id"]) == 1
    assert _count(sync_kit, DeadLetter, status="replayed") == 1


def test_a_record_that_still_fails_stays_pending_with_its_reason(sync_kit):
    profile = Profile(source="shop", external_id="c-9", source_updated_at=NOW, name="山田 花子", phone="12345")
    with sync_kit.engine.begin() as conn:
        refused = sync_kit.sink.apply(conn, [profile]).refused
    assert refused and "phone" in refused[0].reason
    dead = _quarantine(sync_kit, "shop", "customers", refused[0])
    registry = sync_kit.registry({})
    outcome = replay_dead_letter(sync_kit.engine, sync_kit.dead_letters, sync_kit.sink, registry, dead, NOW)
    assert not outcome.stored and "phone" in outcome.reason
    assert _count(sync_kit, DeadLetter, status="pending") == 1
    assert _count(sync_kit, SourceLink, external_id="c-9") == 0
