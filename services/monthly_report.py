"""The monthly report (月调度): last month's work of one organisation, and the roll-up across them.

`summary` counts from the bot's own records: duty shifts that started in the month and how many were
checked in, ledger entries by category, tasks closed in the month / open / overdue now, trainings
held and attendance, policy questions answered directly and passed on (answered by a member or
still open). `produce` puts the report of the previous month in each work group's outbox on the
configured day and time (and the roll-up in each super admin's), once: the dedupe key is the month.
A report that could not go out within three days of its day (the bot was down) is left to
/report_month; organisations created after the month get none for it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiosqlite

from services.clock import Clock
from services.duty import LEDGER_CATEGORIES, DutyService
from services.outbox import Outgoing, lateness, text
from storage import duty as duty_repo
from storage import orgs, outbox, tasks, trainings
from storage.db import Database
from storage.models import to_db

LATE_REPORT_LIMIT = timedelta(days=3)


@dataclass(frozen=True)
class MonthSummary:
    org_id: int
    org_name: str
    year: int
    month: int
    shifts: int = 0
    checked_in: int = 0
    ledger: dict[str, int] = field(default_factory=dict)
    tasks_closed: int = 0
    tasks_open: int = 0
    tasks_overdue: int = 0
    trainings_held: int = 0
    attended: int = 0
    expected: int = 0
    asked: int = 0
    answered: int = 0
    passed_on: int = 0
    member_answered: int = 0
    complete: bool = False  # the month is over: open tasks are counted as it ended

    @property
    def checkin_rate(self) -> float | None:
        return self.checked_in / self.shifts if self.shifts else None

    @property
    def attendance_rate(self) -> float | None:
        return self.attended / self.expected if self.expected else None

    @property
    def ledger_total(self) -> int:
        return sum(self.ledger.values())


def previous_month(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{int(rate * 100 + 0.5)}%"  # half up: 12.5 % → 13 %


class MonthlyReportService:
    def __init__(self, db: Database, clock: Clock, tz: ZoneInfo, duty: DutyService, day: int, at: time,
                 super_admins: frozenset[int], grace_hours: float) -> None:
        self.db = db
        self.clock = clock
        self.tz = tz
        self.duty = duty
        self.day = day
        self.at = at
        self.super_admins = super_admins
        self.grace = timedelta(hours=grace_hours)

    async def summary(self, org_id: int, year: int, month: int) -> MonthSummary:
        start, end = self.duty.month_range(year, month)
        now = self.clock.now()
        shifts = checked = 0
        if await self.duty.rotation(org_id) is not None:
            for shift, done in await self.duty.schedule(org_id, year, month):
                if shift.start < now:
                    shifts += 1
                    checked += done
        async with self.db.read() as conn:
            org = await orgs.get(conn, org_id)
            ledger = Counter(e.category for e in await duty_repo.ledger_between(conn, org_id, start, end))
            # Open and overdue as the month ended (today for the current month), not as of today.
            closed, open_now, overdue = await tasks.summary(conn, org_id, start, end, min(end, now))
            # Only trainings that have started: this month's report so far must not count future ones.
            held, attended, expected = await trainings.month_summary(conn, org_id, start, min(end, now))
            asked, answered, passed_on, member_answered = await _faq_counts(conn, org_id, start, end)
        ordered = {c: ledger[c] for c in LEDGER_CATEGORIES if ledger[c]}
        ordered.update({c: n for c, n in ledger.items() if c not in ordered})
        return MonthSummary(org_id, org.name if org else "", year, month, shifts, checked, ordered, closed,
                            open_now, overdue, held, attended, expected, asked, answered, passed_on,
                            member_answered, complete=end <= now)

    async def all_summaries(self, year: int, month: int) -> list[MonthSummary]:
        async with self.db.read() as conn:
            found = await orgs.all_orgs(conn)
        return [await self.summary(o.id, year, month) for o in found]

    def due_month(self, now: datetime) -> tuple[int, int, datetime] | None:
        """The month whose report is due at `now` (the previous one), and when it fell due."""
        local = now.astimezone(self.tz)
        due = datetime.combine(local.date().replace(day=self.day), self.at, self.tz)
        if local < due:
            return None
        year, month = previous_month(local.year, local.month)
        return year, month, due

    async def next_due(self, now: datetime) -> datetime | None:
        """This month's report time if it is still ahead, else next month's."""
        local = now.astimezone(self.tz)
        due = datetime.combine(local.date().replace(day=self.day), self.at, self.tz)
        if local < due:
            return due
        year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
        return datetime.combine(date(year, month, self.day), self.at, self.tz)

    async def produce(self, now: datetime) -> None:
        found = self.due_month(now)
        if found is None:
            return
        year, month, due = found
        if now - due > max(self.grace, LATE_REPORT_LIMIT):
            return  # the bot was not running around the report day: the chair can ask with /report_month
        late = lateness(due, now, self.grace) != "on_time"
        tag = f"{year:04d}-{month:02d}"
        month_end = self.duty.month_range(year, month)[1]
        async with self.db.read() as conn:
            all_orgs = [o for o in await orgs.all_orgs(conn) if o.created_at < month_end]
            works = {o.id: await orgs.chat_of(conn, o.id, "work") for o in all_orgs}
            todo = [o for o in all_orgs if works[o.id] is not None
                    and not await outbox.is_known(conn, f"monthly:{o.id}:{tag}")]
            rollup_todo = [a for a in sorted(self.super_admins)
                           if not await outbox.is_known(conn, f"monthly-rollup:{tag}:{a}")]
        if not todo and not rollup_todo:
            return
        # Each organisation's month is counted once, for its own report and the roll-up alike.
        needed = all_orgs if rollup_todo else todo
        summaries = {o.id: await self.summary(o.id, year, month) for o in needed}
        messages: list[Outgoing] = []
        for org in todo:
            work = works[org.id]
            assert work is not None
            messages.append(Outgoing(work.chat_id, "monthly.monthly", report_params(summaries[org.id], late),
                                     org_id=org.id, dedupe=f"monthly:{org.id}:{tag}", due_at=due))
        if rollup_todo and all_orgs:
            params = rollup_params(list(summaries.values()), year, month)
            messages.extend(Outgoing(admin, "monthly.rollup", params, dedupe=f"monthly-rollup:{tag}:{admin}",
                                     due_at=due) for admin in rollup_todo)
        async with self.db.transaction() as conn:
            await outbox.enqueue(conn, messages, now)


async def _faq_counts(conn: aiosqlite.Connection, org_id: int, start: datetime, end: datetime) -> tuple[int, ...]:
    cur = await conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN decision = 'answer' THEN 1 ELSE 0 END), 0) FROM faq_asked"
        " WHERE org_id = ? AND at >= ? AND at < ?",
        (org_id, to_db(start), to_db(end)),
    )
    asked, answered = await cur.fetchone() or (0, 0)
    cur = await conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN status = 'answered' THEN 1 ELSE 0 END), 0) FROM faq_unanswered"
        " WHERE org_id = ? AND at >= ? AND at < ?",
        (org_id, to_db(start), to_db(end)),
    )
    passed_on, member_answered = await cur.fetchone() or (0, 0)
    return int(asked), int(answered), int(passed_on), int(member_answered)


def report_params(r: MonthSummary, late: bool = False) -> dict[str, Any]:
    categories = [text("monthly.category_line", category=c, count=n) for c, n in r.ledger.items()]
    return {
        "org": r.org_name, "year": r.year, "month": r.month,
        "late": text("monthly.late_marker") if late else "",
        "shifts": r.shifts, "checked": r.checked_in, "checkin_rate": percent(r.checkin_rate),
        "ledger_total": r.ledger_total,
        "categories": categories if categories else [text("monthly.no_entries")],
        "tasks_closed": r.tasks_closed, "tasks_open": r.tasks_open, "tasks_overdue": r.tasks_overdue,
        "open_when": text("monthly.open_at_end" if r.complete else "monthly.open_now"),
        "trainings": r.trainings_held, "attended": r.attended, "expected": r.expected,
        "attendance_rate": percent(r.attendance_rate),
        "asked": r.asked, "answered": r.answered, "passed_on": r.passed_on, "member_answered": r.member_answered,
    }


def rollup_params(summaries: list[MonthSummary], year: int, month: int) -> dict[str, Any]:
    lines = [text("monthly.rollup_line", org=s.org_name, checkin_rate=percent(s.checkin_rate),
                  ledger_total=s.ledger_total, tasks_closed=s.tasks_closed, tasks_overdue=s.tasks_overdue,
                  trainings=s.trainings_held, asked=s.asked)
             for s in summaries]
    shifts = sum(s.shifts for s in summaries)
    checked = sum(s.checked_in for s in summaries)
    return {
        "year": year, "month": month, "orgs": len(summaries), "lines": lines,
        "checkin_rate": percent(checked / shifts if shifts else None),
        "ledger_total": sum(s.ledger_total for s in summaries),
        "tasks_closed": sum(s.tasks_closed for s in summaries),
        "tasks_overdue": sum(s.tasks_overdue for s in summaries),
        "trainings": sum(s.trainings_held for s in summaries),
        "asked": sum(s.asked for s in summaries),
    }
