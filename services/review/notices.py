"""述职考评 messages through the outbox: the report requests and the group's announcement at the
start, the result notices at the close, and the producer (run on every tick) for the report
reminders before the deadline and the note to the chair once it has passed."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import aiosqlite

from services.outbox import Outgoing, text
from services.review.common import ReviewContext, active_participants
from storage import orgs, outbox, reviews
from storage.models import Member
from storage.reviews import Cycle


async def work_chat(conn: aiosqlite.Connection, org_id: int) -> int | None:
    work = await orgs.chat_of(conn, org_id, "work")
    return work.chat_id if work else None


def cycle_params(ctx: ReviewContext, cycle: Cycle) -> dict[str, Any]:
    link = f"https://t.me/{cycle.bot_username}?start=review_{cycle.org_id}" if cycle.bot_username else ""
    return {"cycle": cycle.name, "deadline": ctx.local(cycle.deadline),
            "link_line": text("review.link_line", link=link) if link else ""}


def to_member(member: Member, work_id: int | None, key: str, dedupe: str, due: datetime, org_id: int,
              params: dict[str, Any]) -> Outgoing | None:
    """To her private chat (the work group if she can't be reached), or to the group if she has no account."""
    if member.user_id is not None:
        return Outgoing(member.user_id, key, params, org_id=org_id, dedupe=dedupe, fallback_chat_id=work_id,
                        due_at=due)
    if work_id is not None:
        return Outgoing(work_id, key, params, org_id=org_id, dedupe=dedupe, due_at=due)
    return None


async def _enqueue(conn: aiosqlite.Connection, msgs: Iterable[Outgoing | None], now: datetime) -> None:
    await outbox.enqueue(conn, [m for m in msgs if m is not None], now)


async def enqueue_started(ctx: ReviewContext, conn: aiosqlite.Connection, cycle: Cycle, people: list[Member],
                          now: datetime) -> None:
    """Each member's request for her report, and the announcement in the work group."""
    work_id = await work_chat(conn, cycle.org_id)
    params = cycle_params(ctx, cycle)
    msgs = [to_member(m, work_id, "review.request_report", f"review:{cycle.id}:request:{m.id}", now,
                      cycle.org_id, {**params, "name": m.display_name})
            for m in people]
    if work_id is not None:
        msgs.append(Outgoing(work_id, "review.announce", {**params, "count": len(people)}, org_id=cycle.org_id,
                             dedupe=f"review:{cycle.id}:announce", due_at=now))
    await _enqueue(conn, msgs, now)


async def enqueue_closed(conn: aiosqlite.Connection, cycle: Cycle, people: list[Member], now: datetime) -> None:
    """Each member's notice that her result is ready."""
    work_id = await work_chat(conn, cycle.org_id)
    await _enqueue(conn, [to_member(m, work_id, "review.closed_notice", f"review:{cycle.id}:closed:{m.id}", now,
                                    cycle.org_id, {"cycle": cycle.name, "name": m.display_name})
                          for m in people], now)


class Notices:
    """The producer run on every tick (registered in Services.producers, its wake-up in Services.wakeups)."""

    def __init__(self, ctx: ReviewContext) -> None:
        self.ctx = ctx

    async def next_due(self, now: datetime) -> datetime | None:
        """The next report reminder or deadline of an open cycle."""
        async with self.ctx.db.read() as conn:
            cycles = await reviews.all_open(conn)
        found = [c.deadline - timedelta(days=d) for c in cycles for d in (0, *self.ctx.config.reminder_days)]
        return min((t for t in found if t > now), default=None)

    async def produce(self, now: datetime) -> None:
        async with self.ctx.db.transaction() as conn:
            for cycle in await reviews.all_open(conn):
                await self._produce_cycle(conn, cycle, now)

    async def _produce_cycle(self, conn: aiosqlite.Connection, cycle: Cycle, now: datetime) -> None:
        work_id = await work_chat(conn, cycle.org_id)
        people = await active_participants(conn, cycle)
        reports = await reviews.reports(conn, cycle.id)
        params = cycle_params(self.ctx, cycle)
        msgs: list[Outgoing | None] = []
        for days in sorted(set(self.ctx.config.reminder_days), reverse=True):
            due = cycle.deadline - timedelta(days=days)
            if not (cycle.created_at <= due <= now < cycle.deadline):
                continue
            for m in people:
                if m.id not in reports:
                    msgs.append(to_member(m, work_id, "review.remind_report",
                                          f"review:{cycle.id}:remind:{days}:{m.id}", due, cycle.org_id,
                                          {**params, "name": m.display_name, "days": days}))
        if now >= cycle.deadline:
            chairs = [m for m in people if m.role == "chair"]
            counts = {"cycle": cycle.name, "reports": sum(1 for m in people if m.id in reports), "count": len(people)}
            for chair in chairs:
                msgs.append(to_member(chair, work_id, "review.deadline_passed",
                                      f"review:{cycle.id}:deadline:{chair.id}", cycle.deadline, cycle.org_id,
                                      counts))
        await _enqueue(conn, msgs, now)
