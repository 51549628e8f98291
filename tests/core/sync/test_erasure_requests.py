"""A source's erasure and data requests through the ingest sink (docs/privacy.md), on real databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from core.identity.claims import SourceRanking
from core.identity.merge import MemberMerger
from core.members.profile import MemberProfile
from core.records import DataRequest, ErasureRequest, Inquiry, Profile, Purchase
from core.store import models
from core.sync.dead_letters import Quarantined, quarantine

SHOP = "tokyo-online"
POS = "pos-ginza"
T0 = datetime(2025, 5, 1, 9, 0, tzinfo=UTC)
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
"""Every test but the merged-cluster one, which runs each statement of a partial erasure on PostgreSQL too
(the whole-cluster erasure is ``hub members erase``'s, tested there on both): a fresh database costs ~3 s."""


def _profile(source: str, external_id: str, minutes: int = 0, **fields: object) -> Profile:
    return Profile(source=source, external_id=external_id, source_updated_at=T0 + timedelta(minutes=minutes), **fields)


def _purchase(source: str, external_id: str, customer: str, amount: int) -> Purchase:
    return Purchase(
        source=source, external_id=external_id, source_updated_at=T0, customer_external_id=customer,
        channel="online", total_amount=amount, purchased_at=T0,
    )  # fmt: skip


def _redact(customer: str) -> ErasureRequest:
    return ErasureRequest(source=SHOP, external_id=customer, source_updated_at=T0 + timedelta(days=10))


def _apply(kit, *records):
    with kit.engine.begin() as conn:
        return kit.sink.apply(conn, list(records))


def _scalar(kit, query):
    with kit.engine.connect() as conn:
        return conn.scalar(query)


def _rows(kit, query):
    with kit.engine.connect() as conn:
        return conn.execute(query).all()


def _member_of(kit, source: str, external_id: str):
    link = models.SourceLink
    return _scalar(kit, select(link.member_id).where(link.source == source, link.external_id == external_id))


def _audit(kit):
    event = models.AuditEvent
    return _rows(kit, select(event.actor, event.role, event.action, event.member_id, event.detail).order_by(event.id))


@SQLITE_ONLY
def test_a_member_only_the_shop_knows_is_erased_like_hub_members_erase(sync_kit):
    kit = sync_kit
    _apply(kit, _profile(SHOP, "C1", name="山田 花子", email="hanako@example.jp", phone="090-1111-2222"),
           _purchase(SHOP, "O1", "C1", 12_800))  # fmt: skip
    member_id = _member_of(kit, SHOP, "C1")
    with kit.engine.begin() as conn:
        quarantine(conn, kit.dead_letters, SHOP, "customers", [_refused("C1"), _refused("C2")], T0)

    result = _apply(kit, _redact("C1"))

    assert result.written == 1
    member = kit.directory.get(member_id)
    assert member.status == "erased" and member.profile is None
    assert kit.directory.find("hanako@example.jp") == [] and kit.directory.find("090-1111-2222") == []
    assert kit.directory.ledger.member_ids() == [member_id]
    row = _rows(kit, select(models.Member).where(models.Member.id == member_id))[0]
    assert row.wrapped_dek is None and row.email_ct is None
    assert _scalar(kit, select(func.count()).where(models.MemberSearchIndex.member_id == member_id)) == 0
    assert _scalar(kit, select(models.Purchase.total_amount).where(models.Purchase.member_id == member_id)) == 12_800
    assert _member_of(kit, SHOP, "C1") == member_id  # the link stays on the erased member, as after `hub members erase`
    assert _audit(kit) == [(SHOP, "connector", "erase", member_id, {"source": SHOP, "members": 1})]
    assert _rows(kit, select(models.DeadLetter.external_id)) == [("C2",)]  # C1's quarantined record is gone too


@SQLITE_ONLY
def test_a_repeated_request_and_an_unknown_customer_change_nothing(sync_kit):
    kit = sync_kit
    _apply(kit, _profile(SHOP, "C1", name="山田 花子", email="hanako@example.jp"))
    _apply(kit, _redact("C1"))
    before = (_audit(kit), kit.directory.ledger.member_ids(), _rows(kit, select(models.Member)))

    assert _apply(kit, _redact("C1"), _redact("C-unknown")).written == 0

    assert (_audit(kit), kit.directory.ledger.member_ids(), _rows(kit, select(models.Member))) == before
    # a later delivery naming the erased customer writes nothing personal
    _apply(kit, _profile(SHOP, "C1", 60, name="山田 花子", email="hanako@example.jp"))
    assert kit.directory.find("hanako@example.jp") == []


@SQLITE_ONLY
def test_a_member_the_pos_knows_too_keeps_the_pos_data_and_loses_the_shops(sync_kit):
    kit = sync_kit
    _apply(kit, _profile(SHOP, "C1", 0, name="山田 花子", phone="090-1111-2222", email="hanako@example.jp",
                         postal_code="105-0011", address="東京都港区芝公園1-2-3"),
           _purchase(SHOP, "O1", "C1", 12_800), _inquiry(SHOP, "I1", "C1"))  # fmt: skip
    # the POS names the same person later: it joins by phone and name, and its newer values win those fields
    _apply(kit, _profile(POS, "P1", 5, name="山田 花子", phone="090-1111-2222", kana="ヤマダ ハナコ"),
           _purchase(POS, "R1", "P1", 3_000), _inquiry(POS, "I2", "P1"))  # fmt: skip
    member_id = _member_of(kit, POS, "P1")
    assert _member_of(kit, SHOP, "C1") == member_id

    assert _apply(kit, _redact("C1")).written == 1

    member = kit.directory.get(member_id)
    assert member.status == "active"
    profile = member.profile
    assert (profile.name, profile.kana, profile.phone) == ("山田 花子", "ヤマダ ハナコ", "+819011112222")
    assert (profile.email, profile.postal_code, profile.address) == (None, None, None)
    assert kit.directory.find("hanako@example.jp") == []
    assert [m.id for m in kit.directory.find("090-1111-2222")] == [member_id]
    assert _member_of(kit, SHOP, "C1") is None
    sources = _rows(kit, select(models.MemberFieldSource.source).where(models.MemberFieldSource.member_id == member_id))
    assert {source for (source,) in sources} == {POS}
    amounts = select(models.Purchase.source, models.Purchase.total_amount).where(models.Purchase.member_id == member_id)
    assert sorted(_rows(kit, amounts)) == [(POS, 3_000), (SHOP, 12_800)]
    subjects = select(models.Inquiry.source, models.Inquiry.subject_ct.is_not(None)).order_by(models.Inquiry.source)
    assert _rows(kit, subjects) == [(POS, True), (SHOP, False)]
    assert _audit(kit)[-1][:4] == (SHOP, "connector", "erase_source_data", member_id)


@SQLITE_ONLY
def test_values_the_shop_outranked_come_back_with_the_pos_next_delivery(sync_kit):
    kit = sync_kit
    pos_profile = _profile(POS, "P1", 0, name="山田 花子", phone="090-1111-2222", email="old@example.jp")
    _apply(kit, pos_profile)
    _apply(kit, _profile(SHOP, "C1", 5, name="山田 花子", phone="090-1111-2222", email="hanako@example.jp"))
    member_id = _member_of(kit, POS, "P1")

    _apply(kit, _redact("C1"))

    # the shop's newer claims had replaced the POS's on every field, and the hub keeps one value per field
    assert kit.directory.get(member_id).profile == MemberProfile(name=None)
    _apply(kit, pos_profile)  # the POS link was re-armed: the same version is applied again
    profile = kit.directory.get(member_id).profile
    assert (profile.name, profile.phone, profile.email) == ("山田 花子", "+819011112222", "old@example.jp")


@SQLITE_ONLY
def test_a_member_an_operator_entered_is_shredded_not_erased(sync_kit):
    kit = sync_kit
    entered = kit.directory.add(MemberProfile(name="佐藤 次郎", email="jiro@example.jp", phone="090-3333-4444"))
    _apply(kit, _profile(SHOP, "C1", name="佐藤 次郎", email="jiro@example.jp", email_verified=True,
                         address="大阪府大阪市北区1-1"))  # fmt: skip
    assert _member_of(kit, SHOP, "C1") == entered.id

    _apply(kit, _redact("C1"))

    member = kit.directory.get(entered.id)
    assert member.status == "active" and member.profile.phone == "+819033334444"
    assert member.profile.email == "jiro@example.jp" and member.profile.address is None
    assert kit.directory.ledger.member_ids() == []


def test_a_merged_cluster_loses_the_shops_values_and_can_still_be_unmerged(sync_kit):
    kit = sync_kit
    _apply(kit, _profile(POS, "P1", 0, name="鈴木 一郎", phone="080-5555-6666"),
           _profile("helpdesk", "H1", 1, name="鈴木 一郎", email="ichiro@helpdesk.example"),
           _profile(SHOP, "C1", 2, name="鈴木 一郎", email="ichiro@shop.example"))  # fmt: skip
    root, helpdesk, shop = (_member_of(kit, s, e) for s, e in ((POS, "P1"), ("helpdesk", "H1"), (SHOP, "C1")))
    merger = MemberMerger(kit.directory.sealer, SourceRanking(("console",)), T0)
    with kit.engine.begin() as conn:
        merger.merge(conn, root, helpdesk, kind="manual", actor="op", reason="same person")
        shop_merge = merger.merge(conn, root, shop, kind="manual", actor="op", reason="same person").merge_id
    assert kit.directory.get(root).profile.email == "ichiro@shop.example"

    _apply(kit, _redact("C1"))

    assert kit.directory.get(root).profile.email == "ichiro@helpdesk.example"  # the next best value in the cluster
    assert kit.directory.get(shop).profile.email is None and kit.directory.get(shop).status == "merged"
    assert kit.directory.find("ichiro@shop.example") == []
    snapshot = _scalar(kit, select(models.MemberMerge.snapshot).where(models.MemberMerge.id == shop_merge))
    assert snapshot["columns"]["email_ct"]["after"] is None
    with kit.engine.begin() as conn:
        merger.unmerge(conn, shop_merge, actor="op", reason="not the same")
    assert kit.directory.get(root).profile.email == "ichiro@helpdesk.example"
    assert kit.directory.get(shop).profile == MemberProfile(name=None)  # every value it had was the shop's


@SQLITE_ONLY
def test_a_shop_redact_erases_or_shreds_every_member_the_shop_linked(sync_kit):
    kit = sync_kit
    _apply(kit, _profile(SHOP, "C1", name="一 花子", email="one@example.jp"),
           _profile(SHOP, "C2", name="二 花子", email="two@example.jp"),
           _profile(SHOP, "C3", 0, name="三 花子", phone="090-3333-0000", email="three@example.jp"),
           _profile(POS, "P3", 5, name="三 花子", phone="090-3333-0000"),
           _profile(POS, "P4", name="四 花子", email="four@example.jp"),
           _profile("osaka-online", "C1", name="五 花子", email="five@example.jp"))  # fmt: skip
    shop_only = [_member_of(kit, SHOP, "C1"), _member_of(kit, SHOP, "C2")]

    written = _apply(kit, ErasureRequest(source=SHOP, external_id="gid://shopify/Shop/1", source_updated_at=T0,
                                         scope="source")).written  # fmt: skip

    assert written == 3
    assert [kit.directory.get(member_id).status for member_id in shop_only] == ["erased", "erased"]
    mixed = kit.directory.get(_member_of(kit, POS, "P3"))
    assert mixed.profile.phone == "+819033330000" and mixed.profile.email is None
    emails = ("three@example.jp", "four@example.jp", "five@example.jp")
    assert [kit.directory.find(email) != [] for email in emails] == [False, True, True]


@SQLITE_ONLY
def test_a_data_request_is_audited_with_the_member_it_names(sync_kit):
    kit = sync_kit
    _apply(kit, _profile(SHOP, "C1", name="山田 花子", email="hanako@example.jp"))
    member_id = _member_of(kit, SHOP, "C1")

    _apply(kit, DataRequest(source=SHOP, external_id="C1", source_updated_at=T0, request_id="9999"),
           DataRequest(source=SHOP, external_id="C-unknown", source_updated_at=T0))  # fmt: skip

    assert _audit(kit) == [
        (SHOP, "connector", "data_request", member_id,
         {"source": SHOP, "source_request_id": "9999", "member_found": True}),
        (SHOP, "connector", "data_request", None, {"source": SHOP, "source_request_id": None, "member_found": False}),
    ]  # fmt: skip
    assert kit.directory.get(member_id).status == "active"


def _inquiry(source: str, external_id: str, customer: str) -> Inquiry:
    return Inquiry(
        source=source, external_id=external_id, source_updated_at=T0, customer_external_id=customer,
        channel="web", status="open", subject="配送について", opened_at=T0,
    )  # fmt: skip


def _refused(external_id: str) -> Quarantined:
    record = _profile(SHOP, external_id, name="山田 花子")
    return Quarantined.from_record(record, "email: not an email address", "InvalidInputError")
