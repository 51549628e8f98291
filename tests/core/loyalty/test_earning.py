"""Earning: points per purchase, rank and campaign multipliers, the pending window, idempotence."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, update

from core.events import PointsChanged
from core.store import models
from tests.core.loyalty.conftest import T0, make_rules, purchase

DOUBLE_ONLINE = {
    "code": "online-double", "name_ja": "オンライン2倍", "name_en": "Online double", "multiplier": "2",
    "starts_at": "2026-04-01T00:00:00+09:00", "ends_at": "2026-05-01T00:00:00+09:00", "channels": ["online"],
}  # fmt: skip


def test_a_purchase_earns_one_point_per_100_yen_rounded_down(loyalty_kit):
    loyalty_kit.ingest([purchase("r1", "c1", 1_299)])

    assert [(e.kind, e.points, e.rank_code, e.rule_version) for e in loyalty_kit.ledger("c1")] == [
        ("earn", 12, "regular", "test-1")
    ]
    assert loyalty_kit.balance("c1").available == 12


def test_sending_the_same_purchase_again_earns_nothing_more(loyalty_kit):
    loyalty_kit.ingest([purchase("r1", "c1", 5_000)])
    loyalty_kit.ingest([purchase("r1", "c1", 5_000)])
    again = loyalty_kit.ingest([purchase("r1", "c1", 5_000, version=1)])

    assert again.entries == 0 and again.events == ()
    assert [e.points for e in loyalty_kit.ledger("c1")] == [50]


def test_the_rank_multiplier_applies_and_the_product_is_rounded_down(loyalty_kit):
    loyalty_kit.ingest([purchase("r0", "c1", 100)])
    with loyalty_kit.engine.begin() as conn:
        conn.execute(update(models.Member).values(rank_code="silver"))

    loyalty_kit.ingest([purchase("r1", "c1", 1_399)])  # 13.99 × 1.5 = 20.985

    assert loyalty_kit.ledger("c1")[-1].points == 20
    assert loyalty_kit.ledger("c1")[-1].rank_code == "silver"


def test_a_campaign_multiplies_only_the_purchases_it_targets(loyalty_kit):
    loyalty_kit.use_rules(make_rules(campaigns=[DOUBLE_ONLINE]))

    loyalty_kit.ingest([
        purchase("o1", "c1", 1_000, channel="online"),
        purchase("r1", "c1", 1_000, T0 + timedelta(minutes=1), channel="store"),
        purchase("o2", "c1", 1_000, T0 + timedelta(days=30), channel="online"),  # 1 May: the campaign has ended
    ])  # fmt: skip

    earned = {e.source_event: (e.points, e.campaign_codes) for e in loyalty_kit.ledger("c1")}
    assert earned == {
        "purchase:pos:o1": (20, "online-double"),
        "purchase:pos:r1": (10, None),
        "purchase:pos:o2": (10, None),
    }


def test_a_segment_campaign_multiplies_only_for_members_of_the_segment(loyalty_kit):
    loyalty_kit.use_rules(make_rules(campaigns=[{**DOUBLE_ONLINE, "channels": [], "segments": ["vip"]}]))
    loyalty_kit.ingest([purchase("r1", "c1", 1_000), purchase("r2", "c2", 1_000)])
    row = {"member_id": loyalty_kit.member("c2"), "segment_code": "vip", "since": T0}
    with loyalty_kit.engine.begin() as conn:
        conn.execute(insert(models.MemberSegment).values(row))

    loyalty_kit.ingest([purchase("r3", "c1", 1_000, T0 + timedelta(hours=1))])
    loyalty_kit.ingest([purchase("r4", "c2", 1_000, T0 + timedelta(hours=1))])

    assert [e.points for e in loyalty_kit.ledger("c1")] == [10, 10]
    assert [e.points for e in loyalty_kit.ledger("c2")] == [10, 20]


def test_earning_on_the_amount_excluding_tax_when_the_rules_say_so(loyalty_kit):
    loyalty_kit.use_rules(make_rules(earning={"basis": "excluding_tax"}))

    loyalty_kit.ingest([purchase("r1", "c1", 1_100, tax=100)])

    assert loyalty_kit.ledger("c1")[0].points == 10


def test_points_are_pending_during_the_return_window_and_spendable_after_it(loyalty_kit, clock):
    loyalty_kit.use_rules(make_rules(earning={"pending_days": 14}))
    loyalty_kit.ingest([purchase("r1", "c1", 3_000)])

    held = loyalty_kit.balance("c1")
    clock.now = T0 + timedelta(days=14)
    released = loyalty_kit.balance("c1")

    assert (held.available, held.pending) == (0, 30)
    assert (released.available, released.pending) == (30, 0)
    assert loyalty_kit.ledger("c1")[0].status == "pending"


def test_the_daily_job_shows_released_lots_as_available(loyalty_kit, clock):
    loyalty_kit.use_rules(make_rules(earning={"pending_days": 14}))
    loyalty_kit.ingest([purchase("r1", "c1", 3_000)])

    loyalty_kit.run_expiry(T0 + timedelta(days=14))

    assert loyalty_kit.ledger("c1")[0].status == "available"


def test_a_guest_purchase_earns_nothing(loyalty_kit):
    guest = purchase("r1", "c1", 3_000).model_copy(update={"customer_external_id": None})

    outcome = loyalty_kit.ingest([guest])

    assert outcome.entries == 0 and loyalty_kit.ledger() == []


def test_earning_publishes_one_points_event_per_member(loyalty_kit):
    outcome = loyalty_kit.ingest([
        purchase("r1", "c1", 1_000), purchase("r2", "c1", 2_000, T0 + timedelta(minutes=5)), purchase("r3", "c2", 500),
    ])  # fmt: skip

    changes = sorted((e.member_id, e.kind, e.delta) for e in outcome.events if isinstance(e, PointsChanged))
    assert changes == sorted([(loyalty_kit.member("c1"), "earn", 30), (loyalty_kit.member("c2"), "earn", 5)])
