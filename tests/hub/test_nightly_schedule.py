"""The nightly loyalty jobs: scheduled at 03:30 Tokyo time by default, one run at a time across processes."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core.errors import ConfigError, StreamBusyError
from core.sync.locks import stream_lock
from hub.config import load_hub_config
from hub.runtime import NIGHTLY_JOBS_LOCK, init_hub
from hub.scheduler import build_scheduler, hub_scheduler, parse_schedule
from hub.settings import HubSettings

JST = ZoneInfo("Asia/Tokyo")


@pytest.fixture
def hub(db_url: str, tmp_path: Path):
    opened, _ = init_hub(HubSettings(tmp_path / "data", tmp_path / "keys" / "keyring.json", db_url))
    yield opened
    opened.close()


def test_the_jobs_run_at_half_past_three_tokyo_time_unless_configured_otherwise(tmp_path):
    assert load_hub_config(None).nightly_jobs == "30 3 * * *"
    config = tmp_path / "hub.toml"
    config.write_text('[hub]\nnightly_jobs = "off"\n', encoding="utf-8")
    assert load_hub_config(config).nightly_jobs is None
    config.write_text("[hub]\nnightly_jobs = 5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"hub\.toml: hub\.nightly_jobs: "):
        load_hub_config(config)


def test_the_scheduler_carries_the_nightly_job_on_its_trigger(hub):
    trigger = parse_schedule("30 3 * * *", origin="hub.toml", key="hub.nightly_jobs")
    scheduler = build_scheduler(hub.sync, hub.registry, nightly_jobs=(hub.run_loyalty_jobs, trigger))

    [job] = [job for job in scheduler.get_jobs() if job.id == "loyalty"]
    after = datetime(2026, 12, 1, 4, 0, tzinfo=JST)
    assert job.trigger.get_next_fire_time(None, after) == datetime(2026, 12, 2, 3, 30, tzinfo=JST)


def test_the_hub_scheduler_runs_connectors_outbox_and_nightly_jobs(hub):
    assert {job.id for job in hub_scheduler(hub).get_jobs()} == {"outbox", "loyalty"}


def test_the_jobs_run_and_report_each_step(hub):
    runs = hub.run_loyalty_jobs()
    assert [run.name for run in runs] == [
        "expiry", "expiry notices", "rank period end", "birthday", "anniversary", "rfm", "loyalty score", "segments",
        "member status", "analytics",
    ]  # fmt: skip


def test_a_second_run_while_one_is_going_is_refused(hub):
    with stream_lock(hub.engine, NIGHTLY_JOBS_LOCK), pytest.raises(StreamBusyError):
        hub.run_loyalty_jobs()
