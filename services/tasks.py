"""Task list use cases (任务清单 · 销号): add a task with a deadline and owners, list, close off with a
note and evidence, overdue tasks, and the reminders that fall due (written to the outbox).

Reminders, all at REMIND_AT local time unless said otherwise:
- `remind_days_before` days before the deadline day (default 3 and 1), to each owner;
- on the deadline day (or at the deadline itself when it is earlier than REMIND_AT), to each owner;
- after the deadline, every day: one digest per owner listing all her overdue tasks, and one digest
  to the work group listing every overdue task with its owners, until the task is closed.
A stage that was already due when the task was created is skipped; after a downtime only the latest
due stage is sent (the dedupe key makes every stage go at most once).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiosqlite

from services import fmt
from services.clock import Clock, next_local
from services.errors import Refusal
from services.outbox import Outgoing, text
from services.roster import Actor, require_manager
from storage import audit, members, orgs, outbox, tasks
from storage.db import Database
from storage.models import Member
from storage.tasks import Task

REMIND_AT = time(9, 0)
MAX_TITLE = 200
MAX_NOTE = 1000
MAX_OWNERS = 20
RECENTLY_CLOSED_DAYS = 30
SAME_TASK_WINDOW = timedelta(minutes=10)  # the same task this soon is a retry
DAY_STAGE_SLACK = timedelta(hours=1)  # a reminder at the deadline itself may still go this late


@dataclass(frozen=True)
class Stage:
    label: str  # "before:<n>" or "day"
    due: datetime
    days: int  # n for before:<n>, 0 for the day itself


def stages(deadline: datetime, created_at: datetime, tz: ZoneInfo, days_before: tuple[int, ...]) -> list[Stage]:
    """The reminder stages of a task, in time order, leaving out those due before it was created."""
    day = deadline.astimezone(tz).date()
    found = [
        Stage(f"before:{n}", datetime.combine(day - timedelta(days=n), REMIND_AT, tz), n)
        for n in sorted(set(days_before), reverse=True)
        if n > 0
    ]
    found.append(Stage("day", min(datetime.combine(day, REMIND_AT, tz), deadline), 0))
    return [s for s in found if s.due > created_at]


def current_stage(task: Task, now: datetime, tz: ZoneInfo, days_before: tuple[int, ...]) -> Stage | None:
    """The latest stage due at `now`, unless the task is overdue by then (the digest takes over)."""
    due = [s for s in stages(task.deadline, task.created_at, tz, days_before) if s.due <= now]
    if not due:
        return None
    latest = due[-1]
    if now < task.deadline:
        return latest
    if latest.due == task.deadline and now - task.deadline < DAY_STAGE_SLACK:
        return latest
    return None


def when_params(moment: datetime, tz: ZoneInfo, now: datetime) -> tuple[str, dict[str, Any]]:
    """The locale key and parameters that show a deadline (the year only when it is not this year)."""
    local = moment.astimezone(tz)
    params: dict[str, Any] = {
        "year": local.year, "month": local.month, "day": local.day,
        "weekday": fmt.weekday(local.date()), "hm": local.strftime("%H:%M"),
    }
    key = "tasks.when" if local.year == now.astimezone(tz).year else "tasks.when_year"
    return key, params


def days_overdue(deadline: datetime, now: datetime, tz: ZoneInfo) -> int:
    """Calendar days since the deadline day (0: the deadline passed earlier today)."""
    return (now.astimezone(tz).date() - deadline.astimezone(tz).date()).days


def days_left(deadline: datetime, now: datetime, tz: ZoneInfo) -> int:
    return (deadline.astimezone(tz).date() - now.astimezone(tz).date()).days


class TaskService:
    def __init__(self, db: Database, clock: Clock, tz: ZoneInfo, remind_days_before: tuple[int, ...] = (3, 1)) -> None:
        self.db = db
        self.clock = clock
        self.tz = tz
        self.remind_days_before = tuple(remind_days_before)

    # --- use cases -----------------------------------------------------------------------------

    async def add(self, actor: Actor, org_id: int, deadline: datetime, title: str, owner_ids: list[int],
                  again: bool = False) -> Task:
        """A new task. The same task (title, deadline and owners) from the same person within
        SAME_TASK_WINDOW is refused ("tasks.already": a retry after a reply that did not arrive) unless
        `again`; the same title for other owners or another deadline is a new task."""
        title = " ".join(title.split())
        if not title:
            raise Refusal("tasks.add_usage")
        if len(title) > MAX_TITLE:
            raise Refusal("common.too_long", limit=MAX_TITLE)
        if len(set(owner_ids)) > MAX_OWNERS:
            raise Refusal("tasks.too_many_owners", limit=MAX_OWNERS)
        now = self.clock.now()
        if deadline <= now:
            raise Refusal("tasks.past")
        async with self.db.transaction() as conn:
            me = await require_manager(conn, actor, org_id)
            if not owner_ids:
                if me is None:
                    raise Refusal("tasks.need_owner")
                owner_ids = [me.id]
            if not again:
                same = await tasks.recent_same(conn, org_id, title, actor.user_id, now - SAME_TASK_WINDOW)
                prior = await tasks.get(conn, org_id, same) if same is not None else None
                if prior is not None and prior.deadline == deadline and set(prior.owner_ids) == set(owner_ids):
                    raise Refusal("tasks.already", id=prior.id)
            for member_id in owner_ids:
                found = await members.get(conn, member_id)
                if found is None or found.org_id != org_id or not found.active:
                    raise Refusal("tasks.unknown_owner", who=found.display_name if found else str(member_id))
            task = await tasks.add(conn, org_id, title, deadline, owner_ids, actor.user_id, now)
            await audit.record(conn, org_id, actor.user_id, "task.add", now, id=task.id, title=title,
                               deadline=deadline.isoformat(), owners=list(task.owner_ids))
            # Each owner's 📌 note is written with the task: if it is stored, she will be told.
            owners = await members.by_ids(conn, set(task.owner_ids))
            await outbox.enqueue(conn, [
                Outgoing(m.user_id, "tasks.assigned", self._assigned_params(m.display_name, task, now),
                         org_id=org_id, dedupe=f"task-assigned:{task.id}:{m.id}")
                for m in owners.values() if m.user_id is not None and m.user_id != actor.user_id
            ], now)
        return task

    def _assigned_params(self, name: str, task: Task, now: datetime) -> dict[str, Any]:
        key, params = when_params(task.deadline, self.tz, now)
        left = days_left(task.deadline, now, self.tz)
        status = (text("tasks.left_today") if left <= 0 else text("tasks.left_tomorrow") if left == 1
                  else text("tasks.left_days", days=left))
        return {"name": name, "id": task.id, "title": task.title, "deadline": text(key, **params), "left": status}

    async def add_again(self, actor: Actor, org_id: int, task_id: int) -> Task:
        """再布置一个: a copy of a task she just set (only by the one who set it)."""
        async with self.db.read() as conn:
            found = await tasks.get(conn, org_id, task_id)
        if found is None or found.created_by != actor.user_id:
            raise Refusal("tasks.again_gone")
        return await self.add(actor, org_id, found.deadline, found.title, list(found.owner_ids), again=True)

    async def close(self, actor: Actor, org_id: int, task_id: int, note: str, file_id: str | None,
                    file_kind: str | None, here: int | None = None) -> Task:
        note = note.strip()
        if len(note) > MAX_NOTE:
            raise Refusal("common.too_long", limit=MAX_NOTE)
        now = self.clock.now()
        async with self.db.transaction() as conn:
            task = await tasks.get(conn, org_id, task_id)
            if task is None:
                raise Refusal("tasks.not_found", id=task_id)
            me = await members.find_active(conn, org_id, user_id=actor.user_id)
            allowed = actor.is_super_admin or (me is not None and (me.is_manager or me.id in task.owner_ids))
            if task.closed_at is not None:
                who = await tasks.person_name(conn, org_id, task.closed_by) if task.closed_by else None
                raise Refusal("tasks.already_closed", id=task_id, who=who or "?", at=task.closed_at)
            if not allowed:
                raise Refusal("tasks.not_owner", id=task_id)
            await tasks.close(conn, task_id, actor.user_id, now, note or None, file_id, file_kind)
            await audit.record(conn, org_id, actor.user_id, "task.done", now, id=task_id, note=note,
                               file_kind=file_kind, late=now > task.deadline)
            closed = await tasks.get(conn, org_id, task_id)
            assert closed is not None
            # The managers hear of it in the work group with the close itself (unless it was done there).
            work = await orgs.chat_of(conn, org_id, "work")
            if work is not None and work.chat_id != here:
                who = await tasks.person_name(conn, org_id, actor.user_id) or str(actor.user_id)
                params = {"id": task_id, "title": closed.title, "who": who, "when": fmt.day_time(now, self.tz),
                          "note": text("tasks.done_note", note=closed.note) if closed.note else ""}
                await outbox.enqueue(conn, [Outgoing(work.chat_id, "tasks.done_group", params, org_id=org_id)], now)
        return closed

    # --- reading -------------------------------------------------------------------------------

    async def get(self, org_id: int, task_id: int) -> Task:
        async with self.db.read() as conn:
            found = await tasks.get(conn, org_id, task_id)
        if found is None:
            raise Refusal("tasks.not_found", id=task_id)
        return found

    async def open_tasks(self, org_id: int) -> list[Task]:
        async with self.db.read() as conn:
            return await tasks.open_tasks(conn, org_id)

    async def recently_closed(self, org_id: int, days: int = RECENTLY_CLOSED_DAYS) -> list[Task]:
        async with self.db.read() as conn:
            return await tasks.closed_since(conn, org_id, self.clock.now() - timedelta(days=days))

    async def overdue(self, org_id: int) -> list[Task]:
        now = self.clock.now()
        return [t for t in await self.open_tasks(org_id) if t.deadline < now]

    async def owners(self, member_ids: set[int]) -> dict[int, Member]:
        async with self.db.read() as conn:
            return await members.by_ids(conn, member_ids)

    async def person_names(self, org_id: int, user_ids: set[int]) -> dict[int, str]:
        async with self.db.read() as conn:
            found = {}
            for user_id in user_ids:
                name = await tasks.person_name(conn, org_id, user_id)
                found[user_id] = name or str(user_id)
        return found

    # --- reminders (a producer run on every tick) ----------------------------------------------

    async def next_due(self, now: datetime) -> datetime | None:
        """No later than the next reminder stage or deadline of an open task, or the next morning's
        overdue digest."""
        async with self.db.read() as conn:
            if not await tasks.any_open(conn):
                return None
            # A task due later than this has every stage after the next digest (the producer's window).
            until = now + timedelta(days=max(self.remind_days_before, default=0) + 2)
            near = await tasks.open_tasks_due(conn, until, now)
        found = [next_local(now, REMIND_AT, self.tz)]
        for task in near:
            found.append(task.deadline)
            found.extend(s.due for s in stages(task.deadline, task.created_at, self.tz, self.remind_days_before))
        return min(t for t in found if t > now)

    async def produce(self, now: datetime) -> None:
        """Read beside the writer, then one short transaction only when something is new. Only
        tasks that may have something due are read: a reminder stage (the deadline within the
        reminder days) or, from the digest time on, the overdue ones."""
        digest_open = now >= datetime.combine(now.astimezone(self.tz).date(), REMIND_AT, self.tz)
        until = now + timedelta(days=max(self.remind_days_before, default=0) + 2)
        msgs: list[Outgoing] = []
        async with self.db.read() as conn:
            by_org: dict[int, list[Task]] = {}
            for task in await tasks.open_tasks_due(conn, until, None if digest_open else now - DAY_STAGE_SLACK):
                by_org.setdefault(task.org_id, []).append(task)
            for org_id, org_tasks in by_org.items():
                msgs.extend(await self._org_messages(conn, org_id, org_tasks, now))
            seen = await outbox.known(conn, [m.dedupe for m in msgs if m.dedupe])
        msgs = [m for m in msgs if m.dedupe not in seen]
        if msgs:
            async with self.db.transaction() as conn:
                await outbox.enqueue(conn, msgs, now)

    async def _org_messages(self, conn: aiosqlite.Connection, org_id: int, org_tasks: list[Task],
                            now: datetime) -> list[Outgoing]:
        work = await orgs.chat_of(conn, org_id, "work")
        work_chat = work.chat_id if work else None
        people: dict[int, Member] = {}
        for task in org_tasks:
            for member_id in task.owner_ids:
                if member_id not in people:
                    found = await members.get(conn, member_id)
                    if found is not None:
                        people[member_id] = found
        msgs: list[Outgoing] = []
        for task in org_tasks:
            stage = current_stage(task, now, self.tz, self.remind_days_before)
            if stage is None:
                continue
            key, params = when_params(task.deadline, self.tz, now)
            for member_id in task.owner_ids:
                owner = people.get(member_id)
                if owner is None or not owner.active:
                    continue
                chat = owner.user_id or work_chat
                if chat is None:
                    continue
                msgs.append(Outgoing(
                    chat_id=chat, key="tasks.remind_day" if stage.label == "day" else "tasks.remind_before",
                    params={"name": owner.display_name, "id": task.id, "title": task.title,
                            "deadline": text(key, **params), "days": stage.days},
                    org_id=org_id, dedupe=f"task:{task.id}:{stage.label}:{member_id}",
                    fallback_chat_id=work_chat if chat != work_chat else None, due_at=stage.due,
                ))
        chairs = [] if work_chat is not None else [
            m for m in await members.active_in_org(conn, org_id) if m.role == "chair"]
        msgs.extend(self._digests(org_id, org_tasks, people, work_chat, chairs, now))
        return msgs

    def _digests(self, org_id: int, org_tasks: list[Task], people: dict[int, Member], work_chat: int | None,
                 chairs: list[Member], now: datetime) -> list[Outgoing]:
        local = now.astimezone(self.tz)
        digest_at = datetime.combine(local.date(), REMIND_AT, self.tz)
        if now < digest_at:
            return []
        late = [t for t in org_tasks if t.deadline < digest_at]
        if not late:
            return []
        day = local.date().isoformat()

        def line(task: Task, with_owners: bool) -> dict[str, Any]:
            key, params = when_params(task.deadline, self.tz, now)
            days = days_overdue(task.deadline, digest_at, self.tz)
            owners = "、".join(people[m].display_name for m in task.owner_ids if m in people)
            return text("tasks.overdue_line_owners" if with_owners else "tasks.overdue_line",
                        id=task.id, title=task.title, deadline=text(key, **params),
                        late=text("tasks.late_days", days=days) if days > 0 else text("tasks.late_today"),
                        owners=owners)

        msgs: list[Outgoing] = []
        mine: dict[int, list[Task]] = {}
        for task in late:
            for member_id in task.owner_ids:
                mine.setdefault(member_id, []).append(task)
        for member_id, owned in mine.items():
            owner = people.get(member_id)
            if owner is None or not owner.active or owner.user_id is None:
                continue  # the work group digest names her
            msgs.append(Outgoing(
                chat_id=owner.user_id, key="tasks.overdue_owner",
                params={"name": owner.display_name, "count": len(owned), "lines": [line(t, False) for t in owned]},
                org_id=org_id, dedupe=f"overdue:{org_id}:{day}:{member_id}", fallback_chat_id=work_chat,
                due_at=digest_at,
            ))
        group = {"count": len(late), "lines": [line(t, True) for t in late]}
        if work_chat is not None:
            msgs.append(Outgoing(chat_id=work_chat, key="tasks.overdue_group", params=group, org_id=org_id,
                                 dedupe=f"overdue:{org_id}:{day}:group", due_at=digest_at))
        else:  # no work group bound: the chairs get it privately
            for chair in chairs:
                if chair.user_id is not None:
                    msgs.append(Outgoing(chat_id=chair.user_id, key="tasks.overdue_group", params=group,
                                         org_id=org_id, dedupe=f"overdue:{org_id}:{day}:chair:{chair.id}",
                                         due_at=digest_at))
        return msgs
