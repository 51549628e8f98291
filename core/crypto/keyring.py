"""The key ring: versioned key-encryption keys (KEKs) and, independently versioned, blind-index root keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from core.errors import DecryptionError, KeyFileError, KeyInUseError

KEY_BYTES = 32
KEY_RING_FORMAT = 1
_KEK_CHECK_LABEL = b"memberhub|kek-check"
_INDEX_CHECK_LABEL = b"memberhub|index-check"


@dataclass(frozen=True)
class KeyRing:
    """All key versions the hub holds; the primary version of each kind is the one new data uses.

    KEKs wrap per-member data keys; index root keys derive blind-index keys. Rotating one never touches
    the other. ``repr`` shows versions only, never key bytes.
    """

    keks: Mapping[int, bytes] = field(repr=False)
    primary_kek_version: int
    index_roots: Mapping[int, bytes] = field(repr=False)
    primary_index_version: int

    def __post_init__(self) -> None:
        # Copies behind read-only views: a caller's dict cannot change a frozen ring afterwards.
        object.__setattr__(self, "keks", _frozen_keys(self.keks, "KEK"))
        object.__setattr__(self, "index_roots", _frozen_keys(self.index_roots, "index root key"))
        _require_primary(self.keks, self.primary_kek_version, "KEK")
        _require_primary(self.index_roots, self.primary_index_version, "index root key")

    @classmethod
    def generate(cls) -> KeyRing:
        """A new ring with version 1 of a random KEK and of a random index root key."""
        return cls({1: os.urandom(KEY_BYTES)}, 1, {1: os.urandom(KEY_BYTES)}, 1)

    def kek(self, version: int) -> bytes:
        """The KEK of ``version``; a missing version means data wrapped under it cannot be read."""
        return _lookup(self.keks, version, "KEK")

    def index_root(self, version: int) -> bytes:
        """The blind-index root key of ``version``."""
        return _lookup(self.index_roots, version, "index root key")

    def with_new_kek(self) -> KeyRing:
        """A copy with a fresh KEK (highest version + 1) that becomes the primary."""
        version = max(self.keks) + 1
        keks = {**self.keks, version: os.urandom(KEY_BYTES)}
        return KeyRing(keks, version, self.index_roots, self.primary_index_version)

    def with_new_index_root(self) -> KeyRing:
        """A copy with a fresh index root key (highest version + 1) that becomes the primary."""
        version = max(self.index_roots) + 1
        roots = {**self.index_roots, version: os.urandom(KEY_BYTES)}
        return KeyRing(self.keks, self.primary_kek_version, roots, version)

    def without_kek(self, version: int) -> KeyRing:
        """A copy without KEK ``version``; the primary cannot be retired."""
        keks = _without(self.keks, version, self.primary_kek_version, "KEK")
        return KeyRing(keks, self.primary_kek_version, self.index_roots, self.primary_index_version)

    def without_index_root(self, version: int) -> KeyRing:
        """A copy without index root key ``version``; the primary cannot be retired."""
        roots = _without(self.index_roots, version, self.primary_index_version, "index root key")
        return KeyRing(self.keks, self.primary_kek_version, roots, self.primary_index_version)

    def kek_check(self, version: int) -> bytes:
        """A check value stored in the database to detect a wrong KEK before any data is touched."""
        return hmac.new(self.kek(version), _KEK_CHECK_LABEL, hashlib.sha256).digest()

    def index_check(self, version: int) -> bytes:
        """A check value stored in the database to detect a wrong index root key."""
        return hmac.new(self.index_root(version), _INDEX_CHECK_LABEL, hashlib.sha256).digest()

    def to_json(self) -> bytes:
        """The ring as JSON (keys in base64), the content of a key file."""
        document = {
            "format": KEY_RING_FORMAT,
            "keks": _encode_keys(self.keks),
            "primary_kek_version": self.primary_kek_version,
            "index_roots": _encode_keys(self.index_roots),
            "primary_index_version": self.primary_index_version,
        }
        return (json.dumps(document, indent=2) + "\n").encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes, *, origin: str) -> KeyRing:
        """Parse ``to_json`` output; errors name ``origin`` and the problem, never key material."""
        try:
            document = json.loads(data)
        except ValueError:  # JSONDecodeError, UnicodeDecodeError, an integer too long to parse
            raise KeyFileError(f"Key ring in {origin} is not valid JSON") from None
        try:
            return cls._from_document(document)
        except ValueError as error:
            raise KeyFileError(f"Key ring in {origin} is invalid: {error}") from None

    @classmethod
    def _from_document(cls, document: Any) -> KeyRing:
        if not isinstance(document, dict):
            raise ValueError("expected a JSON object")
        if document.get("format") != KEY_RING_FORMAT:
            raise ValueError(f'"format" must be {KEY_RING_FORMAT}')
        return cls(
            _decode_keys(document, "keks"),
            _version_field(document, "primary_kek_version"),
            _decode_keys(document, "index_roots"),
            _version_field(document, "primary_index_version"),
        )


def _is_version(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _frozen_keys(keys: Mapping[int, bytes], kind: str) -> Mapping[int, bytes]:
    if not keys:
        raise ValueError(f"the key ring has no {kind}")
    for version, key in keys.items():
        if not _is_version(version):
            raise ValueError(f"{kind} versions must be positive integers")
        if not isinstance(key, bytes) or len(key) != KEY_BYTES:
            raise ValueError(f"{kind} version {version} is not {KEY_BYTES} bytes")
    return MappingProxyType(dict(keys))


def _require_primary(keys: Mapping[int, bytes], primary: int, kind: str) -> None:
    if not _is_version(primary) or primary not in keys:
        raise ValueError(f"the primary {kind} version is not in the key ring")


def _lookup(keys: Mapping[int, bytes], version: int, kind: str) -> bytes:
    try:
        return keys[version]
    except KeyError:
        raise DecryptionError(f"{kind} version {version} is not in the key ring") from None


def _without(keys: Mapping[int, bytes], version: int, primary: int, kind: str) -> dict[int, bytes]:
    _lookup(keys, version, kind)
    if version == primary:
        raise KeyInUseError(f"{kind} version {version} is the primary and cannot be removed")
    return {v: key for v, key in keys.items() if v != version}


def _encode_keys(keys: Mapping[int, bytes]) -> dict[str, str]:
    return {str(version): base64.b64encode(keys[version]).decode("ascii") for version in sorted(keys)}


def _version_field(document: dict[str, Any], name: str) -> int:
    value = document.get(name)
    if not isinstance(value, int) or not _is_version(value):
        raise ValueError(f'"{name}" must be a positive integer')
    return value


def _decode_keys(document: dict[str, Any], name: str) -> dict[int, bytes]:
    # Messages name the field only: a version slot or value may hold key material pasted by mistake.
    encoded = document.get(name)
    if not isinstance(encoded, dict) or not encoded:
        raise ValueError(f'"{name}" must be a non-empty object of version -> base64 key')
    keys: dict[int, bytes] = {}
    for slot, text in encoded.items():
        # Canonical decimal only ("1", not "01"), so two slots cannot name one version.
        if not (slot.isascii() and slot.isdigit() and not slot.startswith("0")):
            raise ValueError(f'"{name}" has a version that is not a positive integer')
        keys[int(slot)] = _decode_key(text, f'"{name}" version {slot}')
    return keys


def _decode_key(text: object, where: str) -> bytes:
    key = b""
    if isinstance(text, str):
        with suppress(ValueError):  # binascii.Error and non-ASCII text are both ValueErrors
            key = base64.b64decode(text, validate=True)
    if len(key) != KEY_BYTES:
        raise ValueError(f"{where} is not a base64-encoded {KEY_BYTES}-byte key")
    return key
