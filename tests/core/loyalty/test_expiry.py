"""Expiry: lots lapse at their date (Asia/Tokyo), what is left of them is written off once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.events import PointsChanged
from tests.core.loyalty.conftest import JST, T0, make_rules, purchase

# T0 is 1 April 2026, 10:00 JST: with a 365-day policy its points lapse when 2 April 2027 begins in Japan.
LAPSE = datetime(2027, 4, 2, 0, 0, tzinfo=JST)


def test_points_lapse_at_jst_midnight_after_the_last_day(loyalty_kit):
    loyalty_kit.ingest([purchase("r1", "c1", 5_000)])

    before = loyalty_kit.run_expiry(LAPSE - timedelta(microseconds=1))
    after = loyalty_kit.run_expiry(LAPSE)

    assert before.entries == 0
    assert after.entries == 1
    assert [(e.kind, e.points, e.source_event) for e in loyalty_kit.ledger("c1")][-1] == (
        "expire",
        -50,
        f"expire:{loyalty_kit.ledger('c1')[0].id}",
    )


def test_the_expiry_job_writes_off_only_what_is_left_of_a_lot(loyalty_kit, clock):
    loyalty_kit.ingest([purchase("r1", "c1", 5_000)])
    loyalty_kit.redeem("c1", 20, "pos:redeem:1")

    outcome = loyalty_kit.run_expiry(LAPSE)

    assert outcome.events == (PointsChanged(LAPSE, loyalty_kit.member("c1"), "expire", -30),)
    clock.now = LAPSE
    assert loyalty_kit.balance("c1").total == 0


def test_running_the_expiry_job_again_writes_nothing(loyalty_kit):
    loyalty_kit.ingest([purchase("r1", "c1", 5_000)])
    loyalty_kit.run_expiry(LAPSE)

    again = loyalty_kit.run_expiry(LAPSE + timedelta(days=1))

    assert again.entries == 0
    assert [e.kind for e in loyalty_kit.ledger("c1")] == ["earn", "expire"]


def test_end_of_month_points_lapse_when_the_month_after_ends_in_japan(loyalty_kit):
    loyalty_kit.use_rules(make_rules(expiry={"policy": "end_of_month", "months": 1}))
    # 31 March 23:30 UTC is already 1 April in Japan: the points lapse at the end of May, not April.
    loyalty_kit.ingest([purchase("r1", "c1", 5_000, datetime(2026, 3, 31, 23, 30, tzinfo=UTC))])

    assert loyalty_kit.ledger("c1")[0].expires_at == datetime(2026, 6, 1, tzinfo=JST)


def test_points_under_a_never_policy_do_not_lapse(loyalty_kit):
    loyalty_kit.use_rules(make_rules(expiry={"policy": "never"}))
    loyalty_kit.ingest([purchase("r1", "c1", 5_000)])

    outcome = loyalty_kit.run_expiry(T0 + timedelta(days=3650))

    assert outcome.entries == 0 and loyalty_kit.ledger("c1")[0].expires_at is None
