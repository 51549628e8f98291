"""SQL of the birthday job: the sealed birthdays of cluster roots, and which members had this year's benefit.

Birthdays are personal data and stay sealed in the store; the job reads the ciphertext with the wrapped data
key that opens it, a partition at a time, and decrypts in memory (``core.loyalty.birthday``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Row, select, union

from core.store.loyalty import LEDGER, MEMBERS
from core.store.models import Coupon, table_of

COUPONS = table_of(Coupon)


def sealed_birthdays(conn: Connection, partition: int) -> Iterator[Sequence[Row[Any, Any, Any, Any, Any]]]:
    """Partitions of ``(id, wrapped_dek, kek_version, dek_version, birthday_ct)`` of the active roots with a birthday.

    Merged and erased members are left out in the query.
    """
    m = MEMBERS.c
    query = select(m.id, m.wrapped_dek, m.kek_version, m.dek_version, m.birthday_ct).where(
        m.merged_into.is_(None), m.status == "active", m.birthday_ct.is_not(None), m.wrapped_dek.is_not(None)
    )
    result = conn.execute(query.execution_options(yield_per=partition))
    yield from result.partitions(partition)


def benefited_members(conn: Connection, source_event_prefix: str) -> set[UUID]:
    """Members holding a ledger entry or a coupon whose source event starts with ``source_event_prefix``."""
    entries = select(LEDGER.c.member_id).where(LEDGER.c.source_event.startswith(source_event_prefix, autoescape=True))
    coupons = select(COUPONS.c.member_id).where(COUPONS.c.source_event.startswith(source_event_prefix, autoescape=True))
    return {row[0] for row in conn.execute(union(entries, coupons))}
