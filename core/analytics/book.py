"""``ReportBook``: reports by name and month, read from the cache or computed and cached on a miss.

Past months are computed once and kept until ``refresh`` recomputes them; the nightly job refreshes the month
under way and the one before it (late refunds and survey answers still change it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy import Connection, Engine

from core.analytics.cache import cached_report, store_report
from core.analytics.catalog import REPORTS, ReportKind, report_kind
from core.analytics.months import Month
from core.analytics.settings import AnalyticsRules
from core.analytics.sql import ReportContext
from core.analytics.tables import Report
from core.loyalty.earning import VOID_STATUSES
from core.loyalty.rules import LoyaltyRules

__all__ = ["ReportBook", "build_reports"]

Clock = Callable[[], datetime]


class ReportBook:
    """The analytics reports of one hub under its loyalty rules; ``clock`` gives the current time (aware)."""

    def __init__(self, engine: Engine, rules: LoyaltyRules, clock: Clock) -> None:
        self.engine = engine
        self.rules = rules
        self.clock = clock

    @property
    def settings(self) -> AnalyticsRules:
        """The ``[analytics]`` section of the rules."""
        return self.rules.analytics

    def report(self, name: str, month: Month) -> Report:
        """The report for ``month``, from the cache if it holds one for the current settings, else computed."""
        kind = report_kind(name)
        params = kind.cache_params(self.rules, self.settings)
        with self.engine.connect() as conn:
            found = cached_report(conn, name, month.code, params)
        if found is not None:
            return found
        with self.engine.begin() as conn:
            return compute_report(conn, kind, self.rules, month, self.clock())

    def refresh(self, months: Iterable[Month]) -> list[Report]:
        """Recompute and cache every report for each month, one transaction per month."""
        done: list[Report] = []
        for month in months:
            with self.engine.begin() as conn:
                done.extend(compute_report(conn, kind, self.rules, month, self.clock()) for kind in REPORTS)
        return done


def compute_report(conn: Connection, kind: ReportKind, rules: LoyaltyRules, month: Month, now: datetime) -> Report:
    """Compute one report in ``conn`` and store it in the cache."""
    report = build_report(conn, kind, rules, month, now)
    store_report(conn, report)
    return report


def build_report(conn: Connection, kind: ReportKind, rules: LoyaltyRules, month: Month, now: datetime) -> Report:
    """Compute one report in ``conn`` (only reading)."""
    settings: AnalyticsRules = rules.analytics
    context = ReportContext(conn, month, now, rules.lowest.code, settings, VOID_STATUSES)
    return Report(kind.name, month.code, kind.cache_params(rules, settings), now, kind.compute(context, rules))


def build_reports(conn: Connection, rules: LoyaltyRules, now: datetime) -> list[Report]:
    """Every report for this month and the last one, computed without writing (the nightly job's reading half)."""
    this = Month.of(now)
    return [build_report(conn, kind, rules, month, now) for month in (this.shifted(-1), this) for kind in REPORTS]
