"""The embedded scheduler: ``hub run`` syncs every enabled instance on its ``schedule`` from ``hub.toml``.

APScheduler runs the jobs in-process; each job is a normal engine run (connector isolated in its own process,
stream lock held), so the CLI, this scheduler and the distributed workers share one code path.
"""

from __future__ import annotations

import re
import signal
import threading
from collections.abc import Callable
from datetime import timedelta
from functools import partial

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from core.errors import ConfigError, StreamBusyError
from core.logs import get_logger
from core.sync.engine import SyncEngine
from core.sync.registry import ConnectorRegistry
from hub.runtime import Hub

log = get_logger(__name__)
_EVERY = re.compile(r"^every\s+(\d+)\s*(s|m|h|d)$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_schedule(text: str, *, origin: str, key: str) -> BaseTrigger:
    """``every 5m`` / ``every 1h`` or a five-field crontab (``*/10 * * * *``), in Asia/Tokyo; errors name ``key``."""
    match = _EVERY.match(text.strip())
    if match:
        amount, unit = int(match.group(1)), _UNITS[match.group(2)]
        if amount <= 0:
            raise ConfigError(f"{origin}: {key}: the interval must be positive")
        return IntervalTrigger(**{unit: amount})
    try:
        return CronTrigger.from_crontab(text, timezone="Asia/Tokyo")
    except ValueError:
        raise ConfigError(f"{origin}: {key}: write 'every 5m' or a crontab like '*/10 * * * *'") from None


def build_scheduler(
    engine: SyncEngine,
    registry: ConnectorRegistry,
    *,
    dispatch_outbox: Callable[[], object] | None = None,
    outbox_every_s: int = 30,
    nightly_jobs: tuple[Callable[[], object], BaseTrigger] | None = None,
) -> BackgroundScheduler:
    """A scheduler: one job per scheduled, enabled instance (all its streams), the outbox, the nightly jobs.

    ``nightly_jobs`` is the loyalty jobs' ``(run, trigger)``.
    """
    scheduler = BackgroundScheduler(timezone="Asia/Tokyo", job_defaults={"coalesce": True, "max_instances": 1})
    if dispatch_outbox is not None:
        scheduler.add_job(dispatch_outbox, IntervalTrigger(seconds=outbox_every_s), id="outbox", name="outbox")
    if nightly_jobs is not None:
        run, trigger = nightly_jobs
        grace = int(timedelta(hours=2).total_seconds())  # a hub restarted at 04:00 still runs the 03:30 jobs
        scheduler.add_job(run, trigger, id="loyalty", name="loyalty nightly jobs", misfire_grace_time=grace)
    for name, instance in sorted(registry.instances.items()):
        if not instance.enabled or not instance.schedule:
            continue
        trigger = parse_schedule(instance.schedule, origin=instance.origin, key=f"connectors.{name}.schedule")
        streams = registry.stream_names(name)
        jobs = [(name, stream) for stream in streams]
        scheduler.add_job(
            engine.run_many,
            trigger,
            args=[jobs],
            id=name,
            name=f"sync {name}",
            misfire_grace_time=int(timedelta(minutes=5).total_seconds()),
        )
    return scheduler


def hub_scheduler(hub: Hub) -> BackgroundScheduler:
    """The embedded scheduler of an open hub: its scheduled connectors, the outbox, the nightly loyalty jobs."""
    nightly = None
    if hub.config.nightly_jobs:
        origin = str(hub.config.path or "hub.toml")
        trigger = parse_schedule(hub.config.nightly_jobs, origin=origin, key="hub.nightly_jobs")
        nightly = (partial(_loyalty_jobs, hub), trigger)
    return build_scheduler(hub.sync, hub.registry, dispatch_outbox=hub.dispatcher.dispatch_due, nightly_jobs=nightly)


def _loyalty_jobs(hub: Hub) -> None:
    try:
        for run in hub.run_loyalty_jobs():
            log.info("loyalty job done", stream=run.name, duration_ms=round(run.seconds * 1000))
    except StreamBusyError:
        log.info("loyalty jobs already running elsewhere; skipped")


def run_until_stopped(
    scheduler: BackgroundScheduler, engine: SyncEngine, on_start: Callable[[], None] | None = None
) -> None:
    """Run the scheduler until SIGTERM or SIGINT, then stop cleanly.

    On a signal no new job starts; running syncs stop after the batch they are writing (its transaction
    commits with its cursor), the connector processes are ended, and the process exits.
    """
    stopped = threading.Event()

    def stop(signum: int, _frame: object) -> None:
        log.info("shutdown requested", status=signal.Signals(signum).name)
        stopped.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        scheduler.start()
        if on_start:
            on_start()
        stopped.wait()
        engine.request_stop()
        scheduler.shutdown(wait=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
