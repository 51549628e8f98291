"""Keys and ciphers for the crypto tests: always fresh random keys, never fixed test vectors."""

from __future__ import annotations

import pytest

from core.crypto import BlindIndexer, FieldCipher, KeyRing, generate_data_key


@pytest.fixture
def ring() -> KeyRing:
    """A newly generated key ring (version 1 of each key)."""
    return KeyRing.generate()


@pytest.fixture
def cipher() -> FieldCipher:
    """A field cipher under a fresh data key, version 1."""
    return FieldCipher(generate_data_key())


@pytest.fixture
def indexer(ring: KeyRing) -> BlindIndexer:
    """Untruncated blind indexes under the ring's index root key."""
    return BlindIndexer(ring.index_roots, ring.primary_index_version)
