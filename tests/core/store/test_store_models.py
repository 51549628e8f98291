"""The models keep personal data sealed, timestamps in UTC and source records unique."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import DateTime, Engine, LargeBinary, exc, insert, inspect, select
from sqlalchemy.dialects import sqlite

from core.store import Base, Purchase
from core.store.models import UTCDateTime

PII_WORDS = ("name", "kana", "email", "phone", "address", "birthday", "notes", "body", "text", "subject")
# Columns whose names look personal but are not data about a member.
NOT_MEMBER_DATA = {
    ("member_search_index", "index_name"),  # which blind index ("email", "phone" …)
    ("purchase_lines", "product_name"),  # catalogue name of a product
    ("system_keys", "name"),  # name of a system data key
    ("console_users", "username"),  # an operator's login, needed in the clear to sign in
    ("api_tokens", "name"),  # the label an admin gave an integration's token
    ("login_attempts", "username_digest"),  # SHA-256 of a typed user name, for throttling
    ("report_cache", "body"),  # an analytics report's aggregate figures (by rank, channel, store), no member
}
JST = timezone(timedelta(hours=9))


def _purchase(external_id: str, purchased_at: datetime) -> dict[str, object]:
    return {
        "source": "pos",
        "external_id": external_id,
        "channel": "store",
        "status": "completed",
        "total_amount": 1080,
        "purchased_at": purchased_at,
        "source_updated_at": purchased_at,
    }


def test_no_plaintext_pii_columns() -> None:
    columns = [(table.name, column) for table in Base.metadata.sorted_tables for column in table.columns]
    looks_personal = [
        (table, column)
        for table, column in columns
        if any(word in column.name for word in PII_WORDS) and (table, column.name) not in NOT_MEMBER_DATA
    ]
    sealed = [(table, column) for table, column in columns if column.name.endswith("_ct")]
    names = {(table, column.name) for table, column in columns}

    assert looks_personal, "the pattern should find the sealed columns"
    for table, column in looks_personal + sealed:
        assert column.name.endswith("_ct"), f"{table}.{column.name} holds personal data in the clear"
        assert isinstance(column.type, LargeBinary), f"{table}.{column.name} is not a ciphertext column"
    assert names >= NOT_MEMBER_DATA, "the exceptions name columns that no longer exist"


def test_source_records_are_unique_per_source_and_external_id(engine: Engine) -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(insert(Purchase).values(_purchase("R-1", now)))

    with pytest.raises(exc.IntegrityError), engine.begin() as conn:
        conn.execute(insert(Purchase).values(_purchase("R-1", now)))


def test_every_source_table_has_a_named_unique_source_key(engine: Engine) -> None:
    inspector = inspect(engine)
    for table in Base.metadata.sorted_tables:
        keyed = {"source", "external_id"} <= set(table.columns.keys())
        if keyed and not (table.c.source.nullable or table.c.external_id.nullable):
            uniques = {u["name"]: u["column_names"] for u in inspector.get_unique_constraints(table.name)}
            assert uniques.get(f"uq_{table.name}_source_external_id") == ["source", "external_id"], table.name


def test_timestamps_are_stored_and_returned_in_utc(engine: Engine) -> None:
    at_the_till = datetime(2025, 3, 1, 10, 0, tzinfo=JST)
    with engine.begin() as conn:
        conn.execute(insert(Purchase).values(_purchase("R-2", at_the_till)))

    with engine.connect() as conn:
        stored = conn.scalar(select(Purchase.purchased_at))
        assert stored == at_the_till
        assert stored is not None and stored.tzinfo == UTC
        assert conn.scalar(select(Purchase.external_id).where(Purchase.purchased_at > at_the_till)) is None


def test_naive_timestamps_are_refused(engine: Engine) -> None:
    with pytest.raises(exc.StatementError, match="naive datetime"), engine.begin() as conn:
        conn.execute(insert(Purchase).values(_purchase("R-3", datetime(2025, 3, 1, 10, 0))))


@pytest.mark.parametrize("offset_hours", [9, 0, -5, 5.5])
def test_sqlite_timestamps_bind_to_the_text_sqlalchemy_stores(offset_hours: float) -> None:
    """The one-step SQLite bind writes exactly what the generic chain (decorator, then SQLite DATETIME) writes."""
    dialect = sqlite.dialect()
    fast = UTCDateTime().bind_processor(dialect)
    generic = DateTime(timezone=True).dialect_impl(dialect).bind_processor(dialect)
    assert fast is not None and generic is not None
    zone = timezone(timedelta(hours=offset_hours))
    rng = random.Random(offset_hours)
    for _ in range(2_000):
        moment = datetime(1900, 1, 1, tzinfo=UTC) + timedelta(
            seconds=rng.randrange(250 * 365 * 86_400), microseconds=rng.choice((0, rng.randrange(10**6)))
        )
        local = moment.astimezone(zone)
        assert fast(local) == generic(UTCDateTime().process_bind_param(local, dialect))
    assert fast(None) is None
    with pytest.raises(ValueError, match="naive datetime"):
        fast(datetime(2025, 3, 1, 10, 0))


def test_sqlite_timestamps_read_back_as_the_generic_chain_reads_them() -> None:
    dialect = sqlite.dialect()
    fast = UTCDateTime().result_processor(dialect, None)
    generic = DateTime(timezone=True).dialect_impl(dialect).result_processor(dialect, None)
    assert fast is not None and generic is not None
    for stored in ("2025-03-01 01:00:00.000000", "2025-03-01 01:00:00.250000", "1999-12-31 23:59:59", None):
        expected = None if stored is None else UTCDateTime().process_result_value(generic(stored), dialect)
        read = fast(stored)
        assert read == expected
        assert read is None or read.tzinfo == UTC
