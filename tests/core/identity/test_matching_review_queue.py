"""The review queue's store: one row per pair, decided once, closed when its two members become one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.members.profile import MemberProfile
from core.store import reviews as repo

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def members(identity_kit):
    """Four members, oldest first."""
    return identity_kit.directory.add_many([MemberProfile(name=f"会員 {n}") for n in range(4)])


def item(newer, older, kind="same_name_birthday"):
    return {
        "member_id": newer,
        "candidate_id": older,
        "kind": kind,
        "identifier": "name_birthday",
        "source": "pos",
        "external_id": "c1",
        "created_at": NOW,
    }


def queue(identity_kit, **filters):
    with identity_kit.engine.connect() as conn:
        return repo.review_items(conn, limit=100, **filters)


def test_a_pair_is_queued_once_however_often_it_is_inserted(identity_kit, members):
    a, b = members[1], members[0]
    with identity_kit.engine.begin() as conn:
        repo.insert_review_items(conn, [item(a, b), item(a, b, kind="phone_name_differs")])
        repo.insert_review_items(conn, [item(a, b)])

    assert [(row.kind, row.status) for row in queue(identity_kit)] == [("same_name_birthday", "open")]


def test_a_rejected_pair_is_not_reopened(identity_kit, members):
    with identity_kit.engine.begin() as conn:
        repo.insert_review_items(conn, [item(members[1], members[0])])
        (row,) = repo.review_items(conn, limit=10)
        repo.decide_review_item(conn, row.id, status="rejected", decided_by="sato", note="親子", merge_id=None, now=NOW)
        repo.insert_review_items(conn, [item(members[1], members[0])])

    assert [row.status for row in queue(identity_kit)] == ["rejected"]


def test_the_queue_pages_in_order_and_filters_by_status(identity_kit, members):
    with identity_kit.engine.begin() as conn:
        repo.insert_review_items(conn, [item(members[n], members[0]) for n in (1, 2, 3)])
        first = repo.review_items(conn, limit=10)[0]
        repo.decide_review_item(conn, first.id, status="accepted", decided_by="sato", note=None, merge_id=None, now=NOW)

    page = queue(identity_kit, status="open")
    assert [row.member_id for row in page] == [members[2], members[3]]
    assert [row.member_id for row in queue(identity_kit, after_id=page[0].id)] == [members[3]]


def test_an_item_is_decided_only_while_open(identity_kit, members):
    with identity_kit.engine.begin() as conn:
        repo.insert_review_items(conn, [item(members[1], members[0])])
        (row,) = repo.review_items(conn, limit=10)
        first = repo.decide_review_item(
            conn, row.id, status="rejected", decided_by="sato", note="別人", merge_id=None, now=NOW
        )
        again = repo.decide_review_item(
            conn, row.id, status="accepted", decided_by="kato", note=None, merge_id=None, now=NOW
        )
        decided = repo.review_item(conn, row.id)

    assert (first, again) == (True, False)
    assert (decided.status, decided.decided_by, decided.decision_note, decided.decided_at) == (
        "rejected",
        "sato",
        "別人",
        NOW,
    )


def test_open_is_not_a_decision(identity_kit, members):
    with identity_kit.engine.begin() as conn, pytest.raises(ValueError, match="decision"):
        repo.decide_review_item(conn, 1, status="open", decided_by="sato", note=None, merge_id=None, now=NOW)


def test_only_open_items_within_one_cluster_become_obsolete(identity_kit, members):
    a, b, c, d = members
    with identity_kit.engine.begin() as conn:
        repo.insert_review_items(conn, [item(b, a), item(c, a), item(d, c)])
        closed = repo.obsolete_reviews_between(conn, [a, b, d], NOW)

    assert closed == 1
    assert {(row.member_id, row.status) for row in queue(identity_kit)} == {(b, "obsolete"), (c, "open"), (d, "open")}
