"""A rules change: the dry run shows rank moves and balance changes and writes nothing; applying never earns twice."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.errors import ConfigError
from core.loyalty.rule_change import DueDowngrade, preview_rules
from core.store import models
from tests.core.loyalty.conftest import BASE_RULES, make_rules, purchase

LADDER = BASE_RULES["ranks"]["levels"]
# silver from 30,000 yen (was 50,000), gold from 200,000 (was 150,000)
EASIER_SILVER = make_rules(
    version="test-2",
    ranks={"levels": [LADDER[0], {**LADDER[1], "threshold": 30_000}, {**LADDER[2], "threshold": 200_000}]},
)


@pytest.fixture
def customers(loyalty_kit):
    """a: 60,000 yen (silver), b: 40,000 (regular), c: 160,000 (gold)."""
    loyalty_kit.ingest([purchase("r1", "a", 60_000), purchase("r2", "b", 40_000), purchase("r3", "c", 160_000)])
    return loyalty_kit


def state(kit) -> tuple:
    """Everything a rules change could write: ledger, rank history, ranks."""
    with kit.engine.connect() as conn:
        ledger = conn.execute(select(func.count()).select_from(models.PointLedgerEntry)).scalar_one()
        history = conn.execute(select(func.count()).select_from(models.RankChange)).scalar_one()
        ranks = sorted(conn.execute(select(models.Member.id, models.Member.rank_code)).all())
    return ledger, history, ranks


def preview(kit, new):
    return preview_rules(kit.engine, kit.loyalty.rules, new, kit.clock())


def apply(kit, new):
    with kit.engine.begin() as conn:
        return kit.loyalty.apply_rules(conn, new)


def test_the_dry_run_shows_the_upgrades_and_the_downgrades_due_and_writes_nothing(customers):
    before = state(customers)

    report = preview(customers, EASIER_SILVER)

    assert state(customers) == before
    assert [(e.member_id, e.from_rank, e.to_rank) for e in report.rank_changes] == [
        (customers.member("b"), None, "silver")  # no rank yet: the lowest
    ]
    assert report.due_downgrades == [DueDowngrade(customers.member("c"), "gold", "silver", 160_000)]
    assert report.balance_changes == {} and report.entries == 0
    assert (report.from_version, report.to_version) == ("test-1", "test-2")


def test_applying_does_what_the_dry_run_showed_once(customers):
    shown = preview(customers, EASIER_SILVER)

    applied = apply(customers, EASIER_SILVER)
    customers.use_rules(EASIER_SILVER)
    again = apply(customers, EASIER_SILVER)

    assert [(e.member_id, e.to_rank) for e in applied.rank_changes] == [
        (e.member_id, e.to_rank) for e in shown.rank_changes
    ]
    assert customers.rank("b") == "silver" and customers.rank("c") == "gold"
    assert (again.entries, again.rank_changes, again.balance_changes) == (0, [], {})


def test_applying_earns_a_missed_purchase_once_and_never_re_earns_the_others(customers):
    with customers.engine.begin() as conn:  # stored without loyalty, as if the engine had been down
        customers.sink.apply(conn, [purchase("r4", "a", 10_000)])
    ledger_before = len(customers.ledger())

    shown = preview(customers, EASIER_SILVER)
    applied = apply(customers, EASIER_SILVER)
    customers.use_rules(EASIER_SILVER)
    again = apply(customers, EASIER_SILVER)

    assert shown.balance_changes == applied.balance_changes == {customers.member("a"): 150}  # 100 × silver 1.5
    assert len(customers.ledger()) == ledger_before + 1
    assert again.entries == 0
    with customers.engine.begin() as conn:
        verified = customers.loyalty.recompute(conn, verify=True)
    assert verified.differences == [] and verified.other_rule_versions == 3


def test_a_rank_the_new_ladder_lacks_is_judged_again_at_once(customers):
    without_gold = make_rules(version="test-3", ranks={"levels": LADDER[:2]})

    report = preview(customers, without_gold)

    assert [(e.member_id, e.from_rank, e.to_rank) for e in report.rank_changes] == [
        (customers.member("c"), "gold", "silver")
    ]
    assert "rank gold retired" in report.rank_changes[0].reason


def test_changed_rules_under_the_same_version_are_refused(customers):
    same_version = make_rules(ranks={"levels": EASIER_SILVER.model_dump()["ranks"]["levels"]})

    with pytest.raises(ConfigError, match="keep version 'test-1'"):
        preview(customers, same_version)
