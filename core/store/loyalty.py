"""SQL of the loyalty engine: the points ledger, its lots and their consumption, and what earning reads.

The ledger is append-only: entries and consumptions are inserted, never changed, except the display
``status`` of lots moving from ``pending`` to ``available``. A lot's remaining points are its points less
the consumptions of it. Every function works on a batch: a list of ids or keys goes to the database as one
array parameter (``among``), writes go as one executemany. Ranks and rolling measures are in
``core/store/loyalty_ranks.py``.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Integer,
    Row,
    Select,
    String,
    Table,
    any_,
    bindparam,
    func,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql

from core.store.members import _insert_rows  # the store's one bulk-insert path
from core.store.models import (
    Member,
    MemberSegment,
    PointLedgerEntry,
    PointLotConsumption,
    Purchase,
    PurchaseAdjustment,
    table_of,
)

LEDGER = table_of(PointLedgerEntry)
CONSUMPTIONS = table_of(PointLotConsumption)
PURCHASES = table_of(Purchase)
ADJUSTMENTS = table_of(PurchaseAdjustment)
MEMBERS = table_of(Member)
SEGMENTS = table_of(MemberSegment)

_MAX_DEPTH = 64  # merge chains are short; a longer one is a cycle written by hand
# Taken shared by everything that spends lots, exclusively by the expiry job (PostgreSQL only: on SQLite every
# write transaction is already exclusive).
_LOTS_LOCK = int.from_bytes(hashlib.sha256(b"loyalty:lots").digest()[:8], "big", signed=True)


def among(conn: Connection, column: ColumnElement[Any], values: Iterable[Any]) -> ColumnElement[bool]:
    """``column`` equal to one of ``values``, sent as one array parameter however many values there are.

    PostgreSQL: ``= ANY(:array)``; SQLite: ``IN (SELECT value FROM json_each(:json))`` (UUIDs as the hex
    SQLite stores). One bound value instead of one per item: no parameter limit, no chunking, and the
    statement stays in SQLAlchemy's cache instead of being rendered anew for every list length.
    """
    items = list(values)
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, items, type_=postgresql.ARRAY(column.type)))
    encoded = json.dumps([item.hex if isinstance(item, UUID) else item for item in items])
    listed = func.json_each(bindparam(None, encoded, type_=String())).table_valued("value")
    return column.in_(select(listed.c.value))


def joined_among(
    conn: Connection, query: Select[Any], column: ColumnElement[Any], values: Iterable[Any]
) -> Select[Any]:
    """``query`` kept to the rows whose ``column`` is one of ``values`` (a value given twice counts once).

    PostgreSQL: joined to ``unnest(:array)``, so that ``column``'s index is probed once per value. Under a plain
    ``= ANY(:array)`` the planner chose to filter a sequential scan, and a generic plan (a pooled connection's
    prepared statement) then searched the whole array for every row: a batch's adjustments took 25.9 ms instead
    of 2.5 ms. Elsewhere :func:`among`.
    """
    if conn.dialect.name != "postgresql":
        return query.where(among(conn, column, values))
    array = bindparam(None, list(dict.fromkeys(values)), type_=postgresql.ARRAY(column.type))
    given = func.unnest(array).table_valued("value").render_derived(name="given")
    return query.join(given, column == given.c.value)


# ── purchases ──────────────────────────────────────────────────────────────────────────────────────


class MemberPurchase(NamedTuple):
    """A purchase of a member, with what earning needs of the member (a plain tuple: read in hot loops)."""

    id: int
    member_id: UUID
    source: str
    external_id: str
    channel: str
    status: str
    total_amount: int
    tax_amount: int
    purchased_at: datetime
    merged_into: UUID | None
    member_status: str
    rank_code: str | None
    earned: bool


def purchases_with_members(conn: Connection, purchase_ids: Iterable[int]) -> list[MemberPurchase]:
    """The purchases among ``purchase_ids`` that belong to a member, with the member's state.

    ``earned``: whether the ledger holds the purchase's earn entry (source event ``purchase:<source>:<external
    id>``, ``core.loyalty.ledger.earn_event``), probed on the unique index per purchase: a scalar subquery,
    because PostgreSQL planned an ``EXISTS`` as one hash of the whole ledger for a batch of 1,000 purchases.
    """
    p, m, e = PURCHASES.c, MEMBERS.c, LEDGER.c
    purchase = (p.id, p.member_id, p.source, p.external_id, p.channel, p.status, p.total_amount, p.tax_amount)
    earn_event = literal("purchase:", String()) + p.source + literal(":", String()) + p.external_id
    earned = select(e.id).where(e.source_event == earn_event).limit(1).scalar_subquery().is_not(None).label("earned")
    query: Select[Any] = (
        select(*purchase, p.purchased_at, m.merged_into, m.status, m.rank_code, earned)
        .join(MEMBERS, m.id == p.member_id)
        .where(among(conn, p.id, purchase_ids))
    )
    return [MemberPurchase(*row) for row in conn.execute(query).all()]


def member_purchase_ids(conn: Connection, after_id: int, limit: int) -> list[int]:
    """Ids of purchases that belong to a member, above ``after_id``, ascending (to walk every purchase)."""
    p = PURCHASES.c
    query = select(p.id).where(p.id > after_id, p.member_id.is_not(None)).order_by(p.id).limit(limit)
    return list(conn.execute(query).scalars().all())


def adjustments_of(conn: Connection, purchase_ids: Iterable[int]) -> dict[int, list[Row[Any]]]:
    """Refunds and cancellations per purchase, in the order they happened."""
    a = ADJUSTMENTS.c
    columns = (a.id, a.purchase_id, a.source, a.external_id, a.kind, a.amount, a.occurred_at)
    query = joined_among(conn, select(*columns), a.purchase_id, purchase_ids)
    found: dict[int, list[Row[Any]]] = defaultdict(list)
    for row in conn.execute(query).all():
        found[row.purchase_id].append(row)
    for rows in found.values():
        rows.sort(key=lambda row: (row.occurred_at, row.id))
    return found


# ── members and clusters ───────────────────────────────────────────────────────────────────────────


def member_states(conn: Connection, member_ids: Iterable[UUID]) -> dict[UUID, Row[Any]]:
    """``status`` and ``rank_code`` of members, by id."""
    m = MEMBERS.c
    query: Select[Any] = select(m.id, m.status, m.rank_code).where(among(conn, m.id, member_ids))
    return {row.id: row for row in conn.execute(query).all()}


def cluster_members(conn: Connection, roots: Iterable[UUID]) -> dict[UUID, list[UUID]]:
    """Every member of each root's cluster, the root first: one query per level of the merge chains."""
    clusters = {root: [root] for root in roots}
    owner = {root: root for root in clusters}
    frontier = list(clusters)
    for _ in range(_MAX_DEPTH):
        if not frontier:
            return clusters
        query = select(MEMBERS.c.id, MEMBERS.c.merged_into).where(among(conn, MEMBERS.c.merged_into, frontier))
        children = conn.execute(query).all()
        for child, parent in children:
            owner[child] = owner[parent]
            clusters[owner[parent]].append(child)
        frontier = [child for child, _ in children]
    raise RuntimeError("members.merged_into forms a chain longer than any merge history: check the data")


