from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.slow


def _added_number(output: str) -> str:
    return re.search(r"\d{4}-\d{4}-\d{4}", output).group(0)


def test_merge_list_and_unmerge_two_members_from_the_command_line(hub_cli):
    hub_cli("init")
    first = _added_number(hub_cli("members", "add", "--name", "髙橋 一郎", "--email", "ichiro@example.jp").stdout)
    second = _added_number(hub_cli("members", "add", "--name", "高橋 一郎", "--phone", "090-1111-2222").stdout)

    merged = hub_cli("members", "merge", first, second, "--reason", "same caller, two cards")
    assert f"merged {second} into {first} (merge #1)" in merged.stdout
    shown = hub_cli("members", "show", second).stdout
    assert first in shown  # the member number of a merged member opens the member it joined
    listed = hub_cli("members", "merges", first).stdout
    assert "same caller, two cards" in listed and "manual" in listed

    assert "merge #1 undone" in hub_cli("members", "unmerge", second, "--reason", "two people").stdout
    assert second in hub_cli("members", "show", second).stdout


def test_merge_without_a_reason_is_refused_with_a_clear_message(hub_cli):
    hub_cli("init")
    first = _added_number(hub_cli("members", "add", "--name", "山田 花子").stdout)
    second = _added_number(hub_cli("members", "add", "--name", "山田 花子").stdout)

    result = hub_cli("members", "merge", first, second, "--reason", " ", ok=False)

    assert result.returncode != 0
    assert "give a reason" in result.stderr + result.stdout
