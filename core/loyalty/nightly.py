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
the other.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine

from core.analytics.book import refresh_reports
from core.crypto.sealing import MemberSealer
from core.events import DomainEvent
from core.loyalty.anniversary import give_anniversary_benefits
from core.loyalty.engine import LoyaltyEngine
from core.loyalty.score import score_members


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
    jobs: dict[str, _Job] = {
        "expiry": lambda conn: _expiry(loyalty, conn, now),
        "expiry notices": lambda conn: _expiry_notices(loyalty, conn, now, sealer),
        "rank period end": lambda conn: _period_end(loyalty, conn, now),
        "birthday": lambda conn: _birthday(loyalty, conn, now, sealer),
        "anniversary": lambda conn: _anniversary(loyalty, conn, now),
        "rfm": lambda conn: _rfm(loyalty, conn, now),
        "loyalty score": lambda conn: _loyalty_score(loyalty, conn, now),
        "segments": lambda conn: _segments(loyalty, conn, now),
        "member status": lambda conn: _member_status(loyalty, conn, now, sealer),
        "analytics": lambda conn: _analytics(loyalty, conn, now),
    }
    beside = engine.dialect.name == "postgresql"
    runs: dict[str, JobRun] = {}
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="nightly-beside") as pool:
        for main, *others in _STAGES:
            running = [pool.submit(_run_lane, engine, lane, jobs) for lane in others] if beside else []
            for lane in [main] if beside else [main, *others]:
                for run in _run_lane(engine, lane, jobs, publish):
                    runs[run.name] = run
            for done in running:  # their events go out from this thread, after the lane beside them
                for run in done.result():
                    publish(run.events)
                    runs[run.name] = run
    return [runs[name] for name in ORDER]


_Job = Callable[[Connection], tuple[str, tuple[DomainEvent, ...]]]
_STAGES: tuple[tuple[tuple[str, ...], ...], ...] = (
    (("expiry", "expiry notices", "rank period end"),),
    (("birthday", "anniversary"), ("rfm", "loyalty score")),  # RFM reads purchases; the scores read RFM's
    (("segments", "member status"), ("analytics",)),  # the reports read none of what these write
)
"""Stages in order; in a stage, the lanes after the first run beside it on PostgreSQL (one after the other on
SQLite), each lane's jobs in order."""
ORDER = tuple(name for stage in _STAGES for lane in stage for name in lane)
"""The nightly list, in the order the jobs run on SQLite."""


def _run_lane(
    engine: Engine,
    lane: tuple[str, ...],
    jobs: dict[str, _Job],
    publish: Callable[[tuple[DomainEvent, ...]], None] | None = None,
) -> list[JobRun]:
    """The lane's jobs one after the other; ``publish`` (if given) gets each job's events after its commit."""
    runs = []
    for name in lane:
        runs.append(_run_job(engine, name, jobs[name]))
        if publish is not None:
            publish(runs[-1].events)
    return runs


def _run_job(engine: Engine, name: str, job: _Job) -> JobRun:
    """``job`` in its own transaction, timed."""
    started, cpu = time.perf_counter(), time.thread_time()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL jit = off")
        summary, events = job(conn)
    return JobRun(name, summary, time.perf_counter() - started, events, time.thread_time() - cpu)


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


def _analytics(loyalty: LoyaltyEngine, conn: Connection, now: datetime) -> tuple[str, tuple[DomainEvent, ...]]:
    """Last: the analytics reports of this month and the last one, recomputed into the report cache."""
    return f"{refresh_reports(conn, loyalty.rules, now):,} analytics reports cached", ()
