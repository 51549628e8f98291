"""The sync engine (DESIGN §4): a batch and its cursor in one transaction, connectors isolated in processes.

A run takes the stream's lock, checks the connector's circuit breaker, starts the connector in a child
process and commits every batch it sends together with the cursor reached. A run that fails, hangs past its
deadline or crashes keeps every batch it committed; the next run resumes from the last committed cursor.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, partial
from multiprocessing.connection import Connection as Pipe
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_random

from core.errors import (
    ConfigError,
    MemberHubError,
    NotSliceableError,
    PermanentError,
    RetryableError,
    StillRunningError,
    StreamBusyError,
    SyncError,
)
from core.events import Publish, no_observers
from core.logs import get_logger
from core.records import CanonicalRecord
from core.store import backfill_slices as slices_repo
from core.store import sync as repo
from core.sync.breaker import CircuitBreaker
from core.sync.contract import Batch, CheckResult, Rejected
from core.sync.cursor import StreamCursor
from core.sync.dead_letters import Quarantined, quarantine
from core.sync.locks import stream_lock
from core.sync.payloads import PayloadSealer
from core.sync.reader_process import ReaderFailure, ReaderSpec, start_reader
from core.sync.registry import ConnectorRegistry, InstanceConfig
from core.sync.sink import RecordSink, SinkResult

log = get_logger(__name__)
_POLL_S = 0.5
Clock = Callable[[], datetime]


_LOST_RACES = frozenset({"40P01", "40001"})
"""SQLSTATEs of a transaction PostgreSQL rolled back for another's sake: deadlock, serialization failure."""


def _lost_race(error: BaseException) -> bool:
    return isinstance(error, OperationalError) and getattr(error.orig, "sqlstate", None) in _LOST_RACES


@dataclass(frozen=True)
class RunReport:
    """The outcome of one stream run, as recorded in ``sync_runs``."""

    run_id: int | None
    connector: str
    stream: str
    lane: str
    status: str
    records_read: int = 0
    records_written: int = 0
    records_quarantined: int = 0
    error_class: str | None = None
    error_message: str | None = None


@dataclass
class _Run:
    instance: InstanceConfig
    stream: str
    lane: str
    state_key: str
    run_id: int
    read: int = 0
    written: int = 0
    quarantined: int = 0
    cursor: str | None = None
    """The cursor of the last batch committed."""
    slice_no: int | None = None
    part: str | None = None
    """The slice of a sliced backfill this run reads (its number in the plan and the connector's text)."""


