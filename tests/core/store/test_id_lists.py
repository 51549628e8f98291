"""Lists of ids sent as one parameter: ``among`` (a condition) and ``joined_among`` (a join on PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, select

from core.store.loyalty import ADJUSTMENTS, PURCHASES, adjustments_of, among, joined_among
from core.store.members import _insert_rows

AT = datetime(2026, 4, 1, tzinfo=UTC)


def _purchases(engine: Engine, count: int) -> None:
    purchases = [
        {"id": number, "member_id": None, "source": "pos", "external_id": f"r{number}", "channel": "store",
         "store_code": None, "status": "completed", "currency": "JPY", "total_amount": 1_000 * number,
         "tax_amount": 0, "discount_amount": 0, "purchased_at": AT, "source_updated_at": AT, "created_at": AT}
        for number in range(1, count + 1)
    ]  # fmt: skip
    refunds = [
        {"purchase_id": number, "source": "pos", "external_id": f"f{number}-{n}", "kind": "refund", "amount": n,
         "occurred_at": AT}
        for number in range(2, count + 1, 2) for n in (1, 2)
    ]  # fmt: skip
    with engine.begin() as conn:
        _insert_rows(conn, PURCHASES, purchases)
        _insert_rows(conn, ADJUSTMENTS, refunds)


def test_both_keep_the_rows_of_the_listed_ids_once_each_however_often_an_id_is_listed(engine: Engine) -> None:
    _purchases(engine, 300)
    wanted = [4, 7, 4, 250, 999, 250, 4]
    p = PURCHASES.c

    with engine.connect() as conn:
        by_condition = conn.execute(select(p.id).where(among(conn, p.id, wanted))).scalars().all()
        by_join = conn.execute(joined_among(conn, select(p.id), p.id, wanted)).scalars().all()
        adjustments = adjustments_of(conn, wanted)
        nothing = conn.execute(joined_among(conn, select(p.id), p.id, [])).scalars().all()

    assert sorted(by_condition) == sorted(by_join) == [4, 7, 250]
    assert {purchase: [row.amount for row in rows] for purchase, rows in adjustments.items()} == {
        4: [1, 2],
        250: [1, 2],
    }
    assert nothing == []
