"""Ranks: immediate upgrades on the qualifying purchase, downgrades only when a period ends (JST)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.events import RankChanged
from tests.core.loyalty.conftest import JST, T0, make_rules, purchase

NEW_YEAR = datetime(2027, 1, 1, tzinfo=JST)  # 2026-12-31 15:00 UTC


def test_spend_exactly_at_the_threshold_upgrades_at_once(loyalty_kit):
    outcome = loyalty_kit.ingest([purchase("r1", "c1", 20_000), purchase("r2", "c1", 30_000, T0 + timedelta(days=1))])

    assert loyalty_kit.rank("c1") == "silver"
    [event] = [e for e in outcome.events if isinstance(e, RankChanged)]
    assert (event.member_id, event.from_rank, event.to_rank) == (loyalty_kit.member("c1"), None, "silver")


def test_spend_one_yen_below_the_threshold_does_not_upgrade(loyalty_kit):
    loyalty_kit.ingest([purchase("r1", "c1", 49_999)])

    assert loyalty_kit.rank("c1") is None
    assert loyalty_kit.rank_history("c1") == []


def test_an_upgrade_is_recorded_with_its_reason_and_rule_version(loyalty_kit):
    loyalty_kit.ingest([purchase("r1", "c1", 150_000)])

    [change] = loyalty_kit.rank_history("c1")
    assert (change.from_rank, change.to_rank, change.rule_version) == (None, "gold", "test-1")
    assert change.reason == "purchase: 150,000 yen spent in 12 months"


def test_the_qualifying_purchase_earns_at_the_old_rank_and_the_next_one_at_the_new(loyalty_kit):
    loyalty_kit.ingest([purchase("r1", "c1", 50_000), purchase("r2", "c1", 10_000, T0 + timedelta(hours=1))])

    assert [(e.rank_code, e.points) for e in loyalty_kit.ledger("c1")] == [("regular", 500), ("silver", 150)]


def test_a_refund_below_the_threshold_keeps_the_rank_until_the_period_ends(loyalty_kit, clock):
    loyalty_kit.ingest([purchase("r1", "c1", 50_000)])
    clock.now = T0 + timedelta(days=30)
    loyalty_kit.ingest([purchase("r1", "c1", 50_000, refunds=[("f1", "refund", 1, clock.now)], version=1)])

    kept = loyalty_kit.rank("c1")
    loyalty_kit.run_period_end(NEW_YEAR)

    assert kept == "silver"
    assert loyalty_kit.rank("c1") == "regular"
    assert loyalty_kit.rank_history("c1")[-1].reason == "period ending 2027-01-01: 49,999 yen spent in 12 months"


def test_a_rank_period_ends_at_midnight_in_japan(loyalty_kit, clock):
    clock.now = datetime(2025, 12, 31, 23, 59, 59, tzinfo=JST)
    loyalty_kit.ingest([purchase("r1", "c1", 50_000, clock.now)])

    loyalty_kit.run_period_end(datetime(2026, 12, 31, 14, 59, 59, tzinfo=UTC))  # 23:59:59 JST: still 2026
    still = loyalty_kit.rank("c1")
    outcome = loyalty_kit.run_period_end(datetime(2026, 12, 31, 15, 0, tzinfo=UTC))  # 00:00 JST, 1 January 2027

    assert still == "silver"
    assert loyalty_kit.rank("c1") == "regular"
    assert outcome.rank_changes == 1


def test_a_member_who_still_qualifies_keeps_the_rank_at_the_period_end(loyalty_kit):
    loyalty_kit.ingest([purchase("r1", "c1", 60_000, datetime(2026, 1, 1, tzinfo=JST))])  # the first moment of 2026

    outcome = loyalty_kit.run_period_end(NEW_YEAR)

    assert outcome.rank_changes == 0 and loyalty_kit.rank("c1") == "silver"


def test_a_period_end_is_evaluated_only_once(loyalty_kit, clock):
    loyalty_kit.ingest([purchase("r1", "c1", 50_000)])
    loyalty_kit.run_period_end(NEW_YEAR - timedelta(days=1))  # evaluates the period ended 1 January 2026
    clock.now = NEW_YEAR + timedelta(hours=1)
    loyalty_kit.ingest([purchase("r1", "c1", 50_000, refunds=[("f1", "refund", 50_000, clock.now)], version=1)])

    first = loyalty_kit.run_period_end(NEW_YEAR + timedelta(hours=2))
    loyalty_kit.ingest([purchase("r2", "c1", 60_000, NEW_YEAR + timedelta(hours=3))])
    second = loyalty_kit.run_period_end(NEW_YEAR + timedelta(hours=4))

    assert (first.rank_changes, second.rank_changes) == (1, 0)
    assert [(c.from_rank, c.to_rank) for c in loyalty_kit.rank_history("c1")] == [
        (None, "silver"),
        ("silver", "regular"),
        ("regular", "silver"),
    ]


def test_ranks_can_be_judged_on_points_earned(loyalty_kit):
    levels = [
        {"code": "regular", "name_ja": "レギュラー", "name_en": "Regular", "threshold": 0, "multiplier": "1"},
        {"code": "silver", "name_ja": "シルバー", "name_en": "Silver", "threshold": 500, "multiplier": "1.5"},
    ]
    loyalty_kit.use_rules(make_rules(ranks={"measure": "points", "levels": levels}))

    loyalty_kit.ingest([purchase("r1", "c1", 49_900), purchase("r2", "c2", 50_000)])

    assert (loyalty_kit.rank("c1"), loyalty_kit.rank("c2")) == (None, "silver")
