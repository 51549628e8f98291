"""Klaviyo resources → canonical records: names, phones, consent decisions and survey answers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.klaviyo.mapping import (
    event_to_survey_response,
    profile_to_consent,
    profile_to_profile,
    states_consent,
    survey_mapper,
)
from core.loyalty.offer_rules import Condition
from core.records import ConsentChange, Profile, SurveyResponse
from core.sync.contract import Rejected
from core.sync.mapping import map_record
from tests.connectors.klaviyo.factories import SANDBOX_SURVEYS

SATISFACTION, NPS = SANDBOX_SURVEYS
UPDATED = "2026-05-01T03:00:00+00:00"


def profile(*, marketing: dict[str, Any] | None = None, **attributes: Any) -> dict[str, Any]:
    """A profile resource as ``GET /api/profiles/?additional-fields[profile]=subscriptions`` serves it."""
    defaults = {"email": "hanako.yamada7@example.jp", "phone_number": "+819012345678", "first_name": "花子",
                "last_name": "山田", "updated": UPDATED, "properties": {}}  # fmt: skip
    subscriptions = {"email": {"marketing": {"consent": "NEVER_SUBSCRIBED", "suppression": [], **(marketing or {})}}}
    return {
        "type": "profile",
        "id": "01JPROFILE",
        "attributes": {**defaults, **attributes, "subscriptions": subscriptions},
    }


def event(properties: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """A survey event resource as ``GET /api/events/`` serves it."""
    return {
        "type": "event",
        "id": "EVT1",
        "attributes": {"datetime": "2026-05-02T01:02:03+00:00", "event_properties": properties},
        "relationships": {"profile": {"data": {"type": "profile", "id": "01JPROFILE"}}},
        **overrides,
    }


def test_profile_names_are_joined_family_name_first() -> None:
    record = profile_to_profile("klaviyo", profile(), "kana")
    assert isinstance(record, Profile)
    assert (record.name, record.email, record.phone) == ("山田 花子", "hanako.yamada7@example.jp", "+819012345678")
    assert record.source_updated_at == datetime(2026, 5, 1, 3, tzinfo=UTC)


def test_kana_comes_from_the_configured_custom_property() -> None:
    raw = profile(properties={"フリガナ": "ヤマダ\u3000ハナコ", "kana": "ignored"})
    assert profile_to_profile("klaviyo", raw, "フリガナ").kana == "ヤマダ\u3000ハナコ"
    assert profile_to_profile("klaviyo", raw, None).kana is None


def test_location_becomes_postal_code_and_address() -> None:
    location = {
        "zip": "150-0001",
        "region": "東京都",
        "city": "渋谷区",
        "address1": "神宮前1-2-3",
        "address2": "青山ビル101",
    }
    record = profile_to_profile("klaviyo", profile(location=location), None)
    assert (record.postal_code, record.address) == ("150-0001", "東京都渋谷区神宮前1-2-3 青山ビル101")


def test_a_hard_bounce_marks_the_address_unverified() -> None:
    bounced = {"consent": "SUBSCRIBED", "suppression": [{"reason": "HARD_BOUNCE", "timestamp": UPDATED}]}
    assert profile_to_profile("klaviyo", profile(marketing=bounced), None).email_verified is False
    assert profile_to_profile("klaviyo", profile(), None).email_verified is None


@pytest.mark.parametrize(("consent", "subscribed"), [("SUBSCRIBED", True), ("UNSUBSCRIBED", False)])
def test_consent_is_the_subscription_status_at_its_timestamp(consent: str, subscribed: bool) -> None:
    raw = profile(marketing={"consent": consent, "consent_timestamp": "2026-04-20T00:00:00+00:00"})
    record = profile_to_consent("klaviyo", raw)
    assert isinstance(record, ConsentChange)
    assert (record.channel, record.subscribed, record.customer_external_id) == ("email", subscribed, "01JPROFILE")
    assert record.changed_at == datetime(2026, 4, 20, tzinfo=UTC)
    assert record.external_id == "01JPROFILE:email:20260420T000000Z"


def test_a_later_opt_out_suppression_withdraws_consent() -> None:
    marketing = {"consent": "SUBSCRIBED", "consent_timestamp": "2026-04-20T00:00:00+00:00",
                 "suppression": [{"reason": "USER_SUPPRESSED", "timestamp": "2026-04-25T00:00:00+00:00"}]}  # fmt: skip
    record = profile_to_consent("klaviyo", profile(marketing=marketing))
    assert (record.subscribed, record.changed_at) == (False, datetime(2026, 4, 25, tzinfo=UTC))


def test_a_bounce_is_no_consent_decision() -> None:
    marketing = {"consent": "SUBSCRIBED", "consent_timestamp": "2026-04-20T00:00:00+00:00",
                 "suppression": [{"reason": "HARD_BOUNCE", "timestamp": "2026-04-25T00:00:00+00:00"}]}  # fmt: skip
    assert profile_to_consent("klaviyo", profile(marketing=marketing)).subscribed is True


def test_a_profile_that_never_subscribed_states_no_consent() -> None:
    assert not states_consent(profile())
    assert states_consent({"type": "profile"}), "a broken profile is kept, to be rejected"


def test_satisfaction_answers_and_japanese_comment_become_a_survey_response() -> None:
    raw = event(
        {"survey": "post-purchase", "満足度": 2, "スタッフの対応": "悪い", "comment": "レジの待ち時間が長かったです。"}
    )
    record = event_to_survey_response("klaviyo", raw, SATISFACTION)
    assert isinstance(record, SurveyResponse)
    assert (record.survey_code, record.customer_external_id, record.score) == ("post-purchase", "01JPROFILE", None)
    assert record.answers == {"satisfaction": "2", "staff": "悪い"}
    assert record.free_text == "レジの待ち時間が長かったです。"
    assert record.answered_at == datetime(2026, 5, 2, 1, 2, 3, tzinfo=UTC)


def test_a_low_satisfaction_answer_meets_the_loyalty_survey_rule() -> None:
    record = event_to_survey_response("klaviyo", event({"survey": "post-purchase", "満足度": 2}), SATISFACTION)
    assert Condition(op="<=", question="satisfaction", value=2).matches(record.score, record.answers)
    assert not Condition(op="<=", question="satisfaction", value=1).matches(record.score, record.answers)


def test_nps_score_is_the_response_score_and_the_metric_gives_the_survey_code() -> None:
    record = event_to_survey_response("klaviyo", event({"score": 9}), NPS)
    assert (record.survey_code, record.score, record.free_text, record.answers) == ("nps", 9, None, {})


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (event({"score": "とても良い"}), "score"),
        (event({"score": 11}), "score"),
        (event({"score": 5}, relationships={}), "relationships.profile"),
        (event({"score": 5}, attributes={"datetime": "昨日"}), "attributes.datetime"),
    ],
    ids=["score-not-a-number", "score-out-of-range", "no-profile", "bad-datetime"],
)
def test_garbage_survey_events_are_rejected_without_their_values(raw: dict[str, Any], field: str) -> None:
    outcome = map_record("klaviyo", raw, survey_mapper(NPS))
    assert isinstance(outcome, Rejected)
    assert field in outcome.reason
    assert "とても" not in outcome.reason and "昨日" not in outcome.reason


def test_birthday_comes_from_its_property_and_a_malformed_one_is_ignored() -> None:
    assert profile_to_profile("klaviyo", profile(properties={"birthday": "1990-04-01"}), None, "birthday").birthday
    assert profile_to_profile("klaviyo", profile(properties={"birthday": "4月1日"}), None, "birthday").birthday is None
