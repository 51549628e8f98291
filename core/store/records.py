"""SQL for what source systems send: source links, profile provenance, purchases, inquiries, surveys, consent.

Also the webhook deliveries already seen. Nothing here sees plaintext.

Every function works on a whole batch: selects by (source, external_id) go out in chunks, writes go to the
driver as one executemany, so the cost per record stays flat however large the batch.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    Row,
    Select,
    Table,
    bindparam,
    delete,
    func,
    literal,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from core.store.members import _insert_rows  # the store's one bulk-insert path
from core.store.models import (
    ConsentEvent,
    Inquiry,
    InquiryMessage,
    Member,
    MemberFieldSource,
    MemberSearchIndex,
    Purchase,
    PurchaseAdjustment,
    PurchaseLine,
    SourceLink,
    SurveyResponse,
    WebhookDelivery,
)

Key = tuple[str, str]
"""(source, external_id): how every source record is addressed."""

MEMBERS: Table = Member.__table__  # type: ignore[assignment]
SEARCH: Table = MemberSearchIndex.__table__  # type: ignore[assignment]
LINKS: Table = SourceLink.__table__  # type: ignore[assignment]
FIELD_SOURCES: Table = MemberFieldSource.__table__  # type: ignore[assignment]
PURCHASES: Table = Purchase.__table__  # type: ignore[assignment]
LINES: Table = PurchaseLine.__table__  # type: ignore[assignment]
ADJUSTMENTS: Table = PurchaseAdjustment.__table__  # type: ignore[assignment]
INQUIRIES: Table = Inquiry.__table__  # type: ignore[assignment]
CONSOLE_SOURCE = "console"
"""The source of what operators enter in the console (``core.identity.claims.OPERATOR_SOURCE``)."""
MESSAGES: Table = InquiryMessage.__table__  # type: ignore[assignment]
SURVEYS: Table = SurveyResponse.__table__  # type: ignore[assignment]
CONSENTS: Table = ConsentEvent.__table__  # type: ignore[assignment]
DELIVERIES: Table = WebhookDelivery.__table__  # type: ignore[assignment]

# Bound parameters per statement stay far below SQLite's limit (32,766) and PostgreSQL's (65,535).
_CHUNK = 900
_T = TypeVar("_T")


# ── locks ──────────────────────────────────────────────────────────────────────────────────────────


def lock_sources(conn: Connection, sources: Iterable[str], *, shared: bool = False) -> None:
    """Serialise batches of the same sources until the transaction ends (``shared``: only against exclusive ones).

    Two streams of one source (customers and orders, or the incremental and backfill lanes) may commit at
    once; each reads the source links and then creates the missing ones. On PostgreSQL a transaction-scoped
    advisory lock per source makes that read-then-write safe; on SQLite ``BEGIN IMMEDIATE`` already does.
    Batches that hold disjoint records and create no link take it shared, and run side by side.
    """
    if conn.dialect.name != "postgresql":
        return
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    for source in sorted(set(sources)):  # one order everywhere: no deadlock between two batches
        conn.execute(text(f"SELECT {function}(:key)"), {"key": _lock_number(f"ingest:{source}")})


def _lock_number(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


# ── source links and members ───────────────────────────────────────────────────────────────────────


def source_links(conn: Connection, keys: Iterable[Key]) -> dict[Key, Row[Any]]:
    """Stored links by key: ``member_id`` and the ``source_updated_at`` of the last profile applied."""
    return _by_key(conn, LINKS, keys, LINKS.c.id, LINKS.c.member_id, LINKS.c.source_updated_at)


def linked_members(conn: Connection, keys: Iterable[Key]) -> dict[Key, UUID]:
    """The member each stored link names, by key (``source_links`` without the columns a merge needs)."""
    return {key: row.member_id for key, row in _by_key(conn, LINKS, keys, LINKS.c.member_id).items()}


def insert_source_links(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Link new (source, external_id) pairs to members."""
    _insert_rows(conn, LINKS, rows)


