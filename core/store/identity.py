"""SQL for member identity: which members were merged into which (clusters). Nothing here sees plaintext.

A merged member keeps its row and its history rows; ``members.merged_into`` points at the member it was
merged into, which may itself be merged further. The member at the top of that chain is the cluster's
*root*: the one the console shows, whose history is the union of every member of the cluster.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from sqlalchemy import Connection, select

from core.store.models import Member, table_of

MEMBERS = table_of(Member)
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
