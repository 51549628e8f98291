"""Blind indexes: equal for equivalent spellings, separate per index, independent of the KEK (tests 6-8)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.crypto import INDEX_NAMES, BlindIndexer, KeyRing, check_index_bits, recommend_index_bits
from core.errors import ConfigError, DecryptionError
from core.normalize import normalize_email, normalize_kana, normalize_phone


def _digests(indexer: BlindIndexer, index: str, spellings: list[str], normalize: Callable[[str], str]) -> set[bytes]:
    return {indexer.digest(index, normalize(spelling)) for spelling in spellings}


def test_half_width_katakana_and_hiragana_spellings_share_one_kana_digest(indexer: BlindIndexer) -> None:
    assert len(_digests(indexer, "kana", ["ｻﾄｳ", "サトウ", "さとう", "さ と う"], normalize_kana)) == 1


def test_full_width_and_upper_case_email_share_one_digest(indexer: BlindIndexer) -> None:
    assert len(_digests(indexer, "email", ["Ｔａｒｏ@Example.COM", "taro@example.com"], normalize_email)) == 1


def test_national_international_and_full_width_phone_share_one_digest(indexer: BlindIndexer) -> None:
    spellings = ["090-1234-5678", "+81 90 1234 5678", "０９０１２３４５６７８"]

    assert len(_digests(indexer, "phone", spellings, normalize_phone)) == 1


def test_digest_is_hmac_sha256_under_the_hkdf_derived_index_key(ring: KeyRing, indexer: BlindIndexer) -> None:
    info = b"memberhub|blind-index|email|v1"
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(ring.index_root(1))

    expected = hmac.new(key, b"taro@example.com", hashlib.sha256).digest()

    assert indexer.digest("email", "taro@example.com") == expected


def test_same_value_in_two_indexes_gives_different_digests(indexer: BlindIndexer) -> None:
    digests = {indexer.digest(index, "0312345678") for index in INDEX_NAMES}

    assert len(digests) == len(INDEX_NAMES)


@pytest.mark.parametrize("value", ["taro@example.com", "+819012345678", "サトウ", ""])
def test_no_digest_equals_the_unkeyed_sha256_of_the_value(indexer: BlindIndexer, value: str) -> None:
    unkeyed = hashlib.sha256(value.encode()).digest()

    assert all(indexer.digest(index, value) != unkeyed for index in INDEX_NAMES)


def test_digests_do_not_change_when_a_kek_is_added_or_retired(ring: KeyRing, indexer: BlindIndexer) -> None:
    rotated = ring.with_new_kek().with_new_kek().without_kek(1)
    after = BlindIndexer(rotated.index_roots, rotated.primary_index_version)

    for index in INDEX_NAMES:
        assert after.digest(index, "taro@example.com") == indexer.digest(index, "taro@example.com")


def test_each_index_root_version_gives_its_own_digest(ring: KeyRing) -> None:
    rotated = ring.with_new_index_root()
    indexer = BlindIndexer(rotated.index_roots, rotated.primary_index_version)

    assert indexer.versions == [1, 2]
    assert indexer.primary_version == 2
    assert indexer.digest("email", "a@b.jp") == indexer.digest("email", "a@b.jp", 2)
    assert indexer.digest("email", "a@b.jp", 1) != indexer.digest("email", "a@b.jp", 2)


def test_digests_truncated_to_8_bits_collide(ring: KeyRing) -> None:
    indexer = BlindIndexer(ring.index_roots, 1, bits={"email": 8})
    digests = [indexer.digest("email", f"member{n}@example.com") for n in range(300)]

    assert all(len(digest) == 1 for digest in digests)
    collisions = [(a, b) for a, b in itertools.combinations(range(300), 2) if digests[a] == digests[b]]
    assert collisions  # 300 values in 256 buckets: a coincidence is certain


def test_truncation_keeps_the_leading_bits_and_clears_the_rest(ring: KeyRing) -> None:
    full = BlindIndexer(ring.index_roots, 1).digest("name", "やまだ")
    cut = BlindIndexer(ring.index_roots, 1, bits={"name": 13}).digest("name", "やまだ")

    assert cut == full[:1] + bytes([full[1] & 0b1111_1000])


def test_unknown_index_name_is_refused(indexer: BlindIndexer) -> None:
    with pytest.raises(ValueError, match="unknown blind index 'address'"):
        indexer.digest("address", "x")
    with pytest.raises(ValueError, match="unknown blind indexes"):
        BlindIndexer({1: bytes(32)}, 1, bits={"address": 16})


def test_unknown_index_root_version_is_refused(indexer: BlindIndexer) -> None:
    with pytest.raises(DecryptionError, match="index root key version 9 is not in the key ring"):
        indexer.digest("email", "x", 9)


@pytest.mark.parametrize(("bits", "rows"), [(10, 1_000_000), (18, 1_000_000), (2, 16), (3, 16)])
def test_index_bits_inside_the_safe_window_are_accepted(bits: int, rows: int) -> None:
    check_index_bits(bits, rows)


@pytest.mark.parametrize(
    ("bits", "rows", "reason"),
    [
        (19, 1_000_000, "fewer than 2 rows per digest"),
        (32, 1_000_000, "fewer than 2 rows per digest"),
        (9, 1_000_000, "more than sqrt"),
        (1, 16, "more than sqrt"),
        (2, 15, "at least 16 expected rows"),
        (0, 1_000_000, "between 1 and 256"),
    ],
)
def test_index_bits_outside_the_safe_window_are_refused(bits: int, rows: int, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        check_index_bits(bits, rows)


@pytest.mark.parametrize("rows", [16, 17, 100, 1_000, 65_536, 1_000_000, 10**9])
def test_recommended_index_bits_lie_in_the_safe_window(rows: int) -> None:
    bits = recommend_index_bits(rows)

    check_index_bits(bits, rows)
    assert 2 <= rows / 2**bits <= rows**0.5


def test_no_bits_are_recommended_for_fewer_than_16_rows() -> None:
    with pytest.raises(ConfigError):
        recommend_index_bits(15)
