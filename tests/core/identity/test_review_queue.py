"""A supervisor decides the pairs identity resolution would not merge on its own."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import pytest

from core.errors import InvalidInputError
from core.events import MemberMerged
from core.identity.claims import SourceRanking
from core.identity.review import ReviewQueue
from core.identity.service import MemberMerges
from core.members.audit import Actor
from core.members.profile import MemberProfile
from core.store import identity as identity_repo
from core.store import reviews as reviews_repo

SUPERVISOR = Actor("suzuki", "supervisor")
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
def published() -> list[object]:
    return []


@pytest.fixture
def queue(identity_kit, published) -> ReviewQueue:
    merges = MemberMerges(identity_kit.engine, identity_kit.directory, SourceRanking(("console",)), published.extend)
    return ReviewQueue(identity_kit.engine, merges)


@pytest.fixture
def queued_pair(identity_kit, queue) -> tuple[int, UUID, UUID]:
    """Two members with the same name and birthday, queued as a possible duplicate."""
    older, newer = identity_kit.directory.add_many(
        [
            MemberProfile(name="髙橋 一郎", birthday=datetime(1980, 4, 1).date(), email="a@example.jp"),
            MemberProfile(name="高橋 一郎", birthday=datetime(1980, 4, 1).date(), phone="090-1111-2222"),
        ]
    )
    with identity_kit.engine.begin() as conn:
        reviews_repo.insert_review_items(
            conn,
            [{"member_id": newer, "candidate_id": older, "kind": "same_name_birthday", "identifier": "name_birthday",
              "source": "pos", "external_id": "c-9", "created_at": NOW}],
        )  # fmt: skip
    [item] = queue.items()
    return item.id, older, newer


def test_an_open_item_names_the_evidence_not_the_values(queue, queued_pair):
    item_id, older, newer = queued_pair

    [item] = queue.items()

    assert (item.id, item.member_id, item.candidate_id, item.status) == (item_id, newer, older, "open")
    assert item.evidence == "same name and birthday"


def test_accepting_merges_the_newer_member_into_the_older(identity_kit, queue, queued_pair, published):
    item_id, older, newer = queued_pair

    merge_id = queue.accept(item_id, actor=SUPERVISOR, note="same caller")

    with identity_kit.engine.connect() as conn:
        assert identity_repo.cluster(conn, older) == [older, newer]
    [decided] = queue.items(status="accepted")
    assert (decided.id, decided.merge_id, decided.decided_by) == (item_id, merge_id, "suzuki")
    assert [type(event) for event in published] == [MemberMerged]
    assert queue.items() == []


def test_rejecting_keeps_both_members_and_closes_the_item(identity_kit, queue, queued_pair):
    item_id, older, newer = queued_pair

    queue.reject(item_id, actor=SUPERVISOR, note="father and son")

    with identity_kit.engine.connect() as conn:
        assert identity_repo.roots(conn, [older, newer]) == {older: older, newer: newer}
        assert identity_repo.vetoed_pairs(conn, [older]) == {(newer, older)}
    [decided] = queue.items(status="rejected")
    assert decided.decision_note == "father and son"


def test_a_decided_item_cannot_be_decided_again(queue, queued_pair):
    item_id, _, _ = queued_pair
    queue.reject(item_id, actor=SUPERVISOR, note="different people")

    with pytest.raises(InvalidInputError, match="already rejected"):
        queue.accept(item_id, actor=SUPERVISOR, note="changed my mind")


def test_accepting_a_pair_merged_meanwhile_closes_it_as_obsolete(identity_kit, queue, queued_pair):
    item_id, older, newer = queued_pair
    queue.merges.merge(older, newer, actor=SUPERVISOR, reason="merged by hand")

    with pytest.raises(InvalidInputError, match="already one member"):
        queue.accept(item_id, actor=SUPERVISOR, note="")

    assert [item.id for item in queue.items(status="obsolete")] == [item_id]


def test_an_unknown_item_is_a_clear_error(queue):
    with pytest.raises(InvalidInputError, match="no review item #99"):
        queue.reject(99, actor=SUPERVISOR, note="")
