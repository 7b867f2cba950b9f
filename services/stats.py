"""Numbers behind /stats: the monthly summary (ledger by category, policy questions) plus duty
check-ins per ISO week of the month. Week labels are formatted by the caller (they are text)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from services.duty import DutyService
from services.monthly_report import MonthlyReportService, MonthSummary
from services.rotation import Shift


@dataclass(frozen=True)
class Week:
    first: date  # first day of the ISO week inside the month
    last: date  # last day of the ISO week inside the month
    expected: int = 0
    checked: int = 0


@dataclass(frozen=True)
class MonthStats:
    summary: MonthSummary
    weeks: list[Week]
    has_rotation: bool


def month_weeks(year: int, month: int) -> list[tuple[date, date]]:
    """The ISO weeks touching the month, each clipped to the month: (first day, last day)."""
    day = date(year, month, 1)
    last_of_month = (date(year + (month == 12), month % 12 + 1, 1)) - timedelta(days=1)
    out: list[tuple[date, date]] = []
    while day <= last_of_month:
        end = min(day + timedelta(days=6 - day.weekday()), last_of_month)
        out.append((day, end))
        day = end + timedelta(days=1)
    return out


def weekly_checkins(shifts: Iterable[tuple[Shift, bool]], year: int, month: int, tz: ZoneInfo,
                    now: datetime) -> list[Week]:
    """Shifts that started before `now`, and how many were checked in, per week of the month. A shift
    that began in the previous month but runs into this one (counted by the monthly report too) goes
    to the first week."""
    spans = month_weeks(year, month)
    expected = [0] * len(spans)
    checked = [0] * len(spans)
    for shift, done in shifts:
        if shift.start >= now:
            continue
        day = max(shift.start.astimezone(tz).date(), spans[0][0])
        for i, (first, last) in enumerate(spans):
            if first <= day <= last:
                expected[i] += 1
                checked[i] += done
                break
    return [Week(f, la, e, c) for (f, la), e, c in zip(spans, expected, checked, strict=True)]


async def month_stats(monthly: MonthlyReportService, duty: DutyService, org_id: int, year: int,
                      month: int) -> MonthStats:
    summary = await monthly.summary(org_id, year, month)
    has_rotation = await duty.rotation(org_id) is not None
    shifts = await duty.schedule(org_id, year, month) if has_rotation else []
    weeks = weekly_checkins(shifts, year, month, duty.tz, monthly.clock.now())
    return MonthStats(summary, weeks, has_rotation)