class SyncEngine:
    """Runs connector streams into the store."""

    def __init__(
        self,
        engine: Engine,
        registry: ConnectorRegistry,
        sink: RecordSink,
        dead_letters: PayloadSealer,
        *,
        extra_plugins: Sequence[str] = (),
        publish: Publish = no_observers,
        clock: Clock = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.registry = registry
        self.sink = sink
        self.dead_letters = dead_letters
        self.extra_plugins = tuple(extra_plugins)
        self.publish = publish
        self.clock = clock
        self._stopping = threading.Event()
        _freeze_startup_objects()

    def request_stop(self) -> None:
        """Ask running syncs to stop after the batch they are committing (graceful shutdown)."""
        self._stopping.set()

    def run(self, instance: str, stream: str, *, full_refresh: bool = False) -> RunReport:
        """Run one stream once: incrementally from its cursor, or a full refresh in the backfill lane."""
        config = self.registry.instance(instance)
        lane = "backfill" if full_refresh else "incremental"
        try:
            with stream_lock(self.engine, f"{instance}/{stream}/{lane}"):
                return self._run_locked(config, stream, lane)
        except StreamBusyError as error:
            return RunReport(
                None,
                instance,
                stream,
                lane,
                "skipped",
                error_class=type(error).__name__,
                error_message=str(error),
            )

    def run_many(
        self,
        jobs: Sequence[tuple[str, str]],
        *,
        full_refresh: bool = False,
        workers: int = 4,
        on_report: Callable[[RunReport], None] | None = None,
    ) -> list[RunReport]:
        """Run several (instance, stream) jobs at once; one job's failure or hang never affects another's."""
        runs = [partial(self.run, name, stream, full_refresh=full_refresh) for name, stream in jobs]
        return _in_parallel(runs, workers, on_report)

    def plan_backfill(self, instance: str, stream: str, slices: int) -> list[int]:
        """Plan a sliced backfill of ``stream`` in at most ``slices`` slices, or take up the one under way.

        Returns the numbers of the slices still to run (``run_slice``). The connector plans in its isolated
        process, as it reads; the plan is stored before any slice runs, so every worker sees the same one.
        """
        if slices < 1:
            raise ConfigError("a sliced backfill needs at least one slice")
        config = self.registry.instance(instance)
        with stream_lock(self.engine, f"{instance}/{stream}/plan"):
            with self.engine.connect() as conn:
                plan = slices_repo.load_plan(conn, instance, stream)
            if not plan:
                parts = self._ask_for_slices(config, stream, slices)
                with self.engine.begin() as conn:
                    slices_repo.create_plan(conn, instance, stream, parts, self.clock())
                    plan = slices_repo.load_plan(conn, instance, stream)
                log.info("backfill planned", connector=instance, stream=stream, count=len(parts))
        return [row.slice_no for row in plan if row.finished_at is None]

    def run_slice(self, instance: str, stream: str, number: int) -> RunReport:
        """Run one slice of the stream's planned backfill; the last slice to finish hands over to incremental.

        A slice already finished, or of a plan already complete (a task delivered twice), is ``skipped``.
        """
        config = self.registry.instance(instance)
        lane = f"slice {number + 1}"
        try:
            with stream_lock(self.engine, f"{instance}/{stream}/slice/{number}"):
                with self.engine.connect() as conn:
                    row = slices_repo.load_slice(conn, instance, stream, number)
                if row is None or row.finished_at is not None:
                    return RunReport(None, instance, stream, lane, "skipped", error_message="slice already finished")
                return self._execute(
                    config, stream, lane, row.cursor, state_key=f"{stream}@{lane}", slice_no=number, part=row.descriptor
                )
        except StreamBusyError as error:
            return RunReport(
                None, instance, stream, lane, "skipped", error_class=type(error).__name__, error_message=str(error)
            )

    def run_backfills(
        self,
        jobs: Sequence[tuple[str, str]],
        *,
        slices: int,
        workers: int = 4,
        on_report: Callable[[RunReport], None] | None = None,
    ) -> list[RunReport]:
        """Full refreshes of (instance, stream) jobs, each split into up to ``slices`` slices where it can be.

        Every stream is planned first (or its plan under way taken up); then all slices — and the whole-stream
        backfills of connectors that cannot slice — run on ``workers`` threads, each in its own reader process.
        A stream whose planning fails is reported failed and the others go on.
        """
        runs: list[Callable[[], RunReport]] = []
        for name, stream in jobs:
            try:
                numbers = self.plan_backfill(name, stream, slices)
            except NotSliceableError:
                runs.append(partial(self.run, name, stream, full_refresh=True))
            except SyncError as error:
                runs.append(partial(_unplanned, name, stream, error))
            else:
                runs.extend(partial(self.run_slice, name, stream, number) for number in numbers)
        return _in_parallel(runs, workers, on_report)

    def check(self, instance: str) -> CheckResult:
        """Run the connector's ``check`` in an isolated process with the instance's deadline."""
        config = self.registry.instance(instance)
        kind, payload = _ask(ReaderSpec(config, None, extra_plugins=self.extra_plugins, check_only=True))
        if kind == "checked":
            return payload  # type: ignore[no-any-return]
        return CheckResult(False, f"{payload.error_class}: {payload.message}")

    # ── one run ────────────────────────────────────────────────────────────────────────────────────

    def _run_locked(self, config: InstanceConfig, stream: str, lane: str) -> RunReport:
        state_key = stream if lane == "incremental" else f"{stream}@backfill"
        with self.engine.connect() as conn:
            stored = repo.load_cursor(conn, config.name, state_key)
        return self._execute(config, stream, lane, self._start_cursor(stored, config, lane), state_key=state_key)

    def _execute(
        self,
        config: InstanceConfig,
        stream: str,
        lane: str,
        start: str | None,
        *,
        state_key: str,
        slice_no: int | None = None,
        part: str | None = None,
    ) -> RunReport:
        """Run a stream (or one slice of it) from ``start``, recorded in ``sync_runs`` (the caller holds its lock)."""
        breaker = CircuitBreaker(
            self.engine,
            config.name,
            fail_max=config.breaker_fail_max,
            reset_timeout=config.breaker_reset_s,
            clock=self.clock,
        )
        with self.engine.begin() as conn:
            repo.abandon_stale_runs(conn, config.name, stream, lane, self.clock())
            run_id = repo.start_run(conn, config.name, stream, lane, start, self.clock())
        run = _Run(config, stream, lane, state_key, run_id, slice_no=slice_no, part=part)
        try:
            breaker.before_call()
        except MemberHubError as error:
            return self._finish(run, "failed", type(error).__name__, str(error))
        failure = self._pump(run, start)
        if failure is None:
            breaker.record_success()
            if run.slice_no is not None:
                self._end_slice(run)
            elif lane == "backfill":
                self._end_backfill(run)
            return self._finish(run, "succeeded")
        if failure.error_class not in _HEALTHY_ENDINGS:
            breaker.record_failure(failure.error_class)
        status = "partial" if run.read else "failed"
        return self._finish(run, status, failure.error_class, failure.message)

    def _start_cursor(self, stored: str | None, config: InstanceConfig, lane: str) -> str | None:
        """Where a run starts: a backfill where it stopped, an incremental run at its mark minus the lookback.

        A backfill's cursor may be the connector's own (``Backfiller``), so it is passed on as stored.
        """
        if lane == "backfill" or not stored:
            return stored
        cursor = StreamCursor.from_json(stored).for_new_run(timedelta(seconds=config.lookback_s))
        return None if cursor == StreamCursor() else cursor.to_json()

    def _pump(self, run: _Run, cursor: str | None) -> ReaderFailure | None:
        spec = ReaderSpec(
            run.instance,
            run.stream,
            cursor,
            extra_plugins=self.extra_plugins,
            backfill=run.lane == "backfill",
            part=run.part,
        )
        process, pipe = start_reader(spec)
        deadline = time.monotonic() + run.instance.deadline_s
        try:
            while True:
                kind, payload = _receive(pipe, process, deadline, self._stopping)
                if kind != "batch":
                    return None if kind == "done" else payload
                if self._stopping.is_set():
                    return ReaderFailure("Interrupted", "stopped by a shutdown; resumes from the last batch", True)
                pipe.send("more")  # the child reads the next page while this batch is written
                self._commit(run, payload)
        finally:
            _stop(process)

    def _commit(self, run: _Run, batch: Batch) -> None:
        records, refused = self._admissible(run, batch)
        result, quarantined = self._write_batch(run, batch, records, refused)
        self.publish(result.events)
        run.cursor = batch.cursor
        run.read += len(batch.records)
        run.written += result.written
        run.quarantined += quarantined

    @retry(retry=retry_if_exception(_lost_race), stop=stop_after_attempt(5), wait=wait_random(0.05, 0.5), reraise=True)
    def _write_batch(
        self, run: _Run, batch: Batch, records: list[CanonicalRecord], refused: list[Quarantined]
    ) -> tuple[SinkResult, int]:
        """One transaction: the records, the quarantined items, the cursor and the run's counts.

        A transaction PostgreSQL rolled back to break a deadlock (or a serialization failure) is written again:
        batches committing side by side (slices, lanes) may lock the same members in different orders.
        """
        now = self.clock()
        with self.engine.begin() as conn:
            result = self.sink.apply(conn, records, disjoint=run.slice_no is not None)
            rejected = [*refused, *result.refused]
            quarantine(conn, self.dead_letters, run.instance.name, run.stream, rejected, now)
            if run.slice_no is None:
                repo.save_cursor(conn, run.instance.name, run.state_key, batch.cursor, now)
            else:
                slices_repo.save_slice_cursor(conn, run.instance.name, run.stream, run.slice_no, batch.cursor)
            repo.add_run_progress(
                conn,
                run.run_id,
                read=len(batch.records),
                written=result.written,
                quarantined=len(rejected),
                cursor=batch.cursor,
            )
        return result, len(rejected)

    def _admissible(self, run: _Run, batch: Batch) -> tuple[list[CanonicalRecord], list[Quarantined]]:
        """Split a batch into records to store and items to quarantine (mapping rejects, foreign records)."""
        record_type = _stream_record_type(self.registry, run.instance, run.stream)
        records: list[CanonicalRecord] = []
        refused: list[Quarantined] = []
        for item in batch.records:
            if isinstance(item, Rejected):
                refused.append(Quarantined.from_source(item))
            elif item.source != run.instance.name:
                refused.append(Quarantined.from_record(item, "record names another source", "ForeignSource"))
            elif record_type is not None and not isinstance(item, record_type):
                refused.append(Quarantined.from_record(item, "record type does not match the stream", "WrongType"))
            else:
                records.append(item)
        return records, refused

    def _end_backfill(self, run: _Run) -> None:
        """Clear the finished backfill's cursor and hand its end mark to the incremental lane if that is behind.

        A backfill ends on a ``StreamCursor`` (``Backfiller``'s contract; a plain read ends on its high-water
        mark): everything before it has been read, so an incremental lane that never ran, or stopped earlier
        and is not between pages, continues from there instead of reading the whole stream again.
        """
        now = self.clock()
        with self.engine.begin() as conn:
            repo.save_cursor(conn, run.instance.name, run.state_key, None, now)
            _hand_over(conn, run.instance.name, run.stream, _stream_cursor(run.cursor), now)

    def _end_slice(self, run: _Run) -> None:
        """Mark the slice finished; the last slice of the plan hands the newest mark over and deletes the plan."""
        assert run.slice_no is not None
        now = self.clock()
        with self.engine.begin() as conn:
            plan = slices_repo.finish_slice(conn, run.instance.name, run.stream, run.slice_no, now)
            if not plan:
                return
            marks = [_stream_cursor(row.cursor) for row in plan]
            ended = [mark for mark in marks if mark is not None and mark.updated_since and mark.page is None]
            newest = max(ended, key=lambda mark: mark.updated_since or now, default=None)
            _hand_over(conn, run.instance.name, run.stream, newest, now)
            slices_repo.delete_plan(conn, run.instance.name, run.stream)
        log.info("sliced backfill finished", connector=run.instance.name, stream=run.stream, count=len(plan))

    def _ask_for_slices(self, config: InstanceConfig, stream: str, slices: int) -> list[str]:
        """The connector's slices of ``stream``, asked in its isolated process within its deadline."""
        kind, payload = _ask(ReaderSpec(config, stream, extra_plugins=self.extra_plugins, plan_slices=slices))
        if kind != "planned":
            error = _PLANNING_ERRORS.get(payload.error_class, RetryableError if payload.retryable else PermanentError)
            raise error(
                f"{config.name}/{stream}: planning the backfill failed: {payload.error_class}: {payload.message}"
            )
        if not payload or not all(isinstance(part, str) for part in payload):
            raise PermanentError(f"{config.name}/{stream}: the connector planned no usable slices")
        return list(payload)

    def _finish(self, run: _Run, status: str, error_class: str | None = None, message: str | None = None) -> RunReport:
        with self.engine.begin() as conn:
            repo.finish_run(conn, run.run_id, status, self.clock(), error_class=error_class, error_message=message)
        log.info(
            "sync run finished",
            connector=run.instance.name,
            stream=run.stream,
            lane=run.lane,
            status=status,
            records_read=run.read,
            error_class=error_class,
        )
        return RunReport(
            run.run_id,
            run.instance.name,
            run.stream,
            run.lane,
            status,
            run.read,
            run.written,
            run.quarantined,
            error_class,
            message,
        )


_HEALTHY_ENDINGS = frozenset({"Interrupted", StillRunningError.__name__})
"""Failures that say nothing about the connector's health: a shutdown, an export the system is still preparing."""


@cache
def _freeze_startup_objects() -> None:
    """Once per process: move what outlives every sync (modules, mappers, compiled SQL) out of the cyclic GC's reach.

    A batch of records lives long enough to be promoted to the oldest generation, so a full collection comes
    every two or three batches; each one walked the 100k objects of a started hub again (70 ms, 16% of the
    time of an ingest). Garbage is collected first, so nothing already unreachable is kept.
    """
    gc.collect()
    gc.freeze()


def _ask(spec: ReaderSpec) -> tuple[str, Any]:
    """The one answer of a reader started for a question (a check, a plan), within the instance's deadline."""
    process, pipe = start_reader(spec)
    try:
        return _receive(pipe, process, time.monotonic() + spec.instance.deadline_s)
    finally:
        _stop(process)


def _receive(pipe: Pipe, process: Any, deadline: float, stopping: threading.Event | None = None) -> tuple[str, Any]:
    """The child's next message; a deadline, a shutdown or a dead child becomes a ``ReaderFailure``."""
    while not pipe.poll(min(_POLL_S, max(deadline - time.monotonic(), 0))):
        if time.monotonic() >= deadline:
            return "failed", ReaderFailure("DeadlineExceededError", "the connector missed its deadline", True)
        if stopping is not None and stopping.is_set():
            return "failed", ReaderFailure("Interrupted", "stopped by a shutdown; resumes from the last batch", True)
    try:
        return pipe.recv()  # type: ignore[no-any-return]
    except (EOFError, ConnectionResetError):
        process.join(timeout=5)
        return "failed", ReaderFailure(
            "ConnectorCrashed", f"the connector process died (exit {process.exitcode})", True
        )


def _stop(process: Any) -> None:
    if process.is_alive():
        process.kill()
    process.join(timeout=10)


_PLANNING_ERRORS: dict[str, type[SyncError]] = {NotSliceableError.__name__: NotSliceableError}


def _unplanned(instance: str, stream: str, error: SyncError) -> RunReport:
    """The report of a backfill whose planning failed: nothing was read, no run was started."""
    return RunReport(
        None, instance, stream, "backfill", "failed", error_class=type(error).__name__, error_message=str(error)
    )


def _in_parallel(
    runs: Sequence[Callable[[], RunReport]], workers: int, on_report: Callable[[RunReport], None] | None
) -> list[RunReport]:
    """Run each callable on a thread pool of ``workers``; reports in the order given."""
    with ThreadPoolExecutor(max_workers=max(workers, 1), thread_name_prefix="sync") as pool:
        futures = [pool.submit(run) for run in runs]
        for future in as_completed(futures):
            if on_report:
                on_report(future.result())
        return [future.result() for future in futures]


def _hand_over(conn: Connection, connector: str, stream: str, handed: StreamCursor | None, now: datetime) -> None:
    """Move the incremental lane's mark up to a finished backfill's end mark, if the lane is behind it.

    Only a lane that never ran, or stopped between runs (not between pages), is moved.
    """
    current = _stream_cursor(repo.load_cursor(conn, connector, stream))
    if handed is None or handed.updated_since is None or handed.page is not None or current is None:
        return
    if current.page is None and (current.updated_since is None or current.updated_since < handed.updated_since):
        repo.save_cursor(conn, connector, stream, handed.to_json(), now)


def _stream_cursor(text: str | None) -> StreamCursor | None:
    """``text`` as a ``StreamCursor``; ``None`` when it is some other connector-private cursor."""
    try:
        return StreamCursor.from_json(text)
    except ConfigError:
        return None


def _stream_record_type(registry: ConnectorRegistry, instance: InstanceConfig, stream: str) -> type | None:
    """The declared record type of a stream (``None`` if the type declares no such stream)."""
    for spec in registry.types[instance.type].streams:
        if spec.name == stream:
            return spec.record_type
    return None
