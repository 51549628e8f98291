"""Identity resolution at ingest: strong matches join members, weak evidence only queues a review item."""

from __future__ import annotations

import threading
import time
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select, text

from core.events import MemberMerged
from core.identity.claims import SourceRanking
from core.identity.policy import IdentityPolicy
from core.identity.service import MemberMerges
from core.members.audit import Actor
from core.records import Profile, Purchase
from core.store import models

JST = timezone(timedelta(hours=9))
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=JST)
HANAKO = {"name": "山田 花子", "kana": "ヤマダ ハナコ", "birthday": date(1990, 4, 1)}


def profile(source: str, external_id: str, minute: int = 0, **fields: Any) -> Profile:
    return Profile(source=source, external_id=external_id, source_updated_at=T0 + timedelta(minutes=minute), **fields)


def purchase(source: str, external_id: str, customer: str) -> Purchase:
    return Purchase(
        source=source,
        external_id=external_id,
        source_updated_at=T0,
        customer_external_id=customer,
        channel="store",
        total_amount=1100,
        purchased_at=T0,
    )


def merges(matching) -> list[Any]:
    with matching.kit.engine.connect() as conn:
        return conn.execute(select(models.MemberMerge).order_by(models.MemberMerge.id)).all()


# ── strong matches ─────────────────────────────────────────────────────────────────────────────────


def test_a_verified_email_joins_the_member_holding_it(matching):
    matching.ingest(profile("pos", "c1", **HANAKO, email="hanako@example.jp"))
    matching.ingest(profile("shop", "g1", email="hanako@example.jp", email_verified=True, postal_code="150-0001"))

    assert matching.clusters() == {frozenset({("pos", "c1"), ("shop", "g1")})}
    assert matching.profile("pos", "c1").postal_code == "150-0001"
    assert matching.reviews() == []


def test_an_email_from_a_trusted_source_joins_without_the_verified_flag(matching):
    matching.policy = IdentityPolicy(trusted_email_sources=frozenset({"shop"}))
    matching.ingest(profile("pos", "c1", **HANAKO, email="hanako@example.jp"))
    matching.ingest(profile("shop", "g1", email="hanako@example.jp"))

    assert matching.root("shop", "g1") == matching.root("pos", "c1")


def test_an_unverified_email_makes_a_new_member_and_a_review_item(matching):
    matching.ingest(profile("pos", "c1", **HANAKO, email="hanako@example.jp"))
    matching.ingest(profile("shop", "g1", email="hanako@example.jp", email_verified=False))

    assert matching.root("shop", "g1") != matching.root("pos", "c1")
    assert matching.reviews() == [("unverified_email", "email", ("shop", "g1"))]


def test_a_phone_joins_a_member_with_the_same_kana_under_another_kanji_spelling(matching):
    matching.ingest(profile("pos", "c1", **HANAKO, phone="090-1234-5678"))
    matching.ingest(profile("shop", "g1", name="山田 はな子", kana="やまだ はなこ", phone="090-1234-5678"))

    assert matching.root("shop", "g1") == matching.root("pos", "c1")


def test_a_phone_joins_when_one_side_has_no_name(matching):
    matching.ingest(profile("pos", "c1", **HANAKO, phone="090-1234-5678"))
    matching.ingest(profile("shop", "g1", phone="090-1234-5678", email="hanako@example.jp"))

    assert matching.root("shop", "g1") == matching.root("pos", "c1")
    assert matching.profile("pos", "c1").email == "hanako@example.jp"


def test_a_phone_under_another_name_makes_a_review_item_not_a_merge(matching):
    matching.ingest(profile("pos", "c1", **HANAKO, phone="03-1234-5678"))
    matching.ingest(profile("shop", "g1", name="山田 太郎", kana="ヤマダ タロウ", phone="03-1234-5678"))

    assert matching.root("shop", "g1") != matching.root("pos", "c1")
    assert matching.reviews() == [("phone_name_differs", "phone", ("shop", "g1"))]


