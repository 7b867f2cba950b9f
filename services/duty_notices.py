"""Duty notices as outbox messages: the evening-before notice, the handoff digest, the check-in
nudge and the note to the chair. `DutyService.plan` decides what fell due; this producer journals it
(`sent_notices`) and turns each notice into outbox rows in the SAME transaction, so a crash can
neither lose a claimed notice nor send one twice."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

import aiosqlite

from services import fmt
from services.duty import DutyService, Notice, Planned, Situation
from services.outbox import Outgoing, text
from services.rotation import Shift
from storage import duty, members, orgs, outbox
from storage.models import Member, to_db


def shift_range(shift: Shift) -> dict[str, Any]:
    if shift.first_day == shift.last_day:
        return text("duty.range_one", first=fmt.day(shift.first_day))
    return text("duty.range_many", first=fmt.day(shift.first_day), last=fmt.day(shift.last_day))


class Person(Protocol):
    """Whom a message names (a roster row, or just its name: storage.members.Named)."""

    @property
    def display_name(self) -> str: ...

    @property
    def user_id(self) -> int | None: ...


@dataclass(frozen=True)
class Lookup:
    """What the messages of a batch of notices name: the groups, the people, the chairs."""

    chats: dict[tuple[int, str], int]
    people: Mapping[int, Person]
    chairs: dict[int, list[Member]]

    def name(self, member_id: int | None) -> tuple[str, int | None]:
        found = self.people.get(member_id) if member_id is not None else None
        return (found.display_name, found.user_id) if found else ("?", None)


def notice_messages(notice: Notice, look: Lookup) -> list[Outgoing]:
    work = look.chats.get((notice.org_id, "work"))
    public = look.chats.get((notice.org_id, "public"))
    name, user_id = look.name(notice.shift.member_id)
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
            next_name, _ = look.name(notice.next_shift.member_id)
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
        chairs = [m for m in look.chairs.get(notice.org_id, []) if m.user_id]
        for chair in chairs:
            to(chair.user_id, "notice.chair_alert", {"name": name, "range": span}, f"chair:{chair.id}", fallback=work)
        if not chairs:
            to(work, "notice.chair_alert", {"name": name, "range": span}, "work")
    return out


# Organisations per batch: a read, then (when something is due) one short transaction. Small enough
# that a command's read waits little for the loop between two awaits (the work here is in Python).
CHUNK = 100


YIELD_EVERY = 25  # organisations worked out between two chances for the loop to run a command


async def _refresh(service: DutyService, conn: aiosqlite.Connection, changes: dict[int, int]) -> None:
    """Read again the rotations whose organisation's change count (read before them) is not the one
    they were kept with (a warm tick reads nothing)."""
    kept = service.kept_rotations
    stale = [org_id for org_id, count in changes.items() if org_id not in kept or kept[org_id][0] != count]
    if stale:
        fresh = await service.rotations(conn, stale)
        for org_id in stale:
            kept[org_id] = (changes[org_id], fresh.get(org_id))


def _stale(service: DutyService, changes: dict[int, int]) -> bool:
    kept = service.kept_rotations
    return any(org_id not in kept or kept[org_id][0] != count for org_id, count in changes.items())


async def _situations(service: DutyService, changes: dict[int, int], now: datetime) -> dict[int, Situation]:
    """The situation of each organisation with a (kept, see `_refresh`) rotation."""
    kept = service.kept_rotations
    found = {}
    for i, org_id in enumerate(changes, 1):
        current = kept[org_id][1]
        if current is not None:
            found[org_id] = service.situation(org_id, current, now)
        if i % YIELD_EVERY == 0:
            await asyncio.sleep(0)
    return found


Evidence = tuple[frozenset[tuple[str, str]], bool]  # an organisation's claims among its refs, checked in


async def _evidence(conn: aiosqlite.Connection, found: dict[int, Situation]) -> dict[int, Evidence]:
    """What `plan` depends on besides the rotation, read in two queries: each organisation's claims
    (kind, ref) among the refs it may ask about, and whether the shift in progress is checked in."""
    org_ids = list(found)
    refs: set[str] = set()
    for s in found.values():
        refs.update(s.upcoming_refs)
    claimed = await duty.claims_among(conn, org_ids, refs)
    starts = {s.shift.start for s in found.values() if s.shift is not None}
    checked = await duty.checked_in_among(conn, org_ids, starts)
    by_org: dict[int, set[tuple[str, str]]] = {}
    for org_id, kind, ref in claimed:
        by_org.setdefault(org_id, set()).add((kind, ref))
    stored = {start: to_db(start) for start in starts}
    none: frozenset[tuple[str, str]] = frozenset()
    return {org_id: (frozenset(by_org[org_id]) if org_id in by_org else none,
                     s.shift is not None and (org_id, stored[s.shift.start]) in checked)
            for org_id, s in found.items()}


def _plans(service: DutyService, found: dict[int, Situation], evidence: dict[int, Evidence],
           now: datetime) -> dict[int, list[Planned]]:
    plans = {}
    for org_id, s in found.items():
        claimed, checked = evidence[org_id]
        planned = service.plan(s, now, claimed, checked)
        if planned:
            plans[org_id] = planned
    return plans


async def _claim(service: DutyService, conn: aiosqlite.Connection, found: dict[int, Situation],
                 changes: dict[int, int], now: datetime) -> list[Outgoing]:
    """Inside the transaction: decide what is due for these organisations, claim it and build the
    outbox messages. The claims and check-ins are read here (what `plan` decides on is what is
    journaled); an organisation whose rotation changed since it was read is left to the next tick
    (its wake stays to be worked out, so that tick comes at once)."""
    stored = await duty.changes_of(conn, list(found))
    if any(stored.get(org_id) != changes[org_id] for org_id in found):
        found = {org_id: s for org_id, s in found.items() if stored.get(org_id) == changes[org_id]}
    plans = _plans(service, found, await _evidence(conn, found), now)
    if not plans:
        return []
    await duty.claim_notices(conn, [(org_id, p.kind, p.ref) for org_id, ps in plans.items() for p in ps], now)
    handing = [org_id for org_id, ps in plans.items() if any(p.kind == "handoff" and p.notice for p in ps)]
    notes = await duty.take_handovers_of(conn, handing, now)
    notices = [p.notice for ps in plans.values() for p in ps if p.notice is not None]
    wanted: set[int] = set()
    for notice in notices:
        wanted.update(m for m in (notice.shift.member_id, notice.next_shift.member_id if notice.next_shift else None)
                      if m is not None)
    wanted.update(m for ns in notes.values() for m, _ in ns)
    people = await members.names_of(conn, wanted)
    org_ids = list(plans)
    look = Lookup(await orgs.chats_of(conn, org_ids), people,
                  await members.chairs_of(conn, sorted({n.org_id for n in notices if n.kind == "chair_alert"})))
    messages: list[Outgoing] = []
    for i, notice in enumerate(notices, 1):
        if i % YIELD_EVERY == 0:
            await asyncio.sleep(0)
        if notice.kind == "handoff" and notes.get(notice.org_id):
            handovers = tuple((people[m].display_name if m in people else "", x) for m, x in notes[notice.org_id])
            notice = replace(notice, handovers=handovers)
        messages.extend(notice_messages(notice, look))
    return messages


async def produce(service: DutyService, now: datetime) -> None:
    """Every duty notice that fell due. Only organisations whose stored next wake
    (`orgs.duty_next_at`) has come are looked at, in batches: their rotations are read (when changed
    since the last tick) beside the writer (a quiet tick is one indexed query and takes no write
    lock) and their shifts worked out; then, in one short transaction per batch, their claims and
    check-ins are read in a few set-based queries, what fell due is decided in Python
    (`DutyService.plan`), journaled and put in the outbox, and the next wakes are stored with it."""
    if not service.wakes_cleared:  # the notice times in the config may have changed since they were stored
        async with service.db.transaction() as conn:
            await duty.rotation_changed(conn)
        service.wakes_cleared = True
    async with service.db.read() as conn:
        candidates = await duty.orgs_duty_due(conn, now)
    for i in range(0, len(candidates), CHUNK):
        chunk = dict(candidates[i:i + CHUNK])
        if _stale(service, chunk):
            async with service.db.read() as conn:
                await _refresh(service, conn, chunk)
        found = await _situations(service, chunk, now)
        wakes = [(org_id, changes, service.wake(found[org_id], now) if org_id in found else None)
                 for org_id, changes in chunk.items()]
        async with service.db.transaction() as conn:
            if found:
                await outbox.enqueue(conn, await _claim(service, conn, found, chunk, now), now)
            await duty.set_duty_wakes(conn, wakes)


async def next_due(service: DutyService, now: datetime) -> datetime | None:
    """No later than the first moment after `now` at which `produce` may have a notice (it ran at
    `now`): the earliest stored wake; `now` when an organisation's wake is still to be worked out."""
    async with service.db.read() as conn:
        return await duty.next_duty_wake(conn, now)
