"""Duty notices as outbox messages: the evening-before notice, the handoff digest, the check-in
nudge and the note to the chair. `DutyService._org_notices` decides what fell due and journals it
(`sent_notices`); this producer turns each notice into outbox rows in the SAME transaction, so a
crash can neither lose a claimed notice nor send one twice."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import aiosqlite

from services import fmt
from services.duty import DutyService, Notice
from services.outbox import Outgoing, text
from services.rotation import Shift
from storage import duty, members, orgs, outbox


def shift_range(shift: Shift) -> dict[str, Any]:
    if shift.first_day == shift.last_day:
        return text("duty.range_one", first=fmt.day(shift.first_day))
    return text("duty.range_many", first=fmt.day(shift.first_day), last=fmt.day(shift.last_day))


async def _name(conn: aiosqlite.Connection, member_id: int | None) -> tuple[str, int | None]:
    if member_id is None:
        return "?", None
    found = await members.get(conn, member_id)
    return (found.display_name, found.user_id) if found else ("?", None)


async def notice_messages(conn: aiosqlite.Connection, notice: Notice) -> list[Outgoing]:
    work_chat = await orgs.chat_of(conn, notice.org_id, "work")
    public_chat = await orgs.chat_of(conn, notice.org_id, "public")
    work = work_chat.chat_id if work_chat else None
    public = public_chat.chat_id if public_chat else None
    name, user_id = await _name(conn, notice.shift.member_id)
    span = shift_range(notice.shift)
    label = text(f"periods.{notice.period}_label")
    ref = f"duty:{notice.org_id}:{notice.kind}:{notice.shift.start.isoformat()}"
    out: list[Outgoing] = []

    def to(chat: int | None, key: str, params: dict[str, Any], tag: str, fallback: int | None = None) -> None:
        if chat is not None:
            out.append(Outgoing(chat, key, params, org_id=notice.org_id, fallback_chat_id=fallback,
                                dedupe=f"{ref}:{tag}", due_at=notice.shift.start if notice.kind == "handoff" else None))

    if notice.kind == "eve":
        # The eve notice is for the committee ("请提前做好准备"); the women's group gets one notice a
        # day, at the hand-off, written for them.
        to(work, "notice.eve", {"name": name, "range": span}, "work")
    elif notice.kind == "handoff":
        lines: list[Any] = [text("notice.handoff", label=label, name=name, range=span)]
        if notice.late:
            lines.append(text("notice.handoff_late"))
        if notice.next_shift is not None:
            next_name, _ = await _name(conn, notice.next_shift.member_id)
            lines.append(text("notice.handoff_next", name=next_name, range=shift_range(notice.next_shift)))
        if notice.handovers:
            lines.append(text("notice.handoff_notes"))
            lines.extend(text("notice.handoff_note_line", author=a, text=x) for a, x in notice.handovers)
        to(work, "outbox.lines", {"lines": lines, "late_marked": notice.late}, "work")
        to(public, "notice.public", {"label": label, "name": name}, "public")
    elif notice.kind == "nudge":
        to(user_id if user_id is not None else work, "notice.nudge", {"name": name, "range": span}, "member",
           fallback=work if user_id is not None else None)
    elif notice.kind == "chair_alert":
        chairs = [m for m in await members.active_in_org(conn, notice.org_id) if m.role == "chair" and m.user_id]
        for chair in chairs:
            to(chair.user_id, "notice.chair_alert", {"name": name, "range": span}, f"chair:{chair.id}", fallback=work)
        if not chairs:
            to(work, "notice.chair_alert", {"name": name, "range": span}, "work")
    return out


READ_CHUNK = 50  # organisations looked at per read (a reader is not held for the whole tick)


async def produce(service: DutyService, now: datetime) -> None:
    """Every duty notice that fell due. Only organisations whose stored next wake
    (`orgs.duty_next_at`) has come are looked at, by reads beside the writer (a quiet tick is one
    indexed query and takes no write lock); their notices are journaled and put in the outbox in
    one short transaction per organisation, then their next wakes are stored."""
    if not service.wakes_cleared:  # the notice times in the config may have changed since they were stored
        async with service.db.transaction() as conn:
            await duty.rotation_changed(conn)
        service.wakes_cleared = True
    async with service.db.read() as conn:
        candidates = await duty.orgs_duty_due(conn, now)
    due: list[int] = []
    wakes: list[tuple[int, int, datetime | None]] = []
    for i in range(0, len(candidates), READ_CHUNK):
        async with service.db.read() as conn:
            for org_id, changes in candidates[i:i + READ_CHUNK]:
                current = await service._rotation(conn, org_id)
                if current is not None and await service.has_claims_due(conn, org_id, now, current):
                    due.append(org_id)
                wakes.append((org_id, changes, service.next_wake(current, now) if current is not None else None))
    for org_id in due:
        async with service.db.transaction() as conn:
            current = await service._rotation(conn, org_id)
            if current is None:
                continue
            messages: list[Outgoing] = []
            for notice in await service._org_notices(conn, org_id, current, now):
                messages.extend(await notice_messages(conn, notice))
            await outbox.enqueue(conn, messages, now)
    if wakes:
        async with service.db.transaction() as conn:
            await duty.set_duty_wakes(conn, wakes)


async def next_due(service: DutyService, now: datetime) -> datetime | None:
    """No later than the first moment after `now` at which `produce` may have a notice (it ran at
    `now`): a shift's start or end, its nudge and chair alert, the eve of the next one."""
    found: list[datetime] = []
    async with service.db.read() as conn:
        for org_id in await duty.orgs_with_rotation(conn):
            current = await service._rotation(conn, org_id)
            if current is None:
                continue
            shift = current.at(now)
            if shift is not None:
                found += [shift.end, shift.start + service.nudge, shift.start + service.chair_alert]
            for nxt in current.upcoming(now, 2):
                eve_day = nxt.start.astimezone(service.tz).date() - timedelta(days=1)
                found += [nxt.start, datetime.combine(eve_day, service.notice_time, service.tz)]
    return min((t for t in found if t > now), default=None)
