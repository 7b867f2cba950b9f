"""Dates, times and recurrences as data for messages: nested texts (services.outbox.text) that name a
locale key of handlers/locale/zh_cn/formats.toml (table ``[fmt]``) and carry the numbers.

Services put these in outbox params and Refusal params instead of formatted strings, so each text is
rendered in the reader's language (handlers.i18n.t renders nested texts); handlers/formats.py renders
them directly for replies. Nothing here is user-visible text itself.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from typing import Any

from services.outbox import text
from services.timeparse import Recurrence

Text = dict[str, Any]


def _hm(hour: int, minute: int) -> str:
    return f"{hour:02d}:{minute:02d}"


def day(d: date) -> Text:
    """e.g. 11月23日"""
    return text("fmt.month_day", month=d.month, day=d.day)


def full_day(d: date) -> Text:
    """e.g. 2026年11月23日"""
    return text("fmt.year_month_day", year=d.year, month=d.month, day=d.day)


def month(year: int, mon: int) -> Text:
    """e.g. 2026年11月"""
    return text("fmt.year_month", year=year, month=mon)


def weekday(d: date) -> Text:
    """e.g. 周一"""
    return text(f"fmt.weekday.{d.weekday()}")


def day_time(moment: datetime, tz: tzinfo) -> Text:
    """e.g. 11月23日 09:00, in `tz`"""
    local = moment.astimezone(tz)
    return text("fmt.month_day_time", month=local.month, day=local.day, time=_hm(local.hour, local.minute))


def full_day_time(moment: datetime, tz: tzinfo) -> Text:
    """e.g. 2026年11月23日 09:00, in `tz`"""
    local = moment.astimezone(tz)
    return text("fmt.year_month_day_time", year=local.year, month=local.month, day=local.day,
                time=_hm(local.hour, local.minute))


def recurrence(rule: Recurrence) -> Text:
    """e.g. 每周一 09:00 (the user-facing form of Recurrence.describe())."""
    hm = _hm(rule.hour, rule.minute)
    if rule.kind == "weekly":
        return text(f"fmt.every_weekday.{rule.weekday}", time=hm)
    if rule.kind == "monthly":
        return text("fmt.every_month_day", day=rule.day, time=hm)
    if rule.kind == "yearly":
        return text("fmt.every_year_day", month=rule.month, day=rule.day, time=hm)
    return text(f"fmt.every_{rule.kind}", time=hm)  # daily, workdays, month_end
