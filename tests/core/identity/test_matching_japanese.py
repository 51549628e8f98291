"""Japanese spellings of one identifier are one identifier; a name alone is only ever a question."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from core.records import Profile

JST = timezone(timedelta(hours=9))
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=JST)
BIRTHDAY = date(1988, 11, 3)


def profile(source: str, external_id: str, minute: int = 0, **fields: Any) -> Profile:
    return Profile(source=source, external_id=external_id, source_updated_at=T0 + timedelta(minutes=minute), **fields)


@pytest.mark.parametrize(
    ("stored", "incoming"),
    [
        ("090-1234-5678", "０９０−１２３４−５６７８"),  # full-width digits and minus signs
        ("090-1234-5678", "+81 90-1234-5678"),  # country code instead of the trunk prefix
        ("+819012345678", "09012345678"),
        ("03-1234-5678", "(03) 1234-5678"),
    ],
)
def test_one_phone_number_in_any_japanese_notation_joins_one_member(matching, stored, incoming):
    matching.ingest(profile("pos", "c1", name="高橋 一郎", phone=stored))
    matching.ingest(profile("shop", "g1", name="高橋 一郎", phone=incoming))

    assert matching.root("shop", "g1") == matching.root("pos", "c1")
    assert matching.profile("pos", "c1").phone == matching.profile("shop", "g1").phone


@pytest.mark.parametrize(
    "incoming", ["ICHIRO@Example.JP", "  ichiro@example.jp  ", "ｉｃｈｉｒｏ＠ｅｘａｍｐｌｅ．ｊｐ"]
)
def test_one_verified_email_in_upper_case_padded_or_full_width_joins_one_member(matching, incoming):
    matching.ingest(profile("pos", "c1", name="高橋 一郎", email="ichiro@example.jp"))
    matching.ingest(profile("shop", "g1", email=incoming, email_verified=True))

    assert matching.root("shop", "g1") == matching.root("pos", "c1")


def test_a_phone_joins_when_the_kana_differs_only_in_script_and_width(matching):
    matching.ingest(profile("pos", "c1", name="高橋 一郎", kana="ﾀｶﾊｼ ｲﾁﾛｳ", phone="090-1234-5678"))
    matching.ingest(profile("shop", "g1", name="Ichiro Takahashi", kana="たかはし いちろう", phone="090-1234-5678"))

    assert matching.root("shop", "g1") == matching.root("pos", "c1")


def test_a_phone_joins_when_the_kanji_name_differs_only_by_a_variant_form(matching):
    matching.ingest(profile("pos", "c1", name="髙橋 一郎", phone="090-1234-5678"))
    matching.ingest(profile("shop", "g1", name="高橋　一郎", phone="090-1234-5678"))

    assert matching.root("shop", "g1") == matching.root("pos", "c1")


def test_the_same_kanji_name_and_birthday_from_two_sources_is_a_review_item_not_a_merge(matching):
    matching.ingest(profile("pos", "c1", name="高橋 一郎", birthday=BIRTHDAY, phone="090-1234-5678"))
    matching.ingest(profile("shop", "g1", name="髙橋一郎", birthday=BIRTHDAY, email="ichiro@example.jp"))

    assert matching.root("shop", "g1") != matching.root("pos", "c1")
    assert matching.reviews() == [("same_name_birthday", "name_birthday", ("shop", "g1"))]


def test_the_same_kana_and_birthday_in_half_width_and_full_width_is_a_review_item(matching):
    matching.ingest(profile("pos", "c1", kana="ﾀｶﾊｼ ｲﾁﾛｳ", birthday=BIRTHDAY))
    matching.ingest(profile("shop", "g1", kana="タカハシ イチロウ", birthday=BIRTHDAY))

    assert matching.root("shop", "g1") != matching.root("pos", "c1")
    assert matching.reviews() == [("same_name_birthday", "kana_birthday", ("shop", "g1"))]


def test_the_same_name_on_another_birthday_is_not_a_question(matching):
    matching.ingest(profile("pos", "c1", name="高橋 一郎", birthday=BIRTHDAY))
    matching.ingest(profile("shop", "g1", name="高橋 一郎", birthday=date(1990, 1, 1)))

    assert matching.reviews() == []


def test_the_same_phone_under_a_different_japanese_name_is_a_review_item(matching):
    matching.ingest(profile("pos", "c1", name="高橋 一郎", kana="タカハシ イチロウ", phone="03-1234-5678"))
    matching.ingest(profile("shop", "g1", name="高橋 花子", kana="タカハシ ハナコ", phone="０３−１２３４−５６７８"))

    assert matching.root("shop", "g1") != matching.root("pos", "c1")
    assert matching.reviews() == [("phone_name_differs", "phone", ("shop", "g1"))]
