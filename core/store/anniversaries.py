"""SQL of the anniversary job: when each cluster joined, as the earliest creation of any of its members."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, func, select

from core.store.loyalty import MEMBERS
from core.store.rfm import cluster_tree


def cluster_join_times(conn: Connection) -> Sequence[Row[Any, Any]]:
    """``(root, joined_at)`` of every active cluster: the earliest ``created_at`` among its members (UTC).

    A merged-in member counts, so a cluster keeps the membership of its oldest member whichever became root.
    """
    tree, m = cluster_tree(), MEMBERS.c
    query = (
        select(tree.c.root, func.min(m.created_at).label("joined_at"))
        .select_from(MEMBERS.join(tree, tree.c.id == m.id))
        .group_by(tree.c.root)
    )
    return conn.execute(query).all()