def test_the_review_item_names_the_newer_member_and_the_older_root(matching):
    matching.ingest(profile("pos", "c1", **HANAKO, phone="03-1234-5678"))
    matching.ingest(profile("shop", "g1", name="山田 太郎", phone="03-1234-5678"))

    (item,) = matching.review_rows()
    assert (item.member_id, item.candidate_id) == (matching.root("shop", "g1"), matching.root("pos", "c1"))
    assert item.member_id > item.candidate_id and item.status == "open"


def test_two_new_profiles_of_one_batch_sharing_a_phone_and_name_make_one_member(matching):
    matching.ingest(
        profile("pos", "c1", **HANAKO, phone="090-1234-5678"),
        profile("shop", "g1", **HANAKO, phone="090-1234-5678"),
    )

    assert matching.clusters() == {frozenset({("pos", "c1"), ("shop", "g1")})}


def test_a_members_own_update_applies_after_a_new_profile_of_the_same_batch_joined_it(matching):
    matching.ingest(profile("pos", "c1", **HANAKO, email="hanako@example.jp"))

    matching.ingest(
        profile("shop", "g1", email="hanako@example.jp", email_verified=True),
        profile("pos", "c1", minute=5, postal_code="150-0001"),
    )

    assert matching.clusters() == {frozenset({("pos", "c1"), ("shop", "g1")})}
    assert matching.profile("pos", "c1").postal_code == "150-0001"


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_sources_committing_the_same_person_at_once_make_one_member(matching):
    first = matching.kit.engine.connect()
    transaction = first.begin()
    sink = matching.kit.sink
    sink.apply(first, [profile("pos", "c1", **HANAKO, email="hanako@example.jp", email_verified=True)])
    second = threading.Thread(
        target=matching.ingest, args=(profile("shop", "g1", email="hanako@example.jp", email_verified=True),)
    )
    second.start()
    wait_for_a_blocked_advisory_lock(matching.kit.engine)
    transaction.commit()
    first.close()
    second.join(timeout=10)

    assert matching.clusters() == {frozenset({("pos", "c1"), ("shop", "g1")})}


def wait_for_a_blocked_advisory_lock(engine, timeout_s=10.0):
    deadline = time.monotonic() + timeout_s
    query = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if conn.execute(query).scalar_one():
                return
        time.sleep(0.01)
    raise AssertionError("the second batch never waited for the first")


# ── automatic merges ───────────────────────────────────────────────────────────────────────────────


def test_a_placeholder_filled_by_its_profile_merges_with_the_member_holding_its_email(matching):
    matching.ingest(profile("shop", "g1", **HANAKO, email="hanako@example.jp", email_verified=True))
    matching.ingest(purchase("pos", "o1", customer="c1"))
    placeholder = matching.linked("pos", "c1")

    result = matching.ingest(profile("pos", "c1", minute=5, email="hanako@example.jp", email_verified=True))

    assert matching.clusters() == {frozenset({("pos", "c1"), ("shop", "g1")})}
    (merge,) = merges(matching)
    assert (merge.survivor_id, merge.kind, merge.identifier) == (matching.root("pos", "c1"), "automatic", "email")
    assert [type(event) for event in result.events] == [MemberMerged]
    with matching.kit.engine.connect() as conn:
        assert conn.execute(select(models.Purchase.member_id)).scalar_one() == placeholder


def test_the_oldest_root_survives_an_automatic_merge(matching):
    matching.ingest(profile("shop", "g1", **HANAKO, email="hanako@example.jp", email_verified=True))
    older = matching.root("shop", "g1")
    matching.ingest(profile("pos", "c1", phone="090-1234-5678"))
    matching.ingest(profile("pos", "c1", minute=5, email="hanako@example.jp", email_verified=True))

    assert matching.root("pos", "c1") == older
    assert matching.linked("pos", "c1") != older


def test_a_profile_holding_two_members_identifiers_merges_all_three_into_one(matching):
    matching.ingest(profile("shop", "g1", **HANAKO, email="hanako@example.jp", email_verified=True))
    matching.ingest(profile("pos", "c1", **HANAKO, phone="090-1234-5678"))

    matching.ingest(
        profile("app", "a1", **HANAKO, email="hanako@example.jp", email_verified=True, phone="090-1234-5678")
    )

    assert matching.clusters() == {frozenset({("shop", "g1"), ("pos", "c1"), ("app", "a1")})}
    assert [(m.kind, m.identifier) for m in merges(matching)] == [("automatic", "phone")]


