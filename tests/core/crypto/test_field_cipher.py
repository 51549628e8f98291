"""FieldCipher: AES-256-GCM bound to table, column, owner and key version (security tests 2-5)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core.crypto import FieldCipher, generate_data_key
from core.errors import DecryptionError, InvalidInputError

PLACE = {"table": "members", "column": "name_ct", "owner_id": "0190a5e4-0000-7000-8000-000000000001"}
HEADER = 3
NONCE = 12
TAG = 16

japanese_text = st.text(alphabet=st.characters(min_codepoint=0x3000, max_codepoint=0x9FFF), max_size=2_000)


def test_stored_form_is_format_byte_version_nonce_ciphertext_and_tag() -> None:
    cipher = FieldCipher(generate_data_key(), dek_version=258)
    blob = cipher.encrypt("山田", **PLACE)

    assert blob[0] == 0x01
    assert blob[1:3] == (258).to_bytes(2, "big")
    assert len(blob) == HEADER + NONCE + len("山田".encode()) + TAG


@pytest.mark.parametrize(
    "moved",
    [
        {"owner_id": "0190a5e4-0000-7000-8000-000000000002"},
        {"column": "kana_ct"},
        {"table": "quarantine"},
    ],
    ids=["another-owner", "another-column", "another-table"],
)
def test_ciphertext_moved_to_another_owner_column_or_table_fails(cipher: FieldCipher, moved: dict[str, str]) -> None:
    blob = cipher.encrypt("090-1234-5678", **PLACE)

    with pytest.raises(DecryptionError) as raised:
        cipher.decrypt(blob, **{**PLACE, **moved})
    assert "090" not in str(raised.value)


def test_ciphertext_under_another_data_key_version_fails() -> None:
    dek = generate_data_key()
    blob = FieldCipher(dek, dek_version=1).encrypt("山田", **PLACE)

    with pytest.raises(DecryptionError):
        FieldCipher(dek, dek_version=2).decrypt(blob, **PLACE)


def test_ciphertext_under_another_data_key_fails(cipher: FieldCipher) -> None:
    blob = cipher.encrypt("山田", **PLACE)

    with pytest.raises(DecryptionError):
        FieldCipher(generate_data_key()).decrypt(blob, **PLACE)


def test_flipping_any_single_bit_of_the_stored_form_fails(cipher: FieldCipher) -> None:
    blob = cipher.encrypt("太", **PLACE)
    assert len(blob) == HEADER + NONCE + 3 + TAG  # every part is covered: format, version, nonce, body, tag

    for position in range(len(blob)):
        for bit in range(8):
            altered = bytearray(blob)
            altered[position] ^= 1 << bit
            with pytest.raises(DecryptionError, match=r"cannot decrypt members\.name_ct"):
                cipher.decrypt(bytes(altered), **PLACE)


@pytest.mark.parametrize("length", [0, 1, HEADER, HEADER + NONCE, HEADER + NONCE + TAG - 1])
def test_truncated_stored_form_fails(cipher: FieldCipher, length: int) -> None:
    blob = cipher.encrypt("", **PLACE)

    with pytest.raises(DecryptionError):
        cipher.decrypt(blob[:length], **PLACE)


def test_appended_bytes_fail(cipher: FieldCipher) -> None:
    blob = cipher.encrypt("山田", **PLACE)

    with pytest.raises(DecryptionError):
        cipher.decrypt(blob + b"\x00", **PLACE)


def test_100000_encryptions_of_one_plaintext_have_distinct_nonces_and_ciphertexts(
    cipher: FieldCipher,
) -> None:
    blobs = [cipher.encrypt("taro@example.com", **PLACE) for _ in range(100_000)]

    assert len({blob[HEADER : HEADER + NONCE] for blob in blobs}) == 100_000
    assert len({blob[HEADER + NONCE :] for blob in blobs}) == 100_000


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(plaintext=st.one_of(st.text(max_size=10_000), japanese_text))
@example(plaintext="")
@example(plaintext="山田 太郎")
@example(plaintext="やまだ たろう・ヤマダ タロウ")
@example(plaintext="ﾔﾏﾀﾞ ﾀﾛｳ")
@example(plaintext="👨‍👩‍👧 🍣")
@example(plaintext="e\u0301 \u304b\u3099")
@example(plaintext="字" * 3_400)
def test_any_unicode_text_round_trips(plaintext: str) -> None:
    cipher = FieldCipher(generate_data_key(), dek_version=7)

    assert cipher.decrypt(cipher.encrypt(plaintext, **PLACE), **PLACE) == plaintext


def test_text_with_a_lone_surrogate_is_refused_without_echoing_it(cipher: FieldCipher) -> None:
    with pytest.raises(InvalidInputError) as raised:
        cipher.encrypt("secret\ud800", **PLACE)
    assert "secret" not in str(raised.value)


def test_separator_in_a_binding_is_refused(cipher: FieldCipher) -> None:
    with pytest.raises(ValueError, match="must not contain"):
        cipher.encrypt("x", table="members", column="name_ct|x", owner_id="1")


@pytest.mark.parametrize(("dek", "version"), [(b"short", 1), (bytes(32), 0), (bytes(32), 65_536)])
def test_cipher_refuses_a_bad_key_or_version(dek: bytes, version: int) -> None:
    with pytest.raises(ValueError):
        FieldCipher(dek, version)
