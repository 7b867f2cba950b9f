"""Official working days in mainland China (holidays and 调休), with a weekend fallback.

`chinese_calendar` ships the State Council's yearly holiday notices; for a year it does not cover
yet we fall back to "Monday–Friday are working days" and report that the fallback was used, so
the caller can tell the chair once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

import chinese_calendar


def official_data_covers(year: int) -> bool:
    """True when the shipped holiday data knows this year."""
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


@dataclass(frozen=True)
class WorkdayCalendar:
    """Answers "is this a working day?" with official data, local days off and a fallback."""

    local_days_off: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def with_days_off(cls, days: Iterable[date]) -> WorkdayCalendar:
        return cls(frozenset(days))

    def is_workday(self, day: date) -> bool:
        if day in self.local_days_off:
            return False
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            return day.weekday() < 5

    def uses_fallback(self, day: date) -> bool:
        """True when `day` is judged by the weekend fallback, not official data."""
        return not official_data_covers(day.year)

    def holiday_name(self, day: date) -> str | None:
        """The official holiday's English name from the data (e.g. 'National Day'), if any."""
        try:
            on_holiday, name = chinese_calendar.get_holiday_detail(day)
        except NotImplementedError:
            return None
        return str(name) if on_holiday and name else None
