"""Merging members keeps everything and an unmerge gives back exactly the two members there were."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import Engine, select

from core.errors import InvalidInputError
from core.events import DomainEvent, MemberMerged, MemberUnmerged
from core.identity.claims import SourceRanking
from core.identity.service import MemberMerges
from core.members.audit import Actor
from core.records import Profile, Purchase
from core.store import identity as identity_repo
from core.store import models
from core.store.audit import audit_events_since

JST = timezone(timedelta(hours=9))
T0 = datetime(2026, 11, 1, 10, 0, tzinfo=JST)
SUPERVISOR = Actor("sato", "supervisor")


def profile(source: str, external_id: str, minute: int = 0, **fields: Any) -> Profile:
    return Profile(source=source, external_id=external_id, source_updated_at=T0 + timedelta(minutes=minute), **fields)


def purchase(source: str, external_id: str, customer: str, amount: int) -> Purchase:
    return Purchase(
        source=source,
        external_id=external_id,
        source_updated_at=T0,
        customer_external_id=customer,
        channel="store" if source == "pos" else "online",
        total_amount=amount,
        purchased_at=T0,
    )


@pytest.fixture
def published() -> list[DomainEvent]:
    return []


@pytest.fixture
def merges(identity_kit, published) -> MemberMerges:
    return MemberMerges(
        identity_kit.engine, identity_kit.directory, SourceRanking(("console", "shop", "pos")), published.extend
    )


@pytest.fixture
def two_members(identity_kit) -> tuple[UUID, UUID]:
    """The same person known to the POS and to the web shop under different emails: two members."""
    identity_kit.ingest(
        [
            profile("pos", "p1", name="高橋 一郎", kana="タカハシ イチロウ", email="ichiro@pos.example.jp",
                    phone="090-1111-2222"),
            profile("shop", "s1", 5, name="高橋 一郎", email="ichiro@shop.example.jp", postal_code="150-0001",
                    address="東京都渋谷区神宮前1-1-1", birthday="1980-04-01"),
            purchase("pos", "r1", "p1", 1200),
            purchase("shop", "o1", "s1", 5400),
        ]
    )  # fmt: skip
    with identity_kit.engine.connect() as conn:
        links = dict(conn.execute(select(models.SourceLink.external_id, models.SourceLink.member_id)).all())
    return links["p1"], links["s1"]


def decrypted_state(kit, member_ids: tuple[UUID, ...]) -> dict[str, Any]:
    """Everything a person would call "the member": profile, number, status, links, claims, history rows."""
    engine: Engine = kit.engine
    with engine.connect() as conn:
        links = conn.execute(
            select(models.SourceLink.source, models.SourceLink.external_id, models.SourceLink.member_id)
        )
        sources = conn.execute(select(models.MemberFieldSource).order_by("member_id", "field"))
        purchases = conn.execute(select(models.Purchase.external_id, models.Purchase.member_id))
        rows = conn.execute(select(models.Member).where(models.Member.id.in_(member_ids))).all()
        index = conn.execute(select(models.MemberSearchIndex).order_by("index_name", "digest", "member_id")).all()
        state = {
            "links": sorted(links.all()),
            "field_sources": [tuple(row) for row in sources.all()],
            "purchases": sorted(purchases.all()),
            "index": [tuple(row) for row in index],
            "ciphertexts": sorted((row.id, row.name_ct, row.email_ct, row.address_ct, row.phone_ct) for row in rows),
        }
    for member_id in member_ids:
        member = kit.directory.get(member_id)
        state[str(member_id)] = (member.status, member.member_number, member.profile, member.merged_into)
    return state


def test_merge_then_unmerge_restores_both_members_exactly(identity_kit, merges, two_members):
    before = decrypted_state(identity_kit, two_members)

    merges.merge(two_members[0], two_members[1], actor=SUPERVISOR, reason="same customer, called in")
    assert decrypted_state(identity_kit, two_members) != before
    merges.unmerge(two_members[1], actor=SUPERVISOR, reason="different people after all")

    assert decrypted_state(identity_kit, two_members) == before


def test_merge_keeps_every_link_and_purchase_and_points_the_merged_member_at_the_survivor(
    identity_kit, merges, two_members
):
    survivor, merged = two_members

    merges.merge(survivor, merged, actor=SUPERVISOR, reason="same customer")

    with identity_kit.engine.connect() as conn:
        assert identity_repo.cluster(conn, survivor) == [survivor, merged]
        assert identity_repo.roots(conn, [merged]) == {merged: survivor}
        linked = sorted(conn.execute(select(models.SourceLink.external_id, models.SourceLink.member_id)).all())
        bought = sorted(conn.execute(select(models.Purchase.external_id, models.Purchase.member_id)).all())
    assert linked == [("p1", survivor), ("s1", merged)]
    assert bought == [("o1", merged), ("r1", survivor)]
    gone = identity_kit.directory.get(merged)
    assert (gone.status, gone.merged_into) == ("merged", survivor)


def test_survivor_takes_the_fields_the_merged_members_sources_win(identity_kit, merges, two_members):
    survivor, merged = two_members  # priority: console, shop, pos

    merges.merge(survivor, merged, actor=SUPERVISOR, reason="same customer")

    profile = identity_kit.directory.get(survivor).profile
    assert profile.email == "ichiro@shop.example.jp"  # the shop outranks the POS
    assert profile.phone == "+819011112222"  # only the POS knew it
    assert (profile.postal_code, profile.birthday.isoformat()) == ("150-0001", "1980-04-01")
    assert profile.kana == "タカハシ イチロウ"


def test_search_by_the_merged_members_own_email_finds_the_survivor(identity_kit, two_members, published):
    survivor, merged = two_members
    pos_first = MemberMerges(
        identity_kit.engine, identity_kit.directory, SourceRanking(("console", "pos", "shop")), published.extend
    )
    pos_first.merge(survivor, merged, actor=SUPERVISOR, reason="same customer")

    assert identity_kit.directory.get(survivor).profile.email == "ichiro@pos.example.jp"
    assert [m.id for m in identity_kit.directory.find("ichiro@shop.example.jp")] == [survivor]
    assert [m.id for m in identity_kit.directory.find("ichiro@pos.example.jp")] == [survivor]


def test_unmerge_keeps_a_field_changed_since_the_merge(identity_kit, merges, two_members):
    survivor, merged = two_members
    merges.merge(survivor, merged, actor=SUPERVISOR, reason="same customer")
    identity_kit.ingest([profile("pos", "p1", 60, email="ichiro.new@pos.example.jp")])

    merges.unmerge(merged, actor=SUPERVISOR, reason="different people")

    assert identity_kit.directory.get(survivor).profile.email == "ichiro.new@pos.example.jp"
    assert identity_kit.directory.get(merged).profile.email == "ichiro@shop.example.jp"


def test_merge_and_unmerge_are_logged_audited_and_published(identity_kit, merges, two_members, published):
    survivor, merged = two_members

    merge_id = merges.merge(survivor, merged, actor=SUPERVISOR, reason="same customer")
    merges.unmerge(merged, actor=SUPERVISOR, reason="different people")

    [entry] = merges.history(survivor)
    assert (entry.id, entry.actor, entry.reason, entry.kind) == (merge_id, "sato", "same customer", "manual")
    assert entry.undone_by == "sato" and entry.undone_at is not None
    assert [type(event) for event in published] == [MemberMerged, MemberUnmerged]
    assert {(e.survivor_id, e.merged_id, e.merge_id) for e in published} == {(survivor, merged, merge_id)}
    with identity_kit.engine.connect() as conn:
        audit = audit_events_since(conn, datetime(2000, 1, 1, tzinfo=UTC))
    assert [(row.action, row.actor, row.member_id) for row in audit] == [
        ("merge", "sato", survivor),
        ("unmerge", "sato", survivor),
    ]


def test_unmerge_records_the_pair_as_different_people(identity_kit, merges, two_members):
    survivor, merged = two_members
    merges.merge(survivor, merged, actor=SUPERVISOR, reason="same customer")

    merges.unmerge(merged, actor=SUPERVISOR, reason="different people")

    with identity_kit.engine.connect() as conn:
        assert identity_repo.vetoed_pairs(conn, [survivor]) == {(max(two_members), min(two_members))}


def test_merging_a_merged_member_merges_its_cluster_root(identity_kit, merges, two_members):
    identity_kit.ingest([profile("crm", "c9", name="高橋 一郎", email="ichiro@crm.example.jp")])
    third = identity_kit.directory.find("ichiro@crm.example.jp")[0].id
    survivor, merged = two_members
    merges.merge(survivor, merged, actor=SUPERVISOR, reason="same customer")

    merges.merge(third, merged, actor=SUPERVISOR, reason="also the same customer")

    with identity_kit.engine.connect() as conn:
        assert identity_repo.cluster(conn, third) == [third, survivor, merged]


def test_an_unmerge_out_of_order_is_refused_with_the_merge_to_undo_first(identity_kit, merges, two_members):
    identity_kit.ingest([profile("crm", "c9", name="高橋 一郎", email="ichiro@crm.example.jp")])
    third = identity_kit.directory.find("ichiro@crm.example.jp")[0].id
    survivor, merged = two_members
    merges.merge(survivor, merged, actor=SUPERVISOR, reason="same customer")
    later = merges.merge(third, survivor, actor=SUPERVISOR, reason="also the same customer")

    with pytest.raises(InvalidInputError, match=f"undo merge #{later} first"):
        merges.unmerge(merged, actor=SUPERVISOR, reason="different people")


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_merge_needs_a_reason(merges, two_members, reason):
    with pytest.raises(InvalidInputError, match="give a reason"):
        merges.merge(*two_members, actor=SUPERVISOR, reason=reason)


def test_members_already_merged_cannot_be_merged_again(merges, two_members):
    merges.merge(*two_members, actor=SUPERVISOR, reason="same customer")

    with pytest.raises(InvalidInputError, match="already one member"):
        merges.merge(*two_members, actor=SUPERVISOR, reason="again")


def test_an_unmerged_member_cannot_be_unmerged(merges, two_members):
    with pytest.raises(InvalidInputError, match="not merged into another member"):
        merges.unmerge(two_members[1], actor=SUPERVISOR, reason="nothing to undo")


def test_erasing_any_member_of_a_cluster_erases_the_whole_cluster(identity_kit, merges, two_members):
    survivor, merged = two_members
    merges.merge(survivor, merged, actor=SUPERVISOR, reason="same customer")

    identity_kit.directory.erase(merged)

    assert {identity_kit.directory.get(m).status for m in two_members} == {"erased"}
    assert identity_kit.directory.find("ichiro@shop.example.jp") == []
    assert set(identity_kit.directory.ledger.member_ids()) == set(two_members)