def test_a_profile_through_a_merged_members_link_updates_the_cluster_root(matching):
    matching.ingest(profile("shop", "g1", **HANAKO, email="hanako@example.jp", email_verified=True))
    matching.ingest(purchase("pos", "o1", customer="c1"))
    matching.ingest(profile("pos", "c1", minute=5, email="hanako@example.jp", email_verified=True))
    merged_member = matching.linked("pos", "c1")

    matching.ingest(profile("pos", "c1", minute=9, address="渋谷区神南1-2-3"))

    assert matching.root("pos", "c1") != merged_member
    assert matching.profile("pos", "c1").address == "渋谷区神南1-2-3"
    assert matching.kit.directory.get(merged_member).profile.address is None


def test_a_match_through_a_merged_members_blind_index_joins_its_root(matching):
    matching.ingest(profile("shop", "g1", **HANAKO, email="shop@example.jp", email_verified=True))
    matching.ingest(profile("pos", "c1", **HANAKO, email="pos@example.jp", phone="090-1234-5678"))
    matching.ingest(profile("app", "a1", email="shop@example.jp", email_verified=True, phone="090-1234-5678"))
    assert matching.profile("pos", "c1").email == "shop@example.jp"

    matching.ingest(profile("mail", "m1", email="pos@example.jp", email_verified=True))

    assert matching.root("mail", "m1") == matching.root("shop", "g1")


def test_a_pair_a_person_unmerged_is_not_merged_again_automatically(matching):
    matching.ingest(profile("shop", "g1", **HANAKO, email="hanako@example.jp", email_verified=True))
    matching.ingest(purchase("pos", "o1", customer="c1"))
    matching.ingest(profile("pos", "c1", minute=5, email="hanako@example.jp", email_verified=True))
    service = MemberMerges(matching.kit.engine, matching.kit.directory, SourceRanking(("console",)), lambda _: None)
    service.unmerge(matching.linked("pos", "c1"), actor=Actor("sato", "supervisor"), reason="two people")

    matching.ingest(profile("pos", "c1", minute=9, email="hanako@example.jp", email_verified=True, kana="ヤマダ"))

    assert matching.root("pos", "c1") != matching.root("shop", "g1")
    assert len(merges(matching)) == 1


def test_review_items_between_members_merged_later_are_closed_as_obsolete(matching):
    matching.ingest(profile("shop", "g1", **HANAKO, email="hanako@example.jp"))
    matching.ingest(profile("pos", "c1", **HANAKO))
    assert matching.reviews() == [("same_name_birthday", "name_birthday", ("pos", "c1"))]

    matching.ingest(profile("pos", "c1", minute=5, email="hanako@example.jp", email_verified=True))

    assert matching.reviews() == []
    assert [row.status for row in matching.review_rows()] == ["obsolete"]


def test_the_same_evidence_arriving_again_queues_the_pair_once(matching):
    matching.ingest(profile("pos", "c1", **HANAKO, phone="03-1234-5678"))
    matching.ingest(profile("shop", "g1", name="山田 太郎", phone="03-1234-5678"))
    matching.ingest(profile("shop", "g1", minute=5, name="山田 太郎", phone="03-1234-5678", postal_code="100-0001"))

    assert len(matching.review_rows()) == 1


def test_the_merge_log_and_review_items_carry_no_personal_data(matching):
    matching.ingest(profile("shop", "g1", **HANAKO, email="hanako@example.jp", email_verified=True))
    matching.ingest(profile("pos", "c1", **HANAKO, phone="090-1234-5678"))
    matching.ingest(profile("app", "a1", **HANAKO, email="hanako@example.jp", email_verified=True, phone="09012345678"))
    matching.ingest(profile("desk", "d1", name="山田 太郎", phone="090-1234-5678"))

    logged = [str(tuple(row)) for row in merges(matching)] + [str(tuple(row)) for row in matching.review_rows()]
    assert logged
    for secret in ("山田", "ヤマダ", "hanako", "1234", "1990"):
        assert not any(secret in text for text in logged)
