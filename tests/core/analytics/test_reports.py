"""Every report equals the straightforward Python computation over the same seeded rows, on both databases."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from core.analytics.book import ReportBook
from core.analytics.months import Month
from core.loyalty.rules import LoyaltyRules
from core.store.database import create_hub_engine, upgrade_database
from tests.core.analytics.reference import Reference
from tests.core.analytics.seeded import NOW, Seeded, seed
from tests.core.loyalty.conftest import make_rules

MONTHS = [Month(2025, 12), Month(2026, 6), Month(2026, 11)]


@pytest.fixture(scope="module")
def data() -> Seeded:
    return seed(random.Random(20261201))


@pytest.fixture
def engine(db_url: str, data: Seeded) -> Iterator[Engine]:
    engine = create_hub_engine(db_url)
    upgrade_database(engine)
    data.write(engine)
    yield engine
    engine.dispose()


def rows(book: ReportBook, name: str, month: Month, table: str) -> set[tuple[Any, ...]]:
    return set(book.report(name, month).table(table).rows)


def book_of(engine: Engine, rules: LoyaltyRules | None = None) -> ReportBook:
    return ReportBook(engine, rules or make_rules(), lambda: NOW)


def test_every_report_equals_the_straightforward_computation(engine: Engine, data: Seeded) -> None:
    rules = make_rules(analytics={"churn_days": 90, "yen_per_point": "2", "migration_months": 6})
    book, expected = book_of(engine, rules), Reference(data)
    for month in MONTHS:
        assert rows(book, "repeat_sales", month, "by_rank_channel") == expected.repeat_sales(month), month
        assert rows(book, "rank_migration", month, "matrix") == expected.rank_migration(month, 6), month
        assert rows(book, "survey_scores", month, "by_rank_channel_store") == expected.survey_scores(month), month
        liability = rows(book, "points_liability", month, "by_rank_state_expiry")
        assert liability == expected.points_liability(month, NOW, 2), month
        assert rows(book, "growth_churn", month, "by_rank") == expected.growth_churn(month, 90), month
        assert expected.survey_scores(month) and expected.repeat_sales(month)  # the data set reaches every report


def test_campaign_uplift_splits_the_targeted_clusters_by_their_holdout_draw(engine: Engine, data: Seeded) -> None:
    campaign = {
        "code": "summer",
        "name_ja": "夏",
        "name_en": "Summer",
        "multiplier": "2.0",
        "holdout_percent": 40,
        "starts_at": "2026-06-10T00:00:00",
        "ends_at": "2026-07-20T00:00:00",
        "ranks": ["silver", "gold"],
    }
    online = {**campaign, "code": "online", "channels": ["online"], "ranks": [], "holdout_percent": 25}
    rules = make_rules(campaigns=[campaign, online, {**online, "code": "no-holdout", "holdout_percent": 0}])
    book, expected = book_of(engine, rules), Reference(data)
    for month in (Month(2026, 6), Month(2026, 7)):
        found = rows(book, "campaign_uplift", month, "by_campaign_group")
        assert found == expected.campaign_uplift(month, NOW, rules.campaigns[0]) | expected.campaign_uplift(
            month, NOW, rules.campaigns[1]
        )
    assert rows(book, "campaign_uplift", Month(2026, 8), "by_campaign_group") == set()
