"""Calendar arithmetic used by every rule: full calendar months, and working days.

Working days are Monday to Friday minus Vietnamese public holidays (the pinned `holidays`
package) plus the admin-edited exceptions (extra days off, Saturdays worked).
"""

from __future__ import annotations

import calendar as _calendar
import datetime
from functools import lru_cache

from db import models


def add_months(day: datetime.date, months: int) -> datetime.date:
    """The same day-of-month `months` later, clamped to the month's end (31/01 + 1 = 28/02 or 29/02)."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = _calendar.monthrange(year, month + 1)[1]
    return datetime.date(year, month + 1, min(day.day, last))


def full_months_between(start: datetime.date, end: datetime.date) -> int:
    """Whole calendar months from `start` to `end` (age in months, certificate age, time together)."""
    months = (end.year - start.year) * 12 + (end.month - start.month)
    if add_months(start, months) > end:
        months -= 1
    return months


@lru_cache(maxsize=64)
def _public_holidays(year: int) -> frozenset[datetime.date]:
    import holidays  # imported on first use: it is not needed to draw the first screen

    return frozenset(holidays.country_holidays("VN", years=year))


class WorkingDays:
    """Working-day arithmetic with the exceptions table read once."""

    def __init__(self, exceptions: dict[datetime.date, str] | None = None):
        if exceptions is None:
            exceptions = {row.date: row.kind for row in models.WorkdayException.select()}
        self.exceptions = exceptions
        self._added: dict[tuple[datetime.date, int], datetime.date] = {}

    def is_working_day(self, day: datetime.date) -> bool:
        kind = self.exceptions.get(day)
        if kind == "off":
            return False
        if kind == "work":
            return True
        return day.weekday() < 5 and day not in _public_holidays(day.year)

    def add(self, start: datetime.date, days: int) -> datetime.date:
        """The `days`-th working day after `start` (start itself not counted). Remembered: a
        work list asks the same deadlines for many files."""
        key = (start, days)
        if key not in self._added:
            self._added[key] = self._add(start, days)
        return self._added[key]

    def _add(self, start: datetime.date, days: int) -> datetime.date:
        day = start
        step = 1 if days >= 0 else -1
        remaining = abs(days)
        while remaining:
            day += datetime.timedelta(days=step)
            if self.is_working_day(day):
                remaining -= 1
        return day

    def between(self, start: datetime.date, end: datetime.date) -> int:
        """Working days after `start` up to and including `end` (negative when end < start)."""
        if end < start:
            return -self.between(end, start)
        count, day = 0, start
        while day < end:
            day += datetime.timedelta(days=1)
            count += self.is_working_day(day)
        return count
