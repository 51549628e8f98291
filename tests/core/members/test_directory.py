from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select, update

from core.crypto.keyring import KeyRing
from core.errors import DecryptionError, InvalidInputError, WrongKeyError
from core.members.keys import verify_key_ring
from core.members.numbers import looks_like_member_number
from core.members.profile import MemberProfile
from core.store.models import Member as MemberRow
from core.store.models import MemberSearchIndex

HANAKO = MemberProfile(
    name="山田 花子",
    kana="ヤマダ ハナコ",
    email="Hanako.Yamada@Example.jp",
    phone="090-1234-5678",
    postal_code="〒100-0001",
    address="東京都千代田区千代田1-1",
    birthday=date(1990, 4, 12),
    notes="常連のお客様",
)
TARO = MemberProfile(name="佐藤 太郎", kana="サトウ タロウ", email="taro@example.jp", phone="03-1234-5678")


def test_added_member_reads_back_in_canonical_form(directory):
    member = directory.add(HANAKO)
    profile = member.profile
    assert profile.name == "山田 花子"
    assert profile.phone == "+819012345678"
    assert profile.postal_code == "100-0001"
    assert profile.birthday == date(1990, 4, 12)
    assert profile.notes == "常連のお客様"
    assert looks_like_member_number(member.member_number)


@pytest.mark.parametrize(
    "query",
    [
        "090-1234-5678",
        "09012345678",
        "+81 90 1234 5678",
        "+819012345678",
        "０９０－１２３４－５６７８",
        "(090) 1234-5678",
    ],
)
def test_search_by_phone_in_any_japanese_notation(directory, query):
    hanako = directory.add(HANAKO)
    directory.add(TARO)
    assert [m.id for m in directory.find(query)] == [hanako.id]


@pytest.mark.parametrize(
    "query", ["hanako.yamada@example.jp", "HANAKO.YAMADA@EXAMPLE.JP", "Ｈａｎａｋｏ.Yamada@example.jp"]
)
def test_search_by_email_in_any_case(directory, query):
    hanako = directory.add(HANAKO)
    assert [m.id for m in directory.find(query)] == [hanako.id]


@pytest.mark.parametrize("query", ["山田花子", "山田　花子", "やまだ はなこ", "ﾔﾏﾀﾞ ﾊﾅｺ"])
def test_search_by_name_or_kana_ignores_spacing_width_and_script(directory, query):
    hanako = directory.add(HANAKO)
    assert [m.id for m in directory.find(query)] == [hanako.id]


def test_search_by_member_number_with_or_without_hyphens(directory):
    hanako = directory.add(HANAKO)
    number = hanako.member_number
    assert [m.id for m in directory.find(number)] == [hanako.id]
    assert [m.id for m in directory.find(number.replace("-", ""))] == [hanako.id]


def test_a_search_given_a_connection_reads_in_that_transaction(directory):
    with directory.engine.begin() as conn:
        (hanako_id,) = directory.insert_validated(conn, [HANAKO.validated()], directory.clock())

        assert [m.id for m in directory.find("090-1234-5678", conn=conn)] == [hanako_id]


def test_search_for_unknown_values_finds_nothing(directory):
    directory.add(HANAKO)
    assert directory.find("080-9999-0000") == []
    assert directory.find("nobody@example.jp") == []
    assert directory.find("鈴木一郎") == []
    assert directory.find("12-34") == []


def test_invalid_phone_and_email_are_refused_without_echoing_them(directory):
    with pytest.raises(InvalidInputError) as phone_error:
        directory.add(MemberProfile(name="山田", phone="12345"))
    with pytest.raises(InvalidInputError) as email_error:
        directory.add(MemberProfile(name="山田", email="not-an-email"))
    assert "12345" not in str(phone_error.value)
    assert "not-an-email" not in str(email_error.value)


def test_ciphertext_copied_to_another_member_fails_to_decrypt(kit, directory):
    hanako, taro = directory.add(HANAKO), directory.add(TARO)
    with kit.engine.begin() as conn:
        stolen = conn.scalar(select(MemberRow.email_ct).where(MemberRow.id == hanako.id))
        conn.execute(update(MemberRow).where(MemberRow.id == taro.id).values(email_ct=stolen))
    with pytest.raises(DecryptionError, match=r"members\.email_ct"):
        kit.directory().get(taro.id)


def test_ciphertext_copied_to_another_column_fails_to_decrypt(kit, directory):
    hanako = directory.add(HANAKO)
    with kit.engine.begin() as conn:
        email = conn.scalar(select(MemberRow.email_ct).where(MemberRow.id == hanako.id))
        conn.execute(update(MemberRow).where(MemberRow.id == hanako.id).values(phone_ct=email))
    with pytest.raises(DecryptionError, match=r"members\.phone_ct"):
        kit.directory().get(hanako.id)


def test_another_hubs_key_ring_is_refused_clearly(kit, directory):
    directory.add(HANAKO)
    with pytest.raises(WrongKeyError, match="does not belong to this database"):
        verify_key_ring(kit.engine, KeyRing.generate())


def test_truncated_blind_index_still_returns_only_true_matches(kit):
    directory = kit.directory(index_bits={"email": 8, "phone": 8, "name": 8, "kana": 8})
    profiles = [
        MemberProfile(name=f"会員{i}", email=f"member{i}@example.jp", phone=f"090-5555-{i:04d}") for i in range(300)
    ]
    ids = directory.add_many(profiles)
    with kit.engine.connect() as conn:
        digests = list(conn.scalars(select(MemberSearchIndex.digest).where(MemberSearchIndex.index_name == "email")))
    assert len(set(digests)) < len(digests), "8-bit digests must collide among 300 members"
    for i in (0, 150, 299):
        assert [m.id for m in directory.find(f"member{i}@example.jp")] == [ids[i]]
        assert [m.id for m in directory.find(f"090-5555-{i:04d}")] == [ids[i]]