def active_roots(conn: Connection) -> list[Row[Any]]:
    """``id`` and ``rank_code`` of every cluster root that is not erased."""
    m = MEMBERS.c
    query: Select[Any] = select(m.id, m.rank_code).where(m.merged_into.is_(None), m.status != "erased")
    return list(conn.execute(query).all())


def merge_parents(conn: Connection) -> dict[UUID, UUID]:
    """The member each merged member was merged into."""
    m = MEMBERS.c
    query = select(m.id, m.merged_into).where(m.merged_into.is_not(None))
    return {row.id: row.merged_into for row in conn.execute(query)}


def segments_of(conn: Connection, member_ids: Iterable[UUID]) -> dict[UUID, frozenset[str]]:
    """The segment codes of each member that belongs to any."""
    s = SEGMENTS.c
    found: dict[UUID, set[str]] = defaultdict(set)
    query = select(s.member_id, s.segment_code).where(among(conn, s.member_id, member_ids))
    for member_id, code in conn.execute(query).all():
        found[member_id].add(code)
    return {member_id: frozenset(codes) for member_id, codes in found.items()}


def lock_clusters(conn: Connection, roots: Iterable[UUID]) -> None:
    """Serialise spending of these clusters' lots until the transaction ends (PostgreSQL; SQLite already is).

    Locks the roots' member rows in id order, so two transactions never wait on each other in a circle, and
    takes the lots lock shared, so the expiry job cannot run meanwhile.
    """
    if conn.dialect.name != "postgresql":
        return
    conn.execute(text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": _LOTS_LOCK})
    m = MEMBERS.c
    # NO KEY UPDATE: it queues other spenders but not the foreign-key checks of rows pointing at the member (a
    # purchase or ledger entry being inserted holds KEY SHARE on it); FOR UPDATE waited on those, and two batches
    # inserting purchases of each other's members deadlocked.
    locking = select(m.id).where(among(conn, m.id, sorted(set(roots)))).order_by(m.id)
    conn.execute(locking.with_for_update(key_share=True))  # SQLAlchemy's spelling of FOR NO KEY UPDATE


def lock_all_lots(conn: Connection) -> None:
    """Keep every other spender of lots out until the transaction ends (the expiry job; PostgreSQL only)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOTS_LOCK})


# ── ledger entries and consumptions ────────────────────────────────────────────────────────────────


def insert_entries(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Append ledger entries (every row with the same keys, ``created_at`` included), by :func:`insert_many`."""
    insert_many(conn, LEDGER, rows)


def insert_many(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert dict rows (all with the keys of the first) by the store's bulk path, in the caller's transaction.

    ``core.store.members._insert_rows``: on PostgreSQL ``COPY`` through a staging table from 200 rows
    (``core.store.bulk``), an executemany of tuples below that and on SQLite; every value passes its column's
    bind processor, so what is stored is exactly what Core writes.
    """
    _insert_rows(conn, table, rows)


def entries_by_source_event(conn: Connection, source_events: Iterable[str]) -> dict[str, Row[Any]]:
    """Stored entries by ``source_event``: what they moved and what they were computed from."""
    e = LEDGER.c
    columns = (
        e.id, e.source_event, e.member_id, e.kind, e.points, e.purchase_id, e.unrecovered_points, e.rule_version,
        e.rank_code, e.campaign_codes,
    )  # fmt: skip
    query: Select[Any] = select(*columns).where(among(conn, e.source_event, source_events))
    return {row.source_event: row for row in conn.execute(query).all()}


def insert_consumptions(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Record lots used up (rows: ``source_event`` of the spending entry, ``lot_id``, ``points``).

    One statement however many rows: the rows go as one parameter (arrays on PostgreSQL, JSON on SQLite) and
    are joined to their entries by the unique source event, so no entry id makes a round trip.
    """
    if not rows:
        return
    e = LEDGER.c
    given: Any
    if conn.dialect.name == "postgresql":
        arrays = (
            bindparam(None, [row["source_event"] for row in rows], type_=postgresql.ARRAY(String())),
            bindparam(None, [row["lot_id"] for row in rows], type_=postgresql.ARRAY(BigInteger())),
            bindparam(None, [row["points"] for row in rows], type_=postgresql.ARRAY(Integer())),
        )
        given = func.unnest(*arrays).table_valued("source_event", "lot_id", "points").render_derived(name="given")
        source_event, lot_id, points = given.c.source_event, given.c.lot_id, given.c.points
    else:
        encoded = json.dumps([[row["source_event"], row["lot_id"], row["points"]] for row in rows])
        given = func.json_each(bindparam(None, encoded, type_=String())).table_valued("value").alias("given")
        source_event, lot_id, points = (func.json_extract(given.c.value, f"$[{i}]") for i in range(3))
    used = select(e.id, lot_id, points).select_from(given).join(LEDGER, e.source_event == source_event)
    conn.execute(insert(CONSUMPTIONS).from_select(["entry_id", "lot_id", "points"], used))


def open_lots(conn: Connection, member_ids: Iterable[UUID]) -> list[Row[Any]]:
    """The members' lots with points left: id, member, remaining, available_at, expires_at."""
    return list(conn.execute(_lots_left(among(conn, LEDGER.c.member_id, member_ids))).all())


def lapsed_lots(conn: Connection, now: datetime) -> list[Row[Any]]:
    """Lots whose expiry has come by ``now`` and that still have points left."""
    return list(conn.execute(_lots_left(LEDGER.c.expires_at <= now)).all())


def release_pending(conn: Connection, now: datetime) -> int:
    """Mark lots whose pending window has passed as ``available``; returns how many."""
    e = LEDGER.c
    result = conn.execute(update(LEDGER).where(e.status == "pending", e.available_at <= now).values(status="available"))
    return int(result.rowcount)


def ledger_totals(conn: Connection, member_ids: Iterable[UUID] | None = None) -> dict[UUID, int]:
    """The sum of each member's ledger entries (all members, or the given ones)."""
    e = LEDGER.c
    query: Select[Any] = select(e.member_id, func.sum(e.points)).group_by(e.member_id)
    if member_ids is not None:
        query = query.where(among(conn, e.member_id, member_ids))
    return {member_id: int(total) for member_id, total in conn.execute(query)}


def lot_totals(conn: Connection, member_ids: Iterable[UUID] | None = None) -> dict[UUID, int]:
    """Points left in each member's lots (all members, or the given ones), lapsed lots included."""
    condition = None if member_ids is None else among(conn, LEDGER.c.member_id, member_ids)
    lots = _lot_balances(condition).subquery()
    query = select(lots.c.member_id, func.sum(lots.c.remaining)).group_by(lots.c.member_id)
    return {member_id: int(total) for member_id, total in conn.execute(query)}


def overdrawn_lots(conn: Connection) -> list[Row[Any]]:
    """Lots more points were taken from than they hold (there must be none)."""
    lots = _lot_balances(None).subquery()
    return list(conn.execute(select(lots).where(lots.c.remaining < 0)).all())


def unmatched_consumptions(conn: Connection) -> list[Row[Any]]:
    """Entries whose consumptions do not add up to their points (there must be none): id, member, points, used."""
    e, c = LEDGER.c, CONSUMPTIONS.c
    used = func.sum(c.points).label("used")
    query: Select[Any] = (
        select(e.id, e.member_id, e.source_event, e.points, used)
        .join(CONSUMPTIONS, c.entry_id == e.id)
        .group_by(e.id, e.member_id, e.source_event, e.points)
        .having(e.points != -func.sum(c.points))
    )
    return list(conn.execute(query).all())


def _lot_balances(condition: ColumnElement[bool] | None) -> Select[Any]:
    """Per lot: id, member, points left, available_at, expires_at (``condition`` narrows the lots)."""
    e, c = LEDGER.c, CONSUMPTIONS.c
    remaining = (e.points - func.coalesce(func.sum(c.points), 0)).label("remaining")
    query = (
        select(e.id, e.member_id, remaining, e.available_at, e.expires_at)
        .select_from(LEDGER.outerjoin(CONSUMPTIONS, c.lot_id == e.id))
        .where(e.available_at.is_not(None))
        .group_by(e.id, e.member_id, e.points, e.available_at, e.expires_at)
    )
    return query if condition is None else query.where(condition)


def _lots_left(condition: ColumnElement[bool]) -> Select[Any]:
    return _lot_balances(condition).having(LEDGER.c.points - func.coalesce(func.sum(CONSUMPTIONS.c.points), 0) > 0)
