from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.slow


def _added_number(output: str) -> str:
    return re.search(r"\d{4}-\d{4}-\d{4}", output).group(0)


def test_init_creates_a_private_key_file_apart_from_the_data_and_is_idempotent(hub_cli):
    first = hub_cli("init")
    assert "created" in first.stdout
    assert hub_cli.key_file.stat().st_mode & 0o777 == 0o600
    assert not hub_cli.key_file.is_relative_to(hub_cli.home)
    assert "kept" in hub_cli("init").stdout
    assert "already current" in hub_cli("db", "upgrade").stdout


def test_add_search_show_and_erase_a_member(hub_cli):
    hub_cli("init")
    added = hub_cli(
        "members",
        "add",
        "--name",
        "山田 花子",
        "--kana",
        "やまだ はなこ",
        "--email",
        "Hanako@Example.jp",
        "--phone",
        "０９０−１２３４−５６７８",
        "--birthday",
        "1990-04-12",
        "--postal-code",
        "100-0001",
        "--address",
        "東京都千代田区千代田1-1",
    )
    number = _added_number(added.stdout)

    found = hub_cli("members", "search", "+81 90 1234 5678").stdout
    assert "山田 花子" in found and "090-****-5678" in found and "H***@Example.jp" in found
    assert "1234" not in found.replace(number, "")

    shown = hub_cli("members", "show", number).stdout
    assert "090-1234-5678" in shown and "Hanako@Example.jp" in shown and "東京都千代田区千代田1-1" in shown

    hub_cli("members", "erase", number, "--yes")
    assert "0 member(s) found" in hub_cli("members", "search", "hanako@example.jp").stdout


def test_rotate_then_retire_the_old_kek_and_members_still_read(hub_cli):
    hub_cli("init")
    number = _added_number(hub_cli("members", "add", "--name", "佐藤 一郎", "--phone", "080-1111-2222").stdout)
    moved = hub_cli("keys", "rotate").stdout
    assert "KEK version 2 is primary; 3 row(s) moved" in moved  # the member and the dead-letter and outbox keys
    hub_cli("keys", "retire", "1")
    assert "佐藤 一郎" in hub_cli("members", "show", number).stdout
    status = hub_cli("keys", "status").stdout
    assert re.search(r"KEK\s+│\s+2\s+│\s+yes\s+│\s+3", status)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("members", "add", "--name", "山田", "--phone", "12345"), "invalid phone number"),
        (("members", "add", "--name", "山田", "--email", "nope"), "invalid email"),
        (("members", "add", "--name", "山田", "--birthday", "1990/13/01"), "birthday must be a date"),
        (("members", "show", "0000-0000-0000"), "no member with that member number"),
    ],
)
def test_bad_input_gives_one_clear_line_and_a_non_zero_exit(hub_cli, args, message):
    hub_cli("init")
    result = hub_cli(*args, ok=False)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1


def test_uninitialised_hub_says_to_run_init(hub_cli):
    result = hub_cli("members", "search", "山田", ok=False)
    assert result.returncode == 2
    assert "run `hub init` first" in result.stderr and "Traceback" not in result.stderr


def test_missing_key_file_is_one_clear_error(hub_cli):
    hub_cli("init")
    hub_cli.key_file.unlink()
    result = hub_cli("members", "search", "山田", ok=False)
    assert result.returncode == 2
    assert "Key file not found" in result.stderr and "Traceback" not in result.stderr


def test_world_readable_key_file_is_refused(hub_cli):
    hub_cli("init")
    hub_cli.key_file.chmod(0o644)
    result = hub_cli("members", "search", "山田", ok=False)
    assert "readable by other users" in result.stderr and result.returncode == 2


def test_key_file_inside_the_data_directory_is_refused(hub_cli):
    hub_cli.env["HUB_KEY_FILE"] = str(hub_cli.home / "keyring.json")
    result = hub_cli("init", ok=False)
    assert "inside the data directory" in result.stderr and result.returncode == 2


def test_another_hubs_key_file_is_refused_as_the_wrong_key(hub_cli, tmp_path):
    hub_cli("init")
    hub_cli("members", "add", "--name", "田中 二郎")
    other = dict(hub_cli.env, HUB_HOME=str(tmp_path / "other"), HUB_KEY_FILE=str(tmp_path / "other-keys" / "k.json"))
    hub_cli.env, saved = other, hub_cli.env
    hub_cli("init")
    hub_cli.env = dict(saved, HUB_KEY_FILE=other["HUB_KEY_FILE"])
    result = hub_cli("members", "search", "田中二郎", ok=False)
    assert result.returncode == 3
    assert "does not belong to this database" in result.stderr and "田中" not in result.stderr
