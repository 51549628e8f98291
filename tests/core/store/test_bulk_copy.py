"""PostgreSQL's bulk path (COPY into the table, or through a staging table for an upsert) on the real server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from core.store.bulk import COPY_MIN_ROWS, copy_insert
from core.store.members import _insert_rows
from core.store.models import Purchase, table_of

PURCHASES = table_of(Purchase)
START = datetime(2026, 4, 1, tzinfo=UTC)
pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


def _rows(first: int, count: int, *, total: int = 1000) -> list[dict[str, object]]:
    return [
        {
            "member_id": None,
            "source": "bulk",
            "external_id": f"o-{number}",
            "channel": "store",
            "store_code": "S1",
            "status": "completed",
            "currency": "JPY",
            "total_amount": total + number,
            "tax_amount": 0,
            "discount_amount": 0,
            "purchased_at": START + timedelta(minutes=number),
            "source_updated_at": START,
            "created_at": START,
        }
        for number in range(first, first + count)
    ]


def _stored(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {row.external_id: row.total_amount for row in conn.execute(select(PURCHASES))}


def _tuples(rows):
    names = list(rows[0])
    return names, [tuple(row[name] for name in names) for row in rows]


def test_a_large_batch_takes_the_copy_path_and_stores_what_executemany_would(engine):
    rows = _rows(0, COPY_MIN_ROWS + 50)
    with engine.begin() as conn:
        _insert_rows(conn, PURCHASES, rows)
        _insert_rows(conn, PURCHASES, _rows(COPY_MIN_ROWS + 50, COPY_MIN_ROWS))  # same transaction, same stage
    stored = _stored(engine)
    assert len(stored) == 2 * COPY_MIN_ROWS + 50
    assert stored["o-7"] == 1007 and stored[f"o-{2 * COPY_MIN_ROWS + 49}"] == 1000 + 2 * COPY_MIN_ROWS + 49


def test_a_duplicate_rolls_the_batch_back_and_the_next_transaction_copies_again(engine):
    with engine.begin() as conn:
        _insert_rows(conn, PURCHASES, _rows(0, COPY_MIN_ROWS))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        _insert_rows(conn, PURCHASES, _rows(COPY_MIN_ROWS - 1, COPY_MIN_ROWS))  # one row already stored
    with engine.begin() as conn:
        _insert_rows(conn, PURCHASES, _rows(COPY_MIN_ROWS, COPY_MIN_ROWS))
    assert len(_stored(engine)) == 2 * COPY_MIN_ROWS, "nothing of the failed batch stayed, the next one landed"


def test_on_conflict_skips_or_overwrites_the_existing_rows(engine):
    with engine.begin() as conn:
        _insert_rows(conn, PURCHASES, _rows(0, 10))
        names, rows = _tuples(_rows(5, 10, total=5000))
        copy_insert(conn, PURCHASES, names, rows, conflict=("source", "external_id"))
    skipped = _stored(engine)
    with engine.begin() as conn:
        copy_insert(conn, PURCHASES, names, rows, conflict=("source", "external_id"), update=("total_amount",))
    overwritten = _stored(engine)
    with engine.connect() as conn:
        count = conn.scalar(select(func.count()).select_from(PURCHASES))
    assert count == 15 and (skipped["o-5"], skipped["o-14"]) == (1005, 5014)
    assert (overwritten["o-5"], overwritten["o-0"]) == (5005, 1000)
