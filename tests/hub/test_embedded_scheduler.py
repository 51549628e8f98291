"""``hub run``: the embedded scheduler syncs each instance on its schedule and stops cleanly on a signal.

The scheduler runs as the real ``hub run`` process in its own session (process group), against the example
connector's loopback sandbox; the tests watch its progress in the hub's SQLite database.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psutil
import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from connectors.example.sandbox import SandboxServer
from core.errors import ConfigError
from hub.scheduler import parse_schedule

JST = timezone(timedelta(hours=9))
STREAMS = ("customers", "orders")
_POLL_S = 0.2  # a real process is being watched: there is no clock to inject, so poll, with a bound

_HUB_TOML = """\
[connectors.tokyo]
type = "example"
schedule = "every 2s"
base_url = "{url}"
token_env = "TOKYO_TOKEN"
webhook_secret_env = "TOKYO_WEBHOOK_SECRETS"
page_size = {page_size}
"""

StartHubRun = Callable[..., subprocess.Popen[str]]


# ── parse_schedule ─────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(("text", "interval"), [("every 5m", timedelta(minutes=5)), ("every 2s", timedelta(seconds=2))])
def test_an_every_schedule_becomes_an_interval(text, interval):
    trigger = parse_schedule(text, origin="hub.toml", key="connectors.tokyo.schedule")

    assert isinstance(trigger, IntervalTrigger)
    assert trigger.interval == interval


def test_a_crontab_schedule_fires_on_tokyo_time():
    trigger = parse_schedule("*/10 * * * *", origin="hub.toml", key="connectors.tokyo.schedule")

    assert isinstance(trigger, CronTrigger)
    now = datetime(2026, 4, 1, 10, 3, tzinfo=JST)
    assert trigger.get_next_fire_time(None, now) == datetime(2026, 4, 1, 10, 10, tzinfo=JST)


@pytest.mark.parametrize("text", ["sometimes", "every 0m"])
def test_a_bad_schedule_is_a_config_error_naming_file_and_key(text):
    with pytest.raises(ConfigError) as caught:
        parse_schedule(text, origin="/etc/memberhub/hub.toml", key="connectors.tokyo.schedule")

    assert str(caught.value).startswith("/etc/memberhub/hub.toml: connectors.tokyo.schedule: ")


# ── hub run ────────────────────────────────────────────────────────────────────────────────────────


@pytest.fixture
def start_hub_run(hub_cli, tmp_path: Path) -> Iterator[StartHubRun]:
    """Starts ``hub run`` for a ``tokyo`` instance on a sandbox; what is left of its process group is killed after."""
    started: list[subprocess.Popen[str]] = []

    def start(sandbox: SandboxServer, *, page_size: int = 100) -> subprocess.Popen[str]:
        hub_cli.env |= {"TOKYO_TOKEN": sandbox.token, "TOKYO_WEBHOOK_SECRETS": "hook-secret"}
        config = _HUB_TOML.format(url=sandbox.url, page_size=page_size)
        (hub_cli.home / "hub.toml").write_text(config, encoding="utf-8")
        with (tmp_path / "hub-run.log").open("w", encoding="utf-8") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "hub.cli.app", "run"],
                env=hub_cli.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,  # its own process group: a signal to it never reaches pytest
            )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None or _live_processes_in_group(process.pid):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _runs(hub_cli) -> list[sqlite3.Row]:
    """Every row of ``sync_runs``, oldest first, read without taking part in the hub's writes."""
    database = hub_cli.home / "hub.sqlite3"
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)) as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute("SELECT * FROM sync_runs ORDER BY id").fetchall()


def _source_links(hub_cli, source: str) -> set[str]:
    database = hub_cli.home / "hub.sqlite3"
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)) as conn:
        return {row[0] for row in conn.execute("SELECT external_id FROM source_links WHERE source = ?", (source,))}


