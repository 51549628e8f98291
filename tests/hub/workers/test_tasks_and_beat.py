"""What a task answers and what beat sends, in-process: busy streams, retried and permanent failures, schedules.

Tasks run through Celery's ``apply`` (no broker) on a real SQLite hub and the example connector's sandbox.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.interval import IntervalTrigger

from connectors.example.sandbox import SandboxServer
from core.store import sync as repo
from core.sync.locks import stream_lock
from hub.runtime import NIGHTLY_JOBS_LOCK, Hub, init_hub
from hub.scheduler import parse_schedule
from hub.settings import load_settings
from hub.workers.app import app
from hub.workers.beat import TriggerSchedule, hub_beat_schedule
from hub.workers.tasks import BUSY, backfill, dispatch_outbox, loyalty_nightly, sync_all, sync_stream, worker_hub

JST = ZoneInfo("Asia/Tokyo")

_HUB_TOML = """\
[hub]
nightly_jobs = "30 3 * * *"

[connectors.tokyo]
type = "example"
schedule = "every 5m"
base_url = "{url}"
token_env = "TOKYO_TOKEN"
webhook_secret_env = "TOKYO_WEBHOOK_SECRETS"
max_attempts = 1

[connectors.osaka]
type = "example"
schedule = "*/10 * * * *"
base_url = "{url}"
token_env = "TOKYO_TOKEN"
webhook_secret_env = "TOKYO_WEBHOOK_SECRETS"

