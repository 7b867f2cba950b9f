"""Reminders: /remind, /reminders, /cancel, the snooze and done buttons, and their producer.

A reminder keeps only its next due time (`next_at`, UTC) and, when recurring, its rule. On each tick
`produce` takes every reminder that fell due, writes its message to the outbox and moves `next_at`
on, all in one transaction: a restart neither loses nor repeats one. Occurrences missed while the
bot was down are coalesced: the latest one is sent once, marked late, when it is within
`scheduler.misfire_grace`; older ones go into one summary to the chair (or to the reminder's chat
when it belongs to no organisation).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import aiosqlite

from services import fmt
from services.calendar_cn import WorkdayCalendar
from services.clock import Clock
from services.errors import Refusal
from services.outbox import Outgoing, lateness, text
from services.timeparse import Deadline, OneOff, Recurrence, When
from storage import audit, holidays, members, orgs, outbox
from storage import reminders as repo
from storage.db import Database
from storage.models import to_db
from storage.reminders import Reminder

MAX_TEXT = 1000
MAX_ACTIVE_PER_CHAT = 50
SNOOZE = timedelta(minutes=30)
DEADLINE_REMIND_TIME = time(9, 0)

BUTTONS = ((("reminders.button_snooze", "rm:s:{id}"), ("reminders.button_done", "rm:d:{id}")),)


@dataclass(frozen=True)
class Scheduled:
    reminder: Reminder
    rule: Recurrence | None


class ReminderService:
    def __init__(self, db: Database, clock: Clock, tz: ZoneInfo, grace_hours: float,
                 calendar: WorkdayCalendar | None = None) -> None:
        self.db = db
        self.clock = clock
        self.tz = tz
        self.grace = timedelta(hours=grace_hours)
        self.calendar = calendar or WorkdayCalendar()

    def _rule(self, reminder: Reminder) -> Recurrence | None:
        return Recurrence.decode(reminder.rule, self.tz) if reminder.rule else None

    def first_time(self, when: When, now: datetime) -> tuple[datetime, Recurrence | None]:
        """When a new reminder first falls due. A deadline reminds at 09:00 of its day (or at the
        deadline itself when that is sooner than 09:00 is still ahead)."""
        if isinstance(when, Recurrence):
            rule = Recurrence(when.kind, when.hour, when.minute, when.weekday, when.day, when.month, self.tz)
            first = rule.next_after(now, self.calendar)
            if first is None:
                raise Refusal("reminders.no_occurrence")
            return first, rule
        if isinstance(when, Deadline):
            morning = datetime.combine(when.at.astimezone(self.tz).date(), DEADLINE_REMIND_TIME, self.tz)
            return (morning if now < morning < when.at else when.at), None
        assert isinstance(when, OneOff)
        return when.at, None

    async def create(self, user_id: int, org_id: int | None, chat_id: int, when: When, content: str) -> Scheduled:
        content = content.strip()
        if not content:
            raise Refusal("reminders.no_text")
        if len(content) > MAX_TEXT:
            raise Refusal("reminders.too_long", limit=MAX_TEXT)
        now = self.clock.now()
        async with self.db.read() as conn:
            await self._refresh_calendar(conn)
        first, rule = self.first_time(when, now)
        async with self.db.transaction() as conn:
            if len(await repo.active_in_chat(conn, chat_id)) >= MAX_ACTIVE_PER_CHAT:
                raise Refusal("reminders.too_many", limit=MAX_ACTIVE_PER_CHAT)
            rid = await repo.add(conn, org_id, chat_id, user_id, content, rule.encode() if rule else None, first, now)
            await audit.record(conn, org_id, user_id, "reminder.add", now, id=rid, chat=chat_id,
                               at=to_db(first), rule=rule.encode() if rule else None)
            found = await repo.get(conn, rid)
        assert found is not None
        return Scheduled(found, rule)

    async def in_chat(self, chat_id: int) -> list[Scheduled]:
        async with self.db.read() as conn:
            found = await repo.active_in_chat(conn, chat_id)
        return [Scheduled(r, self._rule(r)) for r in found]

    async def _may_change(self, conn: aiosqlite.Connection, reminder: Reminder, user_id: int, is_super: bool) -> bool:
        if reminder.created_by == user_id or is_super or reminder.chat_id == user_id:
            return True
        if reminder.org_id is None:
            return False
        me = await members.find_active(conn, reminder.org_id, user_id=user_id)
        return me is not None and me.is_manager

    async def cancel(self, user_id: int, chat_id: int, reminder_id: int, is_super: bool = False) -> Reminder:
        now = self.clock.now()
        async with self.db.transaction() as conn:
            found = await repo.get(conn, reminder_id)
            if found is None or found.chat_id != chat_id or found.status not in ("active", "fired"):
                raise Refusal("reminders.unknown_id", id=reminder_id)
            if not await self._may_change(conn, found, user_id, is_super):
                raise Refusal("reminders.not_yours")
            await repo.close(conn, reminder_id, "cancelled", now)
            await audit.record(conn, found.org_id, user_id, "reminder.cancel", now, id=reminder_id)
        return found

    async def snooze(self, user_id: int, reminder_id: int, chat_id: int) -> datetime:
        """Remind again in 30 minutes: a one-off copy, so a recurring rule keeps its own times. Only
        from the chat the reminder goes to (the button is a claim: the id is checked against it)."""
        now = self.clock.now()
        async with self.db.transaction() as conn:
            found = await repo.get(conn, reminder_id)
            if found is None or found.status == "cancelled" or found.chat_id != chat_id:
                raise Refusal("reminders.gone")
            at = now + SNOOZE
            rid = await repo.add(conn, found.org_id, found.chat_id, user_id, found.text, None, at, now)
            await audit.record(conn, found.org_id, user_id, "reminder.snooze", now, id=reminder_id, copy=rid)
        return at

    async def done(self, user_id: int, reminder_id: int, chat_id: int) -> Reminder:
        """Mark it done: a one-off that already went out is closed; a recurring one keeps running.
        Only from the chat the reminder goes to."""
        now = self.clock.now()
        async with self.db.transaction() as conn:
            found = await repo.get(conn, reminder_id)
            if found is None or found.chat_id != chat_id:
                raise Refusal("reminders.gone")
            if found.rule is None and found.status in ("active", "fired"):
                await repo.close(conn, reminder_id, "done", now)
            await audit.record(conn, found.org_id, user_id, "reminder.done", now, id=reminder_id)
        return found

    # --- the producer ----------------------------------------------------------------------------

    async def _refresh_calendar(self, conn: aiosqlite.Connection) -> None:
        """The super admins' holiday corrections (/holiday_set) as they are now."""
        self.calendar = WorkdayCalendar.with_days_off(self.calendar.local_days_off, await holidays.overrides(conn))

    async def produce(self, now: datetime) -> None:
        async with self.db.transaction() as conn:
            await self._refresh_calendar(conn)
            stale: dict[tuple[int | None, int], list[Reminder]] = defaultdict(list)
            messages: list[Outgoing] = []
            for reminder in await repo.due(conn, now):
                assert reminder.next_at is not None
                rule = self._rule(reminder)
                due_at = self._latest_occurrence(reminder.next_at, rule, now)
                state = lateness(due_at, now, self.grace)
                if state == "stale":
                    stale[(reminder.org_id, reminder.chat_id)].append(reminder)
                else:
                    messages.append(Outgoing(
                        reminder.chat_id, "reminders.fire",
                        {"text": reminder.text,
                         "late": text("reminders.late_marker", at=self._show(due_at))
                         if state == "late" else "",
                         "repeat_line": text("reminders.repeat_line", repeat=fmt.recurrence(rule)) if rule else ""},
                        buttons=tuple(tuple((k, d.format(id=reminder.id)) for k, d in row) for row in BUTTONS),
                        org_id=reminder.org_id, bot_id=reminder.bot_id,
                        dedupe=f"rem:{reminder.id}:{to_db(due_at)}", due_at=due_at,
                    ))
                if rule is None:
                    await repo.reschedule(conn, reminder.id, None, "fired")
                else:
                    await repo.reschedule(conn, reminder.id, rule.next_after(now, self.calendar), "active")
            for (org_id, chat_id), missed in stale.items():
                messages.append(await self._stale_summary(conn, org_id, chat_id, missed, now))
            await outbox.enqueue(conn, messages, now)

    async def next_due(self, now: datetime) -> datetime | None:
        """When `produce` next has something: the earliest next occurrence of an active reminder."""
        async with self.db.read() as conn:
            return await repo.next_due_at(conn)

    def _latest_occurrence(self, first: datetime, rule: Recurrence | None, now: datetime) -> datetime:
        """The last occurrence at or before `now`: missed repeats of one reminder coalesce into it."""
        latest = first
        for _ in range(10_000):
            following = rule.next_after(latest, self.calendar) if rule else None
            if following is None or following > now:
                break
            latest = following
        return latest

    async def _stale_summary(self, conn: aiosqlite.Connection, org_id: int | None, chat_id: int, missed: list[Reminder],
                             now: datetime) -> Outgoing:
        lines = [text("reminders.stale_line", at=self._show(r.next_at), text=r.text) for r in missed if r.next_at]
        target, fallback = chat_id, None
        if org_id is not None:
            chairs = [m for m in await members.active_in_org(conn, org_id)
                      if m.role == "chair" and m.user_id]
            work = await orgs.chat_of(conn, org_id, "work")
            if chairs and chairs[0].user_id is not None:
                target, fallback = chairs[0].user_id, (work.chat_id if work else None)
        ids = ",".join(str(r.id) for r in missed)
        return Outgoing(target, "reminders.stale_summary", {"count": len(missed), "lines": lines},
                        org_id=org_id, fallback_chat_id=fallback, dedupe=f"rem-stale:{ids}:{to_db(now)}",
                        bot_id=missed[0].bot_id)

    def _show(self, moment: datetime | None) -> fmt.Text | str:
        """The moment as a nested text (rendered in the reader's language at send time)."""
        return fmt.day_time(moment, self.tz) if moment is not None else ""
