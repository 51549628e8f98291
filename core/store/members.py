"""SQL for members, their blind indexes and the key-check values; nothing here sees plaintext."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Dialect, Row, Table, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core.store.bulk import COPY_MIN_ROWS, copy_insert
from core.store.models import HubMeta, Member, MemberFieldSource, MemberSearchIndex, table_of

MEMBERS = table_of(Member)
SEARCH = table_of(MemberSearchIndex)
META = table_of(HubMeta)
FIELD_SOURCES = table_of(MemberFieldSource)
PII_COLUMNS = tuple(c.name for c in MEMBERS.columns if c.name.endswith("_ct"))
_LOOKUP_CHUNK = 500


def insert_members(
    conn: Connection, members: Sequence[dict[str, object]], index_rows: Sequence[dict[str, object]]
) -> None:
    """Insert sealed member rows and their blind-index rows in the caller's transaction.

    The bulk path of every import, so the rows go to the driver's executemany as tuples: a Core insert with
    dict parameters spends about 10 ms more per 1,000 members (docs/benchmarks.md). Each value still passes
    through its column's own SQLAlchemy bind processor, so what is stored is exactly what Core writes.
    """
    _insert_rows(conn, MEMBERS, members)
    _insert_rows(conn, SEARCH, index_rows)


def _insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, object]]) -> None:
    """Insert dict rows, all with the keys of the first one, as one executemany of tuples (``COPY`` when many).

    Rows the tuple path cannot take go through a Core insert, which fills Python-side defaults of missing
    columns and raises its usual errors for a value it cannot bind (a naive timestamp, a missing key).
    """
    if not rows:
        return
    names = list(rows[0])
    try:
        parameters = _driver_parameters(conn.dialect, table, names, rows)
    except Exception:  # nothing has been sent yet: let Core do it and report the problem its way
        parameters = None
    if parameters is None:
        conn.execute(insert(table), list(rows))
    elif conn.dialect.name == "postgresql" and len(parameters) >= COPY_MIN_ROWS:
        copy_insert(conn, table, names, parameters)
    else:
        conn.exec_driver_sql(_insert_statement(conn, table, names), parameters)


def _driver_parameters(
    dialect: Dialect, table: Table, names: Sequence[str], rows: Sequence[dict[str, object]]
) -> list[tuple[object, ...]] | None:
    """One tuple per row, each value converted by its column's bind processor; ``None`` if Core is needed."""
    if any(column.default is not None for column in table.columns if column.name not in names):
        return None
    key = [column.name for column in table.primary_key]
    if set(key) <= set(names):
        # In key order each B-tree page is visited once, left to right, instead of hopping between pages
        # for random blind-index digests: 3-7% less time per SQLite batch at 100k members, sort included.
        rows = _in_key_order(rows, key)
    columns = []
    for name in names:
        values = list(map(itemgetter(name), rows))
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        columns.append(values if process is None else _bound_values(values, process))
    return list(zip(*columns, strict=True))


def _in_key_order(rows: Sequence[dict[str, object]], key: Sequence[str]) -> list[dict[str, object]]:
    """``rows`` sorted by their ``key`` values; UUIDs by their integer, since ``UUID.__lt__`` runs in Python.

    Sorting 200,000 rows by a member id took 3.4 s through ``UUID.__lt__`` (profiled: the member status job's
    digests), against a tenth of a second by the integers.
    """
    columns: list[list[Any]] = []
    for name in key:
        values: list[Any] = list(map(itemgetter(name), rows))
        if all(isinstance(value, UUID) for value in values):
            values = [value.int for value in values]
        columns.append(values)
    order = sorted(range(len(rows)), key=list(zip(*columns, strict=True)).__getitem__)
    return [rows[index] for index in order]


def _bound_values(values: list[object], process: Callable[[Any], Any]) -> list[object]:
    """``process`` applied to every value, once per distinct value.

    A batch repeats its values: one timestamp in every row, each member id in five index rows, and
    converting a timestamp for SQLite costs about 2 µs. Equal values convert to equal stored forms.
    """
    try:
        converted = {value: process(value) for value in set(values)}
    except TypeError:  # unhashable values, such as JSON documents
        return list(map(process, values))
    return list(map(converted.__getitem__, values))


