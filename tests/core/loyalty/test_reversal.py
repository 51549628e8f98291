"""Refunds and cancellations take back the points their purchase earned, in proportion, never twice."""

from __future__ import annotations

from datetime import timedelta

from tests.core.loyalty.conftest import T0, purchase

LATER = T0 + timedelta(days=3)


def reversals(kit, customer: str) -> list[tuple[str, int, int | None]]:
    return [(e.source_event, e.points, e.unrecovered_points) for e in kit.ledger(customer) if e.kind == "reverse"]


def test_a_partial_refund_takes_back_points_in_proportion(loyalty_kit):
    loyalty_kit.ingest([purchase("r1", "c1", 10_000)])

    loyalty_kit.ingest([purchase("r1", "c1", 10_000, status="partially_refunded",
                                 refunds=[("f1", "refund", 2_500, LATER)], version=1)])  # fmt: skip

    assert reversals(loyalty_kit, "c1") == [("refund:pos:f1", -25, None)]
    assert loyalty_kit.balance("c1").available == 75


def test_partial_refunds_add_up_to_the_same_points_in_either_order(loyalty_kit):
    first, second = ("f1", "refund", 333, LATER), ("f2", "refund", 333, LATER + timedelta(hours=1))
    loyalty_kit.ingest([purchase("r1", "c1", 1_000), purchase("r2", "c2", 1_000)])  # 10 points each

    loyalty_kit.ingest([purchase("r1", "c1", 1_000, refunds=[first], version=1)])
    loyalty_kit.ingest([purchase("r1", "c1", 1_000, refunds=[first, second], version=2)])
    loyalty_kit.ingest([purchase("r2", "c2", 1_000, refunds=[("g2", *second[1:])], version=1)])
    loyalty_kit.ingest([purchase("r2", "c2", 1_000, refunds=[("g1", *first[1:]), ("g2", *second[1:])], version=2)])

    assert loyalty_kit.balance("c1").available == loyalty_kit.balance("c2").available == 3  # floor(10 × 334 / 1000)


def test_a_cancellation_takes_back_every_point_left(loyalty_kit):
    loyalty_kit.ingest([purchase("r1", "c1", 10_000, refunds=[("f1", "refund", 2_500, LATER)])])

    loyalty_kit.ingest([purchase("r1", "c1", 10_000, status="cancelled", version=1,
                                 refunds=[("f1", "refund", 2_500, LATER), ("x1", "cancel", 0, LATER)])])  # fmt: skip

    assert [points for _, points, _ in reversals(loyalty_kit, "c1")] == [-25, -75]
    assert loyalty_kit.balance("c1").total == 0


def test_a_purchase_reported_refunded_without_adjustments_is_voided(loyalty_kit):
    loyalty_kit.ingest([purchase("r1", "c1", 4_000)])

    loyalty_kit.ingest([purchase("r1", "c1", 4_000, status="refunded", version=1)])

    assert reversals(loyalty_kit, "c1") == [("void:pos:r1", -40, None)]


def test_a_purchase_first_seen_cancelled_earns_and_reverses_in_one_batch(loyalty_kit):
    loyalty_kit.ingest([purchase("r1", "c1", 4_000, status="cancelled", refunds=[("x1", "cancel", 4_000, LATER)])])

    assert [(e.kind, e.points) for e in loyalty_kit.ledger("c1")] == [("earn", 40), ("reverse", -40)]


def test_a_refund_of_points_already_spent_takes_what_is_left_and_records_the_rest(loyalty_kit):
    loyalty_kit.ingest([purchase("r1", "c1", 10_000)])
    loyalty_kit.redeem("c1", 80, "pos:redeem:1")

    loyalty_kit.ingest([purchase("r1", "c1", 10_000, status="cancelled", refunds=[("x1", "cancel", 0, LATER)],
                                 version=1)])  # fmt: skip

    assert reversals(loyalty_kit, "c1") == [("cancel:pos:x1", -20, 80)]
    assert loyalty_kit.balance("c1").total == 0


def test_a_reversal_takes_from_the_other_lots_once_its_own_is_spent(loyalty_kit):
    loyalty_kit.ingest([purchase("r1", "c1", 10_000), purchase("r2", "c1", 5_000, T0 + timedelta(days=1))])
    loyalty_kit.redeem("c1", 100, "pos:redeem:1")  # all of r1's lot (it lapses first)

    loyalty_kit.ingest([purchase("r1", "c1", 10_000, refunds=[("f1", "refund", 5_000, LATER)], version=1)])

    assert reversals(loyalty_kit, "c1") == [("refund:pos:f1", -50, None)]
    assert loyalty_kit.balance("c1").total == 0


def test_sending_a_refund_again_takes_nothing_more(loyalty_kit):
    refunded = purchase("r1", "c1", 10_000, refunds=[("f1", "refund", 1_000, LATER)])
    loyalty_kit.ingest([refunded])

    again = loyalty_kit.ingest([refunded, refunded.model_copy(update={"source_updated_at": LATER})])

    assert again.entries == 0
    assert len(reversals(loyalty_kit, "c1")) == 1
