"""Reports are read from the cache until recomputed; a changed setting is a miss, never a stale figure."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, insert, select

from core.analytics.book import ReportBook, build_reports
from core.analytics.cache import store_report
from core.analytics.months import Month
from core.store.database import create_hub_engine, upgrade_database
from core.store.models import Purchase, ReportCache, table_of
from tests.core.analytics.seeded import NOW, seed
from tests.core.loyalty.conftest import make_rules

JUNE = Month(2026, 6)


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    engine = create_hub_engine(sqlite_url)
    upgrade_database(engine)
    seed(random.Random(3)).write(engine)
    yield engine
    engine.dispose()


def buy(engine: Engine, member_id: object, yen: int) -> None:
    at = JUNE.start + timedelta(days=3)
    row = {"member_id": member_id, "source": "late", "external_id": f"late-{yen}", "channel": "online",
           "status": "completed", "total_amount": yen, "purchased_at": at, "source_updated_at": at}  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(table_of(Purchase)), row)


def sales(book: ReportBook) -> int:
    table = book.report("repeat_sales", JUNE).table("by_rank_channel")
    return sum(int(row[-1] or 0) for row in table.rows if row[1] == "all")


def test_a_cached_report_is_read_back_until_it_is_refreshed(engine: Engine) -> None:
    book = ReportBook(engine, make_rules(), lambda: NOW)
    before = sales(book)
    with engine.connect() as conn:
        member = conn.execute(select(table_of(Purchase).c.member_id).where(
            table_of(Purchase).c.member_id.is_not(None))).scalars().first()  # fmt: skip
    buy(engine, member, 12_345)
    assert sales(book) == before  # the cache answers
    book.refresh([JUNE])
    assert sales(book) == before + 12_345


def test_a_changed_setting_computes_the_report_anew(engine: Engine) -> None:
    ReportBook(engine, make_rules(), lambda: NOW).report("growth_churn", JUNE)
    short = ReportBook(engine, make_rules(analytics={"churn_days": 30}), lambda: NOW)
    report = short.report("growth_churn", JUNE)
    assert report.params == "churn_days=30"
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ReportCache)).scalar_one() == 2


def test_the_nightly_job_reads_every_report_for_this_month_and_the_last_and_caches_them(engine: Engine) -> None:
    with engine.connect() as conn:
        reports = build_reports(conn, make_rules(), NOW)
        assert conn.execute(select(func.count()).select_from(ReportCache)).scalar_one() == 0, "reading writes nothing"
    with engine.begin() as conn:
        for report in reports:
            store_report(conn, report)
    assert len(reports) == 12
    with engine.connect() as conn:
        periods = conn.execute(select(ReportCache.period).distinct()).scalars().all()
    assert sorted(periods) == ["2026-10", "2026-11"]


def test_months_are_japanese_calendar_months() -> None:
    assert Month.parse("2026-01").shifted(-1) == Month(2025, 12)
    assert Month.of(Month(2026, 3).start - timedelta(seconds=1)).code == "2026-02"
    assert Month(2026, 3).start.utcoffset() == timedelta(hours=9)
    with pytest.raises(ValueError, match="not a month"):
        Month.parse("2026-13")
