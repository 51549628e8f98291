"""Rank changes go to ``ranks.destinations`` as ``member.rank`` outbox messages, in the transaction of the change."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from core.errors import ConfigError
from core.identity.claims import SourceRanking
from core.identity.service import MemberMerges
from core.loyalty import LoyaltyEngine
from core.members.audit import Actor
from core.store import models
from core.sync.payloads import PayloadSealer
from tests.core.loyalty.conftest import JST, T0, make_rules, purchase

NEW_YEAR = datetime(2027, 1, 1, tzinfo=JST)


@pytest.fixture
def outbox(loyalty_kit) -> PayloadSealer:
    sealer = PayloadSealer(loyalty_kit.engine, loyalty_kit.directory.sealer.ring, "outbox")
    rules = make_rules(ranks={"destinations": ["shop"]})
    loyalty_kit.loyalty = LoyaltyEngine(rules, loyalty_kit.clock, outbox=sealer)
    return sealer


def messages(kit, sealer: PayloadSealer) -> list[tuple[str, str, str, dict]]:
    """(destination, kind, idempotency key, opened payload) of every outbox message, oldest first."""
    with kit.engine.connect() as conn:
        rows = conn.execute(select(models.OutboxMessage).order_by(models.OutboxMessage.id)).all()
    return [
        (row.destination, row.kind, row.idempotency_key,
         json.loads(sealer.open(row.payload_ct, owner=quote(row.idempotency_key, safe=""))))
        for row in rows
    ]  # fmt: skip


def test_an_upgrade_tells_the_destination_with_the_customer_id_and_the_points(loyalty_kit, outbox):
    outcome = loyalty_kit.ingest([purchase("o1", "cust-1", 60_000, source="shop")])

    member = loyalty_kit.member("cust-1", "shop")
    [(destination, kind, _, payload)] = messages(loyalty_kit, outbox)
    assert (outcome.rank_changes, outcome.messages) == (1, 1)
    assert (destination, kind) == ("shop", "member.rank")
    assert payload == {
        "member_id": str(member), "customer_id": "cust-1", "from_rank": None, "to_rank": "silver",
        "points_available": 600, "changed_at": T0.isoformat(),
    }  # fmt: skip


def test_two_moves_at_the_same_instant_are_two_messages(loyalty_kit, outbox):
    loyalty_kit.ingest([purchase("o1", "cust-1", 60_000, source="shop")])
    loyalty_kit.ingest([purchase("o2", "cust-1", 100_000, T0 + timedelta(hours=1), source="shop")])

    sent = messages(loyalty_kit, outbox)

    assert [(p["from_rank"], p["to_rank"]) for *_, p in sent] == [(None, "silver"), ("silver", "gold")]
    assert len({key for _, _, key, _ in sent}) == 2


def test_a_downgrade_at_the_period_end_is_told_too(loyalty_kit, outbox):
    loyalty_kit.ingest([purchase("o1", "cust-1", 60_000, source="shop")])

    outcome = loyalty_kit.run_period_end(NEW_YEAR + timedelta(days=400))

    assert outcome.messages == 1
    assert [(p["from_rank"], p["to_rank"]) for *_, p in messages(loyalty_kit, outbox)][-1] == ("silver", "regular")


def test_a_member_without_a_customer_in_the_destination_sends_nothing(loyalty_kit, outbox):
    outcome = loyalty_kit.ingest([purchase("r1", "walk-in", 60_000)])  # a store purchase: linked to "pos" only

    assert outcome.rank_changes == 1 and outcome.messages == 0
    assert messages(loyalty_kit, outbox) == []


def test_a_cluster_with_two_customers_there_tells_both(loyalty_kit, outbox):
    loyalty_kit.ingest([purchase("o1", "cust-1", 1_000, source="shop")])
    loyalty_kit.ingest([purchase("r1", "p1", 1_000)])
    merges = MemberMerges(loyalty_kit.engine, loyalty_kit.directory, SourceRanking(("console",)), lambda events: None)
    merges.merge(loyalty_kit.member("p1"), loyalty_kit.member("cust-1", "shop"), actor=Actor("sato", "supervisor"),
                 reason="same customer")  # fmt: skip
    loyalty_kit.ingest([purchase("o2", "cust-2", 1_000, source="shop")])
    merges.merge(loyalty_kit.member("p1"), loyalty_kit.member("cust-2", "shop"), actor=Actor("sato", "supervisor"),
                 reason="same customer")  # fmt: skip

    loyalty_kit.ingest([purchase("r2", "p1", 60_000)])

    assert sorted(p["customer_id"] for *_, p in messages(loyalty_kit, outbox)) == ["cust-1", "cust-2"]


def test_an_engine_without_an_outbox_refuses_and_the_purchase_is_not_stored(loyalty_kit):
    loyalty_kit.use_rules(make_rules(ranks={"destinations": ["shop"]}))

    with pytest.raises(ConfigError, match="no outbox"):
        loyalty_kit.ingest([purchase("o1", "cust-1", 60_000, source="shop")])

    with loyalty_kit.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(models.Purchase)) == 0
