"""The duty producer as it was before it worked in batches (issue #15), kept for the scale bench
only: `bench/scale_bench.py` runs it on a copy of the same database at the same moment as the
product's producer, times both and checks that they write the same outbox rows. Per organisation
it awaits its own queries (the rotation, each claim, each check-in, each name and group), one
transaction per organisation, one INSERT per outbox row."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

import aiosqlite

from services import duty_notices
from services.duty import DutyService, Notice
from services.duty_notices import Lookup
from services.outbox import Outgoing
from storage import duty, members, orgs
from storage.models import Member, to_db

Claim = Callable[[aiosqlite.Connection, int, str, str, datetime], Awaitable[bool]]


async def enqueue(conn: aiosqlite.Connection, msgs: Iterable[Outgoing], now: datetime) -> int:
    added = 0
    for msg in msgs:
        cur = await conn.execute(
            "INSERT OR IGNORE INTO outbox(org_id, chat_id, fallback_chat_id, lang, body, dedupe, due_at, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (msg.org_id, msg.chat_id, msg.fallback_chat_id, msg.lang, msg.body(), msg.dedupe,
             to_db(msg.due_at or now), to_db(now)),
        )
        added += cur.rowcount
    return added


class ReferenceDuty(DutyService):
    """DutyService with the per-organisation notice logic it had before `plan`."""

    async def has_claims_due(self, conn: aiosqlite.Connection, org_id: int, now: datetime,
                             current: Any = None) -> bool:
        current = current or await self._rotation(conn, org_id)
        if current is None:
            return False
        wanted: list[str] = []

        async def unclaimed(conn: aiosqlite.Connection, org_id: int, kind: str, ref: str, now: datetime) -> bool:
            if await duty.notice_unclaimed(conn, org_id, kind, ref):
                wanted.append(kind)
            return False

        await self._org_notices(conn, org_id, current, now, claim=unclaimed)
        return bool(wanted)

    async def _org_notices(self, conn: aiosqlite.Connection, org_id: int, current: Any,
                           now: datetime, claim: Claim | None = None) -> list[Notice]:
        claim = claim or duty.claim_notice
        notices: list[Notice] = []
        upcoming = current.upcoming(now, 2)
        shift = current.at(now)
        if shift is not None:
            ref = shift.start.isoformat()
            if await claim(conn, org_id, "handoff", ref, now) and now - shift.start <= self.grace:
                nxt = next((s for s in upcoming if s.start > shift.start), None)
                notes = []
                for member_id, note in await duty.take_handovers(conn, org_id, now):
                    author = await members.get(conn, member_id)
                    notes.append((author.display_name if author else "", note))
                notices.append(Notice("handoff", org_id, shift, current.period, nxt, tuple(notes),
                                      late=now - shift.start > timedelta(minutes=30)))
            if not await duty.checked_in(conn, org_id, shift.start):
                for kind, delay in (("nudge", self.nudge), ("chair_alert", self.chair_alert)):
                    due = shift.start + delay
                    if due <= now < shift.end and await claim(conn, org_id, kind, ref, now):
                        notices.append(Notice(kind, org_id, shift, current.period))
        for nxt in upcoming:
            if nxt.start <= now:
                continue
            eve_day = nxt.start.astimezone(self.tz).date() - timedelta(days=1)
            eve = datetime.combine(eve_day, self.notice_time, self.tz)
            on_eve = now.astimezone(self.tz).date() == eve_day
            if on_eve and eve <= now < nxt.start and await claim(conn, org_id, "eve", nxt.start.isoformat(), now):
                notices.append(Notice("eve", org_id, nxt, current.period))
            break
        return notices


async def notice_messages(conn: aiosqlite.Connection, notice: Notice) -> list[Outgoing]:
    """The old way's reads, per notice (its groups, its people, its chairs), then the same messages."""
    chats: dict[tuple[int, str], int] = {}
    for kind in ("work", "public"):
        bound = await orgs.chat_of(conn, notice.org_id, kind)
        if bound is not None:
            chats[(notice.org_id, kind)] = bound.chat_id
    people: dict[int, Member] = {}
    for shift in (notice.shift, notice.next_shift):
        if shift is not None and shift.member_id is not None:
            found = await members.get(conn, shift.member_id)
            if found is not None:
                people[found.id] = found
    chairs: dict[int, list[Member]] = {}
    if notice.kind == "chair_alert":
        active = await members.active_in_org(conn, notice.org_id)
        chairs[notice.org_id] = [m for m in active if m.role == "chair"]
    return duty_notices.notice_messages(notice, Lookup(chats, people, chairs))


READ_CHUNK = 50  # organisations looked at per read (a reader is not held for the whole tick)


async def produce(service: ReferenceDuty, now: datetime) -> None:
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
            await enqueue(conn, messages, now)
    if wakes:
        async with service.db.transaction() as conn:
            await duty.set_duty_wakes(conn, wakes)
