"""The ``report_cache`` table: one stored report per (report, period, params), replaced when recomputed."""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select

from core.analytics.tables import Report
from core.store.models import ReportCache, table_of

__all__ = ["cached_report", "store_report"]

CACHE = table_of(ReportCache)


def cached_report(conn: Connection, name: str, period: str, params: str) -> Report | None:
    """The stored report, or ``None`` if it was never computed with these parameters."""
    c = CACHE.c
    query = select(c.body, c.computed_at).where(c.report == name, c.period == period, c.params == params)
    row = conn.execute(query).one_or_none()
    return None if row is None else Report.from_body(name, period, params, row.computed_at, row.body)


def store_report(conn: Connection, report: Report) -> None:
    """Keep ``report``, replacing what was stored for its report, period and parameters."""
    c = CACHE.c
    key = (c.report == report.name) & (c.period == report.period) & (c.params == report.params)
    conn.execute(delete(CACHE).where(key))
    row = {
        "report": report.name,
        "period": report.period,
        "params": report.params,
        "body": report.body(),
        "computed_at": report.computed_at,
    }
    conn.execute(insert(CACHE), row)