def _wait_until(condition: Callable[[], bool], *, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {timeout_s:g}s")
        time.sleep(_POLL_S)


def _two_scheduled_successes_per_stream(hub_cli) -> bool:
    succeeded = Counter(run["stream"] for run in _runs(hub_cli) if run["status"] == "succeeded")
    return all(succeeded[stream] >= 2 for stream in STREAMS)


def _customers_run_in_progress(hub_cli) -> bool:
    runs = _runs(hub_cli)
    return any(run["stream"] == "customers" and run["status"] == "running" and run["records_read"] for run in runs)


def _live_processes_in_group(group: int) -> list[str]:
    """Command lines of the group's processes that still run (a zombie waiting for init to reap it has ended)."""
    live = []
    for process in psutil.process_iter(["status", "cmdline"]):
        try:
            if os.getpgid(process.pid) == group and process.info["status"] != psutil.STATUS_ZOMBIE:
                live.append(" ".join(process.info["cmdline"] or ()))
        except ProcessLookupError:
            continue
    return live


def _stopped_within(process: subprocess.Popen[str], timeout_s: float, log: Path) -> int:
    """The exit code of ``process``, which must exit within ``timeout_s`` and leave no process behind."""
    code = process.wait(timeout=timeout_s)
    # Its connector readers end with it; multiprocessing's resource tracker follows once its pipe closes.
    _wait_until(lambda: not _live_processes_in_group(process.pid), timeout_s=5, what="exit of its child processes")
    assert "scheduler stopped" in log.read_text(encoding="utf-8")
    return code


def _table_rows(output: str, first_cell: str) -> list[list[str]]:
    """The cells of each row of a rich table whose first cell is ``first_cell``."""
    rows = [[cell.strip() for cell in line.strip().strip("│").split("│")] for line in output.splitlines()]
    return [row for row in rows if row[0] == first_cell]


@pytest.mark.slow
def test_hub_run_syncs_every_stream_on_schedule_and_stops_cleanly_on_sigterm(hub_cli, start_hub_run, tmp_path):
    hub_cli("init")
    with SandboxServer() as sandbox:
        hub_run = start_hub_run(sandbox)
        _wait_until(lambda: _two_scheduled_successes_per_stream(hub_cli), timeout_s=30, what="two runs per stream")

        hub_run.send_signal(signal.SIGTERM)
        assert _stopped_within(hub_run, 15, tmp_path / "hub-run.log") == 0

    statuses = [row[3] for row in _table_rows(hub_cli("runs").stdout, "tokyo")]
    assert statuses.count("succeeded") >= 4
    assert "running" not in statuses


@pytest.mark.slow
def test_ctrl_c_mid_sync_exits_cleanly_and_the_next_sync_loses_nothing(hub_cli, start_hub_run, tmp_path):
    hub_cli("init")
    with SandboxServer(latency_s=0.3, customers=200, orders=10) as sandbox:  # 40 pages of 5, 0.3 s each
        hub_run = start_hub_run(sandbox, page_size=5)
        _wait_until(lambda: _customers_run_in_progress(hub_cli), timeout_s=30, what="customers batch committed")

        os.killpg(hub_run.pid, signal.SIGINT)  # as Ctrl-C in a terminal: the whole foreground process group
        assert _stopped_within(hub_run, 15, tmp_path / "hub-run.log") == 0
        (interrupted,) = [run for run in _runs(hub_cli) if run["stream"] == "customers"]
        assert interrupted["status"] == "partial"
        assert 0 < interrupted["records_read"] < 200

        summary = hub_cli("sync").stdout
        customers = sandbox.record_ids("customers")

    (resumed,) = [row for row in _table_rows(summary, "tokyo") if row[1] == "customers"]
    assert resumed[3] == "succeeded"
    assert interrupted["records_read"] + int(resumed[4]) == len(customers)  # resumed after the last batch
    assert _source_links(hub_cli, "tokyo") == customers
