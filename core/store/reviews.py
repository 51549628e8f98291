"""SQL for the review queue: pairs of members identity resolution would not merge on its own.

One row per pair (``member_id`` the newer member, ``candidate_id`` the older), so a pair once decided is
never asked about again. Nothing here sees plaintext: a row names the kind of evidence, never its values.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Row, select, update
from sqlalchemy.dialects import postgresql, sqlite

from core.store.models import ReviewItem, table_of

REVIEWS = table_of(ReviewItem)
DECISIONS = ("accepted", "rejected", "obsolete")


def insert_review_items(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Queue pairs for review; a pair already queued, whatever its status, is left as it is.

    Rows carry ``member_id``, ``candidate_id``, ``kind``, ``identifier``, ``source``, ``external_id`` and
    ``created_at``; they start ``open``.
    """
    if not rows:
        return
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = dialect_insert(REVIEWS).on_conflict_do_nothing(index_elements=["member_id", "candidate_id"])
    conn.execute(statement, [{"status": "open", **row} for row in rows])


def review_items(
    conn: Connection, *, status: str | None = None, limit: int, after_id: int | None = None
) -> list[Row[Any]]:
    """Review items in queue order (oldest first), ``limit`` at a time after ``after_id``; optionally one status."""
    query = select(REVIEWS).order_by(REVIEWS.c.id).limit(limit)
    if status is not None:
        query = query.where(REVIEWS.c.status == status)
    if after_id is not None:
        query = query.where(REVIEWS.c.id > after_id)
    return list(conn.execute(query).all())


def review_item(conn: Connection, item_id: int) -> Row[Any] | None:
    """One review item, or ``None``."""
    return conn.execute(select(REVIEWS).where(REVIEWS.c.id == item_id)).first()


def decide_review_item(
    conn: Connection,
    item_id: int,
    *,
    status: str,
    decided_by: str,
    note: str | None,
    merge_id: int | None,
    now: datetime,
) -> bool:
    """Close an open item as accepted, rejected or obsolete; ``False`` if it is not open (or does not exist)."""
    if status not in DECISIONS:
        raise ValueError(f"a decision is one of {', '.join(DECISIONS)}")
    decided = {"status": status, "decided_at": now, "decided_by": decided_by, "decision_note": note}
    statement = (
        update(REVIEWS).where(REVIEWS.c.id == item_id, REVIEWS.c.status == "open").values(**decided, merge_id=merge_id)
    )
    return conn.execute(statement).rowcount == 1


def obsolete_reviews_between(conn: Connection, member_ids: Collection[UUID], now: datetime) -> int:
    """Close the open items whose two members are both in ``member_ids`` (one cluster); returns how many."""
    ids = list(member_ids)
    if len(ids) < 2:
        return 0
    statement = (
        update(REVIEWS)
        .where(REVIEWS.c.status == "open", REVIEWS.c.member_id.in_(ids), REVIEWS.c.candidate_id.in_(ids))
        .values(status="obsolete", decided_at=now, decided_by="identity resolution")
    )
    return conn.execute(statement).rowcount
