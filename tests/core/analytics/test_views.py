"""Views sum a report's rows over the chosen rank and derive the rates from the sums."""

from __future__ import annotations

from datetime import UTC, datetime

from core.analytics.tables import Report, ReportTable
from core.analytics.views import views_of

LADDER = ["regular", "silver", "gold"]
AT = datetime(2026, 7, 1, tzinfo=UTC)


def report(name: str, table: str, columns: tuple[str, ...], *rows: tuple[object, ...]) -> Report:
    return Report(name, "2026-06", "-", AT, (ReportTable(table, columns, tuple(rows)),))  # type: ignore[arg-type]


def test_satisfaction_and_nps_come_from_the_summed_answers() -> None:
    survey = report(
        "survey_scores", "by_rank_channel_store",
        ("rank", "channel", "store", "responses", "rated", "rating_sum", "recommended", "promoters", "detractors"),
        ("gold", "store", "shibuya", 4, 4, 18, 4, 3, 1),
        ("regular", "store", "shibuya", 2, 2, 4, 2, 0, 2),
        ("regular", "online", "none", 1, 0, 0, 1, 1, 0),
    )  # fmt: skip
    by_rank, by_channel, by_store = views_of(survey, None, LADDER)
    assert by_rank.table.rows == (("regular", 3, 2.0, -33.3, 2, 3), ("gold", 4, 4.5, 50.0, 4, 4))
    assert by_store.table.rows[1] == ("shibuya", 6, 3.67, 0.0, 6, 6)
    gold_only = views_of(survey, "gold", LADDER)[1]
    assert gold_only.table.rows == (("store", 4, 4.5, 50.0, 4, 4),)
    assert by_channel.chart == "satisfaction"


def test_the_liability_totals_its_states_and_lists_the_next_three_months() -> None:
    liability = report(
        "points_liability", "by_rank_state_expiry", ("rank", "state", "expires", "points", "yen"),
        ("gold", "available", "1", 100, 200), ("gold", "pending", "later", 50, 100),
        ("regular", "available", "2", 10, 20), ("regular", "available", "never", 5, 10),
    )  # fmt: skip
    states, expiring = views_of(liability, None, LADDER)
    assert states.table.rows == (("available", 115, 230), ("pending", 50, 100), ("all", 165, 330))
    assert expiring.table.rows == (("1", 100, 200), ("2", 10, 20))


def test_uplift_compares_sales_per_member_with_the_holdout() -> None:
    uplift = report(
        "campaign_uplift", "by_campaign_group", ("campaign", "group", "members", "buyers", "orders", "sales"),
        ("summer", "treated", 90, 30, 40, 180_000), ("summer", "holdout", 10, 2, 2, 10_000),
    )  # fmt: skip
    [view] = views_of(uplift, None, LADDER)
    assert view.table.rows == (
        ("summer / treated", 90, 30, 33.3, 40, 180_000, 2000.0, 100.0),
        ("summer / holdout", 10, 2, 20.0, 2, 10_000, 1000.0, None),
    )