def update_source_link_times(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Record the newest profile version applied through each link (rows: ``id``, ``source_updated_at``)."""
    _update_by_id(conn, LINKS, rows)


def member_ids_by_digests(
    conn: Connection, index_name: str, digests: Iterable[tuple[int, bytes]]
) -> dict[bytes, set[UUID]]:
    """Members per blind-index digest, for many (version, digest) pairs at once.

    One lookup per index version: SQLite answers a row-value ``(key_version, digest) IN (…)`` by scanning
    every entry of the index, a cost that grows with the number of members.
    """
    by_version: dict[int, set[bytes]] = defaultdict(set)
    for version, digest in digests:
        by_version[version].add(digest)
    found: dict[bytes, set[UUID]] = defaultdict(set)
    for version, wanted in by_version.items():
        for chunk in _chunks(sorted(wanted)):
            fixed = {"index_name": index_name, "key_version": version}
            query = _matching(conn, SEARCH, fixed, "digest", chunk, (SEARCH.c.digest, SEARCH.c.member_id))
            for digest, member_id in conn.execute(query).all():
                found[digest].add(member_id)
    return found


def member_keys(conn: Connection, member_ids: Iterable[UUID]) -> list[Row[Any]]:
    """Status and wrapped data key of members (what sealing a record for them needs)."""
    columns = (MEMBERS.c.id, MEMBERS.c.status, MEMBERS.c.wrapped_dek, MEMBERS.c.kek_version, MEMBERS.c.dek_version)
    rows: list[Row[Any]] = []
    for chunk in _chunks(list(set(member_ids))):
        rows.extend(conn.execute(select(*columns).where(MEMBERS.c.id.in_(chunk))))
    return rows


def update_member_columns(conn: Connection, rows: Sequence[dict[str, Any]], now: datetime) -> None:
    """Replace some sealed columns of members (rows: ``id`` plus the ``<field>_ct`` columns that changed)."""
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_columns[tuple(sorted(row))].append({**row, "updated_at": now})
    for group in by_columns.values():
        _update_by_id(conn, MEMBERS, group)


def replace_index_entries(
    conn: Connection, old_rows: Sequence[dict[str, Any]], new_rows: Sequence[dict[str, Any]]
) -> None:
    """Delete blind-index entries by their full key, then insert the new ones.

    Deleting by the primary key rather than by (member, index name): without statistics, SQLite would
    walk the primary key by index name, every member's entries of that index, for each deleted row.
    """
    if old_rows:
        key = ("index_name", "key_version", "digest", "member_id")
        statement = delete(SEARCH).where(*(SEARCH.c[name] == bindparam(f"_{name}") for name in key))
        conn.execute(statement, [{f"_{name}": row[name] for name in key} for row in old_rows])
    _insert_rows(conn, SEARCH, new_rows)


def field_sources(conn: Connection, member_ids: Iterable[UUID]) -> dict[UUID, dict[str, Row[Any]]]:
    """Per member and profile field: the source that set it and its ``source_updated_at``."""
    found: dict[UUID, dict[str, Row[Any]]] = defaultdict(dict)
    for chunk in _chunks(list(set(member_ids))):
        for row in conn.execute(select(FIELD_SOURCES).where(FIELD_SOURCES.c.member_id.in_(chunk))).all():
            found[row.member_id][row.field] = row
    return found


def insert_field_sources(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Record who set each field of new members."""
    _insert_rows(conn, FIELD_SOURCES, rows)


def upsert_field_sources(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Record who set each field; one row per (member, field) in ``rows``."""
    if not rows:
        return
    statement = _dialect_insert(conn, FIELD_SOURCES)
    statement = statement.on_conflict_do_update(
        index_elements=["member_id", "field"],
        set_={"source": statement.excluded.source, "source_updated_at": statement.excluded.source_updated_at},
    )
    conn.execute(statement, list(rows))


# ── purchases ──────────────────────────────────────────────────────────────────────────────────────


def stored_purchases(conn: Connection, keys: Iterable[Key]) -> dict[Key, Row[Any]]:
    """Stored purchases by key: ``id`` and ``source_updated_at``."""
    return _by_key(conn, PURCHASES, keys, PURCHASES.c.id, PURCHASES.c.source_updated_at)


def insert_purchases(conn: Connection, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert purchase headers; returns their ids in the order of ``rows``."""
    return _insert_returning_ids(conn, PURCHASES, rows)


def update_purchases(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Overwrite purchase headers with a newer version (rows carry ``id``)."""
    _update_by_id(conn, PURCHASES, rows)


def purchase_lines(conn: Connection, purchase_ids: Iterable[int]) -> dict[int, list[Row[Any]]]:
    """Stored lines per purchase, in line order."""
    found: dict[int, list[Row[Any]]] = defaultdict(list)
    for chunk in _chunks(list(purchase_ids)):
        query = select(LINES).where(LINES.c.purchase_id.in_(chunk)).order_by(LINES.c.purchase_id, LINES.c.line_no)
        for row in conn.execute(query).all():
            found[row.purchase_id].append(row)
    return found


def replace_purchase_lines(conn: Connection, purchase_ids: Sequence[int], rows: Sequence[dict[str, Any]]) -> None:
    """Delete the lines of the given purchases, then insert ``rows``."""
    for chunk in _chunks(list(purchase_ids)):
        conn.execute(delete(LINES).where(LINES.c.purchase_id.in_(chunk)))
    _insert_rows(conn, LINES, rows)


def stored_adjustments(conn: Connection, keys: Iterable[Key]) -> dict[Key, Row[Any]]:
    """Stored refunds and cancellations by key, with every column."""
    return _by_key(conn, ADJUSTMENTS, keys, *ADJUSTMENTS.c)


def insert_adjustments(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert refunds and cancellations."""
    _insert_rows(conn, ADJUSTMENTS, rows)


def update_adjustments(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Overwrite refunds and cancellations (rows carry ``id``)."""
    _update_by_id(conn, ADJUSTMENTS, rows)


# ── inquiries ──────────────────────────────────────────────────────────────────────────────────────


def stored_inquiries(conn: Connection, keys: Iterable[Key]) -> dict[Key, Row[Any]]:
    """Stored inquiries by key: ``id``, ``member_id`` and ``source_updated_at``."""
    return _by_key(conn, INQUIRIES, keys, INQUIRIES.c.id, INQUIRIES.c.member_id, INQUIRIES.c.source_updated_at)


def insert_inquiries(conn: Connection, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert inquiry headers; returns their ids in the order of ``rows``."""
    return _insert_returning_ids(conn, INQUIRIES, rows)


def shown_inquiries(inquiries: FromClause) -> ColumnElement[bool]:
    """Inquiries a member's history shows: every one but a console inquiry that a helpdesk's copy stands for.

    Once the helpdesk created a ticket for an inquiry logged in the console, the ticket (status, agents'
    replies) is the conversation; the console's record stays for the audit of what the operator wrote.
    """
    copies = INQUIRIES.alias("copies")
    c = inquiries.c
    copied = select(copies.c.id).where(copies.c.console_inquiry == c.external_id).exists()
    return or_(c.source != CONSOLE_SOURCE, ~copied)


def update_inquiries(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Overwrite inquiry headers with a newer version (rows carry ``id``)."""
    _update_by_id(conn, INQUIRIES, rows)


def stored_messages(conn: Connection, keys: Iterable[Key]) -> dict[Key, Row[Any]]:
    """Stored inquiry messages by key, with the member their inquiry belongs to (``owner_id``)."""
    owner = select(INQUIRIES.c.member_id).where(INQUIRIES.c.id == MESSAGES.c.inquiry_id).scalar_subquery()
    return _by_key(conn, MESSAGES, keys, *MESSAGES.c, owner.label("owner_id"))


def insert_messages(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert inquiry messages (bodies already sealed)."""
    _insert_rows(conn, MESSAGES, rows)


def update_messages(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Overwrite inquiry messages (rows carry ``id``)."""
    _update_by_id(conn, MESSAGES, rows)


# ── surveys and consent ────────────────────────────────────────────────────────────────────────────


def stored_survey_responses(conn: Connection, keys: Iterable[Key]) -> dict[Key, Row[Any]]:
    """Stored survey responses by key: ``id`` and ``source_updated_at``."""
    return _by_key(conn, SURVEYS, keys, SURVEYS.c.id, SURVEYS.c.source_updated_at)


def insert_survey_responses(conn: Connection, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert survey responses (free text already sealed); returns their ids in the order of ``rows``."""
    return _insert_returning_ids(conn, SURVEYS, rows)


def update_survey_responses(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Overwrite survey responses with a newer version (rows carry ``id``)."""
    _update_by_id(conn, SURVEYS, rows)


def stored_consent_events(conn: Connection, keys: Iterable[Key]) -> dict[Key, Row[Any]]:
    """Stored consent events by key: ``id`` and ``source_updated_at``."""
    return _by_key(conn, CONSENTS, keys, CONSENTS.c.id, CONSENTS.c.source_updated_at)


def insert_consent_events(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert consent events."""
    _insert_rows(conn, CONSENTS, rows)


def update_consent_events(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Overwrite consent events with a newer version (rows carry ``id``)."""
    _update_by_id(conn, CONSENTS, rows)


def consent_state(conn: Connection, member_id: UUID) -> dict[str, bool]:
    """A member's current marketing consent per channel: the latest event of each channel wins."""
    latest = (
        select(CONSENTS.c.channel, CONSENTS.c.subscribed)
        .where(CONSENTS.c.member_id == member_id)
        .order_by(CONSENTS.c.channel, CONSENTS.c.changed_at, CONSENTS.c.source_updated_at, CONSENTS.c.id)
    )
    return {channel: bool(subscribed) for channel, subscribed in conn.execute(latest)}


# ── webhook deliveries ─────────────────────────────────────────────────────────────────────────────


def record_delivery(conn: Connection, connector: str, delivery_id: str, now: datetime) -> bool:
    """Remember a webhook delivery; ``False`` if this connector already received that delivery id.

    Race-free: of two workers receiving the same redelivery at once, exactly one gets ``True``.
    """
    statement = (
        _dialect_insert(conn, DELIVERIES)
        .on_conflict_do_nothing(index_elements=["connector", "delivery_id"])
        .returning(DELIVERIES.c.id)  # a row back only if inserted; rowcount is not reliable here on psycopg
    )
    values = {"connector": connector, "delivery_id": delivery_id, "received_at": now}
    return conn.execute(statement, values).first() is not None


# ── generic batch statements ───────────────────────────────────────────────────────────────────────


def _by_key(conn: Connection, table: Table, keys: Iterable[Key], *columns: Any) -> dict[Key, Row[Any]]:
    """Rows of ``table`` by (source, external_id): one lookup per source and chunk of external ids.

    Results are read with ``.all()`` here and in the other lookups: one fetchall rather than a fetch per row
    halves the cost of a 1,000-key lookup on SQLite.
    """
    by_source: dict[str, set[str]] = defaultdict(set)
    for source, external_id in keys:
        by_source[source].add(external_id)
    found: dict[Key, Row[Any]] = {}
    extra = [column for column in columns if column.key not in ("source", "external_id")]
    for source, external_ids in by_source.items():
        for chunk in _chunks(sorted(external_ids)):
            selected = (table.c.source, table.c.external_id, *extra)
            query = _matching(conn, table, {"source": source}, "external_id", chunk, selected)
            found.update(((row.source, row.external_id), row) for row in conn.execute(query).all())
    return found


def _matching(
    conn: Connection,
    table: Table,
    fixed: Mapping[str, Any],
    column: str,
    values: Sequence[Any],
    selected: Sequence[Any],
) -> Select[Any]:
    """``selected`` of the rows whose ``fixed`` columns equal the given values and whose ``column`` is in ``values``.

    On PostgreSQL, one probe of the unique index per value: a LATERAL join over the array, which its OFFSET
    keeps the planner from flattening. For ``source = … AND external_id IN (…)`` on a table without
    statistics (a first import; autovacuum off) PostgreSQL reads every row of the source and filters them,
    so each lookup cost more as the table grew.
    """
    conditions = [table.c[name] == value for name, value in fixed.items()]
    if conn.dialect.name != "postgresql":
        return select(*selected).where(*conditions, table.c[column].in_(values))
    array = literal(list(values), postgresql.ARRAY(table.c[column].type))
    wanted = func.unnest(array).table_valued("value").render_derived(name="wanted")
    probe = select(*selected).where(*conditions, table.c[column] == wanted.c.value).offset(0).lateral("probe")
    return select(probe).select_from(wanted).join(probe, true())


def _insert_returning_ids(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert rows keyed by (source, external_id) and return their ids in the order of ``rows``.

    Inserted as tuples and the ids selected back: ``INSERT … RETURNING`` with many rows goes through
    SQLAlchemy's insertmanyvalues, which costs about twice as much per row on SQLite.
    """
    _insert_rows(conn, table, rows)
    ids = _by_key(conn, table, ((row["source"], row["external_id"]) for row in rows), table.c.id)
    return [ids[(row["source"], row["external_id"])].id for row in rows]


def _update_by_id(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """One executemany ``UPDATE … WHERE id = ?``; every row has the same keys."""
    if not rows:
        return
    columns = [name for name in rows[0] if name != "id"]
    statement = (
        update(table).where(table.c.id == bindparam("_id")).values({name: bindparam(f"_{name}") for name in columns})
    )
    conn.execute(statement, [{f"_{name}": value for name, value in row.items()} for row in rows])


def _dialect_insert(conn: Connection, table: Table) -> Any:
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def _chunks(items: Sequence[_T]) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def inquiry_header(conn: Connection, inquiry_id: int) -> Row[Any] | None:
    """One inquiry header with its owner's wrapped data key (to open its subject), or ``None``."""
    keys = (
        MEMBERS.c.status.label("member_status"),
        MEMBERS.c.wrapped_dek,
        MEMBERS.c.kek_version,
        MEMBERS.c.dek_version,
    )
    query = select(INQUIRIES, *keys).join(MEMBERS, MEMBERS.c.id == INQUIRIES.c.member_id)
    return conn.execute(query.where(INQUIRIES.c.id == inquiry_id)).first()


def inquiry_message_count(conn: Connection, inquiry_id: int) -> int:
    """How many messages an inquiry's thread holds."""
    return int(conn.execute(select(func.count()).where(MESSAGES.c.inquiry_id == inquiry_id)).scalar_one())
