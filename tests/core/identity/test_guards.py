"""Over-merge guards: placeholder and dummy values never match, shared values stop matching, priorities."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from core.identity.policy import IdentifierLimits, IdentityPolicy
from core.records import Profile

JST = timezone(timedelta(hours=9))
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=JST)
HANAKO = {"name": "山田 花子", "kana": "ヤマダ ハナコ", "birthday": date(1990, 4, 1)}
TARO = {"name": "佐藤 太郎", "kana": "サトウ タロウ", "birthday": date(1985, 7, 7)}
JIRO = {"name": "鈴木 次郎", "kana": "スズキ ジロウ", "birthday": date(1979, 1, 15)}


def profile(source: str, external_id: str, minute: int = 0, **fields: Any) -> Profile:
    return Profile(source=source, external_id=external_id, source_updated_at=T0 + timedelta(minutes=minute), **fields)


def verified(email: str) -> dict[str, Any]:
    return {"email": email, "email_verified": True}


# ── placeholder values ─────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("placeholder", ["unknown", "N/A", " null ", "-", "なし", "0000-00-0000", "090-0000-0000", "0"])
def test_placeholder_phones_are_not_identifiers(placeholder):
    assert not IdentityPolicy().usable_phone(placeholder)


@pytest.mark.parametrize("phone", ["090-1234-5678", "０３−１２３４−５６７８", "+81 6 6000 1000", "12-34"])
def test_phone_numbers_and_mistyped_ones_are_not_placeholders(phone):
    assert IdentityPolicy().usable_phone(phone)


@pytest.mark.parametrize(
    "placeholder", ["unknown", "NONE", "-", "不明", "noreply@shop.example.jp", "No-Email@x.jp", "dummy@x.jp"]
)
def test_placeholder_emails_are_not_identifiers(placeholder):
    assert not IdentityPolicy().usable_email(placeholder)


@pytest.mark.parametrize("email", ["hanako@example.jp", "Nori.Reply@example.jp", "hanako@"])
def test_addresses_and_mistyped_ones_are_not_placeholders(email):
    assert IdentityPolicy().usable_email(email)


def test_a_placeholder_phone_is_dropped_and_the_profile_stored(matching):
    result = matching.ingest(profile("pos", "c1", **HANAKO, phone="0000-00-0000", email="hanako@example.jp"))

    assert result.refused == ()
    stored = matching.profile("pos", "c1")
    assert (stored.phone, stored.email) == (None, "hanako@example.jp")


def test_a_placeholder_email_is_dropped_and_the_profile_stored(matching):
    result = matching.ingest(profile("pos", "c1", **HANAKO, email="unknown", phone="090-1234-5678"))

    assert result.refused == ()
    stored = matching.profile("pos", "c1")
    assert (stored.email, stored.phone) == (None, "+819012345678")


def test_two_people_with_the_same_placeholder_phone_stay_two_members(matching):
    matching.ingest(profile("pos", "c1", **HANAKO, phone="090-0000-0000"))
    matching.ingest(profile("pos", "c2", phone="090-0000-0000"))

    assert matching.root("pos", "c1") != matching.root("pos", "c2")
    assert matching.reviews() == []


def test_two_people_with_a_no_reply_address_stay_two_members(matching):
    matching.ingest(profile("shop", "g1", **HANAKO, **verified("noreply@shop.example.jp")))
    matching.ingest(profile("shop", "g2", **TARO, **verified("noreply@shop.example.jp")))

    assert matching.root("shop", "g1") != matching.root("shop", "g2")


def test_a_phone_that_is_not_a_placeholder_but_invalid_still_quarantines_the_profile(matching):
    result = matching.ingest(profile("pos", "c1", **HANAKO, phone="12-34"))

    assert [(item.external_id, item.reason) for item in result.refused] == [("c1", "invalid phone number")]


# ── configured dummies ─────────────────────────────────────────────────────────────────────────────


def test_a_configured_shop_email_is_dropped_however_it_is_written(matching):
    matching.policy = IdentityPolicy(blocked_emails=("Shop@Example.jp",))
    matching.ingest(profile("pos", "c1", **HANAKO, **verified(" SHOP@example.jp ")))
    matching.ingest(profile("pos", "c2", **TARO, **verified("shop@example.jp")))

    assert matching.profile("pos", "c1").email is None
    assert matching.root("pos", "c1") != matching.root("pos", "c2")


def test_a_configured_email_pattern_drops_every_address_it_covers(matching):
    matching.policy = IdentityPolicy(blocked_emails=("guest-*@shop.example.jp",))
    matching.ingest(profile("pos", "c1", **HANAKO, **verified("guest-0042@shop.example.jp")))
    matching.ingest(profile("pos", "c2", **TARO, **verified("hanako@shop.example.jp")))

    assert matching.profile("pos", "c1").email is None
    assert matching.profile("pos", "c2").email == "hanako@shop.example.jp"


def test_a_configured_shop_phone_is_dropped_in_any_notation(matching):
    matching.policy = IdentityPolicy(blocked_phones=("03-1234-5678",))
    matching.ingest(profile("pos", "c1", **HANAKO, phone="+81 3 1234 5678"))
    matching.ingest(profile("pos", "c2", phone="０３−１２３４−５６７８"))

    assert matching.profile("pos", "c1").phone is None
    assert matching.root("pos", "c1") != matching.root("pos", "c2")


# ── limits per identifier ──────────────────────────────────────────────────────────────────────────


def test_an_email_held_by_two_members_no_longer_matches_and_asks_about_both(matching):
    matching.ingest(profile("shop", "g1", **HANAKO, **verified("family@example.jp")))
    matching.ingest(profile("pos", "c1", **TARO, email="family@example.jp"))  # unverified: its own member

    matching.ingest(profile("app", "a1", **verified("family@example.jp")))

    roots = {matching.root("shop", "g1"), matching.root("pos", "c1"), matching.root("app", "a1")}
    assert len(roots) == 3
    over_limit = [item for item in matching.reviews() if item[0] == "identifier_over_limit"]
    assert over_limit == [("identifier_over_limit", "email", ("app", "a1"))] * 2


def test_a_phone_over_its_configured_limit_goes_to_review_even_under_the_same_name(matching):
    matching.policy = IdentityPolicy(max_members_per_identifier=IdentifierLimits(phone=1))
    matching.ingest(profile("pos", "c1", **HANAKO, phone="03-1234-5678"))
    matching.ingest(profile("pos", "c2", **TARO, phone="03-1234-5678"))

    matching.ingest(profile("shop", "g1", **HANAKO, phone="03-1234-5678"))

    assert matching.root("shop", "g1") not in {matching.root("pos", "c1"), matching.root("pos", "c2")}
    assert ("identifier_over_limit", "phone", ("shop", "g1")) in matching.reviews()


def test_a_family_phone_within_the_default_limit_still_joins_the_member_of_the_same_name(matching):
    matching.ingest(profile("pos", "c1", **HANAKO, phone="03-1234-5678"))
    matching.ingest(profile("pos", "c2", **TARO, phone="03-1234-5678"))
    matching.ingest(profile("pos", "c3", **JIRO, phone="03-1234-5678"))

    matching.ingest(profile("shop", "g1", **TARO, phone="03-1234-5678"))

    assert matching.root("shop", "g1") == matching.root("pos", "c2")


def test_a_value_shared_by_many_members_asks_about_a_few_of_them(matching):
    matching.policy = IdentityPolicy(max_members_per_identifier=IdentifierLimits(phone=1))
    people = [{"name": f"会員 {n}", "birthday": date(1980, 1, n + 1)} for n in range(6)]
    for n, person in enumerate(people):
        matching.ingest(profile("pos", f"c{n}", **person, phone="03-1234-5678"))

    matching.ingest(profile("shop", "g1", phone="03-1234-5678"))

    asked = [item for item in matching.reviews() if item[2] == ("shop", "g1")]
    assert len(asked) == 3


# ── priority ───────────────────────────────────────────────────────────────────────────────────────


def test_an_identifier_left_out_of_match_on_never_matches(matching):
    matching.policy = IdentityPolicy(match_on=("phone",))
    matching.ingest(profile("shop", "g1", **HANAKO, **verified("hanako@example.jp")))
    matching.ingest(profile("app", "a1", **verified("hanako@example.jp")))

    assert matching.root("app", "a1") != matching.root("shop", "g1")
    assert matching.reviews() == []


@pytest.mark.parametrize(
    ("match_on", "kind"), [(("email", "phone"), "unverified_email"), (("phone", "email"), "phone_name_differs")]
)
def test_of_two_weak_matches_with_one_member_the_review_item_names_the_first_in_priority(matching, match_on, kind):
    matching.policy = IdentityPolicy(match_on=match_on)
    matching.ingest(profile("shop", "g1", **HANAKO, email="hanako@example.jp", phone="03-1234-5678"))
    matching.ingest(profile("pos", "c1", **TARO, email="hanako@example.jp", phone="03-1234-5678"))

    assert [item[0] for item in matching.reviews()] == [kind]


# ── the policy itself ──────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    "settings",
    [
        {"match_on": ["email", "email"]},
        {"match_on": ["fax"]},
        {"blocked_phones": ["12-34"]},
        {"blocked_emails": ["not an address"]},
        {"max_members_per_identifier": {"phone": 0}},
        {"max_members_per_identifier": {"fax": 2}},
        {"trusted_email_source": ["shop"]},
    ],
)
def test_a_policy_refuses_settings_that_make_no_sense(settings):
    with pytest.raises(ValidationError):
        IdentityPolicy.model_validate(settings)
