"""Sealing payloads that belong to no single member: dead-letter records and outbox messages.

Each purpose has its own system data key (``system_keys`` table), wrapped by the KEK like a member's key and
re-wrapped by the same rotation. The associated data binds a ciphertext to its table and row owner.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from core.crypto.envelope import FieldCipher, generate_data_key, unwrap_data_key, wrap_data_key
from core.crypto.keyring import KeyRing
from core.store import sync as repo


class PayloadSealer:
    """Encrypts and decrypts free-form payloads of one table under that table's system key."""

    def __init__(self, engine: Engine, ring: KeyRing, table: str) -> None:
        self.table = table
        self._cipher = _system_cipher(engine, ring, f"{table}.payload")

    def seal(self, text: str, *, owner: str) -> bytes:
        """Ciphertext of ``text`` bound to this table's ``payload_ct`` column and ``owner``."""
        return self._cipher.encrypt(text, table=self.table, column="payload_ct", owner_id=owner)

    def open(self, blob: bytes, *, owner: str) -> str:
        """Plaintext of a sealed payload; ``DecryptionError`` if it was moved or altered."""
        return self._cipher.decrypt(blob, table=self.table, column="payload_ct", owner_id=owner)


def _system_cipher(engine: Engine, ring: KeyRing, name: str) -> FieldCipher:
    with engine.connect() as conn:
        row = repo.get_system_key(conn, name)
    if row is None:
        dek = generate_data_key()
        version = ring.primary_kek_version
        wrapped = wrap_data_key(ring.kek(version), dek)
        try:
            with engine.begin() as conn:
                repo.insert_system_key(conn, name, version, wrapped, datetime.now(UTC))
            return FieldCipher(dek)
        except IntegrityError:  # another process created it first: use theirs
            with engine.connect() as conn:
                row = repo.get_system_key(conn, name)
    assert row is not None
    return FieldCipher(unwrap_data_key(ring.kek(row.kek_version), row.wrapped_key))
