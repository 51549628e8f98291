"""Normalisation before blind indexing: one canonical spelling, and errors that never echo the input."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import InvalidInputError
from core.normalize import (
    normalize_email,
    normalize_kana,
    normalize_member_number,
    normalize_name,
    normalize_phone,
)


@pytest.mark.parametrize(
    "spelling",
    ["Ｔａｒｏ@Example.COM", "taro@example.com", "  TARO@EXAMPLE.COM ", "ｔａｒｏ＠ｅｘａｍｐｌｅ．ｃｏｍ"],
)
def test_email_spellings_normalise_to_one_form(spelling: str) -> None:
    assert normalize_email(spelling) == "taro@example.com"


@pytest.mark.parametrize(
    "invalid",
    [
        "taro",
        "taro@",
        "@example.com",
        "taro@example",
        "taro@@example.com",
        "ta ro@example.com",
        "taro@ex..com",
    ],
)
def test_invalid_email_is_refused_without_echoing_it(invalid: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        normalize_email(invalid)
    assert str(raised.value) == "invalid email address"


@pytest.mark.parametrize(
    "spelling",
    [
        "090-1234-5678",
        "+81 90 1234 5678",
        "０９０−１２３４−５６７８",
        "０９０１２３４５６７８",
        "81-90-1234-5678",
    ],
)
def test_phone_spellings_normalise_to_e164(spelling: str) -> None:
    assert normalize_phone(spelling) == "+819012345678"


def test_landline_with_area_code_in_brackets_normalises_to_e164() -> None:
    assert normalize_phone("(03) 1234-5678") == "+81312345678"


def test_foreign_number_keeps_its_country_code() -> None:
    assert normalize_phone("+1 202 555 0143") == "+12025550143"


def test_region_applies_to_numbers_without_a_country_code() -> None:
    assert normalize_phone("020 7946 0018", region="GB") == "+442079460018"


@pytest.mark.parametrize("invalid", ["090-1234", "03-1234-567", "not a phone", "", "+81 00 0000 0000"])
def test_invalid_phone_is_refused_without_echoing_it(invalid: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        normalize_phone(invalid)
    assert str(raised.value) == "invalid phone number"


@pytest.mark.parametrize("spelling", ["山田 太郎", "山田\u3000太郎", "山田太郎", " 山田\t太郎 "])
def test_name_loses_all_whitespace(spelling: str) -> None:
    assert normalize_name(spelling) == "山田太郎"


def test_name_is_width_and_case_folded() -> None:
    assert normalize_name("Ｙａｍａｄａ Taro") == normalize_name("yamada taro") == "yamadataro"


@pytest.mark.parametrize(
    ("variant", "everyday"),
    [("髙橋 一郎", "高橋 一郎"), ("渡邊", "渡辺"), ("渡邉", "渡辺"), ("山﨑", "山崎"), ("齋藤", "斎藤")],
)
def test_variant_kanji_of_names_fold_to_the_everyday_form(variant: str, everyday: str) -> None:
    assert normalize_name(variant) == normalize_name(everyday)


def test_distinct_names_that_look_alike_stay_distinct() -> None:
    # 斎藤 and 斉藤 are different family names, not glyph variants of one
    assert normalize_name("斎藤") != normalize_name("斉藤")


@pytest.mark.parametrize("spelling", ["さとう たろう", "サトウ タロウ", "ｻﾄｳ ﾀﾛｳ", "サトウ\u3000タロウ"])
def test_kana_spellings_normalise_to_katakana(spelling: str) -> None:
    assert normalize_kana(spelling) == "サトウタロウ"


def test_kana_voiced_marks_survive_width_and_script_folding() -> None:
    assert normalize_kana("ﾔﾏﾀﾞ ｼﾞﾛｳ") == normalize_kana("やまだ じろう") == "ヤマダジロウ"


@pytest.mark.parametrize(
    "spelling", ["ab-1234-5678", "AB 1234 5678", "ＡＢ－１２３４－５６７８", "AB‐1234—5678", "ab−1234ー5678"]
)
def test_member_number_is_upper_case_without_spaces_or_dashes(spelling: str) -> None:
    assert normalize_member_number(spelling) == "AB12345678"


@pytest.mark.parametrize(
    ("normalize", "message"),
    [
        (normalize_name, "invalid name: empty"),
        (normalize_kana, "invalid kana: empty"),
        (normalize_member_number, "invalid member number: empty"),
    ],
)
def test_value_that_is_only_whitespace_is_refused(normalize: Callable[[str], str], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        normalize(" \u3000\t ")


@settings(max_examples=300, deadline=None, database=None)
@given(value=st.text(max_size=40))
def test_normalising_twice_changes_nothing(value: str) -> None:
    for normalize in (normalize_name, normalize_kana, normalize_member_number):
        try:
            once = normalize(value)
        except InvalidInputError:
            continue
        assert normalize(once) == once