def _insert_statement(conn: Connection, table: Table, names: Sequence[str]) -> str:
    quote = conn.dialect.identifier_preparer.quote
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"  # sqlite3; psycopg takes %s with tuples
    columns = ", ".join(quote(name) for name in names)
    markers = ", ".join([marker] * len(names))
    return f"INSERT INTO {quote(table.name)} ({columns}) VALUES ({markers})"  # noqa: S608 - the table's own names


def fetch_member(conn: Connection, member_id: UUID) -> Row[Any] | None:
    """The stored row of one member, or ``None``."""
    return conn.execute(select(MEMBERS).where(MEMBERS.c.id == member_id)).first()


def fetch_members(conn: Connection, member_ids: Iterable[UUID]) -> list[Row[Any]]:
    """Stored rows of several members (any order)."""
    ids = list(member_ids)
    rows: list[Row[Any]] = []
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        chunk = ids[start : start + _LOOKUP_CHUNK]
        rows.extend(conn.execute(select(MEMBERS).where(MEMBERS.c.id.in_(chunk))))
    return rows


def member_ids_by_digest(conn: Connection, index_name: str, digests: Sequence[tuple[int, bytes]]) -> list[UUID]:
    """Members with a blind-index entry equal to any (version, digest); candidates only if truncated."""
    found: dict[UUID, None] = {}
    for version, chunk in _digests_by_version(digests):
        query = select(SEARCH.c.member_id).where(
            SEARCH.c.index_name == index_name, SEARCH.c.key_version == version, SEARCH.c.digest.in_(chunk)
        )
        found.update(dict.fromkeys(conn.scalars(query)))
    return list(found)


def existing_digests(conn: Connection, index_name: str, digests: Sequence[tuple[int, bytes]]) -> set[bytes]:
    """Which of the given digests are already present in an index (bulk uniqueness checks)."""
    found: set[bytes] = set()
    for version, chunk in _digests_by_version(digests):
        query = select(SEARCH.c.digest).where(
            SEARCH.c.index_name == index_name, SEARCH.c.key_version == version, SEARCH.c.digest.in_(chunk)
        )
        found.update(conn.scalars(query))
    return found


def _digests_by_version(digests: Sequence[tuple[int, bytes]]) -> Iterator[tuple[int, list[bytes]]]:
    """Digests grouped per key version, in chunks.

    ``key_version = v AND digest IN (…)`` lets SQLite seek the primary-key index on all three columns; a
    ``(key_version, digest) IN (…)`` row-value list made it scan every entry of the index (measured in
    docs/benchmarks.md), and PostgreSQL plans the grouped form far faster too.
    """
    grouped: dict[int, list[bytes]] = {}
    for version, digest in digests:
        grouped.setdefault(version, []).append(digest)
    for version, values in grouped.items():
        for start in range(0, len(values), _LOOKUP_CHUNK):
            yield version, values[start : start + _LOOKUP_CHUNK]


def erase_member(conn: Connection, member_id: UUID, now: datetime) -> bool:
    """Destroy a member's data key, ciphertexts, blind-index rows and field provenance; ``False`` if erased."""
    conn.execute(delete(SEARCH).where(SEARCH.c.member_id == member_id))
    conn.execute(delete(FIELD_SOURCES).where(FIELD_SOURCES.c.member_id == member_id))
    cleared = dict.fromkeys(PII_COLUMNS)
    result = conn.execute(
        update(MEMBERS)
        .where(MEMBERS.c.id == member_id, MEMBERS.c.status != "erased")
        .values(status="erased", wrapped_dek=None, kek_version=None, erased_at=now, updated_at=now, **cleared)
    )
    return result.rowcount > 0


def erased_member_ids(conn: Connection, member_ids: Sequence[UUID]) -> set[UUID]:
    """Which of the given members are already erased or absent from this database."""
    present: dict[UUID, str] = {}
    for start in range(0, len(member_ids), _LOOKUP_CHUNK):
        chunk = list(member_ids[start : start + _LOOKUP_CHUNK])
        query = select(MEMBERS.c.id, MEMBERS.c.status).where(MEMBERS.c.id.in_(chunk))
        present.update((row.id, row.status) for row in conn.execute(query))
    return {member_id for member_id in member_ids if present.get(member_id, "erased") == "erased"}