[connectors.nagoya]
type = "example"
enabled = false
schedule = "every 1m"
base_url = "{url}"
token_env = "TOKYO_TOKEN"
webhook_secret_env = "TOKYO_WEBHOOK_SECRETS"
"""


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(rate_limit=None) as server:
        yield server


@pytest.fixture
def hub(tmp_path: Path, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    """A SQLite hub named by the environment, as a worker process finds it; the worker's cached hub is closed after."""
    for name in ("HUB_DATABASE_URL", "HUB_LOYALTY_RULES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HUB_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("HUB_KEY_FILE", str(tmp_path / "keys" / "keyring.json"))
    monkeypatch.setenv("TOKYO_TOKEN", sandbox.token)
    monkeypatch.setenv("TOKYO_WEBHOOK_SECRETS", "hook-secret")
    opened, _ = init_hub(load_settings())
    (tmp_path / "data" / "hub.toml").write_text(_HUB_TOML.format(url=sandbox.url), encoding="utf-8")
    yield opened
    opened.close()
    worker_hub.close()


@pytest.fixture
def inline_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tasks queued by a task run at once, in-process, as a worker would run them."""
    monkeypatch.setitem(app.conf, "task_always_eager", True)


def _runs(hub: Hub) -> list[tuple[str, str, str, str]]:
    with hub.engine.connect() as conn:
        return sorted((run.connector, run.stream, run.lane, run.status) for run in repo.recent_runs(conn, limit=20))


def _statuses(hub: Hub) -> list[tuple[str, str | None]]:
    with hub.engine.connect() as conn:
        return [(run.status, run.error_class) for run in reversed(repo.recent_runs(conn, limit=20))]


# ── tasks ──────────────────────────────────────────────────────────────────────────────────────────


def test_a_sync_of_a_stream_running_elsewhere_answers_busy_without_retrying(hub):
    with stream_lock(hub.engine, "tokyo/customers/incremental"):
        result = sync_stream.apply(args=("tokyo", "customers"))

    assert result.get() == BUSY
    assert _statuses(hub) == []


def test_a_transient_connector_failure_is_retried_until_the_run_succeeds(hub, sandbox):
    sandbox.state.fail_next(2, 503)  # the instance tries each request once: two runs fail, the third succeeds

    sync_stream.apply(args=("tokyo", "customers"))

    assert [status for status, _ in _statuses(hub)] == ["failed", "failed", "succeeded"]


def test_a_permanent_connector_failure_is_not_retried(hub, sandbox):
    sandbox.state.reject_credentials()

    result = sync_stream.apply(args=("tokyo", "customers"))

    assert result.get() == "failed"
    assert _statuses(hub) == [("failed", "PermanentError")]


def test_sync_all_queues_one_sync_per_stream_of_every_enabled_instance(hub, inline_queue):
    assert sync_all.apply().get() == 4

    assert _runs(hub) == [
        ("osaka", "customers", "incremental", "succeeded"),
        ("osaka", "orders", "incremental", "succeeded"),
        ("tokyo", "customers", "incremental", "succeeded"),
        ("tokyo", "orders", "incremental", "succeeded"),
    ]


def test_a_backfill_queues_a_full_refresh_of_each_stream(hub, inline_queue):
    assert backfill.apply(args=("tokyo",)).get() == 2

    assert _runs(hub) == [
        ("tokyo", "customers", "backfill", "succeeded"),
        ("tokyo", "orders", "backfill", "succeeded"),
    ]


def test_the_nightly_loyalty_jobs_run_once_at_a_time(hub):
    jobs = loyalty_nightly.apply().get()
    assert {"expiry", "segments"} <= set(jobs)  # the job names it ran, in order
    with stream_lock(hub.engine, NIGHTLY_JOBS_LOCK):
        assert loyalty_nightly.apply().get() == BUSY


def test_an_outbox_dispatch_reports_what_it_delivered(hub):
    assert dispatch_outbox.apply().get() == {"delivered": 0, "retrying": 0, "failed": 0}


# ── beat ───────────────────────────────────────────────────────────────────────────────────────────


def test_beat_sends_each_scheduled_stream_the_outbox_and_the_nightly_jobs(hub):
    schedule = hub_beat_schedule(load_settings())

    assert {name: (entry["task"], entry.get("args")) for name, entry in schedule.items()} == {
        "outbox": ("memberhub.dispatch_outbox", None),
        "loyalty nightly jobs": ("memberhub.loyalty_nightly", None),
        "sync osaka/customers": ("memberhub.sync_stream", ("osaka", "customers")),
        "sync osaka/orders": ("memberhub.sync_stream", ("osaka", "orders")),
        "sync tokyo/customers": ("memberhub.sync_stream", ("tokyo", "customers")),
        "sync tokyo/orders": ("memberhub.sync_stream", ("tokyo", "orders")),
    }


def test_a_sync_on_an_interval_expires_when_the_next_one_is_sent(hub):
    schedule = hub_beat_schedule(load_settings())

    assert schedule["sync tokyo/orders"]["options"] == {"expires": 300}  # every 5m
    assert schedule["sync osaka/orders"]["options"] == {}  # a crontab


def _nightly(now: datetime) -> TriggerSchedule:
    trigger = parse_schedule("30 3 * * *", origin="hub.toml", key="hub.nightly_jobs")
    return TriggerSchedule(trigger, nowfun=lambda: now, app=app)


def test_a_crontab_is_due_on_tokyo_time_as_in_the_embedded_scheduler():
    last_run = datetime(2026, 12, 1, 3, 30, tzinfo=JST)

    assert tuple(_nightly(datetime(2026, 12, 2, 3, 29, tzinfo=JST)).is_due(last_run)) == (False, 60.0)
    assert tuple(_nightly(datetime(2026, 12, 2, 3, 30, tzinfo=JST)).is_due(last_run)) == (True, 86_400.0)


def test_fires_missed_while_beat_was_down_run_once_on_its_return():
    last_run = datetime(2026, 11, 28, 3, 30, tzinfo=JST)
    now = datetime(2026, 12, 1, 12, 0, tzinfo=JST)

    assert tuple(_nightly(now).is_due(last_run)) == (True, 15.5 * 3600)
    assert _nightly(now).is_due(now).is_due is False


def test_a_schedule_survives_beats_schedule_file():
    schedule = TriggerSchedule(IntervalTrigger(seconds=30))

    assert pickle.loads(pickle.dumps(schedule)) == schedule
