"""Zendesk users and ticket bundles become profiles and inquiries; what does not fit is rejected without PII."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.zendesk.mapping import ticket_mapper, user_to_profile
from core.records import Inquiry, Profile
from core.sync.contract import Rejected
from core.sync.mapping import map_record

REQUESTER, AGENT = 381_000_000_007, 380_000_000_001
by_tag = ticket_mapper(None, "category_")
by_field = ticket_mapper(360_001, "category_")


def a_user(**changes: Any) -> dict[str, Any]:
    user = {"id": REQUESTER, "name": "山田 太郎", "email": "taro.yamada7@example.jp", "phone": "090-1234-5678",
            "role": "end-user", "verified": True, "updated_at": "2025-07-01T10:00:00Z"}  # fmt: skip
    return {**user, **changes}


def a_ticket(**changes: Any) -> dict[str, Any]:
    ticket = {
        "id": 1042, "subject": "ポイントが付与されていない", "status": "open", "requester_id": REQUESTER,
        "via": {"channel": "voice"}, "tags": ["category_points", "vip"],
        "custom_fields": [{"id": 360_001, "value": "points"}],
        "created_at": "2025-07-01T10:00:00Z", "updated_at": "2025-07-02T09:30:00Z",
        "comments": [
            {"id": 1, "author_id": AGENT, "body": "お電話にて受付。ポイント未付与の件。", "public": False,
             "created_at": "2025-07-01T10:00:00Z"},
            {"id": 2, "author_id": REQUESTER, "body": "レシートは渋谷店です。", "created_at": "2025-07-01T12:00:00Z"},
            {"id": 3, "author_id": -1, "body": "自動応答: 受け付けました。", "created_at": "2025-07-01T12:01:00Z"},
        ],
        "comment_authors": {AGENT: "agent", REQUESTER: "end-user"},
        "metric_set": {"solved_at": None},
    }  # fmt: skip
    return {**ticket, **changes}


def test_an_end_user_keeps_the_name_as_the_agent_typed_it() -> None:
    profile = user_to_profile("zd", a_user())
    assert isinstance(profile, Profile)
    assert (profile.external_id, profile.name, profile.email, profile.phone) == (
        str(REQUESTER),
        "山田 太郎",
        "taro.yamada7@example.jp",
        "090-1234-5678",
    )
    assert profile.email_verified is True
    assert profile.source_updated_at == datetime(2025, 7, 1, 10, tzinfo=UTC)


def test_a_caller_without_an_email_has_no_verified_flag() -> None:
    profile = user_to_profile("zd", a_user(email=None, verified=False, phone="+81312345678"))
    assert profile.email is None and profile.email_verified is None and profile.phone == "+81312345678"


def test_a_ticket_becomes_an_inquiry_with_its_thread() -> None:
    inquiry = by_tag("zd", a_ticket())
    assert isinstance(inquiry, Inquiry)
    assert inquiry.customer_external_id == str(REQUESTER)
    assert (inquiry.channel, inquiry.category, inquiry.status) == ("phone", "points", "open")
    assert inquiry.subject == "ポイントが付与されていない"
    assert [(m.external_id, m.author_kind) for m in inquiry.messages] == [
        ("1", "agent"),
        ("2", "member"),
        ("3", "system"),
    ]
    assert inquiry.messages[1].body == "レシートは渋谷店です。"
    assert inquiry.opened_at == datetime(2025, 7, 1, 10, tzinfo=UTC) and inquiry.closed_at is None


@pytest.mark.parametrize(
    ("channel", "expected"),
    [("voice", "phone"), ("email", "email"), ("native_messaging", "chat"), ("chat", "chat"), ("web", "web"),
     ("api", "web"), ("rule", "web")],
)  # fmt: skip
def test_the_channel_comes_from_via(channel: str, expected: str) -> None:
    assert by_tag("zd", a_ticket(via={"channel": channel})).channel == expected  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("status", "expected"),
    [("new", "open"), ("open", "open"), ("pending", "pending"), ("hold", "pending"), ("solved", "solved"),
     ("closed", "closed")],
)  # fmt: skip
def test_six_zendesk_statuses_fold_onto_four(status: str, expected: str) -> None:
    assert by_tag("zd", a_ticket(status=status)).status == expected  # type: ignore[attr-defined]


def test_a_solved_ticket_closes_when_its_metrics_say_it_was_solved() -> None:
    solved = by_tag("zd", a_ticket(status="solved", metric_set={"solved_at": "2025-07-01T15:00:00Z"}))
    assert solved.closed_at == datetime(2025, 7, 1, 15, tzinfo=UTC)  # type: ignore[attr-defined]
    unmeasured = by_tag("zd", a_ticket(status="closed", metric_set=None))
    assert unmeasured.closed_at == datetime(2025, 7, 2, 9, 30, tzinfo=UTC)  # type: ignore[attr-defined]


def test_the_category_comes_from_the_ticket_field_when_one_is_configured() -> None:
    ticket = a_ticket(custom_fields=[{"id": 360_001, "value": "returns"}])
    assert by_field("zd", ticket).category == "returns"  # type: ignore[attr-defined]
    assert by_tag("zd", ticket).category == "points"  # type: ignore[attr-defined]
    assert by_tag("zd", a_ticket(tags=["vip"])).category is None  # type: ignore[attr-defined]


def test_blank_comments_are_left_out_of_the_thread() -> None:
    ticket = a_ticket(comments=[{"id": 9, "author_id": AGENT, "body": "  ", "created_at": "2025-07-01T10:00:00Z"}])
    assert by_tag("zd", ticket).messages == ()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "broken",
    [{"requester_id": "山田様"}, {"status": "deleted"}, {"updated_at": "昨日"}, {"via": "電話"}],
    ids=["requester-name", "deleted", "timestamp", "via"],
)
def test_a_ticket_that_does_not_fit_is_rejected_without_its_values(broken: dict[str, Any]) -> None:
    rejected = map_record("zd", a_ticket(**broken), by_tag)
    assert isinstance(rejected, Rejected)
    assert rejected.external_id == "1042"
    assert not any(value in rejected.reason for value in ("山田", "昨日", "電話", "渋谷"))
    assert "レシート" in rejected.payload


def test_a_user_without_an_id_is_rejected_and_names_the_field() -> None:
    raw = a_user()
    del raw["id"]
    rejected = map_record("zd", raw, user_to_profile)
    assert isinstance(rejected, Rejected)
    assert rejected.external_id is None and rejected.reason.startswith("id:")
    assert "山田" not in rejected.reason


def test_the_placeholder_name_of_a_user_the_hub_made_is_not_passed_on_as_a_name() -> None:
    made = user_to_profile("zd", a_user(name="会員 M-000123", external_id="M-000123", email=None, phone=None))
    assert made.name is None
    assert user_to_profile("zd", a_user(external_id="M-000123")).name == "山田 太郎"


def test_a_user_whose_external_id_is_a_member_number_carries_it_to_the_hub() -> None:
    base = {"id": 7, "name": "会員 1234-5678-9015", "email": None, "phone": None, "verified": False,
            "role": "end-user", "created_at": "2026-12-01T00:00:00Z", "updated_at": "2026-12-01T00:00:00Z"}  # fmt: skip
    numbered = user_to_profile("calls", {**base, "external_id": "1234-5678-9015"})
    other = user_to_profile("calls", {**base, "external_id": "crm-778"})

    assert (numbered.member_number, numbered.name) == ("1234-5678-9015", None)  # the placeholder name is no name
    assert other.member_number is None
