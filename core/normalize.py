"""Input normalisation: one canonical spelling per value, for blind indexes and validation.

Two spellings a person would call "the same" (full-width and half-width, hiragana and katakana, ``090-…``
and ``+81 90 …``) must give the same blind-index digest. Every error is an ``InvalidInputError`` whose
message names the kind of value, never the value itself.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import phonenumbers

from core.errors import InvalidInputError

_HIRAGANA_FIRST = 0x3041  # ぁ
_HIRAGANA_LAST = 0x3096  # ゖ
_HIRAGANA_ITERATION_MARKS = (0x309D, 0x309E)  # ゝ ゞ → ヽ ヾ
_KATAKANA_OFFSET = 0x60  # the Unicode kana blocks are aligned: ア = あ + 0x60
_HIRAGANA_TO_KATAKANA = {
    code: code + _KATAKANA_OFFSET for code in (*range(_HIRAGANA_FIRST, _HIRAGANA_LAST + 1), *_HIRAGANA_ITERATION_MARKS)
}

# Old and variant forms of kanji common in Japanese names (異体字), folded to the everyday form so that 髙橋 and
# 高橋 or 渡邊 and 渡辺 share a name digest. NFKC leaves these apart: most are separate unified ideographs, and
# 﨑 (U+FA11) is one of the compatibility ideographs NFKC keeps. Safe because a name match alone never merges
# members (it only puts a pair in the review queue) and a search then finds both spellings.
_NAME_VARIANTS = str.maketrans(
    {
        "髙": "高", "﨑": "崎", "嵜": "崎", "濵": "浜", "濱": "浜", "邊": "辺", "邉": "辺", "澤": "沢",
        "櫻": "桜", "廣": "広", "國": "国", "德": "徳", "眞": "真", "惠": "恵", "榮": "栄", "壽": "寿",
        "淺": "浅", "關": "関", "黑": "黒", "實": "実", "條": "条", "瀨": "瀬", "冨": "富", "齋": "斎",
        "齊": "斉", "藏": "蔵", "驒": "騨", "槇": "槙", "曾": "曽", "萬": "万",
    }
)  # fmt: skip

# Dashes a person types inside a member number: every Unicode dash punctuation (Pd, which after NFKC covers
# the full-width hyphen), the minus sign, and the katakana prolonged sound mark that Japanese IMEs produce.
_EXTRA_DASHES = frozenset("\u2212\u30fc")


def _nfkc(value: str) -> str:
    return unicodedata.normalize("NFKC", value)


def _casefold(value: str) -> str:
    # NFKC again after case folding, which can leave decomposed sequences (ǰ → j + U+030C): keeps the
    # result stable when an already normalised value is normalised again.
    return _nfkc(value.casefold())


def _nfkc_compact(value: str) -> str:
    # NFKC turns spacing accents (¨ ´) into a space plus a combining mark; once the space is gone the mark
    # joins its neighbour, so NFKC runs again to reach a form that normalising twice leaves unchanged.
    return _nfkc("".join(_nfkc(value).split()))


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise InvalidInputError(message)


def normalize_email(value: str) -> str:
    """NFKC, trimmed and case-folded email address, after a minimal syntax check."""
    email = _casefold(_nfkc(value).strip())
    local, at, domain = email.partition("@")
    labels = domain.split(".")
    _require(
        bool(at and local)
        and "@" not in domain
        and len(labels) >= 2
        and all(labels)
        and not any(ch.isspace() for ch in email),
        "invalid email address",
    )
    return email


def normalize_phone(value: str, region: str = "JP") -> str:
    """E.164 form (``+819012345678``) of a valid number; ``region`` applies when no country code is given."""
    return _e164(_nfkc(value), region)


@lru_cache(maxsize=65536)
def _e164(value: str, region: str) -> str:
    # Memoised: phonenumbers costs about 33 µs a parse and imports repeat the same numbers.
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise InvalidInputError("invalid phone number") from None
    _require(phonenumbers.is_valid_number(number), "invalid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_name(value: str) -> str:
    """NFKC, case-folded name without whitespace (U+3000 included), variant kanji folded (髙橋 → 高橋)."""
    name = _casefold(_nfkc_compact(value)).translate(_NAME_VARIANTS)
    _require(bool(name), "invalid name: empty")
    return name


def normalize_kana(value: str) -> str:
    """Kana reading in katakana: NFKC (ｻﾄｳ → サトウ), whitespace removed, hiragana → katakana.

    Policy: katakana is the canonical script, so さとう, サトウ and ｻﾄｳ share one blind-index digest.
    NFKC alone would keep hiragana and katakana apart.
    """
    kana = _nfkc_compact(value).translate(_HIRAGANA_TO_KATAKANA)
    _require(bool(kana), "invalid kana: empty")
    return kana


def normalize_member_number(value: str) -> str:
    """NFKC, upper-cased member number without spaces or dashes of any kind."""
    kept = "".join(ch for ch in _nfkc(value).upper() if not (ch.isspace() or _is_dash(ch)))
    number = _nfkc(kept)  # upper() and removals can leave decomposed sequences; recompose them
    _require(bool(number), "invalid member number: empty")
    return number


def _is_dash(ch: str) -> bool:
    return ch in _EXTRA_DASHES or unicodedata.category(ch) == "Pd"
