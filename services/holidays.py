"""The holiday calendar's yearly ageing: super admins add or correct 放假 days and 调休 working days
(stored in `holiday_days`, used over chinese_calendar's data by every WorkdayCalendar), and are
warned from December 1 when next year is not covered (once a year: the outbox's dedupe key)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from services import calendar_cn
from services.clock import Clock, next_local
from services.errors import Refusal
from services.outbox import Outgoing
from services.roster import Actor
from storage import audit, holidays, outbox
from storage.db import Database
from storage.holidays import HolidayDay

WARN_FROM = time(9, 0)  # local: the December warning is not sent at night
MAX_RANGE_DAYS = 31
MAX_NAME = 20
MAX_LINES = 100
_DATE = r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
_LINE = re.compile(rf"^{_DATE}(?:\s*(?:~|～|至|到|—|–)\s*{_DATE})?\s*(\S+?)(?:\s+(.*))?$")
_OFF = {"休", "假", "放假", "休息", "休假", "节假日", "假日", "off"}
_WORK = {"班", "上班", "补班", "工作日", "调休上班", "work"}


@dataclass(frozen=True)
class Parsed:
    entries: list[HolidayDay]
    bad: list[str]  # lines that could not be read, as written


def _date(y: str, m: str, d: str) -> date | None:
    try:
        return date(int(y), int(m), int(d))
    except ValueError:
        return None


def parse(text: str, today: date) -> Parsed:
    """Lines such as `2027-01-01 休 元旦`, `2027-02-14 班 春节调休`, `2027-02-10~2027-02-16 休 春节`
    (pure). Years from last year to five years ahead; ranges up to 31 days; the name is optional."""
    entries: list[HolidayDay] = []
    bad: list[str] = []
    for raw in text.splitlines():
        line = raw.strip().replace("，", " ").replace(",", " ").replace("\t", " ")
        if not line:
            continue
        match = _LINE.match(line)
        if match is None:
            bad.append(raw.strip())
            continue
        g = match.groups()
        first = _date(g[0], g[1], g[2])
        last = _date(g[3], g[4], g[5]) if g[3] else first
        word, name = g[6].lower(), (g[7] or "").strip()
        if word not in _OFF and word not in _WORK:  # 休元旦: the kind word glued to the name
            glued = next((w for w in sorted(_OFF | _WORK, key=len, reverse=True) if word.startswith(w)), None)
            if glued is not None:
                word, name = glued, f"{g[6][len(glued):]} {name}".strip()
        kind = False if word in _OFF else True if word in _WORK else None
        if (first is None or last is None or kind is None or last < first
                or (last - first).days >= MAX_RANGE_DAYS or len(name) > MAX_NAME
                or not today.year - 1 <= first.year <= today.year + 5 or last.year != first.year):
            bad.append(raw.strip())
            continue
        entries.extend(HolidayDay(first + timedelta(days=i), kind, name) for i in range((last - first).days + 1))
    return Parsed(entries, bad)


def parse_day(text: str) -> date | None:
    match = re.fullmatch(_DATE, text.strip())
    return _date(*match.groups()) if match else None


@dataclass(frozen=True)
class YearView:
    year: int
    official: bool  # chinese_calendar knows the year
    entries: list[HolidayDay]


class HolidayService:
    def __init__(self, db: Database, clock: Clock, tz: ZoneInfo, super_admins: frozenset[int]) -> None:
        self.db = db
        self.clock = clock
        self.tz = tz
        self.super_admins = super_admins

    def today(self) -> date:
        return self.clock.now().astimezone(self.tz).date()

    @staticmethod
    def _require_super(actor: Actor) -> None:
        if not actor.is_super_admin:
            raise Refusal("holiday.not_super")

    async def set_days(self, actor: Actor, text: str) -> list[HolidayDay]:
        """Store every line's days (all or nothing); later lines win over earlier ones."""
        self._require_super(actor)
        if not text.strip():
            raise Refusal("holiday.usage")
        if len(text.splitlines()) > MAX_LINES:
            raise Refusal("holiday.too_many", limit=MAX_LINES)
        parsed = parse(text, self.today())
        if parsed.bad:
            raise Refusal("holiday.bad_lines", lines="\n".join(parsed.bad[:5]))
        now = self.clock.now()
        by_day = {e.day: e for e in parsed.entries}
        async with self.db.transaction() as conn:
            for entry in by_day.values():
                await holidays.put(conn, entry, actor.user_id, now)
            await audit.record(conn, None, actor.user_id, "holiday.set", now,
                               days=[(e.day.isoformat(), "班" if e.workday else "休", e.name) for e in by_day.values()])
        return sorted(by_day.values(), key=lambda e: e.day)

    async def delete(self, actor: Actor, text: str) -> HolidayDay:
        self._require_super(actor)
        day = parse_day(text)
        if day is None:
            raise Refusal("holiday.del_usage")
        now = self.clock.now()
        async with self.db.transaction() as conn:
            found = await holidays.get(conn, day)
            if found is None or not await holidays.delete(conn, day):
                raise Refusal("holiday.not_found", day=day.isoformat())
            await audit.record(conn, None, actor.user_id, "holiday.delete", now, day=day.isoformat())
        return found

    async def year_view(self, actor: Actor, year: int | None) -> YearView:
        self._require_super(actor)
        year = year or self.today().year
        async with self.db.read() as conn:
            entries = await holidays.of_year(conn, year)
        return YearView(year, calendar_cn.official_data_covers(year), entries)

    async def next_due(self, now: datetime) -> datetime | None:
        """The next WARN_FROM (local) in December."""
        if not self.super_admins:
            return None
        at = next_local(now, WARN_FROM, self.tz)
        return at if at.month == 12 else datetime.combine(date(at.year, 12, 1), WARN_FROM, self.tz)

    async def produce(self, now: datetime) -> None:
        """From December 1 (09:00 local): next year unknown → each super admin is told, once."""
        local = now.astimezone(self.tz)
        if local.month != 12 or local.time() < WARN_FROM or not self.super_admins:
            return
        async with self.db.read() as conn:
            year = calendar_cn.needs_warning(local.date(), await holidays.overrides(conn))
            if year is None:
                return
            todo = [a for a in sorted(self.super_admins) if not await outbox.is_known(conn, f"holiday-gap:{year}:{a}")]
        if not todo:
            return
        messages = [Outgoing(a, "holiday.gap_warning", {"year": year}, dedupe=f"holiday-gap:{year}:{a}", due_at=now)
                    for a in todo]
        async with self.db.transaction() as conn:
            await outbox.enqueue(conn, messages, now)
