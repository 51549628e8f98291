"""``/api/v1/analytics``: the loyalty analytics reports as JSON, for supervisors and admins (no personal data).

A report is read from the report cache, or computed and cached on a miss (``core.analytics.book``); the rank
filter sums the cached rows of that rank (``core.analytics.views``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel

from core.access import Principal, Role, Scope
from core.analytics.book import ReportBook
from core.analytics.months import Month
from core.analytics.tables import Cell, Report
from core.analytics.views import View, views_of
from hub.web.api.supervision import errors
from hub.web.auth import require
from hub.web.state import WebState, web_state

router = APIRouter(prefix="/api/v1", tags=["analytics"])
AnalyticsReader = Annotated[Principal, Depends(require(Role.SUPERVISOR, Scope.ANALYTICS))]
State = Annotated[WebState, Depends(web_state)]

ReportName = Literal[
    "repeat_sales", "rank_migration", "survey_scores", "campaign_uplift", "points_liability", "growth_churn"
]
MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
RANK_PATTERN = r"^([a-z0-9][a-z0-9_-]{0,31})?$"  # a rank code of the loyalty rules, or empty: every rank
MonthParam = Annotated[str | None, Query(pattern=MONTH_PATTERN, description="YYYY-MM, Asia/Tokyo; default: now")]
RankParam = Annotated[str | None, Query(pattern=RANK_PATTERN, description="A rank code; default: every rank")]


class TableAnswer(BaseModel):
    """One table of a report: columns, rows, and the column its console chart draws."""

    name: str
    columns: list[str]
    rows: list[list[Cell]]
    chart: str | None


class ReportAnswer(BaseModel):
    """A report for one month (and rank), as computed at ``computed_at``."""

    report: str
    period: str
    rank: str | None
    computed_at: datetime
    tables: list[TableAnswer]


@router.get("/analytics/{report}", responses=errors())
def analytics_report(
    principal: AnalyticsReader,
    state: State,
    report: Annotated[ReportName, Path(description="Which report")],
    month: MonthParam = None,
    rank: RankParam = None,
) -> ReportAnswer:
    """One report's tables for a month, every rank summed or one rank's rows."""
    found, views = report_views(state, report, month, rank or None)
    tables = [
        TableAnswer(
            name=v.table.name, columns=list(v.table.columns), rows=[list(r) for r in v.table.rows], chart=v.chart
        )
        for v in views
    ]
    return ReportAnswer(
        report=report, period=found.period, rank=rank or None, computed_at=found.computed_at, tables=tables
    )


def analytics_book(state: WebState) -> ReportBook:
    """The hub's reports under its loyalty rules and clock."""
    loyalty = state.hub.loyalty
    return ReportBook(state.hub.engine, loyalty.rules, loyalty.clock)


def chosen_month(state: WebState, month: str | None) -> Month:
    """The month asked for (already checked against ``MONTH_PATTERN``), or the one under way."""
    return Month.parse(month) if month else Month.of(state.hub.loyalty.clock())


def report_views(state: WebState, report: str, month: str | None, rank: str | None) -> tuple[Report, list[View]]:
    """The report for the month (cached, or computed now) and its views for the rank."""
    book = analytics_book(state)
    found = book.report(report, chosen_month(state, month))
    return found, views_of(found, rank, [level.code for level in book.rules.ranks.levels])
