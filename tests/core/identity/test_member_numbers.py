"""A record that carries the hub's member number joins that member, whatever else it says."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from core.members.profile import MemberProfile
from core.records import Profile
from core.store import records as repo
from core.store.database import read_only

JST = timezone(timedelta(hours=9))
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=JST)


def profile(source: str, external_id: str, **fields: Any) -> Profile:
    return Profile(source=source, external_id=external_id, source_updated_at=T0, **fields)


def member_of(identity_kit, source: str, external_id: str):
    with read_only(identity_kit.engine).connect() as conn:
        return repo.linked_members(conn, [(source, external_id)]).get((source, external_id))


def test_a_helpdesk_user_named_by_member_number_only_joins_that_member(identity_kit):
    member = identity_kit.directory.add(MemberProfile(name="山田 花子", phone="090-1234-5678"))

    identity_kit.ingest([
        profile("helpdesk", "u-1", name=f"会員 {member.member_number}", member_number=member.member_number),
        profile("helpdesk", "u-2", member_number=member.member_number.replace("-", "")),  # nothing else at all
    ])  # fmt: skip

    assert member_of(identity_kit, "helpdesk", "u-1") == member.id
    assert member_of(identity_kit, "helpdesk", "u-2") == member.id
    assert identity_kit.directory.count() == 1


def test_a_number_nobody_holds_or_a_mistyped_one_matches_as_usual(identity_kit):
    member = identity_kit.directory.add(MemberProfile(name="山田 花子", email="hanako@example.jp"))
    wrong = "0000-0000-0000" if member.member_number != "0000-0000-0000" else "1111-1111-1111"

    identity_kit.ingest([
        profile("pos", "c-1", name="佐藤 太郎", member_number=wrong),
        profile("pos", "c-2", name="山田 花子", email="hanako@example.jp", email_verified=True, member_number="M-17"),
    ])  # fmt: skip

    assert member_of(identity_kit, "pos", "c-1") not in (None, member.id)
    assert member_of(identity_kit, "pos", "c-2") == member.id


def test_a_linked_record_stays_with_its_member_when_a_number_is_added(identity_kit):
    first = identity_kit.directory.add(MemberProfile(name="山田 花子"))
    identity_kit.ingest([profile("pos", "c-1", name="鈴木 一郎")])
    linked = member_of(identity_kit, "pos", "c-1")

    identity_kit.ingest([
        Profile(source="pos", external_id="c-1", source_updated_at=T0 + timedelta(minutes=1), name="鈴木 一郎",
                member_number=first.member_number),
    ])  # fmt: skip

    assert member_of(identity_kit, "pos", "c-1") == linked != first.id
