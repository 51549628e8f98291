"""StoreSink: canonical records into the encrypted store, once, whatever the order they arrive in."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import Engine, func, select

from core.crypto.key_providers import KeyFileProvider
from core.crypto.keyring import KeyRing
from core.crypto.sealing import MemberSealer, WrappedDataKey
from core.members.directory import MemberDirectory
from core.members.erasure import ErasureLedger
from core.members.keys import load_verified_ring
from core.members.profile import Member, MemberProfile
from core.records import (
    CanonicalRecord,
    ConsentChange,
    Inquiry,
    InquiryMessage,
    Profile,
    Purchase,
    PurchaseAdjustment,
    PurchaseLine,
    SurveyResponse,
)
from core.store import models
from core.store import records as repo
from core.store.database import create_hub_engine, upgrade_database
from core.sync.ingest import StoreSink
from core.sync.sink import SinkResult

JST = timezone(timedelta(hours=9))
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=JST)
NOW = datetime(2026, 12, 2, 0, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


# ── factories ──────────────────────────────────────────────────────────────────────────────────────


def profile(external_id: str = "c1", *, source: str = "pos", minute: int = 0, **fields: Any) -> Profile:
    return Profile(source=source, external_id=external_id, source_updated_at=at(minute), **fields)


def purchase(external_id: str = "o1", *, minute: int = 0, customer: str | None = "c1", **fields: Any) -> Purchase:
    values: dict[str, Any] = {
        "channel": "store",
        "store_code": "shibuya",
        "total_amount": 1650,
        "tax_amount": 150,
        "purchased_at": at(-60),
        "lines": (
            PurchaseLine(line_no=1, sku="A-1", product_name="緑茶", quantity=2, unit_price=500, amount=1000),
            PurchaseLine(line_no=2, sku="B-2", product_name="羊羹", quantity=1, unit_price=500, amount=500),
        ),
    }
    values.update(fields)
    return Purchase(
        source="pos",
        external_id=external_id,
        source_updated_at=at(minute),
        customer_external_id=customer,
        **values,
    )


def adjustment(external_id: str, kind: str, amount: int) -> PurchaseAdjustment:
    return PurchaseAdjustment(external_id=external_id, kind=kind, amount=amount, occurred_at=at(30))


def inquiry(
    external_id: str = "t1", *, source: str = "desk", minute: int = 0, customer: str = "c1", **fields: Any
) -> Inquiry:
    values: dict[str, Any] = {
        "channel": "email",
        "status": "open",
        "subject": "配送について",
        "opened_at": at(-10),
        "messages": (message("m1", "荷物がまだ届きません"),),
    }
    values.update(fields)
    return Inquiry(
        source=source, external_id=external_id, source_updated_at=at(minute), customer_external_id=customer, **values
    )


def message(external_id: str, body: str) -> InquiryMessage:
    return InquiryMessage(external_id=external_id, author_kind="member", body=body, sent_at=at(-10))


def survey(external_id: str = "s1", *, minute: int = 0, **fields: Any) -> SurveyResponse:
    values: dict[str, Any] = {
        "survey_code": "nps-2026",
        "score": 9,
        "answers": {"visit": "weekly"},
        "free_text": "店員さんがとても親切でした",
        "answered_at": at(-5),
    }
    values.update(fields)
    return SurveyResponse(
        source="mail", external_id=external_id, source_updated_at=at(minute), customer_external_id="c1", **values
    )


def consent(external_id: str, channel: str, subscribed: bool, *, minute: int = 0) -> ConsentChange:
    return ConsentChange(
        source="mail",
        external_id=external_id,
        source_updated_at=at(minute),
        customer_external_id="c1",
        channel=channel,
        subscribed=subscribed,
        changed_at=at(minute),
    )


# ── the hub under test ─────────────────────────────────────────────────────────────────────────────


@dataclass
class Hub:
    engine: Engine
    directory: MemberDirectory
    ring: KeyRing
    ledger: ErasureLedger

    def with_index_bits(self, bits: dict[str, int]) -> Hub:
        sealer = MemberSealer(self.ring, index_bits=bits)
        return Hub(
            self.engine, MemberDirectory(self.engine, sealer, self.ledger, clock=lambda: NOW), self.ring, self.ledger
        )

    def apply(self, *records: CanonicalRecord, priority: tuple[str, ...] = ("console",)) -> SinkResult:
        sink = StoreSink(self.directory, source_priority=priority, clock=lambda: NOW)
        with self.engine.begin() as conn:
            return sink.apply(conn, list(records))

    def member_id(self, source: str, external_id: str) -> UUID:
        link = models.SourceLink
        query = select(link.member_id).where(link.source == source, link.external_id == external_id)
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one()

    def member(self, source: str = "pos", external_id: str = "c1") -> Member:
        return self.directory.get(self.member_id(source, external_id))

    def count(self, model: type[models.Base]) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(model)).scalar_one()

    def one(self, *columns: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(select(*columns)).one()

    def provenance(self, member_id: UUID) -> dict[str, tuple[str, datetime]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(models.MemberFieldSource).where(models.MemberFieldSource.member_id == member_id))
            return {row.field: (row.source, row.source_updated_at) for row in rows}

    def open(self, member_id: UUID, blob: bytes, table: str, column: str) -> str:
        with self.engine.connect() as conn:
            row = conn.execute(select(models.Member).where(models.Member.id == member_id)).one()
        cipher = self.directory.sealer.cipher_for(WrappedDataKey(row.wrapped_dek, row.kek_version, row.dek_version))
        return cipher.decrypt(blob, table=table, column=column, owner_id=str(member_id))


@pytest.fixture
def hub(db_url: str, tmp_path: Path) -> Iterator[Hub]:
    engine = create_hub_engine(db_url)
    upgrade_database(engine)
    provider = KeyFileProvider(tmp_path / "keys" / "keyring.json", data_dir=tmp_path / "data")
    provider.create(KeyRing.generate())
    ring = load_verified_ring(engine, provider)
    ledger = ErasureLedger(tmp_path / "keys" / "erasure-ledger.jsonl")
    yield Hub(engine, MemberDirectory(engine, MemberSealer(ring), ledger, clock=lambda: NOW), ring, ledger)
    engine.dispose()


# ── exactly-once effect ────────────────────────────────────────────────────────────────────────────


def test_the_same_batch_applied_twice_stores_each_row_once_and_writes_nothing_the_second_time(hub):
    batch = [
        profile(name="山田 花子", email="hanako@example.jp"),
        purchase(adjustments=(adjustment("r1", "refund", 500),), status="partially_refunded"),
        inquiry(customer="c1"),
        survey(),
        consent("e1", "email", True),
    ]
    first = hub.apply(*batch)
    second = hub.apply(*batch)

    assert first.written > 0 and first.refused == ()
    assert second.written == 0
    tables = [
        models.PurchaseLine,
        models.PurchaseAdjustment,
        models.InquiryMessage,
        models.SurveyResponse,
        models.ConsentEvent,
        models.Purchase,
    ]
    assert [hub.count(model) for model in tables] == [2, 1, 1, 1, 1, 1]
    # the profile's link and the desk's and mail's customer links: three sources, three members
    assert hub.count(models.SourceLink) == 3


def test_an_older_purchase_version_after_a_newer_one_changes_nothing(hub):
    hub.apply(purchase(minute=10, status="refunded", adjustments=(adjustment("r1", "refund", 1650),)))
    result = hub.apply(purchase(minute=5, status="completed", total_amount=9999))

    assert result.written == 0
    assert tuple(hub.one(models.Purchase.status, models.Purchase.total_amount)) == ("refunded", 1650)


def test_an_older_profile_version_after_a_newer_one_changes_nothing(hub):
    hub.apply(profile(minute=10, name="新しい 名前"))
    result = hub.apply(profile(minute=5, name="古い 名前", email="old@example.jp"))

    assert result.written == 0
    assert hub.member().profile.name == "新しい 名前"
    assert hub.member().profile.email is None


def test_duplicate_keys_in_one_batch_keep_the_newest_version(hub):
    result = hub.apply(
        purchase(minute=1, total_amount=100),
        purchase(minute=3, total_amount=300),
        purchase(minute=2, total_amount=200),
        profile(minute=2, name="二番"),
        profile(minute=1, name="一番"),
        consent("e1", "email", True, minute=1),
        consent("e1", "email", False, minute=2),
    )

    assert result.refused == ()
    assert hub.count(models.Purchase) == 1 and hub.one(models.Purchase.total_amount)[0] == 300
    assert hub.member().profile.name == "二番"
    assert hub.count(models.ConsentEvent) == 1 and hub.one(models.ConsentEvent.subscribed)[0] is False


# ── member resolution ──────────────────────────────────────────────────────────────────────────────


def test_a_purchase_before_its_profile_makes_a_placeholder_that_the_profile_fills_in(hub):
    hub.apply(purchase(customer="c1"))
    placeholder = hub.member()
    assert placeholder.profile.name is None and placeholder.profile.email is None

    hub.apply(profile("c1", minute=5, name="山田 花子", email="hanako@example.jp"))

    member = hub.member()
    assert member.id == placeholder.id and hub.count(models.Member) == 1
    assert (member.profile.name, member.profile.email) == ("山田 花子", "hanako@example.jp")
    assert hub.one(models.Purchase.member_id)[0] == member.id
    assert [m.id for m in hub.directory.find("hanako@example.jp")] == [member.id]


def test_a_guest_purchase_belongs_to_no_member(hub):
    hub.apply(purchase(customer=None))

    assert hub.one(models.Purchase.member_id)[0] is None
    assert hub.count(models.Member) == 0


def test_a_profile_from_another_source_joins_the_member_with_the_same_verified_email(hub):
    hub.apply(profile("c1", source="pos", name="山田 花子", email="Hanako@Example.jp"))
    hub.apply(
        profile(
            "gid://1", source="shop", minute=5, email="hanako@example.jp", email_verified=True, phone="090-1234-5678"
        )
    )

    assert hub.member_id("shop", "gid://1") == hub.member_id("pos", "c1")
    assert hub.count(models.Member) == 1
    assert hub.member().profile.phone == "+819012345678"


def test_a_profile_from_another_source_joins_the_member_with_the_same_phone(hub):
    hub.apply(profile("c1", source="pos", name="山田 花子", phone="090-1234-5678"))
    hub.apply(profile("gid://1", source="shop", minute=5, email="new@example.jp", phone="+81 90 1234 5678"))

    assert hub.member_id("shop", "gid://1") == hub.member_id("pos", "c1")
    assert hub.member().profile.email == "new@example.jp"


def test_two_new_profiles_in_one_batch_with_the_same_verified_email_make_one_member(hub):
    hub.apply(
        profile("c1", source="pos", name="山田 花子", email="hanako@example.jp"),
        profile("gid://1", source="shop", email="HANAKO@example.jp", email_verified=True, phone="090-1234-5678"),
    )

    assert hub.count(models.Member) == 1
    assert hub.member().profile.phone == "+819012345678"


def test_with_truncated_blind_indexes_a_profile_joins_only_the_member_whose_email_matches(hub):
    truncated = hub.with_index_bits({"email": 1, "phone": 1})  # every digest shared by about half the members
    emails = [f"member{n}@example.jp" for n in range(6)]
    truncated.apply(*(profile(f"c{n}", name=f"会員 {n}", email=email) for n, email in enumerate(emails)))

    truncated.apply(profile("g1", source="shop", email="MEMBER4@example.jp", email_verified=True))

    assert truncated.member_id("shop", "g1") == truncated.member_id("pos", "c4")
    assert truncated.count(models.Member) == 6


def test_an_erased_members_data_is_not_brought_back_by_a_later_version(hub):
    hub.apply(profile(minute=0, name="山田 花子", email="hanako@example.jp"))
    member_id = hub.member_id("pos", "c1")
    hub.directory.erase(member_id)

    result = hub.apply(profile(minute=5, phone="090-1234-5678"), inquiry(source="pos", customer="c1"))

    assert hub.directory.get(member_id).profile is None
    assert hub.directory.find("090-1234-5678") == []
    assert result.written == 1  # the inquiry's header, without its subject and messages
    assert tuple(hub.one(models.Inquiry.member_id, models.Inquiry.subject_ct)) == (member_id, None)
    assert hub.count(models.InquiryMessage) == 0


# ── per-field merge ────────────────────────────────────────────────────────────────────────────────


def test_between_equal_sources_the_newer_value_wins_field_by_field(hub):
    hub.apply(profile("c1", source="pos", minute=10, name="山田 花子", email="hanako@example.jp"))
    hub.apply(
        profile(
            "g1",
            source="shop",
            minute=5,
            name="古い 名前",
            email="hanako@example.jp",
            email_verified=True,
            kana="ヤマダ",
        )
    )
    assert (hub.member().profile.name, hub.member().profile.kana) == ("山田 花子", "ヤマダ")

    hub.apply(profile("g1", source="shop", minute=20, name="山田 はなこ"))
    assert hub.member().profile.name == "山田 はなこ"


def test_the_console_beats_an_import_even_when_older(hub):
    hub.apply(profile("op-1", source="console", minute=0, name="山田 花子", email="hanako@example.jp"))
    hub.apply(
        profile(
            "c1",
            source="pos",
            minute=60,
            name="ヤマダ ハナコ",
            email="hanako@example.jp",
            email_verified=True,
            kana="ヤマダ",
        )
    )

    member = hub.member("console", "op-1")
    assert (member.profile.name, member.profile.kana) == ("山田 花子", "ヤマダ")
    assert hub.member_id("pos", "c1") == member.id


def test_a_higher_priority_import_overwrites_a_newer_lower_one(hub):
    hub.apply(profile("g1", source="shop", minute=60, name="通販 名前", email="hanako@example.jp"))
    hub.apply(
        profile("c1", source="pos", minute=0, name="店舗 名前", email="hanako@example.jp", email_verified=True),
        priority=("pos",),
    )

    assert hub.member("shop", "g1").profile.name == "店舗 名前"


def test_an_operator_entered_value_counts_as_the_console(hub):
    hub.directory.add(MemberProfile(name="山田 花子", email="hanako@example.jp"))
    hub.apply(
        profile(
            "c1", minute=60, name="別の 名前", email="hanako@example.jp", email_verified=True, phone="090-1234-5678"
        )
    )

    assert (hub.member().profile.name, hub.member().profile.phone) == ("山田 花子", "+819012345678")


def test_missing_fields_never_erase_known_values(hub):
    hub.apply(profile(minute=0, name="山田 花子", email="hanako@example.jp", phone="090-1234-5678"))
    hub.apply(profile(minute=5, kana="ヤマダ ハナコ"))

    stored = hub.member().profile
    assert (stored.name, stored.email, stored.phone, stored.kana) == (
        "山田 花子",
        "hanako@example.jp",
        "+819012345678",
        "ヤマダ ハナコ",
    )


def test_a_changed_email_replaces_its_blind_index(hub):
    hub.apply(profile(minute=0, name="山田 花子", email="old@example.jp"))
    result = hub.apply(profile(minute=5, email="new@example.jp"))

    assert result.written == 1
    assert hub.directory.find("old@example.jp") == []
    assert [m.id for m in hub.directory.find("new@example.jp")] == [hub.member_id("pos", "c1")]
    assert hub.provenance(hub.member_id("pos", "c1")) == {"name": ("pos", at(0)), "email": ("pos", at(5))}


def test_an_invalid_phone_is_refused_and_the_rest_of_the_batch_is_stored(hub):
    result = hub.apply(
        profile("c1", name="山田 花子"),
        profile("c2", name="佐藤 太郎", phone="12-34"),
        purchase(customer="c1"),
    )

    assert [(q.external_id, q.reason) for q in result.refused] == [("c2", "invalid phone number")]
    assert hub.count(models.Member) == 1 and hub.count(models.Purchase) == 1


# ── purchases ──────────────────────────────────────────────────────────────────────────────────────


def test_refunds_and_cancellations_are_stored_and_the_status_follows(hub):
    hub.apply(purchase(minute=0))
    hub.apply(purchase(minute=5, status="partially_refunded", adjustments=(adjustment("r1", "refund", 500),)))
    both = (adjustment("r1", "refund", 500), adjustment("x1", "cancel", 1150))
    hub.apply(purchase(minute=9, status="cancelled", adjustments=both))

    assert hub.one(models.Purchase.status)[0] == "cancelled"
    with hub.engine.connect() as conn:
        adjustments = conn.execute(
            select(models.PurchaseAdjustment.external_id, models.PurchaseAdjustment.kind).order_by("external_id")
        ).all()
    assert [tuple(a) for a in adjustments] == [("r1", "refund"), ("x1", "cancel")]


def test_a_newer_version_replaces_the_lines(hub):
    hub.apply(purchase(minute=0))
    line = PurchaseLine(line_no=1, sku="A-1", product_name="緑茶", quantity=1, unit_price=500, amount=500)
    result = hub.apply(purchase(minute=5, lines=(line,), total_amount=550))

    assert result.written == 2  # the header and its one new line
    assert hub.count(models.PurchaseLine) == 1 and hub.one(models.PurchaseLine.quantity)[0] == 1


# ── sealed text ────────────────────────────────────────────────────────────────────────────────────


def test_inquiry_subject_and_messages_are_sealed_with_the_members_data_key(hub):
    hub.apply(inquiry(messages=(message("m1", "荷物がまだ届きません"), message("m2", "追跡番号を教えてください"))))

    member_id = hub.member_id("desk", "c1")
    subject_ct, owner = hub.one(models.Inquiry.subject_ct, models.Inquiry.member_id)
    with hub.engine.connect() as conn:
        bodies = conn.execute(select(models.InquiryMessage.body_ct).order_by(models.InquiryMessage.external_id)).all()
    assert owner == member_id
    assert "配送".encode() not in subject_ct and "荷物".encode() not in bodies[0][0]
    assert hub.open(member_id, subject_ct, "inquiries", "subject_ct") == "配送について"
    texts = [hub.open(member_id, row[0], "inquiry_messages", "body_ct") for row in bodies]
    assert texts == ["荷物がまだ届きません", "追跡番号を教えてください"]


def test_survey_free_text_is_sealed_and_choice_answers_stay_in_the_clear(hub):
    hub.apply(survey())

    member_id = hub.member_id("mail", "c1")
    free_text_ct, answers, score = hub.one(
        models.SurveyResponse.free_text_ct, models.SurveyResponse.answers, models.SurveyResponse.score
    )
    assert "親切".encode() not in free_text_ct
    assert hub.open(member_id, free_text_ct, "survey_responses", "free_text_ct") == "店員さんがとても親切でした"
    assert (answers, score) == ({"visit": "weekly"}, 9)


# ── consent and webhooks ───────────────────────────────────────────────────────────────────────────


def test_consent_events_are_stored_and_the_latest_per_channel_is_the_consent(hub):
    hub.apply(consent("e1", "email", True, minute=0), consent("s1", "sms", True, minute=1))
    hub.apply(consent("e2", "email", False, minute=5))

    assert hub.count(models.ConsentEvent) == 3
    with hub.engine.connect() as conn:
        assert repo.consent_state(conn, hub.member_id("mail", "c1")) == {"email": False, "sms": True}


def test_a_webhook_delivery_is_recorded_once_per_connector(hub):
    with hub.engine.begin() as conn:
        first = repo.record_delivery(conn, "shop", "d-1", NOW)
        again = repo.record_delivery(conn, "shop", "d-1", NOW)
        other = repo.record_delivery(conn, "pos", "d-1", NOW)

    assert (first, again, other) == (True, False, True)
