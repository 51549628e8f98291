"""``GET /metrics``: Prometheus metrics of sync, breakers, dead letters and the outbox, read from the store.

The store is read at scrape time by :class:`StoreCollector`, so every process (web workers, ``hub run``,
Celery workers) would report the same truth and no multiprocess directory is needed. The one exception is
:data:`WEBHOOK_ACCEPT_SECONDS`, observed in-process by the webhook endpoint: each web process reports its own.

Labels carry connector instance, stream, destination and error class names only — never member data. Access
needs the ``metrics`` scope (a token for the scraper, or a supervisor's console session).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from core.access import Principal, Role, Scope
from core.errors import ConfigError
from core.store import metrics as repo
from core.store import sync as sync_repo
from core.store.database import read_only
from core.sync.breaker import CLOSED, HALF_OPEN, OPEN
from core.sync.cursor import StreamCursor
from hub.runtime import Hub
from hub.web.auth import require
from hub.web.state import WebState, web_state

__all__ = ["WEBHOOK_ACCEPT_SECONDS", "StoreCollector", "observe_webhook", "router"]

router = APIRouter(tags=["metrics"])
MetricsReader = Annotated[Principal, Depends(require(Role.SUPERVISOR, Scope.METRICS))]

BREAKER_LEVELS = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}
RUN_STATUSES = ("running", "succeeded", "failed", "partial")
OUTBOX_BACKLOG = ("pending", "failed")
UNKNOWN_INSTANCE = "unknown"  # webhook paths are caller-chosen: only configured names become label values

WEBHOOK_ACCEPT_SECONDS = Histogram(
    "memberhub_webhook_accept_seconds",
    "Time to verify, deduplicate and store one webhook delivery (this process only).",
    ["connector", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=None,
)


def observe_webhook(hub: Hub, instance: str, outcome: str, seconds: float) -> None:
    """Record one delivery's latency; an instance not in ``hub.toml`` is labelled ``unknown``."""
    connector = instance if instance in hub.config.connectors else UNKNOWN_INSTANCE
    WEBHOOK_ACCEPT_SECONDS.labels(connector=connector, outcome=outcome).observe(seconds)


