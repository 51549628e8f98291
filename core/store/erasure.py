"""SQL for erasing what one source sent: its links, its records' sealed text, its dead letters. No plaintext here.

The member rows themselves are erased by ``members.erase_member`` and rewritten through
``records.update_member_columns``; this module holds what only a source's erasure request needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Row, bindparam, delete, select, update

from core.store.models import DeadLetter, Inquiry, InquiryMessage, MemberMerge, SourceLink, SurveyResponse, table_of

LINKS = table_of(SourceLink)
INQUIRIES = table_of(Inquiry)
MESSAGES = table_of(InquiryMessage)
SURVEYS = table_of(SurveyResponse)
MERGES = table_of(MemberMerge)
DEAD_LETTERS = table_of(DeadLetter)
_CHUNK = 500


def links_of_members(conn: Connection, member_ids: Iterable[UUID]) -> list[Row[Any]]:
    """Every source link naming one of the members: ``id``, ``source``, ``external_id``, ``member_id``."""
    columns = (LINKS.c.id, LINKS.c.source, LINKS.c.external_id, LINKS.c.member_id)
    rows: list[Row[Any]] = []
    for chunk in _chunks(list(set(member_ids))):
        rows.extend(conn.execute(select(*columns).where(LINKS.c.member_id.in_(chunk))))
    return rows


def links_of_source(conn: Connection, source: str) -> list[Row[Any]]:
    """Every source link of one source: ``id``, ``external_id``, ``member_id``."""
    columns = (LINKS.c.id, LINKS.c.external_id, LINKS.c.member_id)
    return list(conn.execute(select(*columns).where(LINKS.c.source == source).order_by(LINKS.c.id)))


def delete_links(conn: Connection, link_ids: Iterable[int]) -> None:
    """Forget which member some external records are."""
    for chunk in _chunks(sorted(set(link_ids))):
        conn.execute(delete(LINKS).where(LINKS.c.id.in_(chunk)))


def shred_record_text(conn: Connection, source: str, member_ids: Iterable[UUID]) -> int:
    """Remove the sealed text of one source's inquiries and survey responses of some members.

    Subjects and free text become NULL and messages are deleted; categories, statuses, scores, choice answers
    and dates stay. Returns the rows changed or deleted.
    """
    changed = 0
    for chunk in _chunks(list(set(member_ids))):
        inquiries = select(INQUIRIES.c.id).where(INQUIRIES.c.source == source, INQUIRIES.c.member_id.in_(chunk))
        changed += conn.execute(delete(MESSAGES).where(MESSAGES.c.inquiry_id.in_(inquiries))).rowcount
        changed += conn.execute(
            update(INQUIRIES)
            .where(INQUIRIES.c.source == source, INQUIRIES.c.member_id.in_(chunk), INQUIRIES.c.subject_ct.is_not(None))
            .values(subject_ct=None)
        ).rowcount
        changed += conn.execute(
            update(SURVEYS)
            .where(SURVEYS.c.source == source, SURVEYS.c.member_id.in_(chunk), SURVEYS.c.free_text_ct.is_not(None))
            .values(free_text_ct=None)
        ).rowcount
    return changed


def replace_merge_snapshots(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Overwrite the snapshots of some merges (rows: ``id``, ``snapshot``)."""
    if rows:
        statement = update(MERGES).where(MERGES.c.id == bindparam("_id")).values(snapshot=bindparam("_snapshot"))
        conn.execute(statement, [{"_id": row["id"], "_snapshot": row["snapshot"]} for row in rows])


def delete_dead_letters(conn: Connection, connector: str, external_ids: Sequence[str] | None) -> int:
    """Delete a connector's dead letters of some external ids, or all of them (``None``); returns how many."""
    if external_ids is None:
        return conn.execute(delete(DEAD_LETTERS).where(DEAD_LETTERS.c.connector == connector)).rowcount
    deleted = 0
    for chunk in _chunks(sorted(set(external_ids))):
        statement = delete(DEAD_LETTERS).where(
            DEAD_LETTERS.c.connector == connector, DEAD_LETTERS.c.external_id.in_(chunk)
        )
        deleted += conn.execute(statement).rowcount
    return deleted


def _chunks(values: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]
