"""Blind indexes: keyed digests of normalised values, for exact-match search over encrypted fields.

Each index has its own key, derived from a versioned index root key that is independent of the KEKs, so a
KEK rotation never changes a digest. A digest may be truncated to limit what it leaks; a lookup on a
truncated index returns candidates that must be decrypted and compared.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.errors import ConfigError, DecryptionError

INDEX_NAMES = ("email", "phone", "member_number", "name", "kana", "name_birthday", "kana_birthday")
DIGEST_BITS = 256
MIN_INDEXED_ROWS = 16
_INDEX_KEY_BYTES = 32
_INFO_PREFIX = b"memberhub|blind-index|"


class BlindIndexer:
    """HMAC-SHA256 digests per index and index root version, optionally truncated to ``bits[index]`` bits."""

    def __init__(
        self,
        index_roots: Mapping[int, bytes],
        primary_version: int,
        *,
        bits: Mapping[str, int] | None = None,
    ) -> None:
        bits = dict(bits or {})
        unknown = set(bits) - set(INDEX_NAMES)
        if unknown:
            raise ValueError(f"bits configured for unknown blind indexes: {sorted(unknown)}")
        if primary_version not in index_roots:
            raise ValueError(f"primary index root version {primary_version} is not among the index roots")
        self.primary_version = primary_version
        self._versions = sorted(index_roots)
        # Pre-keyed HMAC objects, copied per digest: keying HMAC costs more than hashing a short value.
        self._macs = {
            (name, version): hmac.new(_index_key(root, name, version), digestmod=hashlib.sha256)
            for version, root in index_roots.items()
            for name in INDEX_NAMES
        }
        self._truncation = {name: _truncation(name, bits.get(name)) for name in INDEX_NAMES}

    @property
    def versions(self) -> list[int]:
        """The index root versions this indexer can digest under, ascending."""
        return list(self._versions)

    def digest(self, index: str, normalized: str, version: int | None = None) -> bytes:
        """The blind-index digest of an already normalised value (under the primary version by default)."""
        key = (index, self.primary_version if version is None else version)
        try:
            mac = self._macs[key].copy()
        except KeyError:
            raise _unknown(*key) from None
        mac.update(normalized.encode("utf-8"))
        length, mask = self._truncation[index]
        if length is None:
            return mac.digest()
        digest = bytearray(mac.digest()[:length])
        digest[-1] &= mask
        return bytes(digest)


def check_index_bits(bits: int, expected_rows: int) -> None:
    """Refuse a truncation length outside the safe window for ``expected_rows`` rows.

    With R rows and L bits each digest value is shared by about C = R / 2**L rows. C >= 2 means a digest never
    pins down a single member; C <= sqrt(R) keeps the candidates a lookup must decrypt few.
    """
    if expected_rows < MIN_INDEXED_ROWS:
        raise ConfigError(
            f"index truncation needs at least {MIN_INDEXED_ROWS} expected rows to plan, got {expected_rows}"
        )
    if not 1 <= bits <= DIGEST_BITS:
        raise ConfigError(f"index bits must be between 1 and {DIGEST_BITS}, got {bits}")
    # Integer forms of 2 <= R / 2**L and R / 2**L <= sqrt(R): no floating-point edge cases.
    if expected_rows < 2 ** (bits + 1):
        raise ConfigError(
            f"{bits} index bits for {expected_rows} rows leave fewer than 2 rows per digest, "
            "so a digest could identify a member; use fewer bits"
        )
    if expected_rows > 4**bits:
        raise ConfigError(
            f"{bits} index bits for {expected_rows} rows put more than sqrt(rows) candidates behind "
            "a digest, so lookups decrypt too many rows; use more bits"
        )


def recommend_index_bits(expected_rows: int) -> int:
    """The largest truncation length in the safe window: fewest candidates while every digest stays shared."""
    bits = max(1, (expected_rows // 2).bit_length() - 1)
    check_index_bits(bits, expected_rows)
    return bits


def _index_key(root: bytes, name: str, version: int) -> bytes:
    info = _INFO_PREFIX + name.encode("ascii") + b"|v" + str(version).encode("ascii")
    return HKDF(algorithm=hashes.SHA256(), length=_INDEX_KEY_BYTES, salt=None, info=info).derive(root)


def _truncation(name: str, bits: int | None) -> tuple[int | None, int]:
    """Bytes to keep and the mask for the last one (unused low bits cleared)."""
    if bits is None:
        return None, 0xFF
    if not 1 <= bits <= DIGEST_BITS:
        raise ValueError(f"bits for blind index {name!r} must be between 1 and {DIGEST_BITS}")
    length = -(-bits // 8)
    unused = length * 8 - bits
    return length, (0xFF << unused) & 0xFF


def _unknown(index: str, version: int) -> Exception:
    if index not in INDEX_NAMES:
        return ValueError(f"unknown blind index {index!r}; expected one of {', '.join(INDEX_NAMES)}")
    return DecryptionError(f"index root key version {version} is not in the key ring")