class StoreCollector(Collector):
    """Sync, breaker, dead-letter and outbox metrics, read from the hub database on every scrape."""

    def __init__(self, engine: Engine, instances: Iterable[str], clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.instances = tuple(instances)
        self.clock = clock

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        """Every store metric, from one read-only transaction."""
        with read_only(self.engine).begin() as conn:
            totals = repo.stream_totals(conn)
            latest = repo.latest_runs(conn)
            successes = repo.last_successes(conn)
            failures = repo.failed_runs_by_class(conn)
            cursors = repo.incremental_cursors(conn)
            breakers = repo.breaker_states(conn)
            dead = sync_repo.count_dead_letters(conn)
            outbox = sync_repo.outbox_counts(conn)
        yield from _record_counters(totals)
        yield from _latest_run_gauges(latest, successes)
        yield _lag_gauge(cursors, self.clock())
        yield _failure_counter(failures)
        yield from _breaker_gauges(breakers, self.instances)
        yield _dead_letter_gauge(dead, self.instances)
        yield _outbox_gauge(outbox)


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
async def metrics(principal: MetricsReader, state: Annotated[WebState, Depends(web_state)]) -> Response:
    """Prometheus text exposition of the hub's sync health (needs the ``metrics`` scope)."""
    hub = state.hub
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(hub.engine, hub.config.connectors, hub.members.clock))
    registry.register(WEBHOOK_ACCEPT_SECONDS)
    body = await run_in_threadpool(generate_latest, registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


# ── metric families ────────────────────────────────────────────────────────────────────────────────


def _record_counters(totals: list[repo.StreamTotals]) -> Iterator[CounterMetricFamily]:
    labels = ["connector", "stream"]
    read = CounterMetricFamily("memberhub_sync_records_read", "Records read from the source.", labels=labels)
    written = CounterMetricFamily("memberhub_sync_records_written", "Records written to the hub.", labels=labels)
    quarantined = CounterMetricFamily(
        "memberhub_sync_records_quarantined", "Records quarantined as dead letters.", labels=labels
    )
    for row in totals:
        read.add_metric([row.connector, row.stream], row.read)
        written.add_metric([row.connector, row.stream], row.written)
        quarantined.add_metric([row.connector, row.stream], row.quarantined)
    yield from (read, written, quarantined)


def _latest_run_gauges(
    latest: list[repo.LatestRun], successes: dict[tuple[str, str], datetime]
) -> Iterator[GaugeMetricFamily]:
    status = GaugeMetricFamily(
        "memberhub_sync_last_run_status",
        "1 for the status of the stream's newest run, 0 for the others.",
        labels=["connector", "stream", "status"],
    )
    at = GaugeMetricFamily(
        "memberhub_sync_last_run_timestamp_seconds",
        "When the stream's newest run finished (started, while it runs).",
        labels=["connector", "stream"],
    )
    for run in latest:
        for name in RUN_STATUSES:
            status.add_metric([run.connector, run.stream, name], 1.0 if run.status == name else 0.0)
        at.add_metric([run.connector, run.stream], _epoch(run.at))
    success = GaugeMetricFamily(
        "memberhub_sync_last_success_timestamp_seconds",
        "When the stream's newest succeeded run finished.",
        labels=["connector", "stream"],
    )
    for (connector, stream), finished in successes.items():
        success.add_metric([connector, stream], _epoch(finished))
    yield from (status, at, success)


def _lag_gauge(cursors: dict[tuple[str, str], str], now: datetime) -> GaugeMetricFamily:
    """Now minus the stream's committed ``updated_since``; a cursor of another format has no sample."""
    lag = GaugeMetricFamily(
        "memberhub_sync_lag_seconds",
        "Now minus the newest source update the stream's cursor has reached.",
        labels=["connector", "stream"],
    )
    for (connector, stream), text in cursors.items():
        since = _updated_since(text)
        if since is not None:
            lag.add_metric([connector, stream], max((now - since).total_seconds(), 0.0))
    return lag


def _failure_counter(failures: dict[tuple[str, str], int]) -> CounterMetricFamily:
    family = CounterMetricFamily(
        "memberhub_sync_failed_runs", "Failed runs by error class.", labels=["connector", "error_class"]
    )
    for (connector, error_class), count in failures.items():
        family.add_metric([connector, error_class], count)
    return family


def _breaker_gauges(breakers: dict[str, tuple[str, int]], instances: tuple[str, ...]) -> Iterator[GaugeMetricFamily]:
    state = GaugeMetricFamily(
        "memberhub_breaker_state", "Circuit breaker: 0 closed, 1 half-open, 2 open.", labels=["connector"]
    )
    failures = GaugeMetricFamily(
        "memberhub_breaker_consecutive_failures",
        "Consecutive failed calls counted by the breaker.",
        labels=["connector"],
    )
    for connector in sorted(set(instances) | set(breakers)):
        name, count = breakers.get(connector, (CLOSED, 0))
        state.add_metric([connector], BREAKER_LEVELS.get(name, BREAKER_LEVELS[OPEN]))
        failures.add_metric([connector], count)
    yield from (state, failures)


def _dead_letter_gauge(dead: dict[tuple[str, str], int], instances: tuple[str, ...]) -> GaugeMetricFamily:
    pending: dict[str, int] = dict.fromkeys(instances, 0)
    for (connector, _stream), count in dead.items():
        pending[connector] = pending.get(connector, 0) + count
    family = GaugeMetricFamily(
        "memberhub_dead_letters_pending", "Quarantined records waiting for replay or discard.", labels=["connector"]
    )
    for connector, count in sorted(pending.items()):
        family.add_metric([connector], count)
    return family


def _outbox_gauge(outbox: dict[tuple[str, str], int]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(
        "memberhub_outbox_messages",
        "Outbound messages not delivered: pending (to retry) or failed (given up).",
        labels=["destination", "status"],
    )
    for destination in sorted({destination for destination, _ in outbox}):
        for status in OUTBOX_BACKLOG:
            family.add_metric([destination, status], outbox.get((destination, status), 0))
    return family


def _updated_since(text: str) -> datetime | None:
    try:
        since = StreamCursor.from_json(text).updated_since
    except ConfigError:  # a connector with a cursor format of its own
        return None
    return _aware(since) if since is not None else None


def _epoch(at: datetime) -> float:
    return _aware(at).timestamp()


def _aware(at: datetime) -> datetime:
    """SQLite returns naive datetimes; the store writes UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
