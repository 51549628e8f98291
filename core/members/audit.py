"""Who read whose personal data, when and why: the access record APPI expects."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import Connection, Engine

from core.members.directory import utc_now
from core.store.audit import append_audit_event

DEAD_LETTER_VIEW = "dead_letter_view"
"""The audit action of opening a quarantined record's payload, which may hold personal data."""


@dataclass(frozen=True)
class Actor:
    """The person or integration reading member data."""

    name: str
    role: str


def record_member_access(
    bind: Engine | Connection,
    actor: Actor,
    action: str,
    member_id: UUID | None,
    *,
    purpose: str | None = None,
    request_id: str | None = None,
    detail: dict[str, object] | None = None,
) -> None:
    """Append an audit row for one access (``open``, ``search``, ``erase``, ``export``…); never PII in it.

    Given a connection, the row joins its transaction (say, the one that reads the data it records) and is
    committed or rolled back with it; given an engine, the row is committed on its own.
    """
    values = {
        "occurred_at": utc_now(), "actor": actor.name, "role": actor.role, "action": action, "member_id": member_id,
        "purpose": purpose, "request_id": request_id, "detail": detail,
    }  # fmt: skip
    if isinstance(bind, Connection):
        append_audit_event(bind, **values)
        return
    with bind.begin() as conn:
        append_audit_event(conn, **values)
