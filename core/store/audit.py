"""SQL for the append-only audit log of access to personal data."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Row, insert, select

from core.store.models import AuditEvent, table_of

AUDIT = table_of(AuditEvent)
_APPEND = insert(AUDIT)  # built once: every row goes through the same compiled statement with its own values


def append_audit_event(conn: Connection, **values: object) -> None:
    """Append one audit row; rows are never updated or deleted."""
    conn.execute(_APPEND, values)


def audit_events_since(conn: Connection, since: datetime, *, member_id: UUID | None = None) -> list[Row[Any]]:
    """Audit rows at or after ``since``, oldest first."""
    query = select(AUDIT).where(AUDIT.c.occurred_at >= since).order_by(AUDIT.c.occurred_at, AUDIT.c.id)
    if member_id is not None:
        query = query.where(AUDIT.c.member_id == member_id)
    return list(conn.execute(query))
