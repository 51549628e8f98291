"""What the console and the API show of a report: tables for one rank (or all), with derived rates.

A report keeps figures that add up (counts, sums); a view sums them over the rows of the chosen rank and
derives the rates: repeat rate, average satisfaction, NPS, conversion, churn rate. ``chart`` names the
column a bar chart draws against the first column.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from core.analytics.growth import COLUMNS
from core.analytics.migration import NEW
from core.analytics.tables import Cell, Report, ReportTable

__all__ = ["View", "views_of"]

ALL = "all"
Order = Callable[[str], tuple[int, str]]


@dataclass(frozen=True)
class View:
    """One table to show, and the column its chart draws (``None``: no chart)."""

    table: ReportTable
    chart: str | None


def views_of(report: Report, rank: str | None, ladder: Sequence[str]) -> list[View]:
    """The views of ``report`` for ``rank`` (``None``: every rank), ranks in ``ladder`` order."""
    return _BUILDERS[report.name](report, rank, ladder)


def _rate(part: int, whole: int, scale: int = 100, digits: int = 1) -> float | None:
    return None if whole == 0 else round(part * scale / whole, digits)


def _i(cell: Cell) -> int:
    return int(cell) if isinstance(cell, int | float) else 0


def _as_is(key: str) -> tuple[int, str]:
    return (0, key)


def _summed(
    table: ReportTable,
    key: str,
    figures: Sequence[str],
    rank: str | None,
    order: Order = _as_is,
) -> list[tuple[str, list[int]]]:
    """The ``figures`` columns summed per value of the ``key`` column, over the rows of ``rank`` (or all)."""
    sums: dict[str, list[int]] = defaultdict(lambda: [0] * len(figures))
    key_at, figure_at = table.columns.index(key), [table.columns.index(f) for f in figures]
    rank_at = table.columns.index("rank")
    for row in table.rows:
        if rank is None or row[rank_at] == rank:
            group = sums[str(row[key_at])]
            for n, i in enumerate(figure_at):
                group[n] += _i(row[i])
    return sorted(sums.items(), key=lambda item: order(item[0]))


def _ladder_order(ladder: Sequence[str]) -> Order:
    places = {code: n for n, code in enumerate(ladder)}
    return lambda code: (places.get(code, len(places)), code)


def _repeat(report: Report, rank: str | None, ladder: Sequence[str]) -> list[View]:
    table = report.table("by_rank_channel")
    columns = ("buyers", "returning", "repeat_rate", "orders", "sales")

    def rows(groups: Iterable[tuple[str, list[int]]]) -> tuple[tuple[Cell, ...], ...]:
        return tuple((g, b, r, _rate(r, b), o, s) for g, (b, r, o, s) in groups)

    figures = ("buyers", "returning", "orders", "sales")
    channels = [g for g in _summed(table, "channel", figures, rank) if g[0] != ALL]
    everyone = ReportTable(table.name, table.columns, tuple(row for row in table.rows if row[1] == ALL))
    by_rank = _summed(everyone, "rank", figures, rank, _ladder_order(ladder))
    return [
        View(ReportTable("sales_by_channel", ("channel", *columns), rows(channels)), "sales"),
        View(ReportTable("repeat_by_rank", ("rank", *columns), rows(by_rank)), "repeat_rate"),
    ]


def _migration(report: Report, rank: str | None, ladder: Sequence[str]) -> list[View]:
    table = report.table("matrix")
    order = _ladder_order([NEW, *ladder])
    targets = sorted({str(t) for t in table.column("to_rank")} | set(ladder), key=order)
    cells: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(targets, 0))
    for source, target, members in table.rows:
        if rank is None or source == rank:
            cells[str(source)][str(target)] += _i(members)
    matrix: list[tuple[Cell, ...]] = [
        (source, *row.values(), sum(row.values())) for source, row in sorted(cells.items(), key=lambda i: order(i[0]))
    ]
    arrivals: list[tuple[Cell, ...]] = [(t, sum(row[t] for row in cells.values())) for t in targets]
    return [
        View(ReportTable("rank_arrivals", ("to_rank", "members"), tuple(arrivals)), "members"),
        View(ReportTable("migration_matrix", ("from_rank", *targets, "members"), tuple(matrix)), None),
    ]


def _surveys(report: Report, rank: str | None, ladder: Sequence[str]) -> list[View]:
    table = report.table("by_rank_channel_store")
    columns = ("responses", "satisfaction", "nps", "rated", "recommended")

    def rows(groups: Iterable[tuple[str, list[int]]]) -> tuple[tuple[Cell, ...], ...]:
        return tuple(
            (g, n, _rate(total, rated, 1, 2), _rate(promoters - detractors, recommended), rated, recommended)
            for g, (n, rated, total, recommended, promoters, detractors) in groups
        )

    figures = ("responses", "rated", "rating_sum", "recommended", "promoters", "detractors")
    return [
        View(
            ReportTable(f"survey_by_{key}", (key, *columns), rows(_summed(table, key, figures, rank, order))),
            "satisfaction",
        )
        for key, order in (("rank", _ladder_order(ladder)), ("channel", _as_is), ("store", _as_is))
    ]


def _uplift(report: Report, rank: str | None, ladder: Sequence[str]) -> list[View]:
    table = report.table("by_campaign_group")
    per_member = {(str(row[0]), str(row[1])): _rate(_i(row[5]), _i(row[2]), 1, 1) for row in table.rows}
    rows: list[tuple[Cell, ...]] = []
    for campaign, group, members, buyers, orders, sales in table.rows:
        mine, holdout = per_member[(str(campaign), str(group))], per_member.get((str(campaign), "holdout"))
        uplift = None
        if group == "treated" and mine is not None and holdout:
            uplift = round((mine - holdout) * 100 / holdout, 1)
        conversion = _rate(_i(buyers), _i(members))
        rows.append((f"{campaign} / {group}", members, buyers, conversion, orders, sales, mine, uplift))
    columns = ("campaign_group", "members", "buyers", "conversion", "orders", "sales", "sales_per_member", "uplift")
    return [View(ReportTable("uplift", columns, tuple(rows)), "sales_per_member")]


def _liability(report: Report, rank: str | None, ladder: Sequence[str]) -> list[View]:
    table = report.table("by_rank_state_expiry")
    states = _summed(table, "state", ("points", "yen"), rank)
    total = [sum(values[n] for _, values in states) for n in range(2)]
    expiring = [g for g in _summed(table, "expires", ("points", "yen"), rank) if g[0] in ("1", "2", "3")]
    return [
        View(
            ReportTable("liability", ("state", "points", "yen"), (*_flat(states), (ALL, *total))),
            "points",
        ),
        View(ReportTable("expiring", ("months_ahead", "points", "yen"), tuple(_flat(expiring))), "points"),
    ]


def _flat(groups: Iterable[tuple[str, list[int]]]) -> list[tuple[Cell, ...]]:
    return [(key, *values) for key, values in groups]


def _growth(report: Report, rank: str | None, ladder: Sequence[str]) -> list[View]:
    table = report.table("by_rank")
    groups = _summed(table, "rank", COLUMNS[1:], rank, _ladder_order(ladder))
    if rank is None:
        groups.append((ALL, [sum(values[n] for _, values in groups) for n in range(6)]))
    rows = tuple((g, *values, _rate(values[4], values[2])) for g, values in groups)
    columns = ("rank", "members", "new", "buyers", "active", "churned", "newly_churned", "churn_rate")
    return [View(ReportTable("growth", columns, rows), "churn_rate")]


_BUILDERS: dict[str, Callable[[Report, str | None, Sequence[str]], list[View]]] = {
    "repeat_sales": _repeat,
    "rank_migration": _migration,
    "survey_scores": _surveys,
    "campaign_uplift": _uplift,
    "points_liability": _liability,
    "growth_churn": _growth,
}
