"""Redemption and adjustments: oldest expiry first, never below zero, once per source event."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.errors import InvalidInputError
from core.events import PointsChanged
from tests.core.loyalty.conftest import T0, make_rules, purchase


def consumed(kit) -> dict[str, int]:
    """Points left per earn entry (by purchase), after every consumption."""
    balance = {}
    for entry in kit.ledger():
        if entry.kind == "earn":
            balance[entry.source_event] = entry.points
    with kit.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT l.source_event, c.points FROM point_lot_consumptions c JOIN point_ledger l ON l.id = c.lot_id"
        ).all()
    for source_event, points in rows:
        balance[source_event] -= points
    return balance


def test_redemption_spends_the_lot_that_lapses_first(loyalty_kit, clock):
    clock.now = T0 + timedelta(days=10)
    loyalty_kit.ingest([purchase("new", "c1", 5_000, T0 + timedelta(days=10)), purchase("old", "c1", 5_000)])

    loyalty_kit.redeem("c1", 70, "pos:redeem:1")

    assert consumed(loyalty_kit) == {"purchase:pos:old": 0, "purchase:pos:new": 30}


def test_redeeming_more_than_the_balance_is_refused_with_the_balance(loyalty_kit):
    loyalty_kit.ingest([purchase("r1", "c1", 1_200)])

    with pytest.raises(InvalidInputError, match="balance is 12 points"):
        loyalty_kit.redeem("c1", 13, "pos:redeem:1")
    assert [e.kind for e in loyalty_kit.ledger("c1")] == ["earn"]


def test_pending_points_cannot_be_redeemed(loyalty_kit):
    loyalty_kit.use_rules(make_rules(earning={"pending_days": 30}))
    loyalty_kit.ingest([purchase("r1", "c1", 5_000)])

    with pytest.raises(InvalidInputError, match="balance is 0 points"):
        loyalty_kit.redeem("c1", 1, "pos:redeem:1")


def test_lapsed_points_cannot_be_redeemed_even_before_the_expiry_job(loyalty_kit, clock):
    loyalty_kit.ingest([purchase("r1", "c1", 5_000)])
    clock.now = T0 + timedelta(days=400)

    with pytest.raises(InvalidInputError, match="balance is 0 points"):
        loyalty_kit.redeem("c1", 1, "pos:redeem:1")
    assert loyalty_kit.balance("c1").lapsed == 50


def test_a_redemption_sent_twice_spends_once(loyalty_kit):
    loyalty_kit.ingest([purchase("r1", "c1", 5_000)])

    first = loyalty_kit.redeem("c1", 20, "pos:redeem:1")
    second = loyalty_kit.redeem("c1", 20, "pos:redeem:1")

    assert (first.replayed, second.replayed) == (False, True)
    assert second.balance.available == 30 and second.events == ()
    assert [e.kind for e in loyalty_kit.ledger("c1")] == ["earn", "redeem"]


def test_a_source_event_cannot_be_reused_for_a_different_redemption(loyalty_kit):
    loyalty_kit.ingest([purchase("r1", "c1", 5_000)])
    loyalty_kit.redeem("c1", 20, "pos:redeem:1")

    with pytest.raises(InvalidInputError, match="already recorded for another movement"):
        loyalty_kit.redeem("c1", 25, "pos:redeem:1")


def test_a_redemption_reports_the_balance_left_and_publishes_the_change(loyalty_kit):
    loyalty_kit.ingest([purchase("r1", "c1", 5_000)])

    movement = loyalty_kit.redeem("c1", 20, "pos:redeem:1")

    assert movement.balance.available == 30
    assert movement.events == (PointsChanged(T0, loyalty_kit.member("c1"), "redeem", -20),)  # at the engine's clock


def test_a_positive_adjustment_is_a_new_lot_spendable_at_once(loyalty_kit):
    loyalty_kit.use_rules(make_rules(earning={"pending_days": 30}))

    loyalty_kit.ingest([purchase("r1", "c1", 5_000)])
    loyalty_kit.adjust("c1", 100, "console:adjust:1", "お詫び")

    balance = loyalty_kit.balance("c1")
    assert (balance.available, balance.pending) == (100, 50)
    assert loyalty_kit.ledger("c1")[-1].note == "お詫び"


def test_a_negative_adjustment_is_refused_beyond_the_balance(loyalty_kit):
    loyalty_kit.ingest([purchase("r1", "c1", 5_000)])

    loyalty_kit.adjust("c1", -30, "console:adjust:1")
    with pytest.raises(InvalidInputError, match="balance is 20 points"):
        loyalty_kit.adjust("c1", -30, "console:adjust:2")


def test_a_redemption_needs_a_reason(loyalty_kit):
    loyalty_kit.ingest([purchase("r1", "c1", 5_000)])

    with pytest.raises(InvalidInputError, match="give a reason"):
        loyalty_kit.redeem("c1", 1, "pos:redeem:1", reason="  ")
