"""Report periods: calendar months in Asia/Tokyo, named ``YYYY-MM``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from core.loyalty.periods import JST, add_months, jst_midnight

__all__ = ["Month"]

_CODE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True, order=True)
class Month:
    """One JST calendar month: from ``start`` (midnight of the 1st in Japan) to ``end`` (the next 1st)."""

    year: int
    month: int

    @classmethod
    def parse(cls, code: str) -> Month:
        """``2026-04`` as a month; ``ValueError`` for anything else."""
        found = _CODE.match(code)
        if found is None:
            raise ValueError(f"not a month (YYYY-MM): {code[:16]!r}")
        return cls(int(found.group(1)), int(found.group(2)))

    @classmethod
    def of(cls, moment: datetime) -> Month:
        """The JST month that contains ``moment``."""
        local = moment.astimezone(JST)
        return cls(local.year, local.month)

    @property
    def code(self) -> str:
        """``YYYY-MM``."""
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def start(self) -> datetime:
        """Midnight of the first day in Japan."""
        return jst_midnight(date(self.year, self.month, 1))

    @property
    def end(self) -> datetime:
        """Midnight of the first day of the next month in Japan (exclusive)."""
        return self.shifted(1).start

    def shifted(self, months: int) -> Month:
        """The month ``months`` later (earlier when negative)."""
        day = add_months(date(self.year, self.month, 1), months)
        return Month(day.year, day.month)

    def __str__(self) -> str:
        return self.code
