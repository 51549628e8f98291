"""SQL of segment membership: what segment conditions look at per cluster root, and ``member_segments``.

The facts come back in one query, one row per active cluster root: its rank, the scores of the last RFM run
(``member_scores``; a root without a row counts as never having bought) and its newest email consent event
across the cluster. Membership rows are on cluster roots.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Select,
    String,
    and_,
    bindparam,
    delete,
    func,
    select,
    type_coerce,
)

from core.store.loyalty import MEMBERS, SEGMENTS, among
from core.store.members import _insert_rows
from core.store.models import ConsentEvent, SourceLink, table_of
from core.store.rfm import SCORES, cluster_tree

CONSENT = table_of(ConsentEvent)
LINKS = table_of(SourceLink)


def root_facts(conn: Connection) -> list[Row[Any]]:
    """Per active cluster root: id, rank_code, the ``member_scores`` columns and ``email_opt_in``.

    Ids come back as the driver gives them (see :func:`raw_id`).
    """
    tree = cluster_tree()
    c, s, m = CONSENT.c, SCORES.c, MEMBERS.c
    newest = func.row_number().over(partition_by=tree.c.root, order_by=(c.changed_at.desc(), c.id.desc()))
    consent = (
        select(tree.c.root, c.subscribed, newest.label("n"))
        .select_from(CONSENT.join(tree, tree.c.id == c.member_id))
        .where(c.channel == "email")
    ).subquery("consent")
    email = select(consent.c.root, consent.c.subscribed).where(consent.c.n == 1).subquery("email")
    figures = (s.recency_days, s.frequency, s.monetary, s.recency_score, s.frequency_score, s.monetary_score)
    columns = (*figures, s.store_frequency, s.online_frequency, func.coalesce(email.c.subscribed, False))
    query: Select[Any] = (
        select(raw_id(m.id), m.rank_code, *columns[:-1], columns[-1].label("email_opt_in"))
        .select_from(MEMBERS.outerjoin(SCORES, s.member_id == m.id).outerjoin(email, email.c.root == m.id))
        .where(m.merged_into.is_(None), m.status != "erased")
    )
    return list(conn.execute(query).all())


def memberships(conn: Connection) -> dict[Any, set[str]]:
    """Every stored membership: member (as :func:`raw_id` gives it) → segment codes."""
    found: dict[Any, set[str]] = defaultdict(set)
    for member_id, code in conn.execute(select(raw_id(SEGMENTS.c.member_id), SEGMENTS.c.segment_code)):
        found[member_id].add(code)
    return found


def raw_id(column: Any) -> Any:
    """A UUID column read as the driver gives it: hex text on SQLite, ``UUID`` on PostgreSQL.

    The segments job compares 200,000 ids a night and needs ``UUID`` objects only for the few that changed:
    building one from text for every row cost more than the query (profiled).
    """
    return type_coerce(column, String()).label(column.name)


def add_memberships(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert memberships (``member_id``, ``segment_code``, ``since``)."""
    _insert_rows(conn, SEGMENTS, rows)


def remove_memberships(conn: Connection, pairs: Sequence[tuple[UUID, str]]) -> None:
    """Delete memberships given as (member, segment code)."""
    if pairs:
        s = SEGMENTS.c
        statement = delete(SEGMENTS).where(
            and_(s.member_id == bindparam("_member"), s.segment_code == bindparam("_code"))
        )
        conn.execute(statement, [{"_member": member, "_code": code} for member, code in pairs])


def cluster_links(conn: Connection, sources: Iterable[str], roots: Iterable[UUID]) -> dict[str, dict[UUID, list[str]]]:
    """Per source: the external ids there of each of these cluster roots' clusters (root and merged members)."""
    tree = cluster_tree()
    return _links(conn, sources, tree, tree.c.root, among(conn, tree.c.root, roots))


def every_cluster_link(conn: Connection, sources: Iterable[str]) -> dict[str, dict[Any, list[str]]]:
    """Per source: every cluster root (as :func:`raw_id` gives it) → its cluster's external ids there, sorted.

    One pass over the links with no id filter: what a job over all members needs (a filter of 200,000 ids
    cost more than the links it kept out).
    """
    tree = cluster_tree()
    return _links(conn, sources, tree, raw_id(tree.c.root), None)


def _links(
    conn: Connection, sources: Iterable[str], tree: Any, root: Any, condition: ColumnElement[bool] | None
) -> dict[str, dict[Any, list[str]]]:
    wanted = sorted(set(sources))
    found: dict[str, dict[Any, list[str]]] = {source: defaultdict(list) for source in wanted}
    if not wanted:
        return found
    query = (
        select(LINKS.c.source, root, LINKS.c.external_id)
        .select_from(LINKS.join(tree, tree.c.id == LINKS.c.member_id))
        .where(LINKS.c.source.in_(wanted))
        .order_by(LINKS.c.source, tree.c.root, LINKS.c.external_id)
    )
    for source, member, external_id in conn.execute(query if condition is None else query.where(condition)):
        found[source][member].append(external_id)
    return found
