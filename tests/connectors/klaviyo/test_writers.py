"""The writers over real loopback HTTP: events sent once, properties and lists set, consent never overturned."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.klaviyo import KlaviyoConnector
from connectors.klaviyo.sandbox import NEWSLETTER_LIST_ID, SandboxServer
from core.errors import PermanentError
from core.sync.retry import RetryPolicy
from tests.connectors.klaviyo.factories import message

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
COUPON_METRIC = "MemberHub Coupon Issued"


def profile_where(sandbox: SandboxServer, consent: str, *, email: bool = True) -> dict[str, Any]:
    """The first sandbox profile with that email consent and no suppression."""
    return next(
        row for row in sandbox.state.profile_rows()
        if _marketing(row)["consent"] == consent and not _marketing(row)["suppression"]
        and (row["attributes"]["email"] is not None) == email
    )  # fmt: skip


def _marketing(row: dict[str, Any]) -> dict[str, Any]:
    marketing: dict[str, Any] = row["attributes"]["subscriptions"]["email"]["marketing"]
    return marketing


def coupon(customer_id: str | None, **overrides: Any) -> dict[str, Any]:
    payload = {
        "member_id": "m-1", "customer_id": customer_id, "coupon_code": "SORRY-500-AB12", "template": "apology-500",
        "name_ja": "お詫びクーポン 500円", "name_en": "Apology coupon", "value_type": "amount", "value": 500,
        "max_uses": 1, "issued_at": "2026-11-30T10:00:00+09:00", "expires_at": "2026-12-31T00:00:00+09:00",
    }  # fmt: skip
    return {**payload, **overrides}


@pytest.fixture
def writer(connect: Callable[..., KlaviyoConnector]) -> KlaviyoConnector:
    """A connector whose clock reads ``NOW``, with the segment lists ``vip`` and ``lapsed``."""
    return connect(clock=lambda: NOW, segment_lists={"vip": "VipLst", "gold-buyers": "VipLst", "lapsed": "LpsLst"})


def test_a_coupon_event_is_sent_once_although_the_message_is_delivered_twice(
    sandbox: SandboxServer, writer: KlaviyoConnector
) -> None:
    profile_id = profile_where(sandbox, "SUBSCRIBED")["id"]
    for _ in range(2):
        writer.deliver(message("coupon.issued", coupon(profile_id), key="coupon:42:email"))
    [sent] = sandbox.state.events_named(COUPON_METRIC)
    assert (sent.profile_id, sent.unique_id) == (profile_id, "coupon:42:email")
    assert sent.properties["coupon_code"] == "SORRY-500-AB12"
    assert sent.properties["name_ja"] == "お詫びクーポン 500円"
    assert "customer_id" not in sent.properties


def test_a_coupon_event_retried_after_a_server_error_arrives_once(
    sandbox: SandboxServer, connect: Callable[..., KlaviyoConnector]
) -> None:
    retrying = connect(clock=lambda: NOW, retry=RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05))
    profile_id = profile_where(sandbox, "SUBSCRIBED")["id"]
    sandbox.state.fail_next(1, 503, path="/api/events/")
    retrying.deliver(message("coupon.issued", coupon(profile_id), key="coupon:7:email"))
    assert len(sandbox.state.events_named(COUPON_METRIC)) == 1
    assert sandbox.state.request_count("/api/events/") == 2


def test_a_coupon_for_a_member_without_a_profile_is_refused(writer: KlaviyoConnector) -> None:
    with pytest.raises(PermanentError, match="no Klaviyo profile"):
        writer.deliver(message("coupon.issued", coupon(None)))


def test_an_expired_coupon_is_not_announced(sandbox: SandboxServer, writer: KlaviyoConnector) -> None:
    profile_id = profile_where(sandbox, "SUBSCRIBED")["id"]
    with pytest.raises(PermanentError, match="expired"):
        writer.deliver(message("coupon.issued", coupon(profile_id, expires_at="2026-11-30T00:00:00+00:00")))
    assert sandbox.state.events_named(COUPON_METRIC) == []


def test_points_expiring_is_an_event_keyed_by_the_message(sandbox: SandboxServer, writer: KlaviyoConnector) -> None:
    profile_id = profile_where(sandbox, "SUBSCRIBED")["id"]
    payload = {"member_id": "m-1", "customer_id": profile_id, "member_number": "M-000123", "points": 1200,
               "expires_at": "2026-12-31T23:59:59+09:00", "notice_days": 30}  # fmt: skip
    writer.deliver(message("points.expiring", payload, key="expiry:m-1:2026-12"))
    [sent] = sandbox.state.events_named("MemberHub Points Expiring")
    assert (sent.unique_id, sent.properties["points"], sent.properties["member_number"]) == (
        "expiry:m-1:2026-12", 1200, "M-000123",
    )  # fmt: skip


def test_member_loyalty_sets_prefixed_properties_and_skips_unlinked_members(
    sandbox: SandboxServer, writer: KlaviyoConnector
) -> None:
    profile_id = profile_where(sandbox, "SUBSCRIBED")["id"]
    members = [
        {"member_id": "m-1", "customer_id": profile_id, "member_number": "M-000123", "rank": "gold",
         "points_available": 3400, "points_pending": 120, "segments": ["vip"], "expiring_points": 200,
         "expiring_at": "2027-01-31T23:59:59+09:00"},
        {"member_id": "m-2", "customer_id": None, "rank": "regular", "points_available": 0},
        {"member_id": "m-3", "customer_id": "01JNOSUCHPROFILE", "rank": "silver", "points_available": 10},
    ]  # fmt: skip
    writer.deliver(message("member.loyalty", {"changes": members}))
    properties = (sandbox.state.profile(profile_id) or {})["attributes"]["properties"]
    assert properties["memberhub_rank"] == "gold"
    assert (properties["memberhub_points"], properties["memberhub_points_pending"]) == (3400, 120)
    assert properties["memberhub_member_number"] == "M-000123"
    assert (properties["memberhub_segments"], properties["memberhub_expiring_points"]) == (["vip"], 200)


def test_member_loyalty_clears_an_expiry_that_is_gone(sandbox: SandboxServer, writer: KlaviyoConnector) -> None:
    profile_id = profile_where(sandbox, "SUBSCRIBED")["id"]
    entry = {"member_id": "m-1", "customer_id": profile_id, "rank": "gold", "points_available": 10,
             "expiring_points": 5, "expiring_at": "2027-01-31T23:59:59+09:00"}  # fmt: skip
    writer.deliver(message("member.loyalty", {"changes": [entry]}))
    writer.deliver(message("member.loyalty", {"changes": [{**entry, "expiring_points": 0, "expiring_at": None}]}))
    properties = (sandbox.state.profile(profile_id) or {})["attributes"]["properties"]
    assert "memberhub_points_expire_at" not in properties and properties["memberhub_rank"] == "gold"


def test_member_loyalty_sets_the_rank_benefit_flags_as_a_list_property(
    sandbox: SandboxServer, writer: KlaviyoConnector
) -> None:
    profile_id = profile_where(sandbox, "SUBSCRIBED")["id"]
    entry = {"member_id": "m-1", "customer_id": profile_id, "rank": "gold", "points_available": 10,
             "flags": ["priority_reservation", "rank_only_sale"]}  # fmt: skip

    writer.deliver(message("member.loyalty", {"changes": [entry], "rank_flags": entry["flags"]}))
    granted = dict((sandbox.state.profile(profile_id) or {})["attributes"]["properties"])
    writer.deliver(message("member.loyalty", {"changes": [{**entry, "rank": "silver", "flags": []}]}))
    withdrawn = dict((sandbox.state.profile(profile_id) or {})["attributes"]["properties"])
    writer.deliver(message("member.loyalty", {"changes": [{key: v for key, v in entry.items() if key != "flags"}]}))
    untold = (sandbox.state.profile(profile_id) or {})["attributes"]["properties"]

    assert granted["memberhub_benefits"] == ["priority_reservation", "rank_only_sale"]
    assert (withdrawn["memberhub_benefits"], withdrawn["memberhub_rank"]) == ([], "silver")
    assert untold["memberhub_benefits"] == [] and untold["memberhub_rank"] == "gold"  # an older hub sends no flags


def test_segments_joined_and_left_add_and_remove_list_membership(
    sandbox: SandboxServer, writer: KlaviyoConnector
) -> None:
    sandbox.state.add_list("VipLst", "VIP")
    sandbox.state.add_list("LpsLst", "休眠")
    first, second = (row["id"] for row in sandbox.state.profile_rows()[:2])
    sandbox.state.change_list("LpsLst", [first, second], add=True)
    changes = [
        {"member_id": "m-1", "customer_id": first, "segments": ["vip"], "joined": ["vip"], "left": ["lapsed"]},
        {"member_id": "m-2", "customer_id": second, "segments": ["lapsed"], "joined": ["unmapped"], "left": []},
        {"member_id": "m-3", "customer_id": None, "segments": ["vip"], "joined": ["vip"], "left": []},
    ]
    writer.deliver(message("member.segments", {"changes": changes}))
    assert set(sandbox.state.list_members("VipLst") or {}) == {first}
    assert set(sandbox.state.list_members("LpsLst") or {}) == {second}


def test_leaving_a_segment_keeps_a_list_another_segment_still_maps_to(
    sandbox: SandboxServer, writer: KlaviyoConnector
) -> None:
    sandbox.state.add_list("VipLst", "VIP")
    member = sandbox.state.profile_rows()[0]["id"]
    sandbox.state.change_list("VipLst", [member], add=True)
    change = {"member_id": "m-1", "customer_id": member, "segments": ["gold-buyers"], "joined": [], "left": ["vip"]}
    writer.deliver(message("member.segments", {"changes": [change]}))
    assert member in (sandbox.state.list_members("VipLst") or {})


def consent(customer_id: str | None, subscribed: bool, changed_at: datetime) -> dict[str, Any]:
    return {"member_id": "m-1", "customer_id": customer_id, "channel": "email", "subscribed": subscribed,
            "changed_at": changed_at.isoformat()}  # fmt: skip


def test_an_unsubscribe_newer_than_klaviyos_consent_unsubscribes(
    sandbox: SandboxServer, writer: KlaviyoConnector
) -> None:
    profile_id = profile_where(sandbox, "SUBSCRIBED")["id"]
    writer.deliver(message("member.consent", consent(profile_id, False, NOW - timedelta(days=1))))
    assert _marketing(sandbox.state.profile(profile_id) or {})["consent"] == "UNSUBSCRIBED"


def test_a_subscribe_keeps_the_hubs_consent_time_and_joins_the_newsletter(
    sandbox: SandboxServer, writer: KlaviyoConnector
) -> None:
    profile_id = profile_where(sandbox, "UNSUBSCRIBED")["id"]
    chosen = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    writer.deliver(message("member.consent", consent(profile_id, True, chosen)))
    marketing = _marketing(sandbox.state.profile(profile_id) or {})
    assert (marketing["consent"], datetime.fromisoformat(marketing["consent_timestamp"])) == ("SUBSCRIBED", chosen)
    assert profile_id in (sandbox.state.list_members(NEWSLETTER_LIST_ID) or {})


def test_an_older_consent_message_never_overturns_klaviyo(sandbox: SandboxServer, writer: KlaviyoConnector) -> None:
    row = profile_where(sandbox, "UNSUBSCRIBED")
    decided = datetime.fromisoformat(_marketing(row)["consent_timestamp"])
    for changed_at in (decided - timedelta(seconds=1), decided):
        writer.deliver(message("member.consent", consent(row["id"], True, changed_at)))
    assert _marketing(sandbox.state.profile(row["id"]) or {})["consent"] == "UNSUBSCRIBED"
    assert sandbox.state.jobs == []


def test_consent_for_a_profile_without_email_is_refused(sandbox: SandboxServer, writer: KlaviyoConnector) -> None:
    profile_id = profile_where(sandbox, "NEVER_SUBSCRIBED", email=False)["id"]
    with pytest.raises(PermanentError, match="no email address"):
        writer.deliver(message("member.consent", consent(profile_id, True, NOW)))


def test_a_malformed_payload_is_refused_naming_the_field(writer: KlaviyoConnector) -> None:
    with pytest.raises(PermanentError, match="points"):
        writer.deliver(message("points.expiring", {"member_id": "m-1", "customer_id": "x", "expires_at": "2027-01-01"}))


def test_an_unknown_kind_is_refused(writer: KlaviyoConnector) -> None:
    with pytest.raises(PermanentError, match="not supported"):
        writer.deliver(message("member.tags", {}))


def test_member_profile_patches_only_the_changed_fields(sandbox: SandboxServer, writer: KlaviyoConnector) -> None:
    row = profile_where(sandbox, "SUBSCRIBED")
    payload = {"member_id": "m-1", "customer_id": row["id"], "name": "佐藤 花子", "kana": "サトウ\u3000ハナコ",
               "email": "other@example.jp", "phone": "+819011112222", "address": "東京都渋谷区神宮前1-2-3",
               "postal_code": "150-0001", "birthday": "1990-04-01",
               "changed": ["name", "kana", "phone", "address", "birthday"]}  # fmt: skip
    writer.deliver(message("member.profile", payload))
    attributes = (sandbox.state.profile(row["id"]) or {})["attributes"]
    assert (attributes["last_name"], attributes["first_name"]) == ("佐藤", "花子")
    assert (attributes["phone_number"], attributes["email"]) == ("+819011112222", row["attributes"]["email"])
    assert attributes["location"]["address1"] == "東京都渋谷区神宮前1-2-3"
    assert attributes["properties"]["kana"] == "サトウ\u3000ハナコ"
    assert attributes["properties"]["birthday"] == "1990-04-01"


def test_member_profile_email_taken_by_another_profile_is_refused(
    sandbox: SandboxServer, writer: KlaviyoConnector
) -> None:
    first, second = [row for row in sandbox.state.profile_rows() if row["attributes"]["email"]][:2]
    payload = {"member_id": "m-1", "customer_id": first["id"], "email": second["attributes"]["email"],
               "changed": ["email"]}  # fmt: skip
    with pytest.raises(PermanentError, match="409"):
        writer.deliver(message("member.profile", payload))
