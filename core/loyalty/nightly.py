"""The nightly loyalty jobs in their order, each in its own transaction, timed.

Order: expiry (lapse lots, release pending points), expiry notices, rank period end, birthday and anniversary
benefits, RFM scores, loyalty scores (which read the RFM scores), segments (which read both), then the member
statuses pushed to the systems that show them (which read the segments), and last the analytics reports of
this month and the last (``core.analytics``: ledger, lots, ranks, purchases and answers, none of what the
scores, segments and statuses write). One transaction per job keeps a failure of a later job from undoing an
earlier one, and keeps each job's locks short; every job is idempotent, so running the whole list again the
same night changes nothing more.

On PostgreSQL two jobs that do not depend on each other run side by side, each on a connection of its own:
RFM (the server's work) and the loyalty scores (which read only RFM scores, answers and inquiries) beside the
birthday and anniversary benefits (mostly this process's: decrypting birthdays), and the analytics reports (the
server's) beside the segments and statuses (digests, member numbers): together they use both CPUs of a small
machine. Each PostgreSQL job runs with JIT compilation off: the jobs' per-lot subqueries make the planner's
costs large enough to compile every big query, which took ≈ 0.9 s of the member status query's 5 s and bought
nothing (measured). SQLite takes its write lock for every transaction, so there the list runs one job after
the other, except the analytics reports: they are read in a read-only transaction (``BEGIN``, which SQLite runs
beside a writer in WAL mode, its work in C outside the GIL) beside the segments and statuses, and cached in a
short transaction of their own once those are done — on both databases.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Connection, Engine

from core.analytics.book import build_reports
from core.analytics.cache import store_report
from core.crypto.sealing import MemberSealer
from core.events import DomainEvent
from core.loyalty.anniversary import give_anniversary_benefits
from core.loyalty.engine import LoyaltyEngine
from core.loyalty.score import score_members
from core.store.database import read_only


@dataclass(frozen=True)
class JobRun:
    """One job of one night: what it did (a short sentence without personal data), how long, its events.

    ``cpu_seconds`` is the CPU time of the thread that ran it (on SQLite that includes the database's work): on a
    shared machine it says what the job cost where the wall time says how busy the machine was.
    """

    name: str
    summary: str
    seconds: float
    events: tuple[DomainEvent, ...]
    cpu_seconds: float = 0.0


def run_nightly(
    engine: Engine,
    loyalty: LoyaltyEngine,
    sealer: MemberSealer,
    now: datetime,
    publish: Callable[[tuple[DomainEvent, ...]], None] = lambda events: None,
) -> list[JobRun]:
    """Run every job as of ``now``; ``publish`` receives each job's events once its transaction committed.

    Returns the runs in list order (``ORDER``), however the stages ran them.
    """
    writers: dict[str, _Writer] = {
        "expiry": lambda conn: _expiry(loyalty, conn, now),
        "expiry notices": lambda conn: _expiry_notices(loyalty, conn, now, sealer),
        "rank period end": lambda conn: _period_end(loyalty, conn, now),
        "birthday": lambda conn: _birthday(loyalty, conn, now, sealer),
        "anniversary": lambda conn: _anniversary(loyalty, conn, now),
        "rfm": lambda conn: _rfm(loyalty, conn, now),
        "loyalty score": lambda conn: _loyalty_score(loyalty, conn, now),
        "segments": lambda conn: _segments(loyalty, conn, now),
        "member status": lambda conn: _member_status(loyalty, conn, now, sealer),
    }
    jobs: dict[str, _Job] = {name: _writing(job) for name, job in writers.items()}
    jobs["analytics"] = lambda conn: _analytics(loyalty, conn, now)
    on_postgresql = engine.dialect.name == "postgresql"
    runs: dict[str, JobRun] = {}
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="nightly-beside") as pool:
        for main, *others in _STAGES:
            beside = [lane for lane in others if on_postgresql or set(lane) <= _READERS]
            running = [pool.submit(_run_lane, engine, lane, jobs) for lane in beside]
            for lane in [main, *(lane for lane in others if lane not in beside)]:
                for run, _ in _run_lane(engine, lane, jobs, publish):
                    runs[run.name] = run
            for done in running:  # their writes and events come after the lane beside them, from this thread
                for pending in done.result():
                    run = _finish(engine, pending)
                    publish(run.events)
                    runs[run.name] = run
    return [runs[name] for name in ORDER]


_Store = Callable[[Connection], None]
_Writer = Callable[[Connection], tuple[str, tuple[DomainEvent, ...]]]
"""A job that writes in its transaction: its summary and its events."""
_Job = Callable[[Connection], tuple[str, tuple[DomainEvent, ...], _Store | None]]
"""A job in its transaction: its summary, its events, and for a reader what it writes afterwards."""


def _writing(job: _Writer) -> _Job:
    """``job``, with nothing left to write after its transaction."""
    return lambda conn: (*job(conn), None)


_STAGES: tuple[tuple[tuple[str, ...], ...], ...] = (
    (("expiry", "expiry notices", "rank period end"),),
    (("birthday", "anniversary"), ("rfm", "loyalty score")),  # RFM reads purchases; the scores read RFM's
    (("segments", "member status"), ("analytics",)),  # the reports read none of what these write
)
"""Stages in order; in a stage, the lanes after the first run beside it on PostgreSQL (one after the other on
SQLite, except lanes of readers), each lane's jobs in order."""
ORDER = tuple(name for stage in _STAGES for lane in stage for name in lane)
"""The nightly list, in the order the jobs run on SQLite."""
_READERS = frozenset({"analytics"})
"""Jobs that only read in their transaction and hand back what to write: read-only (``BEGIN`` on SQLite, which
runs beside a writer), their writes done in a short transaction of their own once the lane beside them ends."""


def _run_lane(
    engine: Engine,
    lane: tuple[str, ...],
    jobs: dict[str, _Job],
    publish: Callable[[tuple[DomainEvent, ...]], None] | None = None,
) -> list[tuple[JobRun, _Store | None]]:
    """The lane's jobs one after the other.

    With ``publish`` (a lane of the main thread) each job is finished (a reader's writes done) and its events
    published at once; without it (a lane beside) the runs come back for :func:`_finish`.
    """
    runs = []
    for name in lane:
        run = _run_job(engine, name, jobs[name])
        if publish is not None:
            finished = _finish(engine, run)
            publish(finished.events)
            run = (finished, None)
        runs.append(run)
    return runs


def _run_job(engine: Engine, name: str, job: _Job) -> tuple[JobRun, _Store | None]:
    """``job`` in its own transaction (read-only for a reader), timed; a reader's writes are still to do."""
    started, cpu = time.perf_counter(), time.thread_time()
    with (read_only(engine) if name in _READERS else engine).begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL jit = off")
        summary, events, store = job(conn)
    return JobRun(name, summary, time.perf_counter() - started, events, time.thread_time() - cpu), store


def _finish(engine: Engine, pending: tuple[JobRun, _Store | None]) -> JobRun:
    """A reader's writes in a transaction of their own, their time added to the run's; other runs as they are."""
    run, store = pending
    if store is None:
        return run
    started, cpu = time.perf_counter(), time.thread_time()
    with engine.begin() as conn:
        store(conn)
    seconds, cpu_seconds = time.perf_counter() - started, time.thread_time() - cpu
    return replace(run, seconds=run.seconds + seconds, cpu_seconds=run.cpu_seconds + cpu_seconds)


def _expiry(loyalty: LoyaltyEngine, conn: Connection, now: datetime) -> tuple[str, tuple[DomainEvent, ...]]:
    outcome = loyalty.run_expiry(conn, now)
    return f"{outcome.entries:,} lots written off", outcome.events


def _expiry_notices(
    loyalty: LoyaltyEngine, conn: Connection, now: datetime, sealer: MemberSealer
) -> tuple[str, tuple[DomainEvent, ...]]:
    if not loyalty.rules.expiry_notice.destinations:
        return "no [expiry_notice] destinations in the rules", ()
    return f"{loyalty.run_expiry_notices(conn, now, sealer):,} notices", ()


def _period_end(loyalty: LoyaltyEngine, conn: Connection, now: datetime) -> tuple[str, tuple[DomainEvent, ...]]:
    outcome = loyalty.run_rank_period_end(conn, now)
    return f"{outcome.rank_changes:,} rank changes", outcome.events


def _birthday(
    loyalty: LoyaltyEngine, conn: Connection, now: datetime, sealer: MemberSealer
) -> tuple[str, tuple[DomainEvent, ...]]:
    if loyalty.rules.birthday is None:
        return "no [birthday] in the rules", ()
    outcome = loyalty.run_birthday(conn, now, sealer)
    if loyalty.rules.birthday.benefit == "points":
        return f"{outcome.given:,} points given ({outcome.read:,} birthdays read)", outcome.events
    summary = f"{outcome.given:,} coupons given, {outcome.messages:,} outbox messages ({outcome.read:,} birthdays read)"
    return summary, outcome.events


def _rfm(loyalty: LoyaltyEngine, conn: Connection, now: datetime) -> tuple[str, tuple[DomainEvent, ...]]:
    outcome = loyalty.run_rfm(conn, now)
    return f"{outcome.members:,} members scored, {outcome.buyers:,} of them buyers", ()


def _loyalty_score(loyalty: LoyaltyEngine, conn: Connection, now: datetime) -> tuple[str, tuple[DomainEvent, ...]]:
    outcome = score_members(conn, loyalty.rules.loyalty_score, now)
    return f"{outcome.members:,} members scored, mean {outcome.mean:.1f}", ()


def _anniversary(loyalty: LoyaltyEngine, conn: Connection, now: datetime) -> tuple[str, tuple[DomainEvent, ...]]:
    if loyalty.rules.anniversary is None:
        return "no [anniversary] in the rules", ()
    outcome = give_anniversary_benefits(conn, loyalty.rules, now, loyalty.outbox)
    return f"{outcome.given:,} anniversary benefits given ({outcome.due:,} anniversaries this month)", outcome.events


def _segments(loyalty: LoyaltyEngine, conn: Connection, now: datetime) -> tuple[str, tuple[DomainEvent, ...]]:
    outcome = loyalty.run_segments(conn, now)
    summary = f"{outcome.joined:,} joined, {outcome.left:,} left, {outcome.messages:,} outbox messages"
    return summary, outcome.events


def _member_status(
    loyalty: LoyaltyEngine, conn: Connection, now: datetime, sealer: MemberSealer
) -> tuple[str, tuple[DomainEvent, ...]]:
    if not loyalty.rules.member_status.destinations:
        return "no [member_status] destinations in the rules", ()
    outcome = loyalty.run_member_status(conn, now, sealer)
    return f"{outcome.changes:,} changed statuses, {outcome.messages:,} outbox messages", ()


def _analytics(loyalty: LoyaltyEngine, conn: Connection, now: datetime) -> tuple[str, tuple[()], _Store]:
    """Last: the analytics reports of this month and the last one, recomputed; cached by the returned writer."""
    reports = build_reports(conn, loyalty.rules, now)

    def store(write: Connection) -> None:
        for report in reports:
            store_report(write, report)

    return f"{len(reports):,} analytics reports cached", (), store
