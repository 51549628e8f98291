"""Cryptography for member data: the only package that touches keys.

Key hierarchy: versioned key-encryption keys (KEKs) from a key provider wrap one random data key (DEK) per
member with AES key wrap (SP 800-38F); a KEK rotation re-wraps DEKs without touching field ciphertexts.
Fields are AES-256-GCM under the member's DEK; the associated data binds each ciphertext to its table,
column, owner and DEK version, so it cannot be swapped into another row or column.
Blind indexes use per-index HMAC keys derived (HKDF) from separately versioned index root keys, never from
a KEK, so KEK rotation leaves every index intact. Erasing a member destroys the DEK and the index rows.
"""

from core.crypto.blind_index import INDEX_NAMES, BlindIndexer, check_index_bits, recommend_index_bits
from core.crypto.envelope import (
    DATA_KEY_BYTES,
    FieldCipher,
    generate_data_key,
    unwrap_data_key,
    wrap_data_key,
)
from core.crypto.key_providers import EnvKeyProvider, KeyFileProvider, KeyProvider
from core.crypto.keyring import KeyRing

__all__ = [
    "DATA_KEY_BYTES",
    "INDEX_NAMES",
    "BlindIndexer",
    "EnvKeyProvider",
    "FieldCipher",
    "KeyFileProvider",
    "KeyProvider",
    "KeyRing",
    "check_index_bits",
    "generate_data_key",
    "recommend_index_bits",
    "unwrap_data_key",
    "wrap_data_key",
]
