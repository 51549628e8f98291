"""Key providers: a protected key file kept apart from the database, or a read-only environment variable."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from core.crypto import EnvKeyProvider, KeyFileProvider, KeyProvider, KeyRing
from core.errors import ConfigError, KeyFileError


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    return tmp_path / "secrets" / "keys.json"


@pytest.fixture
def key_file(key_path: Path, ring: KeyRing) -> KeyFileProvider:
    provider = KeyFileProvider(key_path, data_dir=key_path.parent.parent / "data")
    provider.create(ring)
    return provider


def test_providers_satisfy_the_protocol_and_describe_where_keys_live(key_path: Path) -> None:
    assert isinstance(KeyFileProvider(key_path), KeyProvider)
    assert isinstance(EnvKeyProvider(), KeyProvider)
    assert KeyFileProvider(key_path).description == f"key file {key_path}"
    assert EnvKeyProvider().description == "environment variable HUB_KEYRING"


def test_created_key_file_is_0600_in_a_0700_directory(key_file: KeyFileProvider, key_path: Path) -> None:
    assert _mode(key_path) == 0o600
    assert _mode(key_path.parent) == 0o700


def test_created_key_file_loads_the_same_ring(key_file: KeyFileProvider, ring: KeyRing) -> None:
    assert key_file.load() == ring


def test_create_never_overwrites_an_existing_key_file(key_file: KeyFileProvider, key_path: Path) -> None:
    before = key_path.read_bytes()

    with pytest.raises(KeyFileError, match="already exists"):
        key_file.create(KeyRing.generate())
    assert key_path.read_bytes() == before


def test_load_refuses_a_key_file_readable_by_other_users(key_file: KeyFileProvider, key_path: Path) -> None:
    key_path.chmod(0o644)

    with pytest.raises(KeyFileError) as raised:
        key_file.load()
    assert str(raised.value) == (
        f"Key file {key_path} is readable by other users (mode 0644); run: chmod 600 {key_path}"
    )


def test_load_refuses_a_key_file_inside_the_data_directory(tmp_path: Path, ring: KeyRing) -> None:
    data_dir = tmp_path / "data"
    path = data_dir / "keys.json"
    KeyFileProvider(path).create(ring)

    with pytest.raises(KeyFileError) as raised:
        KeyFileProvider(path, data_dir=data_dir).load()
    assert str(raised.value) == (
        f"Key file {path} lies inside the data directory {data_dir.resolve()}; keep keys apart from the database"
    )


def test_data_directory_check_sees_through_symlinks(tmp_path: Path, ring: KeyRing) -> None:
    data_dir = tmp_path / "data"
    KeyFileProvider(data_dir / "keys.json").create(ring)
    (tmp_path / "link").symlink_to(data_dir)

    with pytest.raises(KeyFileError, match="inside the data directory"):
        KeyFileProvider(tmp_path / "link" / "keys.json", data_dir=data_dir).load()


def test_create_refuses_a_key_file_inside_the_data_directory(tmp_path: Path, ring: KeyRing) -> None:
    with pytest.raises(KeyFileError, match="inside the data directory"):
        KeyFileProvider(tmp_path / "data" / "keys.json", data_dir=tmp_path / "data").create(ring)
    assert not (tmp_path / "data" / "keys.json").exists()


def test_missing_key_file_says_how_to_create_one(key_path: Path) -> None:
    with pytest.raises(KeyFileError) as raised:
        KeyFileProvider(key_path).load()
    assert str(raised.value) == f"Key file not found: {key_path} — run `hub init` or set HUB_KEY_FILE"


def test_directory_in_place_of_the_key_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="is not a regular file"):
        KeyFileProvider(tmp_path).load()


def test_malformed_key_file_names_the_file_and_hides_the_keys(
    key_file: KeyFileProvider, key_path: Path, ring: KeyRing
) -> None:
    secret = base64.b64encode(ring.kek(1)).decode()
    key_path.write_text(key_path.read_text()[:-10])  # cut off mid-document

    with pytest.raises(KeyFileError) as raised:
        key_file.load()
    message = str(raised.value)
    assert message == f"Key ring in {key_path} is not valid JSON"
    assert secret not in message


def test_save_replaces_the_ring_atomically_and_keeps_0600(key_file: KeyFileProvider, key_path: Path) -> None:
    rotated = key_file.load().with_new_kek()

    key_file.save(rotated)

    assert key_file.load() == rotated
    assert _mode(key_path) == 0o600
    assert sorted(p.name for p in key_path.parent.iterdir()) == ["keys.json"]  # no temporary file left


def test_save_tightens_a_loosened_key_file_to_0600(key_file: KeyFileProvider, key_path: Path) -> None:
    key_path.chmod(0o644)

    key_file.save(KeyRing.generate())

    assert _mode(key_path) == 0o600


def test_save_under_a_tight_umask_still_writes_0600(key_file: KeyFileProvider, key_path: Path) -> None:
    previous = os.umask(0o277)
    try:
        key_file.save(KeyRing.generate())
    finally:
        os.umask(previous)

    assert _mode(key_path) == 0o600


def test_environment_variable_round_trip(monkeypatch: pytest.MonkeyPatch, ring: KeyRing) -> None:
    monkeypatch.setenv("HUB_KEYRING", base64.b64encode(ring.to_json()).decode())

    assert EnvKeyProvider().load() == ring


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "is not set or empty"),
        ("not base64 at all!", "is not valid base64"),
        (
            base64.b64encode(b"{}").decode(),
            'Key ring in environment variable HUB_TEST_KEYS is invalid: "format"',
        ),
        (base64.b64encode(json.dumps([1]).encode()).decode(), "expected a JSON object"),
    ],
)
def test_garbled_environment_variable_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, value: str, reason: str
) -> None:
    monkeypatch.setenv("HUB_TEST_KEYS", value)

    with pytest.raises(KeyFileError, match=reason) as raised:
        EnvKeyProvider("HUB_TEST_KEYS").load()
    assert "HUB_TEST_KEYS" in str(raised.value)


def test_missing_environment_variable_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUB_KEYRING", raising=False)

    with pytest.raises(KeyFileError, match="Environment variable HUB_KEYRING is not set"):
        EnvKeyProvider().load()


def test_keys_from_the_environment_are_read_only(ring: KeyRing) -> None:
    with pytest.raises(ConfigError, match="keys from HUB_KEYRING are read-only; update the variable instead"):
        EnvKeyProvider().save(ring)
