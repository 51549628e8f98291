"""Envelope encryption: per-member data keys wrapped under a KEK, and AES-256-GCM field ciphertexts."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from core.errors import DecryptionError, InvalidInputError

DATA_KEY_BYTES = 32
KEK_BYTES = 32
FORMAT_V1 = 0x01
NONCE_BYTES = 12
TAG_BYTES = 16
_VERSION_BYTES = 2
_HEADER_BYTES = 1 + _VERSION_BYTES
_BODY_START = _HEADER_BYTES + NONCE_BYTES
_MIN_BLOB_BYTES = _BODY_START + TAG_BYTES
_MAX_DEK_VERSION = 2 ** (8 * _VERSION_BYTES) - 1
_AAD_PREFIX = b"memberhub|1|"


def generate_data_key() -> bytes:
    """A fresh random 256-bit data key (DEK)."""
    return os.urandom(DATA_KEY_BYTES)


def wrap_data_key(kek: bytes, dek: bytes) -> bytes:
    """The DEK wrapped under the KEK with AES key wrap (RFC 3394, SP 800-38F); 40 bytes for a 32-byte DEK."""
    _require_length(kek, KEK_BYTES, "KEK")
    _require_length(dek, DATA_KEY_BYTES, "data key")
    return aes_key_wrap(kek, dek)


def unwrap_data_key(kek: bytes, wrapped: bytes) -> bytes:
    """The DEK inside ``wrapped``; an integrity failure (wrong KEK, altered bytes) raises DecryptionError."""
    _require_length(kek, KEK_BYTES, "KEK")
    try:
        dek = aes_key_unwrap(kek, bytes(wrapped))
    except (InvalidUnwrap, ValueError):
        raise DecryptionError("data key does not unwrap under this KEK") from None
    if len(dek) != DATA_KEY_BYTES:
        raise DecryptionError("data key does not unwrap under this KEK")
    return dek


class FieldCipher:
    """AES-256-GCM for the fields encrypted under one data key.

    Stored form: format byte 0x01 | DEK version (2 bytes, big-endian) | 12-byte random nonce | ciphertext‖tag.
    The associated data binds each ciphertext to its table, column, owner and key version, so a ciphertext
    copied to another row or column fails to decrypt.
    """

    __slots__ = ("_aad_suffix", "_aead", "_header", "dek_version")

    def __init__(self, dek: bytes, dek_version: int = 1) -> None:
        _require_length(dek, DATA_KEY_BYTES, "data key")
        if not 0 < dek_version <= _MAX_DEK_VERSION:
            raise ValueError(f"data key version must be between 1 and {_MAX_DEK_VERSION}")
        self.dek_version = dek_version
        # Built once: constructing the AEAD object costs more than encrypting a short field.
        self._aead = AESGCM(dek)
        self._header = bytes([FORMAT_V1]) + dek_version.to_bytes(_VERSION_BYTES, "big")
        self._aad_suffix = f"|{dek_version}".encode("ascii")

    def encrypt(self, plaintext: str, *, table: str, column: str, owner_id: str) -> bytes:
        """The stored form of ``plaintext`` for this table, column and owner."""
        if "|" in table or "|" in column or "|" in owner_id:
            # The separator inside a name would let two different bindings share one associated data.
            raise ValueError("table, column and owner_id must not contain '|'")
        try:
            data = plaintext.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInputError(f"cannot encrypt {table}.{column}: text is not valid Unicode") from None
        nonce = os.urandom(NONCE_BYTES)
        return self._header + nonce + self._aead.encrypt(nonce, data, self._aad(table, column, owner_id))

    def decrypt(self, blob: bytes, *, table: str, column: str, owner_id: str) -> str:
        """The plaintext of ``blob``, or DecryptionError if it fails authentication in this place."""
        if len(blob) < _MIN_BLOB_BYTES or blob[:_HEADER_BYTES] != self._header:
            raise _decryption_error(table, column)
        nonce = blob[_HEADER_BYTES:_BODY_START]
        aad = self._aad(table, column, owner_id)
        try:
            return self._aead.decrypt(nonce, blob[_BODY_START:], aad).decode("utf-8")
        except (InvalidTag, UnicodeDecodeError):
            raise _decryption_error(table, column) from None

    def _aad(self, table: str, column: str, owner_id: str) -> bytes:
        return _AAD_PREFIX + f"{table}|{column}|{owner_id}".encode() + self._aad_suffix


def _decryption_error(table: str, column: str) -> DecryptionError:
    return DecryptionError(
        f"cannot decrypt {table}.{column}: the ciphertext was altered, moved from another row or column, "
        "or its key is gone"
    )


def _require_length(key: bytes, length: int, kind: str) -> None:
    if len(key) != length:
        raise ValueError(f"{kind} must be {length} bytes")
