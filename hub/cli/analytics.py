"""``hub analytics``: recompute the cached loyalty reports (docs/analytics.md)."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.table import Table

from core.analytics.book import ReportBook
from core.analytics.catalog import REPORTS
from core.analytics.months import Month
from core.errors import ConfigError
from hub.cli.common import console, opened_hub

app = typer.Typer(help="Loyalty analytics: the reports the console's analytics page shows.", no_args_is_help=True)

Months = Annotated[
    list[str] | None,
    typer.Option("--month", help="A month to recompute, YYYY-MM (Asia/Tokyo); repeat it. Default: this and last."),
]


@app.command("refresh")
def refresh(month: Months = None) -> None:
    """Recompute every report for the months given and keep them in the report cache."""
    with opened_hub() as hub:
        loyalty = hub.loyalty
        book = ReportBook(hub.engine, loyalty.rules, loyalty.clock)
        months = _months(month, Month.of(loyalty.clock()))
        table = Table("month", "reports", "seconds", title="analytics reports recomputed")
        for each in months:
            started = time.perf_counter()
            done = book.refresh([each])
            table.add_row(each.code, str(len(done)), f"{time.perf_counter() - started:.2f}")
    console.print(table)


@app.command("reports")
def reports() -> None:
    """List the reports by name."""
    for kind in REPORTS:
        console.print(kind.name)


def _months(given: list[str] | None, this: Month) -> list[Month]:
    """The months named on the command line (``ConfigError`` for a malformed one), or this and last month."""
    if not given:
        return [this.shifted(-1), this]
    try:
        return sorted({Month.parse(code) for code in given})
    except ValueError as error:
        raise ConfigError(f"--month: {error}") from None
