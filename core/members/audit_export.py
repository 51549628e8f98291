"""Reading the audit log back out: rows since a moment, as CSV or JSON lines (API, console and CLI share this).

The rows hold who, when, which action and which member id — never the member's personal data — so an export
can leave the hub for an auditor. Times are written in Japan time with their offset.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, Row

from core.errors import InvalidInputError
from core.store.audit import audit_events_since

TOKYO = ZoneInfo("Asia/Tokyo")
COLUMNS = ("id", "occurred_at", "actor", "role", "action", "member_id", "purpose", "request_id", "detail")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run such a cell as a formula


@dataclass(frozen=True)
class AuditRow:
    """One access to member data (or one administrative change) as the audit log recorded it."""

    id: int
    occurred_at: datetime
    actor: str
    role: str
    action: str
    member_id: UUID | None
    purpose: str | None
    request_id: str | None
    detail: dict[str, Any] | None


def parse_since(text: str) -> datetime:
    """``YYYY-MM-DD`` (midnight) or an ISO 8601 time, read as Japan time unless it names an offset; in UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInputError("give the start as YYYY-MM-DD or an ISO 8601 date and time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=TOKYO)
    return moment.astimezone(UTC)


def audit_rows_since(engine: Engine, since: datetime) -> list[AuditRow]:
    """Every audit row at or after ``since``, oldest first."""
    with engine.connect() as conn:
        return [_audit_row(row) for row in audit_events_since(conn, since)]


def audit_csv(rows: Iterable[AuditRow]) -> str:
    """The rows as CSV with a header line; cells a spreadsheet would read as formulas are quoted with ``'``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_cell(value) for value in _flat(row)])
    return out.getvalue()


def audit_jsonl(rows: Iterable[AuditRow]) -> str:
    """The rows as one JSON object per line."""
    return "".join(json.dumps(audit_record(row), ensure_ascii=False) + "\n" for row in rows)


def audit_record(row: AuditRow) -> dict[str, Any]:
    """One row as JSON-ready values (time in Japan time with its offset)."""
    record = asdict(row)
    record["occurred_at"] = row.occurred_at.astimezone(TOKYO).isoformat()
    record["member_id"] = str(row.member_id) if row.member_id else None
    return record


def _flat(row: AuditRow) -> Sequence[str]:
    record = audit_record(row)
    detail = record["detail"]
    record["detail"] = json.dumps(detail, ensure_ascii=False, sort_keys=True) if detail is not None else None
    return ["" if record[column] is None else str(record[column]) for column in COLUMNS]


def _cell(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


def _audit_row(row: Row[Any]) -> AuditRow:
    return AuditRow(
        row.id, row.occurred_at, row.actor, row.role, row.action, row.member_id, row.purpose, row.request_id,
        row.detail,
    )  # fmt: skip
