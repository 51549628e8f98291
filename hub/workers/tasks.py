"""Celery tasks: the same engine entry points as ``hub sync``, ``hub run`` and the outbox CLI, nothing more.

Each task is idempotent, so a message delivered twice — after a worker died, or after the visibility timeout —
does no harm: a sync resumes from the stream's committed cursor and upserts by ``(source, external_id)``; a
sync whose stream is running elsewhere returns ``"busy"`` at once (the engine's advisory lock) and is not
retried, since the run holding the lock does the work. A transient failure (a ``RetryableError`` from the
connector, the database unreachable) is retried with a bounded exponential backoff; any other is not.
"""

from __future__ import annotations

import threading
from typing import Any

from celery.exceptions import Reject  # type: ignore[import-untyped]
from celery.signals import worker_process_shutdown, worker_shutdown, worker_shutting_down  # type: ignore[import-untyped]
from sqlalchemy.exc import OperationalError

from core.errors import NotSliceableError, RetryableError, StreamBusyError
from core.logs import get_logger
from core.sync.engine import RunReport
from hub.runtime import Hub, open_hub
from hub.settings import load_settings
from hub.workers.app import app
from hub.workers.collector import collect_less_often
from hub.workers.priority import lower_sync_priority

log = get_logger(__name__)
BUSY = "busy"

# Retry countdowns 2, 4, 8, 16, 32 s (capped at 300 s): a database restart or a throttled API gets a minute to
# recover before the task gives up, leaving the rest to the next scheduled run. No jitter: a zero countdown
# would spend a retry while the outage lasts.
_RETRYING = {
    "autoretry_for": (RetryableError, OperationalError),
    "retry_backoff": 2,
    "retry_backoff_max": 300,
    "retry_jitter": False,
    "max_retries": 5,
}


class _WorkerHub:
    """The hub of this worker process, opened on first use and closed when the worker stops.

    Opening a hub verifies the key ring and the schema; doing it once per process, not once per task, keeps a
    task's cost to its work. Tasks of the threads pool share it, as ``hub sync``'s threads share theirs.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hub: Hub | None = None

    def get(self) -> Hub:
        with self._lock:
            if self._hub is None:
                self._hub = open_hub(load_settings())
                lower_sync_priority(self._hub.config.sync)  # a worker's tasks are syncs and other bulk jobs
                collect_less_often()
            return self._hub

    def stop_syncs(self) -> None:
        """Ask running syncs to end after the batch they are committing (they resume from its cursor)."""
        with self._lock:
            if self._hub is not None and "sync" in vars(self._hub):
                self._hub.sync.request_stop()

    def close(self) -> None:
        with self._lock:
            if self._hub is not None:
                self._hub.close()
                self._hub = None


worker_hub = _WorkerHub()


@worker_shutting_down.connect  # type: ignore[untyped-decorator]
def _stop_syncs(**_: object) -> None:
    worker_hub.stop_syncs()


@worker_shutdown.connect  # type: ignore[untyped-decorator]
@worker_process_shutdown.connect  # type: ignore[untyped-decorator]
def _close_hub(**_: object) -> None:
    worker_hub.close()


@app.task(name="memberhub.sync_stream", **_RETRYING)  # type: ignore[untyped-decorator]
def sync_stream(instance: str, stream: str, full_refresh: bool = False) -> str:
    """Run one stream once (``hub sync INSTANCE --stream S``); returns the run's status or ``"busy"``."""
    return _outcome(worker_hub.get().sync.run(instance, stream, full_refresh=full_refresh), instance, stream)


@app.task(name="memberhub.sync_all")  # type: ignore[untyped-decorator]
def sync_all() -> int:
    """Queue one ``sync_stream`` per stream of every enabled instance; returns how many were queued."""
    registry = worker_hub.get().registry
    jobs = [
        (name, spec.name)
        for name, instance in sorted(registry.instances.items())
        if instance.enabled
        for spec in registry.types[instance.type].streams
    ]
    for name, stream in jobs:
        sync_stream.delay(name, stream)
    return len(jobs)