def keys_to_rewrap(conn: Connection, primary_version: int, limit: int) -> list[Row[Any]]:
    """Up to ``limit`` members whose data key is wrapped under a KEK version other than the primary."""
    query = (
        select(MEMBERS.c.id, MEMBERS.c.wrapped_dek, MEMBERS.c.kek_version, MEMBERS.c.dek_version)
        .where(MEMBERS.c.kek_version.is_not(None), MEMBERS.c.kek_version != primary_version)
        .limit(limit)
    )
    return list(conn.execute(query))


def replace_wrapped_key(
    conn: Connection, member_id: UUID, old_version: int, wrapped: bytes, new_version: int, now: datetime
) -> bool:
    """Store a re-wrapped data key unless another rotator or an erasure changed the row meanwhile."""
    result = conn.execute(
        update(MEMBERS)
        .where(MEMBERS.c.id == member_id, MEMBERS.c.kek_version == old_version)
        .values(wrapped_dek=wrapped, kek_version=new_version, updated_at=now)
    )
    return result.rowcount == 1


def kek_versions_in_use(conn: Connection) -> dict[int, int]:
    """Number of member data keys wrapped under each KEK version."""
    query = (
        select(MEMBERS.c.kek_version, func.count())
        .where(MEMBERS.c.kek_version.is_not(None))
        .group_by(MEMBERS.c.kek_version)
    )
    return {int(version): int(count) for version, count in conn.execute(query)}


def index_versions_in_use(conn: Connection) -> dict[int, int]:
    """Number of blind-index rows under each index root version."""
    query = select(SEARCH.c.key_version, func.count()).group_by(SEARCH.c.key_version)
    return {int(version): int(count) for version, count in conn.execute(query)}


def member_status_counts(conn: Connection) -> dict[str, int]:
    """Members per status (active, erased, merged)."""
    query = select(MEMBERS.c.status, func.count()).group_by(MEMBERS.c.status)
    return {str(status): int(count) for status, count in conn.execute(query)}


def newest_members(conn: Connection, limit: int) -> list[Row[Any]]:
    """The most recently created active members, newest first (ids are time-ordered)."""
    query = select(MEMBERS).where(MEMBERS.c.status == "active").order_by(MEMBERS.c.id.desc()).limit(limit)
    return list(conn.execute(query))


def members_after(conn: Connection, after: UUID | None, limit: int) -> list[Row[Any]]:
    """Active members after ``after`` in id order: the keyset pagination used by index rebuilds."""
    query = select(MEMBERS).where(MEMBERS.c.status != "erased").order_by(MEMBERS.c.id).limit(limit)
    if after is not None:
        query = query.where(MEMBERS.c.id > after)
    return list(conn.execute(query))


def replace_index_rows(conn: Connection, member_id: UUID, version: int, rows: Sequence[dict[str, object]]) -> None:
    """Replace one member's blind-index rows of one index root version."""
    conn.execute(delete(SEARCH).where(SEARCH.c.member_id == member_id, SEARCH.c.key_version == version))
    if rows:
        conn.execute(insert(SEARCH), list(rows))


def drop_index_version(conn: Connection, version: int) -> int:
    """Delete every blind-index row of a retired index root version."""
    return conn.execute(delete(SEARCH).where(SEARCH.c.key_version == version)).rowcount


def read_meta(conn: Connection, prefix: str) -> dict[str, str]:
    """Hub metadata entries whose key starts with ``prefix``."""
    query = select(META.c.key, META.c.value).where(META.c.key.startswith(prefix))
    return {str(key): str(value) for key, value in conn.execute(query)}


def add_meta_if_absent(conn: Connection, key: str, value: str) -> None:
    """Insert one hub metadata entry unless the key exists (safe when processes race to write it)."""
    dialect_insert = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
    conn.execute(dialect_insert(META).values(key=key, value=value).on_conflict_do_nothing(index_elements=["key"]))


def members_missing_index_version(conn: Connection, version: int) -> int:
    """Active members without any blind-index row under an index root version."""
    indexed = select(SEARCH.c.member_id).where(SEARCH.c.key_version == version)
    query = select(func.count()).select_from(MEMBERS).where(MEMBERS.c.status == "active", MEMBERS.c.id.not_in(indexed))
    return int(conn.scalar(query) or 0)
