"""Anniversary benefits: in the month the cluster joined (Japan), from the first anniversary, once a year each."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from core.events import PointsChanged
from core.identity.claims import SourceRanking
from core.identity.service import MemberMerges
from core.loyalty.anniversary import give_anniversary_benefits, is_anniversary_month
from core.members.audit import Actor
from core.records import Profile
from core.store.models import Coupon
from core.sync.payloads import PayloadSealer
from tests.core.loyalty.conftest import JST, make_rules
from tests.core.loyalty.test_rank_messages import messages

POINTS = {"benefit": "points", "points": 300}
TEMPLATE = {"code": "anniversary", "kind": "anniversary", "name_ja": "入会記念クーポン",
            "name_en": "Anniversary coupon", "value_type": "amount", "value": 500, "valid_days": 30,
            "email_destination": "mailer"}  # fmt: skip
# 15:00 UTC on 31 May 2026 is midnight on 1 June in Japan.
JUNE_IN_JAPAN = datetime(2026, 5, 31, 15, 0, tzinfo=UTC)


@pytest.fixture
def kit(loyalty_kit):
    loyalty_kit.use_rules(make_rules(anniversary=POINTS))
    return loyalty_kit


def joins(kit, customer: str, at: datetime) -> None:
    """The customer becomes a member at ``at`` (the hub first hears of them then)."""
    kit.clock.now = at
    kit.ingest([Profile(source="pos", external_id=customer, source_updated_at=at, name=f"会員 {customer}")])


def run(kit, now: datetime, outbox: PayloadSealer | None = None):
    with kit.engine.begin() as conn:
        return give_anniversary_benefits(conn, kit.loyalty.rules, now, outbox)


def bonuses(kit, customer: str) -> list[tuple[str, int]]:
    return [(e.source_event, e.points) for e in kit.ledger(customer) if e.source_event.startswith("anniversary:")]


def test_the_benefit_comes_in_the_month_of_joining_in_japan_once_a_year(kit):
    joins(kit, "c1", datetime(2025, 6, 1, 0, 30, tzinfo=JST))  # still 31 May in UTC: June in Japan counts

    before = run(kit, JUNE_IN_JAPAN - timedelta(seconds=1))
    first = run(kit, JUNE_IN_JAPAN)
    again = run(kit, JUNE_IN_JAPAN + timedelta(days=20))

    member = kit.member("c1")
    assert (before.due, before.given) == (0, 0)
    assert (first.due, first.given) == (1, 1)
    assert first.events == (PointsChanged(JUNE_IN_JAPAN, member, "adjust", 300),)
    assert (again.due, again.given) == (1, 0)
    assert bonuses(kit, "c1") == [(f"anniversary:2026:{member}", 300)]
    kit.clock.now = JUNE_IN_JAPAN
    assert kit.balance("c1").available == 300


def test_a_member_who_joined_on_29_february_celebrates_in_february_leap_year_or_not(kit):
    joins(kit, "leap", datetime(2024, 2, 29, 12, 0, tzinfo=JST))

    march = run(kit, datetime(2025, 3, 1, tzinfo=JST))
    february = run(kit, datetime(2025, 2, 28, 23, 0, tzinfo=JST))  # 2025 has no 29 February
    leap_year = run(kit, datetime(2028, 2, 29, 9, 0, tzinfo=JST))

    member = kit.member("leap")
    assert (march.given, february.given, leap_year.given) == (0, 1, 1)
    assert bonuses(kit, "leap") == [(f"anniversary:2025:{member}", 300), (f"anniversary:2028:{member}", 300)]


def test_the_month_rule_covers_leap_day_and_starts_with_the_first_anniversary():
    assert not is_anniversary_month(date(2026, 6, 2), date(2026, 6, 20))  # the month of joining itself
    assert is_anniversary_month(date(2026, 6, 2), date(2027, 6, 1))
    assert is_anniversary_month(date(2024, 2, 29), date(2025, 2, 28))
    assert is_anniversary_month(date(2024, 2, 29), date(2028, 2, 29))
    assert not is_anniversary_month(date(2024, 2, 29), date(2024, 2, 29))
    assert not is_anniversary_month(date(2024, 2, 29), date(2025, 3, 1))


def test_a_merged_cluster_keeps_its_oldest_membership_and_gets_one_benefit(kit):
    joins(kit, "old", datetime(2023, 6, 10, tzinfo=JST))
    joins(kit, "new", datetime(2025, 9, 10, tzinfo=JST))
    merges = MemberMerges(kit.engine, kit.directory, SourceRanking(("console",)), lambda events: None)
    merges.merge(kit.member("new"), kit.member("old"), actor=Actor("sato", "supervisor"), reason="same customer")

    june = run(kit, JUNE_IN_JAPAN)
    september = run(kit, datetime(2026, 9, 15, tzinfo=JST))

    assert (june.due, june.given) == (1, 1)  # the root "new" joined in September, but its cluster in June 2023
    assert september.given == 0
    assert bonuses(kit, "new") == [(f"anniversary:2026:{kit.member('new')}", 300)] and bonuses(kit, "old") == []


def test_a_member_rewarded_before_a_merge_is_not_rewarded_again_through_its_new_root(kit):
    joins(kit, "a", datetime(2024, 6, 5, tzinfo=JST))
    joins(kit, "b", datetime(2025, 6, 20, tzinfo=JST))
    first = run(kit, JUNE_IN_JAPAN)
    merges = MemberMerges(kit.engine, kit.directory, SourceRanking(("console",)), lambda events: None)
    merges.merge(kit.member("a"), kit.member("b"), actor=Actor("sato", "supervisor"), reason="same customer")

    after = run(kit, JUNE_IN_JAPAN + timedelta(days=3))

    assert first.given == 2 and (after.due, after.given) == (1, 0)
    assert len(bonuses(kit, "a")) == 1 and len(bonuses(kit, "b")) == 1  # one each while they were two clusters


def test_a_coupon_benefit_is_issued_once_and_told_to_the_template_destination(loyalty_kit):
    sealer = PayloadSealer(loyalty_kit.engine, loyalty_kit.directory.sealer.ring, "outbox")
    loyalty_kit.use_rules(make_rules(coupons=[TEMPLATE], anniversary={"benefit": "coupon", "coupon": "anniversary"}))
    joins(loyalty_kit, "c1", datetime(2024, 6, 15, tzinfo=JST))

    first = run(loyalty_kit, JUNE_IN_JAPAN, sealer)
    again = run(loyalty_kit, JUNE_IN_JAPAN + timedelta(days=1), sealer)

    with loyalty_kit.engine.connect() as conn:
        coupons = conn.execute(select(Coupon.source_event, Coupon.member_id)).all()
    member = loyalty_kit.member("c1")
    assert (first.given, first.messages, again.given) == (1, 1, 0)
    assert coupons == [(f"anniversary:2026:{member}", member)]
    assert [(destination, kind) for destination, kind, _, _ in messages(loyalty_kit, sealer)] == [
        ("mailer", "coupon.issued")
    ]
