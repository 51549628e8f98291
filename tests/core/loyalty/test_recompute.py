"""Recompute rebuilds balances and ranks from the history: no difference after ordinary use, every tamper found."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, select, update

from core.store import models
from tests.core.loyalty.conftest import T0, purchase

LATER = T0 + timedelta(days=2)


def recompute(kit, *, verify: bool):
    with kit.engine.begin() as conn:
        return kit.loyalty.recompute(conn, verify=verify)


def ordinary_history(kit, clock) -> None:
    kit.ingest([purchase("r1", "c1", 30_000), purchase("r2", "c1", 25_000, T0 + timedelta(hours=1)),
                purchase("r3", "c2", 8_000, T0 + timedelta(hours=2))])  # fmt: skip
    kit.ingest([purchase("r3", "c2", 8_000, T0 + timedelta(hours=2), refunds=[("f1", "refund", 3_000, LATER)],
                         version=1)])  # fmt: skip
    kit.redeem("c1", 300, "pos:redeem:1")
    kit.adjust("c2", 7, "console:adjust:1")
    kit.run_expiry(T0 + timedelta(days=400))


def test_an_ordinary_history_recomputes_without_differences(loyalty_kit, clock):
    ordinary_history(loyalty_kit, clock)

    report = recompute(loyalty_kit, verify=True)

    assert report.differences == []
    assert (report.purchases, report.clusters) == (3, 2)


def test_a_purchase_stored_without_its_points_is_found_and_then_repaired(loyalty_kit):
    with loyalty_kit.engine.begin() as conn:
        loyalty_kit.sink.apply(conn, [purchase("r1", "c1", 5_000)])

    found = recompute(loyalty_kit, verify=True)
    repaired = recompute(loyalty_kit, verify=False)

    assert [(d.subject, d.reference) for d in found.differences] == [("earn", "purchase:pos:r1")]
    assert repaired.repaired_entries == 1 and repaired.differences == []
    assert loyalty_kit.balance("c1").available == 50


def test_a_refund_stored_without_its_reversal_is_found(loyalty_kit):
    loyalty_kit.ingest([purchase("r1", "c1", 5_000)])
    with loyalty_kit.engine.begin() as conn:
        loyalty_kit.sink.apply(conn, [purchase("r1", "c1", 5_000, refunds=[("f1", "refund", 500, LATER)], version=1)])

    report = recompute(loyalty_kit, verify=True)

    assert [(d.subject, d.reference) for d in report.differences] == [("reversal", "refund:pos:f1")]


def test_an_earn_entry_that_does_not_match_the_rules_is_found(loyalty_kit):
    loyalty_kit.ingest([purchase("r1", "c1", 5_000)])
    with loyalty_kit.engine.begin() as conn:
        conn.execute(update(models.PointLedgerEntry).values(points=55))

    report = recompute(loyalty_kit, verify=True)

    assert [(d.subject, d.expected, d.found) for d in report.differences] == [("earn", "50 points", "55")]


def test_a_lot_overdrawn_behind_the_engines_back_is_found(loyalty_kit):
    loyalty_kit.ingest([purchase("r1", "c1", 5_000)])
    loyalty_kit.redeem("c1", 50, "pos:redeem:1")
    with loyalty_kit.engine.begin() as conn:
        entries = dict(conn.execute(select(models.PointLedgerEntry.kind, models.PointLedgerEntry.id)).all())
        row = {"entry_id": entries["redeem"], "lot_id": entries["earn"], "points": 10}
        conn.execute(update(models.PointLotConsumption).values(points=60).where(
            models.PointLotConsumption.entry_id == row["entry_id"]))  # fmt: skip

    subjects = {d.subject for d in recompute(loyalty_kit, verify=True).differences}

    assert subjects == {"balance", "lot", "entry"}


def test_a_rank_below_what_the_spend_earns_is_found_and_then_raised(loyalty_kit):
    loyalty_kit.ingest([purchase("r1", "c1", 60_000)])
    with loyalty_kit.engine.begin() as conn:
        conn.execute(update(models.Member).values(rank_code="regular"))
        history = {"member_id": loyalty_kit.member("c1"), "from_rank": "silver", "to_rank": "regular",
                   "reason": "by hand", "rule_version": "test-1", "changed_at": LATER}  # fmt: skip
        conn.execute(insert(models.RankChange).values(history))

    found = recompute(loyalty_kit, verify=True)
    repaired = recompute(loyalty_kit, verify=False)

    assert [(d.subject, d.expected) for d in found.differences] == [("rank", "at least silver")]
    assert repaired.repaired_ranks == 1 and repaired.differences == []
    assert loyalty_kit.rank("c1") == "silver"


def test_entries_written_under_other_rules_are_counted_not_judged(loyalty_kit):
    loyalty_kit.ingest([purchase("r1", "c1", 5_000)])
    with loyalty_kit.engine.begin() as conn:
        conn.execute(update(models.PointLedgerEntry).values(points=99, rule_version="2025.9"))

    report = recompute(loyalty_kit, verify=True)

    assert report.other_rule_versions == 1
    assert [d.subject for d in report.differences] == []
