"""Rank benefit flags: pushed with each member's status; a change of the flags alone is a change to tell."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import select

from core.loyalty import LoyaltyEngine
from core.loyalty.rules import LoyaltyRules
from core.store.models import OutboxMessage
from core.sync.payloads import PayloadSealer
from tests.core.loyalty.conftest import BASE_RULES, T0, make_rules, purchase

NOW = T0 + timedelta(days=1)


def ranks_with_flags(regular: list[str], silver: list[str], gold: list[str]) -> dict:
    flags = (regular, silver, gold)
    return {"levels": [{**level, "flags": flags[n]} for n, level in enumerate(BASE_RULES["ranks"]["levels"])]}


def rules_with_flags(regular: list[str]) -> LoyaltyRules:
    flagged = ranks_with_flags(regular, ["priority_reservation"], ["priority_reservation", "rank_only_sale"])
    return make_rules(ranks=flagged, member_status={"destinations": ["pos"]})


@pytest.fixture
def outbox(loyalty_kit) -> PayloadSealer:
    sealer = PayloadSealer(loyalty_kit.engine, loyalty_kit.directory.sealer.ring, "outbox")
    loyalty_kit.loyalty = LoyaltyEngine(rules_with_flags([]), loyalty_kit.clock, outbox=sealer)
    return sealer


def push(kit, now=NOW):
    with kit.engine.begin() as conn:
        return kit.loyalty.run_member_status(conn, now, kit.directory.sealer)


def payloads(kit, sealer: PayloadSealer) -> list[dict]:
    with kit.engine.connect() as conn:
        query = select(OutboxMessage).where(OutboxMessage.kind == "member.loyalty").order_by(OutboxMessage.id)
        rows = conn.execute(query).all()
    return [json.loads(sealer.open(r.payload_ct, owner=quote(r.idempotency_key, safe=""))) for r in rows]


def test_each_status_carries_its_rank_flags_and_the_message_every_flag(loyalty_kit, outbox):
    loyalty_kit.ingest(
        [purchase("r1", "gold1", 200_000), purchase("r2", "silver1", 60_000), purchase("r3", "reg", 500)]
    )

    push(loyalty_kit)

    (message,) = payloads(loyalty_kit, outbox)
    flags = {change["customer_id"]: (change["rank"], change["flags"]) for change in message["changes"]}
    assert flags == {
        "gold1": ("gold", ["priority_reservation", "rank_only_sale"]),
        "silver1": ("silver", ["priority_reservation"]),
        "reg": ("regular", []),
    }
    assert message["rank_flags"] == ["priority_reservation", "rank_only_sale"]


def test_new_flags_in_the_rules_are_told_though_nothing_else_changed(loyalty_kit, outbox):
    loyalty_kit.ingest([purchase("r1", "gold1", 200_000), purchase("r3", "reg", 500)])
    push(loyalty_kit)
    loyalty_kit.loyalty = LoyaltyEngine(rules_with_flags(["early_access"]), loyalty_kit.clock, outbox=outbox)

    outcome = push(loyalty_kit, NOW + timedelta(hours=1))
    again = push(loyalty_kit, NOW + timedelta(hours=2))

    assert (outcome.changes, again.changes) == (1, 0)
    changes = payloads(loyalty_kit, outbox)[-1]["changes"]
    assert [(c["customer_id"], c["flags"]) for c in changes] == [("reg", ["early_access"])]


def test_a_flag_must_be_a_code():
    with pytest.raises(ValueError, match="String should match pattern"):
        make_rules(ranks=ranks_with_flags([], ["Priority Reservation"], []))
