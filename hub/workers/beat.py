"""``hub beat``: the embedded scheduler's jobs, sent as Celery tasks instead of run in-process.

The schedule comes from the same ``hub.toml`` parsing as ``hub run`` (``hub.scheduler.parse_schedule``), and a
schedule fires on the very same instants: Celery asks the parsed trigger itself when it is next due, so there
is no second reading of a crontab (APScheduler and Celery number the days of the week differently).
Run exactly one ``hub beat`` per hub: two would send every job twice (harmless, as tasks are idempotent).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger
from celery import Celery  # type: ignore[import-untyped]
from celery.schedules import BaseSchedule, schedstate  # type: ignore[import-untyped]

from core.plugins.manager import build_plugin_manager
from core.sync.registry import ConnectorRegistry
from hub.config import HubConfig, load_hub_config
from hub.scheduler import parse_schedule
from hub.settings import HubSettings
from hub.workers.tasks import dispatch_outbox, loyalty_nightly, sync_stream

OUTBOX_EVERY_S = 30  # as the embedded scheduler
_IDLE_CHECK_S = 3600.0  # how long beat may sleep when a trigger will never fire again


class TriggerSchedule(BaseSchedule):  # type: ignore[misc]
    """A Celery schedule that fires when an APScheduler trigger from ``parse_schedule`` does."""

    def __init__(self, trigger: BaseTrigger, nowfun: Any = None, app: Celery | None = None) -> None:
        super().__init__(nowfun=nowfun, app=app)
        self.trigger = trigger

    def next_fire(self, last_run_at: datetime) -> datetime | None:
        """The first instant the trigger fires after ``last_run_at`` (``None``: never again)."""
        after = self.maybe_make_aware(last_run_at) + timedelta(microseconds=1)
        fire: datetime | None = self.trigger.get_next_fire_time(None, after)
        return fire

    def remaining_estimate(self, last_run_at: datetime) -> timedelta:
        """Time left until the next fire after ``last_run_at``."""
        fire = self.next_fire(last_run_at)
        return timedelta(seconds=_IDLE_CHECK_S) if fire is None else fire - self.now()

    def is_due(self, last_run_at: datetime) -> schedstate:
        """Due if the trigger fired since ``last_run_at`` (once, however many fires were missed)."""
        now = self.now()
        fire = self.next_fire(last_run_at)
        if fire is None:
            return schedstate(False, _IDLE_CHECK_S)
        if fire > now:
            return schedstate(False, (fire - now).total_seconds())
        following = self.next_fire(now)
        return schedstate(True, _IDLE_CHECK_S if following is None else (following - now).total_seconds())

    def __reduce__(self) -> tuple[type[TriggerSchedule], tuple[BaseTrigger]]:
        return self.__class__, (self.trigger,)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TriggerSchedule) and str(other.trigger) == str(self.trigger)

    def __hash__(self) -> int:
        return hash(str(self.trigger))

    def __repr__(self) -> str:
        return f"<TriggerSchedule {self.trigger}>"


def beat_schedule(config: HubConfig, registry: ConnectorRegistry) -> dict[str, dict[str, Any]]:
    """Celery's ``beat_schedule``: the outbox, the nightly loyalty jobs, one sync per stream of scheduled instances."""
    entries: dict[str, dict[str, Any]] = {
        "outbox": {"task": dispatch_outbox.name, "schedule": TriggerSchedule(IntervalTrigger(seconds=OUTBOX_EVERY_S))}
    }
    if config.nightly_jobs:
        origin = str(config.path or "hub.toml")
        trigger = parse_schedule(config.nightly_jobs, origin=origin, key="hub.nightly_jobs")
        entries["loyalty nightly jobs"] = {"task": loyalty_nightly.name, "schedule": TriggerSchedule(trigger)}
    for name, instance in sorted(registry.instances.items()):
        if not instance.enabled or not instance.schedule:
            continue
        trigger = parse_schedule(instance.schedule, origin=instance.origin, key=f"connectors.{name}.schedule")
        for spec in registry.types[instance.type].streams:
            entries[f"sync {name}/{spec.name}"] = {
                "task": sync_stream.name,
                "schedule": TriggerSchedule(trigger),
                "args": (name, spec.name),
                "options": _expiry(trigger),
            }
    return entries


def _expiry(trigger: BaseTrigger) -> dict[str, float]:
    """Options dropping a sync still queued when the next one is sent: workers back from an outage run it once.

    A crontab's gaps vary, so its syncs do not expire.
    """
    return {"expires": trigger.interval_length} if isinstance(trigger, IntervalTrigger) else {}


def hub_beat_schedule(settings: HubSettings) -> dict[str, dict[str, Any]]:
    """The schedule of the hub ``settings`` name, read from its ``hub.toml`` and installed plugins.

    Beat only sends messages: it needs neither the database nor the key ring, so it does not open the hub.
    """
    config = load_hub_config(settings.config_file)
    registry = ConnectorRegistry.from_plugins(build_plugin_manager(), config.connectors)
    registry.validate_all()
    return beat_schedule(config, registry)
