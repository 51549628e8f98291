"""SQL of the anniversary job: when each cluster joined, and which anniversary benefits were given already.

A cluster joined when the earliest of its members was created (``core.loyalty.anniversary``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Connection, Row, func, select, union

from core.store.loyalty import LEDGER, MEMBERS, among
from core.store.models import Coupon, table_of
from core.store.rfm import cluster_tree

COUPONS = table_of(Coupon)


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


def given_events(conn: Connection, source_events: Collection[str]) -> set[str]:
    """Those of ``source_events`` that a ledger entry or a coupon already carries (looked up by the unique index)."""
    if not source_events:
        return set()
    entries = select(LEDGER.c.source_event).where(among(conn, LEDGER.c.source_event, source_events))
    coupons = select(COUPONS.c.source_event).where(among(conn, COUPONS.c.source_event, source_events))
    return {row[0] for row in conn.execute(union(entries, coupons))}
