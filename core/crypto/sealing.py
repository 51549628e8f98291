"""Sealing a member's personal data: one data key per member, AES-GCM per field, blind indexes for search.

This is the only place that composes the primitives for members; the store sees only ciphertext and digests.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from uuid import UUID

from core.crypto.blind_index import BlindIndexer
from core.crypto.envelope import FieldCipher, generate_data_key, unwrap_data_key, wrap_data_key
from core.crypto.keyring import KeyRing

MEMBER_TABLE = "members"
MEMBER_PII_FIELDS = ("member_number", "name", "kana", "email", "phone", "address", "birthday", "notes")


@dataclass(frozen=True)
class WrappedDataKey:
    """A member's data key as stored: wrapped under one KEK version."""

    wrapped: bytes
    kek_version: int
    dek_version: int = 1


class MemberSealer:
    """Encrypts and decrypts member fields and computes their blind-index digests under one key ring."""

    def __init__(
        self,
        ring: KeyRing,
        *,
        index_bits: Mapping[str, int] | None = None,
        cache_size: int = 4096,
        reload: Callable[[], KeyRing] | None = None,
    ) -> None:
        self._index_bits = index_bits
        self._reload = reload
        self._use_ring(ring)
        self._ciphers: OrderedDict[bytes, FieldCipher] = OrderedDict()
        self._cache_size = cache_size

    def _use_ring(self, ring: KeyRing) -> None:
        self.ring = ring
        self.indexer = BlindIndexer(ring.index_roots, ring.primary_index_version, bits=self._index_bits)

    def _kek(self, version: int) -> bytes:
        """A KEK by version; a version rotated in by another process triggers one reload of the ring."""
        if version not in self.ring.keks and self._reload is not None:
            self._use_ring(self._reload())
        return self.ring.kek(version)

    def new_data_key(self) -> tuple[WrappedDataKey, FieldCipher]:
        """A fresh data key for a new member, wrapped under the primary KEK, and its cipher."""
        dek = generate_data_key()
        version = self.ring.primary_kek_version
        return WrappedDataKey(wrap_data_key(self.ring.kek(version), dek), version), FieldCipher(dek)

    def cipher_for(self, key: WrappedDataKey) -> FieldCipher:
        """The field cipher of an existing member (unwrapped keys are kept in a small LRU cache)."""
        cipher = self._ciphers.get(key.wrapped)
        if cipher is not None:
            self._ciphers.move_to_end(key.wrapped)
            return cipher
        dek = unwrap_data_key(self._kek(key.kek_version), key.wrapped)
        cipher = FieldCipher(dek, key.dek_version)
        self._ciphers[key.wrapped] = cipher
        if len(self._ciphers) > self._cache_size:
            self._ciphers.popitem(last=False)
        return cipher

    def forget(self, key: WrappedDataKey) -> None:
        """Drop a member's unwrapped key from memory (after erasure)."""
        self._ciphers.pop(key.wrapped, None)

    def rewrap(self, key: WrappedDataKey) -> WrappedDataKey:
        """The same data key wrapped under the primary KEK; field ciphertexts stay untouched."""
        dek = unwrap_data_key(self._kek(key.kek_version), key.wrapped)
        version = self.ring.primary_kek_version
        return WrappedDataKey(wrap_data_key(self.ring.kek(version), dek), version, key.dek_version)

    @staticmethod
    def seal_fields(
        cipher: FieldCipher, member_id: UUID, fields: Mapping[str, str | None], *, table: str = MEMBER_TABLE
    ) -> dict[str, bytes | None]:
        """Ciphertext per column (``<field>_ct``), bound to table, column and member."""
        owner = str(member_id)
        return {
            f"{field}_ct": None
            if value is None
            else cipher.encrypt(value, table=table, column=f"{field}_ct", owner_id=owner)
            for field, value in fields.items()
        }

    @staticmethod
    def open_fields(
        cipher: FieldCipher,
        member_id: UUID,
        columns: Mapping[str, bytes | None],
        *,
        table: str = MEMBER_TABLE,
    ) -> dict[str, str | None]:
        """Plaintext per field name for the given ``<field>_ct`` columns."""
        owner = str(member_id)
        return {
            column.removesuffix("_ct"): None
            if blob is None
            else cipher.decrypt(blob, table=table, column=column, owner_id=owner)
            for column, blob in columns.items()
        }

    def index_entries(self, normalized: Mapping[str, str | None]) -> list[tuple[str, int, bytes]]:
        """(index, version, digest) for every non-empty value under every index root version in the ring.

        Writing all versions keeps search working while an index root rotation is in progress.
        """
        versions = self.indexer.versions
        return [
            (index, version, self.indexer.digest(index, value, version))
            for index, value in normalized.items()
            if value
            for version in versions
        ]

    def lookup_digests(self, index: str, normalized: str) -> list[tuple[int, bytes]]:
        """Digests to look a value up with, one per index root version."""
        return [(v, self.indexer.digest(index, normalized, v)) for v in self.indexer.versions]

    def lookup_many(self, index: str, values: Iterable[str]) -> list[tuple[int, bytes]]:
        """Primary-version digests of many values (uniqueness checks in bulk)."""
        version = self.indexer.primary_version
        return [(version, self.indexer.digest(index, value, version)) for value in values]
