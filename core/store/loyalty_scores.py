"""SQL of the loyalty score: what each cluster root's score is made of, and the scores themselves.

The inputs are read per cluster root through the cluster tree of RFM scoring (``core.store.rfm.cluster_tree``):
the RFM scores of the last RFM run, the survey answers of a window (for the caller to parse: answers are
free JSON) and the complaints opened in a window. ``member_loyalty_scores`` is rewritten in full each night.
Root ids travel as the driver gives them (``core.store.segments.raw_id``: hex text on SQLite, ``UUID`` on
PostgreSQL), there and back: making and printing 200,000 ``UUID`` objects a night cost a fifth of the job.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Row, String, bindparam, case, delete, func, insert, select

from core.store.loyalty import MEMBERS, insert_many
from core.store.models import Inquiry, MemberLoyaltyScore, MemberScore, SurveyResponse, UTCDateTime, table_of
from core.store.rfm import cluster_tree
from core.store.segments import raw_id

LOYALTY_SCORES = table_of(MemberLoyaltyScore)
RFM_SCORES = table_of(MemberScore)
RESPONSES = table_of(SurveyResponse)
INQUIRIES = table_of(Inquiry)
UNRESOLVED = ("open", "pending")
_INSERT_CHUNK = 5_000


def root_rfm_scores(conn: Connection) -> Sequence[Row[Any, Any, Any, Any]]:
    """``(id, recency_score, frequency_score, monetary_score)`` of every cluster root; NULL scores: not scored."""
    m, s = MEMBERS.c, RFM_SCORES.c
    query = (
        select(raw_id(m.id), s.recency_score, s.frequency_score, s.monetary_score)
        .select_from(MEMBERS.outerjoin(RFM_SCORES, s.member_id == m.id))
        .where(m.merged_into.is_(None), m.status != "erased")
    )
    return conn.execute(query).all()


def survey_answers(conn: Connection, since: datetime) -> Iterator[Row[Any, Any, Any]]:
    """``(root, score, answers)`` of every response of a cluster answered at or after ``since``."""
    tree, r = cluster_tree(), RESPONSES.c
    query = (
        select(raw_id(tree.c.root), r.score, r.answers)
        .select_from(RESPONSES.join(tree, tree.c.id == r.member_id))
        .where(r.answered_at >= bindparam("since", since, type_=UTCDateTime()))
    )
    yield from conn.execute(query.execution_options(yield_per=5_000))


def complaints(conn: Connection, since: datetime, categories: Collection[str]) -> dict[Any, tuple[int, int]]:
    """Per cluster root: inquiries of ``categories`` opened at or after ``since``, and how many are unresolved."""
    tree, i = cluster_tree(), INQUIRIES.c
    query = (
        select(raw_id(tree.c.root), func.count(), func.sum(case((i.status.in_(UNRESOLVED), 1), else_=0)))
        .select_from(INQUIRIES.join(tree, tree.c.id == i.member_id))
        .where(i.category.in_(list(categories)), i.opened_at >= bindparam("since", since, type_=UTCDateTime()))
        .group_by(tree.c.root)
    )
    return {root: (int(count), int(unresolved or 0)) for root, count, unresolved in conn.execute(query)}


def replace_scores(conn: Connection, rows: Iterable[dict[str, Any]]) -> int:
    """Rewrite ``member_loyalty_scores`` with ``rows`` (raw member_id, score, parts, computed_at); returns how many."""
    conn.execute(delete(LOYALTY_SCORES))
    written, chunk = 0, []
    for row in rows:
        chunk.append(row)
        if len(chunk) == _INSERT_CHUNK:
            written += _insert(conn, chunk)
            chunk = []
    return written + _insert(conn, chunk)


def _insert(conn: Connection, chunk: Sequence[dict[str, Any]]) -> int:
    """PostgreSQL: ``COPY`` (its driver gave UUIDs and takes them); SQLite: the hex text as it was read."""
    if conn.dialect.name == "postgresql":
        insert_many(conn, LOYALTY_SCORES, chunk)  # the store's bulk path (core.store.loyalty)
    elif chunk:
        conn.execute(_INSERT_HEX, list(chunk))
    return len(chunk)


_INSERT_HEX = insert(LOYALTY_SCORES).values(member_id=bindparam("member_id", type_=String()))


def scores(conn: Connection) -> dict[Any, int]:
    """Every stored score by member id, as ``core.store.segments.raw_id`` gives it (the key of ``root_facts``)."""
    c = LOYALTY_SCORES.c
    return {member_id: int(score) for member_id, score in conn.execute(select(raw_id(c.member_id), c.score))}


def score_of(conn: Connection, root: UUID) -> Row[Any, Any, Any] | None:
    """The stored ``(score, parts, computed_at)`` of a cluster root, or ``None`` if it was not scored."""
    c = LOYALTY_SCORES.c
    return conn.execute(select(c.score, c.parts, c.computed_at).where(c.member_id == root)).first()
