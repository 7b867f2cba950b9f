"""Official working days in mainland China (holidays and 调休), with a weekend fallback.

`chinese_calendar` ships the State Council's yearly holiday notices; for a year it does not cover
yet we fall back to "Monday–Friday are working days" and report that the fallback was used, so
the caller can tell the chair once. A super admin can add or correct days (/holiday_set, stored in
`holiday_days`): those overrides win over the library's data, and a year with any override counts
as covered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType

import chinese_calendar

_NO_OVERRIDES: Mapping[date, bool] = MappingProxyType({})


def official_data_covers(year: int) -> bool:
    """True when the shipped holiday data knows this year."""
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


def covers(year: int, overrides: Mapping[date, bool] = _NO_OVERRIDES) -> bool:
    """True when the year is known: by the library's data or by days a super admin entered."""
    return official_data_covers(year) or any(d.year == year for d in overrides)


def needs_warning(today: date, overrides: Mapping[date, bool] = _NO_OVERRIDES) -> int | None:
    """From December 1: the next year when nobody knows its holidays yet, else None."""
    if today.month != 12:
        return None
    year = today.year + 1
    return None if covers(year, overrides) else year


@dataclass(frozen=True)
class WorkdayCalendar:
    """Answers "is this a working day?": local days off, then the super admins' overrides (date →
    working day?), then the official data, then the Monday–Friday fallback."""

    local_days_off: frozenset[date] = field(default_factory=frozenset)
    overrides: Mapping[date, bool] = field(default_factory=lambda: _NO_OVERRIDES)

    @classmethod
    def with_days_off(cls, days: Iterable[date], overrides: Mapping[date, bool] | None = None) -> WorkdayCalendar:
        return cls(frozenset(days), MappingProxyType(dict(overrides)) if overrides else _NO_OVERRIDES)

    def is_workday(self, day: date) -> bool:
        if day in self.local_days_off:
            return False
        found = self.overrides.get(day)
        if found is not None:
            return found
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            return day.weekday() < 5

    def uses_fallback(self, day: date) -> bool:
        """True when `day` is judged by the weekend fallback, not official data or overrides."""
        return not covers(day.year, self.overrides)

    def holiday_name(self, day: date) -> str | None:
        """The official holiday's English name from the data (e.g. 'National Day'), if any."""
        try:
            on_holiday, name = chinese_calendar.get_holiday_detail(day)
        except NotImplementedError:
            return None
        return str(name) if on_holiday and name else None
