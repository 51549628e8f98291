"""The loyalty calendar is Japan's: days, months and periods begin at midnight in Asia/Tokyo."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.loyalty.periods import (
    JST,
    end_of_day_after,
    end_of_month_after,
    end_of_year_after,
    months_before,
    period_start,
)

# 15:30 UTC on 31 January is 00:30 on 1 February in Japan.
LATE_UTC = datetime(2026, 1, 31, 15, 30, tzinfo=UTC)


def test_days_after_earning_count_from_the_day_in_japan():
    assert end_of_day_after(LATE_UTC, 1) == datetime(2026, 2, 3, tzinfo=JST)


def test_end_of_month_counts_from_the_month_in_japan():
    assert end_of_month_after(LATE_UTC, 0) == datetime(2026, 3, 1, tzinfo=JST)
    assert end_of_month_after(LATE_UTC, 12) == datetime(2027, 3, 1, tzinfo=JST)


def test_end_of_year_counts_from_the_year_in_japan():
    assert end_of_year_after(datetime(2026, 12, 31, 15, 0, tzinfo=UTC), 0) == datetime(2028, 1, 1, tzinfo=JST)


def test_a_rolling_window_keeps_the_wall_clock_time_and_clamps_the_day():
    assert months_before(datetime(2026, 3, 31, 9, 0, tzinfo=JST), 1) == datetime(2026, 2, 28, 9, 0, tzinfo=JST)


@pytest.mark.parametrize(
    ("period", "start"),
    [
        ("month", datetime(2026, 8, 1, tzinfo=JST)),
        ("quarter", datetime(2026, 7, 1, tzinfo=JST)),
        ("half_year", datetime(2026, 7, 1, tzinfo=JST)),
        ("year", datetime(2026, 1, 1, tzinfo=JST)),
    ],
)
def test_evaluation_periods_are_calendar_periods_in_japan(period, start):
    assert period_start(datetime(2026, 8, 20, 12, 0, tzinfo=JST), period) == start


def test_a_period_begins_at_midnight_in_japan_not_in_utc():
    assert period_start(datetime(2026, 12, 31, 15, 0, tzinfo=UTC), "year") == datetime(2027, 1, 1, tzinfo=JST)
    assert period_start(datetime(2026, 12, 31, 14, 59, 59, tzinfo=UTC), "year") == datetime(2026, 1, 1, tzinfo=JST)