@app.task(name="memberhub.backfill", **_RETRYING)  # type: ignore[untyped-decorator]
def backfill(instance: str, slices: int = 1, stream: str | None = None) -> int:
    """Queue a full refresh (backfill lane) of each stream of ``instance`` (or of ``stream``); returns the tasks queued.

    With ``slices`` > 1 each stream whose connector can split it is planned here (``SyncEngine.plan_backfill``,
    or the plan under way is taken up) and every slice left is queued as its own ``backfill_slice`` task, so
    the slices spread over every worker; a stream that cannot be sliced is queued whole.
    """
    hub = worker_hub.get()
    queued = 0
    declared = hub.registry.stream_names(instance)
    for name in [stream] if stream else declared:
        numbers = _planned_slices(hub, instance, name, slices)
        if numbers is None:
            sync_stream.delay(instance, name, full_refresh=True)
            queued += 1
            continue
        for number in numbers:
            backfill_slice.delay(instance, name, number)
        queued += len(numbers)
    return queued


def _planned_slices(hub: Hub, instance: str, stream: str, slices: int) -> list[int] | None:
    """The slices left of the stream's plan (made now or under way); ``None`` to backfill the stream whole."""
    if slices <= 1:
        return None
    try:
        return hub.sync.plan_backfill(instance, stream, slices)
    except NotSliceableError:
        return None


@app.task(name="memberhub.backfill_slice", **_RETRYING)  # type: ignore[untyped-decorator]
def backfill_slice(instance: str, stream: str, number: int) -> str:
    """Run one slice of a planned backfill (``SyncEngine.run_slice``); ``"busy"`` if it runs elsewhere."""
    return _outcome(worker_hub.get().sync.run_slice(instance, stream, number), instance, stream)


@app.task(name="memberhub.dispatch_outbox")  # type: ignore[untyped-decorator]
def dispatch_outbox() -> dict[str, int]:
    """Push due outbox messages to every destination (leases keep two workers off the same message).

    Not retried: beat sends the next dispatch within seconds, and a failed delivery waits in the outbox.
    """
    reports = worker_hub.get().dispatcher.dispatch_due()
    return {
        "delivered": sum(report.delivered for report in reports),
        "retrying": sum(report.retrying for report in reports),
        "failed": sum(report.failed for report in reports),
    }


@app.task(name="memberhub.loyalty_nightly", **_RETRYING)  # type: ignore[untyped-decorator]
def loyalty_nightly() -> list[str] | str:
    """The nightly loyalty jobs (``Hub.run_loyalty_jobs``); ``"busy"`` if they already run elsewhere."""
    try:
        runs = worker_hub.get().run_loyalty_jobs()
    except StreamBusyError:
        log.info("loyalty jobs already running elsewhere; skipped")
        return BUSY
    for run in runs:
        log.info("loyalty job done", stream=run.name, duration_ms=round(run.seconds * 1000))
    return [run.name for run in runs]


def _outcome(report: RunReport, instance: str, stream: str) -> str:
    """A run's status as the task's result: re-queued on a shutdown, retried on a transient failure."""
    if report.status == "skipped" and report.error_class == StreamBusyError.__name__:
        log.info("stream busy elsewhere; skipped", connector=instance, stream=stream, lane=report.lane)
        return BUSY
    if report.status == "skipped":
        log.info("slice already finished; skipped", connector=instance, stream=stream, lane=report.lane)
        return report.status
    if report.error_class == "Interrupted":  # this worker is shutting down: another one goes on from the cursor
        raise Reject("worker shutting down", requeue=True)
    if _retryable(report):
        raise RetryableError(f"{instance}/{stream}: {report.error_class}")
    return report.status


def _retryable(report: RunReport) -> bool:
    """Whether a run ended on a transient connector error (the engine records its class by name)."""
    return report.status in ("failed", "partial") and report.error_class in _retryable_names()


def _retryable_names() -> set[str]:
    names: set[str] = set()
    pending: list[type[Any]] = [RetryableError]
    while pending:
        cls = pending.pop()
        names.add(cls.__name__)
        pending.extend(cls.__subclasses__())
    return names
