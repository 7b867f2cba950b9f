"""Dates, times and repeats in the reader's language, for replies built in handlers.

Each helper renders the nested text services/fmt.py builds (keys in handlers/locale/zh_cn/formats.toml),
so a reply and a scheduled message show the same date the same way. The results are safe HTML (`Raw`).
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo

from handlers.i18n import Raw, render_value
from services import fmt
from services.timeparse import Recurrence


def day(lang: str | None, d: date) -> Raw:
    """11月23日"""
    return render_value(lang, fmt.day(d))


def full_day(lang: str | None, d: date) -> Raw:
    """2026年11月23日"""
    return render_value(lang, fmt.full_day(d))


def month(lang: str | None, year: int, mon: int) -> Raw:
    """2026年11月"""
    return render_value(lang, fmt.month(year, mon))


def weekday(lang: str | None, d: date) -> Raw:
    """周一 (zh_tw: 週一)"""
    return render_value(lang, fmt.weekday(d))


def day_time(lang: str | None, moment: datetime, tz: tzinfo) -> Raw:
    """11月23日 09:00"""
    return render_value(lang, fmt.day_time(moment, tz))


def full_day_time(lang: str | None, moment: datetime, tz: tzinfo) -> Raw:
    """2026年11月23日 09:00"""
    return render_value(lang, fmt.full_day_time(moment, tz))


def recurrence(lang: str | None, rule: Recurrence) -> Raw:
    """每周一 09:00 (zh_tw: 每週一 09:00)"""
    return render_value(lang, fmt.recurrence(rule))
