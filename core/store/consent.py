"""SQL of consent the outbox reads: each member's newest email consent event."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Row, Select, func, select

from core.store.loyalty import among
from core.store.models import ConsentEvent, table_of

CONSENTS = table_of(ConsentEvent)


def newest_email_consents(conn: Connection, member_ids: Iterable[UUID]) -> dict[UUID, Row[Any]]:
    """Each member's newest email consent event (latest ``changed_at``, then highest id), by member.

    Rows: ``id``, ``member_id``, ``source``, ``subscribed``, ``changed_at``, ``source_updated_at``. The order is
    the one the member page and the segments read consent in.
    """
    c = CONSENTS.c
    newest = func.row_number().over(partition_by=c.member_id, order_by=(c.changed_at.desc(), c.id.desc()))
    ranked = (
        select(c.id, c.member_id, c.source, c.subscribed, c.changed_at, c.source_updated_at, newest.label("n"))
        .where(c.channel == "email", among(conn, c.member_id, member_ids))
        .subquery("ranked")
    )
    r = ranked.c
    query: Select[Any] = select(r.id, r.member_id, r.source, r.subscribed, r.changed_at, r.source_updated_at).where(
        r.n == 1
    )
    return {row.member_id: row for row in conn.execute(query).all()}
