"""The analytics page (supervisors and admins): each report's charts and tables for a month and rank, and CSV.

Figures come from ``core.analytics`` through the API module's helpers (the console never touches SQL); the
charts are server-rendered SVG (``analytics_charts``). CSV files are UTF-8 with a byte-order mark, which
Excel needs to read Japanese text correctly.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Annotated, get_args

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from markupsafe import Markup
from starlette.exceptions import HTTPException

from core.access import Principal, Role, Scope
from core.analytics.months import Month
from core.analytics.tables import Cell
from core.analytics.views import View
from core.loyalty.rules import LoyaltyRules
from hub.web.api.analytics import MonthParam, RankParam, ReportName, report_views
from hub.web.auth import require
from hub.web.console.analytics_charts import Bar, bar_chart
from hub.web.i18n import catalog, translate
from hub.web.pages import locale_of, render
from hub.web.state import WebState, web_state

router = APIRouter(include_in_schema=False)
AnalyticsReader = Annotated[Principal, Depends(require(Role.SUPERVISOR, Scope.ANALYTICS))]
State = Annotated[WebState, Depends(web_state)]
REPORT_NAMES: tuple[str, ...] = get_args(ReportName)
MONTHS_OFFERED = 24
PERCENT = frozenset({"repeat_rate", "conversion", "churn_rate", "uplift"})
YEN = frozenset({"sales", "yen", "sales_per_member"})
RANK_COLUMNS = frozenset({"rank", "from_rank", "to_rank"})


@router.get("/analytics")
def analytics_page(
    request: Request,
    principal: AnalyticsReader,
    state: State,
    report: Annotated[ReportName, Query()] = "repeat_sales",
    month: MonthParam = None,
    rank: RankParam = None,
) -> Response:
    """The chosen report's charts and tables, with the month and rank selectors and a CSV link per table."""
    found, views = report_views(state, report, month, rank or None)
    labels = _Labels(locale_of(request), state.hub.loyalty.rules)
    current = Month.of(state.hub.loyalty.clock())
    shown = [_shown(view, labels) for view in views]
    return render(
        request, "analytics.html", report=report, reports=REPORT_NAMES, found=found, views=shown,
        month=found.period, months=[current.shifted(-n).code for n in range(MONTHS_OFFERED)], rank=rank or "",
        ranks=[(level.code, labels.value(level.code)) for level in state.hub.loyalty.rules.ranks.levels],
    )  # fmt: skip


@router.get("/analytics/{report}/{table}.csv")
def analytics_csv(
    request: Request,
    principal: AnalyticsReader,
    state: State,
    report: ReportName,
    table: Annotated[str, Path(pattern=r"^[a-z_]{1,40}$")],
    month: MonthParam = None,
    rank: RankParam = None,
) -> Response:
    """One table of a report as CSV (UTF-8 with BOM), headers and labels in the user's language."""
    found, views = report_views(state, report, month, rank or None)
    view = next((v for v in views if v.table.name == table), None)
    if view is None:
        raise HTTPException(404, "no such table in this report")
    labels = _Labels(locale_of(request), state.hub.loyalty.rules)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([labels.column(c) for c in view.table.columns])
    for row in view.table.rows:
        writer.writerow([labels.cell(c, v, raw=True) for c, v in zip(view.table.columns, row, strict=True)])
    name = f"{report}-{table}-{found.period}{'-' + rank if rank else ''}.csv"
    return Response(
        ("\ufeff" + out.getvalue()).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


class _Labels:
    """Column headers and dimension values in the user's language; rank codes as the rules name them."""

    def __init__(self, locale: str, rules: LoyaltyRules) -> None:
        self.locale = locale
        self.messages = catalog(locale)
        self.ranks = {level.code: level.name_ja if locale == "ja" else level.name_en for level in rules.ranks.levels}

    def column(self, name: str) -> str:
        if name in self.ranks:
            return self.ranks[name]
        return self.messages.get(f"analytics.column.{name}", name)

    def value(self, value: Cell) -> str:
        text = str(value)
        return self.ranks.get(text) or self.messages.get(f"analytics.value.{text}", text)

    def cell(self, column: str, value: Cell, *, raw: bool = False) -> str:
        """A cell as shown (``raw``: as CSV keeps it, numbers without separators or units)."""
        if isinstance(value, str):
            return " / ".join(self.value(part) for part in value.split(" / "))
        if value is None:
            return "" if raw else "—"
        if raw:
            return str(value)
        return _FORMATS.get(column, _number)(value)


def _number(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"


_FORMATS: dict[str, Callable[[float], str]] = {
    **dict.fromkeys(PERCENT, lambda v: f"{v:.1f}%"),
    **dict.fromkeys(YEN, lambda v: f"¥{v:,.0f}"),
    "satisfaction": lambda v: f"{v:.2f}",
    "nps": lambda v: f"{v:+.1f}",
}


def _shown(view: View, labels: _Labels) -> dict[str, object]:
    """A view ready for the template: headers, formatted rows and the chart (SVG) if it has one."""
    table = view.table
    title = translate(labels.locale, f"analytics.table.{table.name}")
    return {
        "name": table.name,
        "title": title,
        "headers": [labels.column(c) for c in table.columns],
        "rows": [[labels.cell(c, v) for c, v in zip(table.columns, row, strict=True)] for row in table.rows],
        "chart": _chart(view, labels, title) if view.chart and table.rows else None,
    }


def _chart(view: View, labels: _Labels, title: str) -> Markup:
    table, column = view.table, view.chart or ""
    at = table.columns.index(column)
    bars = [
        Bar(labels.cell(table.columns[0], row[0]), _float(row[at]), labels.cell(column, row[at])) for row in table.rows
    ]
    return bar_chart(bars, f"{title}: {labels.column(column)}", f"chart-{table.name}")


def _float(value: Cell) -> float | None:
    return float(value) if isinstance(value, int | float) else None
