"""Birthday benefits: in the birthday month in Japan, once a year per cluster, never to erased members."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from core.errors import ConfigError
from core.events import PointsChanged
from core.identity.claims import SourceRanking
from core.identity.service import MemberMerges
from core.loyalty import LoyaltyEngine
from core.members.audit import Actor
from core.records import Profile
from core.store.models import Coupon
from core.sync.payloads import PayloadSealer
from tests.core.loyalty.conftest import JST, T0, make_rules
from tests.core.loyalty.test_rank_messages import messages

# 15:00 UTC on 28 February 2026 is midnight on 1 March in Japan.
MARCH_IN_JAPAN = datetime(2026, 2, 28, 15, 0, tzinfo=UTC)
POINTS = {"benefit": "points", "points": 500}
TEMPLATE = {"code": "birthday", "kind": "birthday", "name_ja": "お誕生日クーポン", "name_en": "Birthday coupon",
            "value_type": "amount", "value": 1_000, "valid_days": 31}  # fmt: skip


@pytest.fixture
def kit(loyalty_kit):
    loyalty_kit.use_rules(make_rules(birthday=POINTS))
    return loyalty_kit


def born(kit, customer: str, birthday: date | None, source: str = "pos") -> None:
    kit.ingest([Profile(source=source, external_id=customer, source_updated_at=T0, name=f"会員 {customer}",
                        birthday=birthday)])  # fmt: skip


def run(kit, now: datetime):
    with kit.engine.begin() as conn:
        return kit.loyalty.run_birthday(conn, now, kit.directory.sealer)


def bonuses(kit, customer: str) -> list[tuple[str, int]]:
    return [(e.source_event, e.points) for e in kit.ledger(customer) if e.source_event.startswith("birthday:")]


def test_a_march_birthday_is_celebrated_when_march_begins_in_japan(kit):
    born(kit, "c1", date(1990, 3, 1))

    before = run(kit, MARCH_IN_JAPAN - timedelta(seconds=1))
    at = run(kit, MARCH_IN_JAPAN)

    member = kit.member("c1")
    assert (before.read, before.given) == (1, 0)
    assert (at.read, at.given) == (1, 1)
    assert at.events == (PointsChanged(MARCH_IN_JAPAN, member, "adjust", 500),)
    assert bonuses(kit, "c1") == [(f"birthday:2026:{member}", 500)]
    with kit.engine.begin() as conn:
        assert kit.loyalty.balance(conn, member).available == 500


def test_the_benefit_is_given_once_a_year(kit):
    born(kit, "c1", date(1990, 3, 1))
    run(kit, MARCH_IN_JAPAN)

    again = run(kit, MARCH_IN_JAPAN + timedelta(days=20))
    next_year = run(kit, datetime(2027, 3, 15, tzinfo=UTC))

    assert (again.read, again.given) == (0, 0)  # not even decrypted again this year
    assert next_year.given == 1
    assert [event for event, _ in bonuses(kit, "c1")] == [
        f"birthday:2026:{kit.member('c1')}",
        f"birthday:2027:{kit.member('c1')}",
    ]


def test_a_february_birthday_is_over_when_march_begins_in_japan(kit):
    born(kit, "feb", date(1988, 2, 29))
    born(kit, "none", None)

    late = run(kit, MARCH_IN_JAPAN)
    in_time = run(kit, MARCH_IN_JAPAN - timedelta(seconds=1))

    assert late.given == 0 and in_time.given == 1


def test_a_cluster_whose_merged_member_had_this_years_benefit_gets_none(kit):
    born(kit, "a", date(1990, 3, 10))
    run(kit, MARCH_IN_JAPAN)  # a gets this year's benefit
    born(kit, "b", date(1991, 3, 20))  # b joins later and is the same customer
    merges = MemberMerges(kit.engine, kit.directory, SourceRanking(("console",)), lambda events: None)
    merges.merge(kit.member("b"), kit.member("a"), actor=Actor("sato", "supervisor"), reason="same customer")

    after = run(kit, MARCH_IN_JAPAN + timedelta(days=1))

    assert (after.read, after.given) == (0, 0)
    assert len(bonuses(kit, "a")) == 1 and bonuses(kit, "b") == []


def test_merged_members_are_not_celebrated_apart_from_their_root(kit):
    born(kit, "a", date(1990, 3, 10))
    born(kit, "b", date(1990, 3, 10))
    merges = MemberMerges(kit.engine, kit.directory, SourceRanking(("console",)), lambda events: None)
    merges.merge(kit.member("a"), kit.member("b"), actor=Actor("sato", "supervisor"), reason="same customer")

    outcome = run(kit, MARCH_IN_JAPAN)

    assert (outcome.read, outcome.given) == (1, 1)
    assert len(bonuses(kit, "a")) == 1 and bonuses(kit, "b") == []


def test_an_erased_member_is_not_celebrated(kit):
    born(kit, "c1", date(1990, 3, 1))
    kit.directory.erase(kit.member("c1"))

    assert run(kit, MARCH_IN_JAPAN).read == 0


def test_without_a_birthday_section_nothing_is_given(loyalty_kit):
    born(loyalty_kit, "c1", date(1990, 3, 1))

    assert run(loyalty_kit, MARCH_IN_JAPAN).given == 0


def test_a_coupon_benefit_issues_one_coupon_of_the_template(loyalty_kit):
    loyalty_kit.use_rules(make_rules(coupons=[TEMPLATE], birthday={"benefit": "coupon", "coupon": "birthday"}))
    born(loyalty_kit, "c1", date(1990, 3, 1))

    run(loyalty_kit, MARCH_IN_JAPAN)
    again = run(loyalty_kit, MARCH_IN_JAPAN + timedelta(days=1))

    with loyalty_kit.engine.connect() as conn:
        coupons = conn.execute(select(Coupon.member_id, Coupon.value, Coupon.source_event)).all()
    member = loyalty_kit.member("c1")
    assert [tuple(c) for c in coupons] == [(member, 1_000, f"birthday:2026:{member}")]
    assert again.given == 0


def coupon_rules():
    """The birthday benefit is a coupon of 1,000 yen, valid 31 days, told to the ``shop`` instance."""
    return make_rules(coupons=[{**TEMPLATE, "email_destination": "shop"}],
                      birthday={"benefit": "coupon", "coupon": "birthday"})  # fmt: skip


def test_a_birthday_coupon_is_told_once_to_its_templates_destination(loyalty_kit):
    outbox = PayloadSealer(loyalty_kit.engine, loyalty_kit.directory.sealer.ring, "outbox")
    loyalty_kit.loyalty = LoyaltyEngine(coupon_rules(), loyalty_kit.clock, outbox=outbox)
    born(loyalty_kit, "cust-1", date(1990, 3, 14), source="shop")

    first = run(loyalty_kit, MARCH_IN_JAPAN)
    again = run(loyalty_kit, MARCH_IN_JAPAN + timedelta(days=1))

    member = loyalty_kit.member("cust-1", "shop")
    with loyalty_kit.engine.connect() as conn:
        [(coupon_id, code)] = conn.execute(select(Coupon.id, Coupon.code)).all()
    [(destination, kind, key, payload)] = messages(loyalty_kit, outbox)
    assert (first.given, first.messages, again.given, again.messages) == (1, 1, 0, 0)
    assert (destination, kind, key) == ("shop", "coupon.issued", f"coupon:{coupon_id}:email")
    assert datetime.fromisoformat(payload.pop("issued_at")) == MARCH_IN_JAPAN
    assert datetime.fromisoformat(payload.pop("expires_at")) == datetime(2026, 4, 2, tzinfo=JST)
    assert payload == {
        "member_id": str(member), "customer_id": "cust-1", "coupon_code": code, "template": "birthday",
        "name_ja": "お誕生日クーポン", "name_en": "Birthday coupon", "value_type": "amount", "value": 1_000,
        "max_uses": 1,
    }  # fmt: skip


def test_an_engine_without_an_outbox_refuses_a_birthday_coupon_to_tell_and_stores_nothing(loyalty_kit):
    loyalty_kit.use_rules(coupon_rules())
    born(loyalty_kit, "c1", date(1990, 3, 1))

    with pytest.raises(ConfigError, match=r"coupon\.issued messages to 'shop', but this loyalty engine has no outbox"):
        run(loyalty_kit, MARCH_IN_JAPAN)

    with loyalty_kit.engine.connect() as conn:
        assert conn.execute(select(Coupon.id)).all() == []
