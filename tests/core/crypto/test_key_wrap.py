"""Data keys wrapped under a KEK with AES key wrap (SP 800-38F)."""

from __future__ import annotations

import os

import pytest

from core.crypto import DATA_KEY_BYTES, generate_data_key, unwrap_data_key, wrap_data_key
from core.errors import DecryptionError


def test_data_key_is_32_random_bytes() -> None:
    assert len(generate_data_key()) == DATA_KEY_BYTES
    assert generate_data_key() != generate_data_key()


def test_wrapped_data_key_unwraps_under_the_same_kek() -> None:
    kek, dek = os.urandom(32), generate_data_key()

    wrapped = wrap_data_key(kek, dek)

    assert len(wrapped) == 40
    assert dek not in wrapped
    assert unwrap_data_key(kek, wrapped) == dek


def test_unwrap_under_a_wrong_kek_fails() -> None:
    wrapped = wrap_data_key(os.urandom(32), generate_data_key())

    with pytest.raises(DecryptionError, match="data key does not unwrap under this KEK"):
        unwrap_data_key(os.urandom(32), wrapped)


@pytest.mark.parametrize("position", [0, 8, 39])
def test_altered_wrapped_key_fails(position: int) -> None:
    kek = os.urandom(32)
    wrapped = bytearray(wrap_data_key(kek, generate_data_key()))
    wrapped[position] ^= 0x01

    with pytest.raises(DecryptionError):
        unwrap_data_key(kek, bytes(wrapped))


@pytest.mark.parametrize("wrapped", [b"", bytes(7), bytes(41)], ids=["empty", "short", "odd-length"])
def test_malformed_wrapped_key_fails(wrapped: bytes) -> None:
    with pytest.raises(DecryptionError):
        unwrap_data_key(os.urandom(32), wrapped)


def test_wrap_refuses_keys_that_are_not_256_bits() -> None:
    with pytest.raises(ValueError, match="KEK must be 32 bytes"):
        wrap_data_key(os.urandom(16), generate_data_key())
    with pytest.raises(ValueError, match="data key must be 32 bytes"):
        wrap_data_key(os.urandom(32), os.urandom(16))
