"""KeyRing: versions, rotation, check values and the JSON key-file format."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from core.crypto import KeyRing
from core.errors import DecryptionError, KeyFileError, KeyInUseError


def _document(ring: KeyRing) -> dict[str, object]:
    return json.loads(ring.to_json())  # type: ignore[no-any-return]


def test_generated_ring_holds_version_1_of_each_random_key(ring: KeyRing) -> None:
    other = KeyRing.generate()

    assert (ring.primary_kek_version, ring.primary_index_version) == (1, 1)
    assert len(ring.kek(1)) == len(ring.index_root(1)) == 32
    assert ring.kek(1) != ring.index_root(1)
    assert ring.kek(1) != other.kek(1)


def test_new_kek_becomes_primary_and_keeps_the_old_one(ring: KeyRing) -> None:
    rotated = ring.with_new_kek()

    assert rotated.primary_kek_version == 2
    assert rotated.kek(1) == ring.kek(1)
    assert rotated.index_roots == ring.index_roots
    assert ring.primary_kek_version == 1  # the original ring is unchanged


def test_new_index_root_becomes_primary_and_leaves_keks_alone(ring: KeyRing) -> None:
    rotated = ring.with_new_index_root()

    assert rotated.primary_index_version == 2
    assert rotated.index_root(1) == ring.index_root(1)
    assert rotated.keks == ring.keks


def test_retired_kek_is_gone(ring: KeyRing) -> None:
    rotated = ring.with_new_kek().without_kek(1)

    with pytest.raises(DecryptionError, match="KEK version 1 is not in the key ring"):
        rotated.kek(1)


def test_retired_index_root_is_gone(ring: KeyRing) -> None:
    rotated = ring.with_new_index_root().without_index_root(1)

    with pytest.raises(DecryptionError, match="index root key version 1 is not in the key ring"):
        rotated.index_root(1)


def test_primary_keys_cannot_be_retired(ring: KeyRing) -> None:
    with pytest.raises(KeyInUseError, match="KEK version 1 is the primary"):
        ring.without_kek(1)
    with pytest.raises(KeyInUseError, match="index root key version 1 is the primary"):
        ring.without_index_root(1)


def test_check_values_are_hmacs_of_fixed_labels(ring: KeyRing) -> None:
    assert ring.kek_check(1) == hmac.new(ring.kek(1), b"memberhub|kek-check", hashlib.sha256).digest()
    assert ring.index_check(1) == hmac.new(ring.index_root(1), b"memberhub|index-check", hashlib.sha256).digest()


def test_check_values_tell_keys_apart(ring: KeyRing) -> None:
    other = KeyRing.generate()

    assert ring.kek_check(1) != other.kek_check(1)
    assert ring.index_check(1) != other.index_check(1)


def test_ring_survives_a_json_round_trip(ring: KeyRing) -> None:
    rotated = ring.with_new_kek().with_new_index_root().with_new_index_root()

    assert KeyRing.from_json(rotated.to_json(), origin="test") == rotated


def test_json_layout_matches_the_key_file_format(ring: KeyRing) -> None:
    document = _document(ring)

    assert list(document) == ["format", "keks", "primary_kek_version", "index_roots", "primary_index_version"]
    assert document["format"] == 1
    assert document["keks"] == {"1": base64.b64encode(ring.kek(1)).decode()}


def test_repr_shows_versions_but_no_key_material(ring: KeyRing) -> None:
    text = repr(ring)

    assert "primary_kek_version=1" in text
    for key in (ring.kek(1), ring.index_root(1)):
        assert base64.b64encode(key).decode() not in text
        assert repr(key) not in text


def test_ring_cannot_be_changed_through_the_dict_it_was_built_from() -> None:
    keks = {1: bytes(32)}
    ring = KeyRing(keks, 1, {1: bytes(32)}, 1)
    keks[1] = b"\x01" * 32

    assert ring.kek(1) == bytes(32)
    with pytest.raises(TypeError):
        ring.keks[2] = bytes(32)  # type: ignore[index]


@pytest.mark.parametrize(
    ("keks", "primary", "reason"),
    [({1: bytes(16)}, 1, "not 32 bytes"), ({1: bytes(32)}, 2, "primary KEK version"), ({}, 1, "no KEK")],
)
def test_ring_refuses_bad_keys(keks: dict[int, bytes], primary: int, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        KeyRing(keks, primary, {1: bytes(32)}, 1)


def _garble(ring: KeyRing, change: str) -> bytes:
    document = _document(ring)
    secret = document["keks"]["1"]  # type: ignore[index]
    if change == "short key":
        document["keks"] = {"1": base64.b64encode(b"k" * 16).decode()}
    elif change == "key pasted as version":
        document["keks"] = {secret: 1}
    elif change == "not base64":
        document["keks"] = {"1": secret[:-2] + "!!"}
    elif change == "primary missing":
        document["primary_kek_version"] = 3
    elif change == "format":
        document["format"] = 2
    elif change == "index roots missing":
        del document["index_roots"]
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("short key", '"keks" version 1 is not a base64-encoded 32-byte key'),
        ("key pasted as version", '"keks" has a version that is not a positive integer'),
        ("not base64", '"keks" version 1 is not a base64-encoded 32-byte key'),
        ("primary missing", "primary KEK version is not in the key ring"),
        ("format", '"format" must be 1'),
        ("index roots missing", '"index_roots" must be a non-empty object'),
    ],
)
def test_malformed_ring_names_origin_and_problem_without_key_material(ring: KeyRing, change: str, reason: str) -> None:
    with pytest.raises(KeyFileError) as raised:
        KeyRing.from_json(_garble(ring, change), origin="/etc/memberhub/keys.json")

    message = str(raised.value)
    assert message.startswith("Key ring in /etc/memberhub/keys.json is invalid: ")
    assert reason in message
    assert base64.b64encode(ring.kek(1)).decode()[:8] not in message
    assert "\n" not in message


@pytest.mark.parametrize("data", [b"", b"{not json", b"\xff\xfe", b"[1, 2]"])
def test_ring_that_is_not_a_json_object_is_refused(data: bytes) -> None:
    with pytest.raises(KeyFileError, match=r"Key ring in keys\.json is"):
        KeyRing.from_json(data, origin="keys.json")
