import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import ConfigError
from hub.config import SyncSettings, load_hub_config
from hub.workers.priority import autogroup_niceness

# Each priority change runs in a child interpreter: a niceness, once taken, cannot be given back unprivileged.
LOWER_AND_REPORT = """
import os, subprocess, sys
from hub.config import SyncSettings
from hub.workers.priority import autogroup_niceness, lower_sync_priority
start = int(sys.argv[2])
if start:
    os.setpriority(os.PRIO_PROCESS, 0, start)
taken = lower_sync_priority(SyncSettings(niceness=int(sys.argv[1])))
child = subprocess.run([sys.executable, "-c", "import os; print(os.getpriority(os.PRIO_PROCESS, 0))"],
                       capture_output=True, text=True, check=True).stdout.strip()
print(taken, child, autogroup_niceness())
"""


def _above_runner(step: int) -> int:
    """A niceness ``step`` above this test process's own (an in-process ``hub sync`` of an earlier test may have
    lowered the runner's priority, and children start from it); skips when there is no room left."""
    base = os.getpriority(os.PRIO_PROCESS, 0)
    if base + 1 > 19:
        pytest.skip("the test runner already runs at the lowest priority")
    return min(base + step, 19)


def _lower(niceness: int, *, start: int = 0, own_session: bool = False) -> list[str]:
    """What a child process reports after ``lower_sync_priority``: its niceness, its child's, its session group's."""
    command = [sys.executable, "-c", LOWER_AND_REPORT, str(niceness), str(start)]
    environment = os.environ | {"PYTHONPATH": str(Path(__file__).parents[2])}
    done = subprocess.run(
        command, capture_output=True, text=True, check=True, env=environment, start_new_session=own_session
    )
    return done.stdout.split()


def test_the_sync_table_sets_the_niceness_of_sync_processes(tmp_path):
    path = tmp_path / "hub.toml"
    path.write_text("[sync]\nniceness = 10\n", encoding="utf-8")

    assert load_hub_config(path).sync == SyncSettings(niceness=10)


def test_without_a_sync_table_syncs_yield_to_the_console_at_niceness_10(tmp_path):
    path = tmp_path / "hub.toml"
    path.write_text('[hub]\nsource_priority = ["console"]\n', encoding="utf-8")

    assert load_hub_config(path).sync.niceness == 10
    assert load_hub_config(None).sync.niceness == 10


@pytest.mark.parametrize("value", ["-5", "20", '"low"'])
def test_a_niceness_outside_0_to_19_is_refused_naming_the_key(tmp_path, value):
    path = tmp_path / "hub.toml"
    path.write_text(f"[sync]\nniceness = {value}\n", encoding="utf-8")

    with pytest.raises(ConfigError, match=r"hub\.toml: sync\.niceness: "):
        load_hub_config(path)


def test_a_sync_process_takes_the_niceness_and_its_reader_children_inherit_it():
    wanted = _above_runner(7)
    taken, child, _ = _lower(wanted)

    assert (taken, child) == (str(wanted), str(wanted))


def test_a_process_already_nicer_than_the_setting_is_left_as_it_is():
    setting, start = _above_runner(1), _above_runner(8)
    taken, child, _ = _lower(setting, start=start)

    assert (taken, child) == (str(start), str(start))


@pytest.mark.skipif(autogroup_niceness() is None, reason="no readable autogroup scheduling on this kernel")
def test_a_sync_leading_its_own_session_also_lowers_its_session_group():
    wanted = _above_runner(9)
    _, _, group = _lower(wanted, own_session=True)

    assert group == str(wanted)


@pytest.mark.skipif(autogroup_niceness() is None, reason="no readable autogroup scheduling on this kernel")
def test_a_sync_started_from_an_operators_terminal_leaves_the_terminal_session_alone():
    before = str(autogroup_niceness())

    _, _, group = _lower(_above_runner(9))

    assert group == before
