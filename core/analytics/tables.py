"""What a report is: named tables of rows (dimension values first, then figures), stored as JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["Cell", "Report", "ReportTable"]

Cell = str | int | float | None


@dataclass(frozen=True)
class ReportTable:
    """One table of a report: column names and rows of cells, small enough to hold in memory."""

    name: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]

    def column(self, name: str) -> list[Cell]:
        """Every row's value of one column."""
        index = self.columns.index(name)
        return [row[index] for row in self.rows]

    def records(self) -> list[dict[str, Cell]]:
        """The rows as dicts keyed by column (for JSON answers)."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


@dataclass(frozen=True)
class Report:
    """One computed report for one period and parameter set."""

    name: str
    period: str
    params: str
    computed_at: datetime
    tables: tuple[ReportTable, ...] = field(default=())

    def table(self, name: str) -> ReportTable:
        """The table called ``name`` (``KeyError`` if the report has none)."""
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(name)

    def body(self) -> str:
        """The tables as the JSON kept in ``report_cache.body``."""
        return json.dumps(
            {"tables": [{"name": t.name, "columns": t.columns, "rows": t.rows} for t in self.tables]},
            ensure_ascii=False,
            separators=(",", ":"),
        )

    @classmethod
    def from_body(cls, name: str, period: str, params: str, computed_at: datetime, body: str) -> Report:
        """A report read back from the cache."""
        data: dict[str, Any] = json.loads(body)
        tables = tuple(
            ReportTable(t["name"], tuple(t["columns"]), tuple(tuple(row) for row in t["rows"])) for t in data["tables"]
        )
        return cls(name, period, params, computed_at, tables)
