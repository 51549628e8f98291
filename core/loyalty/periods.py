"""Calendar arithmetic of the loyalty program, always in Asia/Tokyo: days, months, evaluation periods.

A loyalty day, month or year starts at midnight in Japan whatever the server's time zone; every function
takes and returns aware datetimes.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")

EvaluationPeriod = Literal["month", "quarter", "half_year", "year"]
_PERIOD_MONTHS: dict[str, int] = {"month": 1, "quarter": 3, "half_year": 6, "year": 12}


def jst_date(moment: datetime) -> date:
    """The calendar day in Japan at ``moment``."""
    return moment.astimezone(JST).date()


def jst_midnight(day: date) -> datetime:
    """The moment ``day`` begins in Japan."""
    return datetime(day.year, day.month, day.day, tzinfo=JST)


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole months; a day the target month lacks becomes its last day (31 Mar − 1 → 28 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, _days_in_month(year, month + 1)))


def months_before(moment: datetime, months: int) -> datetime:
    """The same wall-clock time in Japan ``months`` months earlier (the start of a rolling window)."""
    local = moment.astimezone(JST)
    day = add_months(local.date(), -months)
    return local.replace(year=day.year, month=day.month, day=day.day)


def period_start(moment: datetime, period: EvaluationPeriod) -> datetime:
    """The start (JST midnight) of the calendar ``period`` that contains ``moment``."""
    local = jst_date(moment)
    length = _PERIOD_MONTHS[period]
    first_month = (local.month - 1) // length * length + 1
    return jst_midnight(date(local.year, first_month, 1))


def end_of_day_after(moment: datetime, days: int) -> datetime:
    """The end of the JST day ``days`` days after the day of ``moment`` (the next day's midnight)."""
    return _end_of_day_after(jst_date(moment), days)


def end_of_month_after(moment: datetime, months: int) -> datetime:
    """The end of the JST month ``months`` months after the month of ``moment``."""
    return _end_of_month_after(jst_date(moment).replace(day=1), months)


def end_of_year_after(moment: datetime, years: int) -> datetime:
    """The end of the JST calendar year ``years`` years after the year of ``moment``."""
    return jst_midnight(date(jst_date(moment).year + years + 1, 1, 1))


# Earning asks for the expiry of every purchase, and a batch's purchases share a few days.
@lru_cache(maxsize=4096)
def _end_of_day_after(day: date, days: int) -> datetime:
    return jst_midnight(day + timedelta(days=days + 1))


@lru_cache(maxsize=1024)
def _end_of_month_after(first: date, months: int) -> datetime:
    return jst_midnight(add_months(first, months + 1))


def _days_in_month(year: int, month: int) -> int:
    following = date(year + month // 12, month % 12 + 1, 1)
    return (following - timedelta(days=1)).day
