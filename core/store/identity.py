"""SQL for member identity: clusters of merged members, the merge log, vetoed pairs. Nothing sees plaintext.

A merged member keeps its row and its history rows; ``members.merged_into`` points at the member it was
merged into, which may itself be merged further. The member at the top of that chain is the cluster's
*root*: the one the console shows, whose history is the union of every member of the cluster.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Row, Select, bindparam, delete, insert, literal, or_, select, update

from core.store.models import Member, MemberFieldSource, MemberMerge, ReviewItem, table_of

MEMBERS = table_of(Member)
FIELD_SOURCES = table_of(MemberFieldSource)
_CHUNK = 500
_MAX_DEPTH = 64  # a guard against a cycle written by hand into the database; merges never create one


def roots(conn: Connection, member_ids: Iterable[UUID]) -> dict[UUID, UUID]:
    """The root of each member's cluster (a member that is not merged is its own root).

    Unknown ids map to themselves. One query per level of the merge chains, which are short.
    """
    result = {member_id: member_id for member_id in member_ids}
    pending = set(result)
    for _ in range(_MAX_DEPTH):
        parents = _parents(conn, pending)
        if not parents:
            return result
        for member_id, current in result.items():
            if current in parents:
                result[member_id] = parents[current]
        pending = set(parents.values())
    raise RuntimeError("members.merged_into forms a chain longer than any merge history: check the data")


def cluster(conn: Connection, root_id: UUID) -> list[UUID]:
    """The root and every member merged into it, directly or through another merged member; root first."""
    members, frontier = [root_id], [root_id]
    for _ in range(_MAX_DEPTH):
        children = _children(conn, frontier)
        if not children:
            return members
        members.extend(children)
        frontier = children
    raise RuntimeError("members.merged_into forms a chain longer than any merge history: check the data")


def cluster_rows(conn: Connection, member_id: UUID) -> list[Row[Any]]:
    """The stored rows of every member of ``member_id``'s cluster, its root first, in one statement.

    The order is that of ``cluster(roots(...))``: the root, then each level of merged members sorted by id.
    An unknown id gives no rows. One recursive statement instead of a query per level: the console's reads
    pay a round trip per statement.
    """
    rows = conn.execute(_CLUSTER_ROWS, {"member": member_id}).all()
    if not rows:
        roots(conn, [member_id])  # no root within reach: raises for a chain too long, else the id is unknown
    return sorted(rows, key=lambda row: (row.cluster_depth, row.id))


def _cluster_rows() -> Select[Any]:
    """Up the ``merged_into`` chain to the root (at most ``_MAX_DEPTH`` levels), then down its whole tree."""
    up = select(MEMBERS.c.id, MEMBERS.c.merged_into, literal(0).label("depth"))
    up_cte = up.where(MEMBERS.c.id == bindparam("member", type_=MEMBERS.c.id.type)).cte("up", recursive=True)
    parent = MEMBERS.alias("parent")
    up_cte = up_cte.union_all(
        select(parent.c.id, parent.c.merged_into, up_cte.c.depth + 1).where(
            parent.c.id == up_cte.c.merged_into, up_cte.c.depth < _MAX_DEPTH - 1
        )
    )
    # going down needs no guard: a member on a cycle is nobody's root, so the walk from a root is a tree
    down = select(up_cte.c.id, literal(0).label("depth")).where(up_cte.c.merged_into.is_(None))
    down_cte = down.cte("down", recursive=True)
    child = MEMBERS.alias("child")
    down_cte = down_cte.union_all(select(child.c.id, down_cte.c.depth + 1).where(child.c.merged_into == down_cte.c.id))
    return select(MEMBERS, down_cte.c.depth.label("cluster_depth")).join_from(
        down_cte, MEMBERS, MEMBERS.c.id == down_cte.c.id
    )


_CLUSTER_ROWS = _cluster_rows()


def _parents(conn: Connection, member_ids: Iterable[UUID]) -> dict[UUID, UUID]:
    ids = list(member_ids)
    found: dict[UUID, UUID] = {}
    for start in range(0, len(ids), _CHUNK):
        query = select(MEMBERS.c.id, MEMBERS.c.merged_into).where(
            MEMBERS.c.id.in_(ids[start : start + _CHUNK]), MEMBERS.c.merged_into.is_not(None)
        )
        found.update((row.id, row.merged_into) for row in conn.execute(query).all())
    return found


def _children(conn: Connection, parent_ids: list[UUID]) -> list[UUID]:
    found: list[UUID] = []
    for start in range(0, len(parent_ids), _CHUNK):
        query = select(MEMBERS.c.id).where(MEMBERS.c.merged_into.in_(parent_ids[start : start + _CHUNK]))
        found.extend(conn.execute(query).scalars().all())
    return sorted(found)


# ── merges ─────────────────────────────────────────────────────────────────────────────────────────

MERGES = table_of(MemberMerge)
REVIEWS = table_of(ReviewItem)


def mark_merged(conn: Connection, member_id: UUID, into: UUID) -> None:
    """Make ``member_id`` part of the cluster of ``into`` (its row and history stay as they are)."""
    conn.execute(update(MEMBERS).where(MEMBERS.c.id == member_id).values(status="merged", merged_into=into))


def mark_unmerged(conn: Connection, member_id: UUID) -> None:
    """Make a merged member a root of its own again."""
    conn.execute(update(MEMBERS).where(MEMBERS.c.id == member_id).values(status="active", merged_into=None))


def insert_merge(conn: Connection, row: dict[str, Any]) -> int:
    """Log one merge; returns its id."""
    return int(conn.execute(insert(MERGES).values(**row).returning(MERGES.c.id)).scalar_one())


def merge_record(conn: Connection, merge_id: int) -> Row[Any] | None:
    """One logged merge, or ``None``."""
    return conn.execute(select(MERGES).where(MERGES.c.id == merge_id)).first()


def latest_merge_of(conn: Connection, merged_id: UUID) -> Row[Any] | None:
    """The merge, not undone, that put ``merged_id`` into its current cluster."""
    query = (
        select(MERGES)
        .where(MERGES.c.merged_id == merged_id, MERGES.c.undone_at.is_(None))
        .order_by(MERGES.c.id.desc())
        .limit(1)
    )
    return conn.execute(query).first()


def merges_touching(conn: Connection, member_ids: Sequence[UUID]) -> list[Row[Any]]:
    """Every logged merge in which one of the members survived or was merged, oldest first."""
    query = (
        select(MERGES)
        .where(or_(MERGES.c.survivor_id.in_(member_ids), MERGES.c.merged_id.in_(member_ids)))
        .order_by(MERGES.c.id)
    )
    return list(conn.execute(query).all())


def record_unmerge(conn: Connection, merge_id: int, *, actor: str, reason: str, now: datetime) -> None:
    """Mark a merge as undone."""
    conn.execute(
        update(MERGES).where(MERGES.c.id == merge_id).values(undone_at=now, undone_by=actor, undo_reason=reason)
    )


def veto_pair(conn: Connection, member_a: UUID, member_b: UUID, *, actor: str, note: str, now: datetime) -> None:
    """Record that two members are not the same person, so identity resolution never merges them again.

    Stored as a rejected review item of the pair (newer member first, as the queue keys pairs).
    """
    newer, older = max(member_a, member_b), min(member_a, member_b)
    decided = {"status": "rejected", "decided_at": now, "decided_by": actor, "decision_note": note}
    changed = conn.execute(
        update(REVIEWS).where(REVIEWS.c.member_id == newer, REVIEWS.c.candidate_id == older).values(**decided)
    )
    if changed.rowcount == 0:
        row = {"member_id": newer, "candidate_id": older, "kind": "unmerged", "created_at": now, **decided}
        conn.execute(insert(REVIEWS).values(**row))


def vetoed_pairs(conn: Connection, member_ids: Sequence[UUID]) -> set[tuple[UUID, UUID]]:
    """Rejected pairs (newer, older) among which one side is in ``member_ids``."""
    ids = list(member_ids)
    found: set[tuple[UUID, UUID]] = set()
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        query = select(REVIEWS.c.member_id, REVIEWS.c.candidate_id).where(
            REVIEWS.c.status == "rejected", or_(REVIEWS.c.member_id.in_(chunk), REVIEWS.c.candidate_id.in_(chunk))
        )
        found.update((row.member_id, row.candidate_id) for row in conn.execute(query).all())
    return found


def delete_field_sources(conn: Connection, member_id: UUID, fields: Sequence[str]) -> None:
    """Forget who set some fields of a member (they are empty again)."""
    if fields:
        conn.execute(
            delete(FIELD_SOURCES).where(FIELD_SOURCES.c.member_id == member_id, FIELD_SOURCES.c.field.in_(fields))
        )
