"""Duty use cases: set the rotation, who is on duty, leave, swaps, assignments, check-in, the duty
ledger, hand-over notes, and the notices that fall due (computed here; services/duty_notices.py
turns them into outbox messages).

The rotation itself is computed by the pure engine in services/rotation.py from what is stored:
versions (never rewritten) and overrides on top. Every change is one transaction with its audit row.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import aiosqlite

from services import fmt, rotation
from services.calendar_cn import WorkdayCalendar
from services.clean import simplified
from services.clock import Clock
from services.errors import Refusal
from services.fmt import Text
from services.outbox import Outgoing, text
from services.roster import Actor, require_manager
from services.rotation import Override, RotationVersion, Shift
from storage import audit, duty, holidays, members, orgs, outbox
from storage.db import Database
from storage.duty import RotaFlow as RotaFlow
from storage.models import Member, to_db

SAME_ENTRY_WINDOW = timedelta(minutes=10)  # a repeat this soon is a retry, not a second visit
LEDGER_CATEGORIES = ("接待", "求助", "走访", "调解", "风险", "宣传", "活动", "其他")
MAX_TEXT = 2000
MAX_ROTA = 60
FLOW_KEPT = timedelta(days=1)  # a /rota_set wizard untouched this long is over
SHIFTS_AHEAD = 4  # shifts worked out at once by the duty producer (see DutyService.situation)


@dataclass(frozen=True)
class Rotation:
    versions: list[RotationVersion]
    overrides: list[Override]
    calendar: WorkdayCalendar

    def at(self, t: datetime) -> Shift | None:
        return rotation.shift_at(self.versions, self.overrides, t, self.calendar)

    def upcoming(self, t: datetime, n: int) -> list[Shift]:
        return rotation.next_shifts(self.versions, self.overrides, t, n, self.calendar)

    def at_and_next(self, t: datetime, n: int) -> tuple[Shift | None, list[Shift]]:
        return rotation.at_and_next(self.versions, self.overrides, t, n, self.calendar)

    def covering(self, day: date) -> Shift | None:
        return rotation.shift_covering_day(self.versions, self.overrides, day, self.calendar)

    @property
    def period(self) -> str:
        return self.versions[-1].period


@dataclass(frozen=True)
class Notice:
    """Something the duty ticker decided to send (already journaled: it is sent at most once)."""

    kind: str  # eve | handoff | nudge | chair_alert
    org_id: int
    shift: Shift
    period: str
    next_shift: Shift | None = None
    handovers: tuple[tuple[str, str], ...] = ()  # (author name, text)
    late: bool = False


def span(shift: Shift) -> Text:
    """A shift's days as a nested text (rendered in the reader's language when sent)."""
    if shift.first_day == shift.last_day:
        return text("duty.range_one", first=fmt.day(shift.first_day))
    return text("duty.range_many", first=fmt.day(shift.first_day), last=fmt.day(shift.last_day))


class DutyService:
    def __init__(self, db: Database, clock: Clock, tz: ZoneInfo, handoff: time,
                 notice_time: time, nudge_hours: float, chair_alert_hours: float, grace_hours: float) -> None:
        self.db = db
        self.clock = clock
        self.tz = tz
        self.default_handoff = handoff
        self.notice_time = notice_time
        self.nudge = timedelta(hours=nudge_hours)
        self.chair_alert = timedelta(hours=chair_alert_hours)
        self.wakes_cleared = False  # the duty producer works every wake out again once per process
        # The duty producer's rotations between ticks: org id → (orgs.duty_changes it was read at, rotation).
        self.kept_rotations: dict[int, tuple[int, Rotation | None]] = {}
        # see `situation`: org id → (rotation, a run of its shifts, their refs, the situations made of them)
        self._shifts: dict[int, tuple[Rotation, list[Shift], list[str], list[Situation | None]]] = {}
        self._eves: dict[datetime, tuple[date, datetime]] = {}  # a shift's start → its eve's day and notice time
        self._today: tuple[datetime, date] | None = None  # the last `now` asked and its local date
        self.grace = timedelta(hours=grace_hours)

    def today(self) -> date:
        return self.clock.now().astimezone(self.tz).date()

    # --- loading -------------------------------------------------------------------------------

    async def _rotation(self, conn: aiosqlite.Connection, org_id: int) -> Rotation | None:
        rows = await duty.versions(conn, org_id)
        if not rows:
            return None
        versions = [
            RotationVersion(r.effective_from, r.member_ids, r.period, r.anchor, self.tz, r.handoff,  # type: ignore[arg-type]
                            r.skip_non_working)
            for r in rows
        ]
        overrides = [
            Override(o.id, o.kind, o.member_id, o.first_day, o.last_day, o.replacement_id, o.created_at)  # type: ignore[arg-type]
            for o in await duty.overrides(conn, org_id)
        ]
        calendar = WorkdayCalendar.with_days_off(await duty.days_off(conn, org_id), await holidays.overrides(conn))
        return Rotation(versions, overrides, calendar)

    async def rotation(self, org_id: int) -> Rotation | None:
        async with self.db.read() as conn:
            return await self._rotation(conn, org_id)

    async def _need_rotation(self, conn: aiosqlite.Connection, org_id: int) -> Rotation:
        found = await self._rotation(conn, org_id)
        if found is None:
            raise Refusal("duty.no_rotation")
        return found

    async def names(self, member_ids: set[int]) -> dict[int, Member]:
        async with self.db.read() as conn:
            return await members.by_ids(conn, member_ids)

    # --- the /rota_set wizard, kept in the database (a restart in the middle loses nothing) ------

    async def flows_in_chat(self, chat_id: int) -> list[RotaFlow]:
        """The wizards in progress in a chat (each person's own)."""
        async with self.db.read() as conn:
            return await duty.flows_in_chat(conn, chat_id, self.clock.now() - FLOW_KEPT)

    async def save_flow(self, flow: RotaFlow) -> None:
        async with self.db.transaction() as conn:
            await duty.save_flow(conn, flow, self.clock.now())

    async def end_flow(self, chat_id: int, user_id: int) -> None:
        async with self.db.transaction() as conn:
            await duty.end_flow(conn, chat_id, user_id)

    # --- the rotation --------------------------------------------------------------------------

    async def set_rotation(
        self, actor: Actor, org_id: int, period: str, anchor: date, member_ids: list[int],
        handoff: time | None, skip_non_working: bool,
    ) -> tuple[Rotation, bool]:
        """A new version effective now; returns the rotation and whether the holiday data falls back."""
        if not member_ids:
            raise Refusal("rota_set.usage")
        if len(set(member_ids)) != len(member_ids):
            raise Refusal("rota_set.duplicate")
        now = self.clock.now()
        row = duty.VersionRow(tuple(member_ids), period, anchor, handoff or self.default_handoff,
                              skip_non_working and period == "day", now)
        async with self.db.transaction() as conn:
            await require_manager(conn, actor, org_id)
            for member_id in member_ids:
                m = await members.get(conn, member_id)
                if m is None or m.org_id != org_id or not m.active:
                    raise Refusal("duty.not_in_roster")
            await duty.add_version(conn, org_id, row, actor.user_id, now)
            await audit.record(conn, org_id, actor.user_id, "duty.rota_set", now, period=period,
                               anchor=anchor, members=member_ids, handoff=row.handoff, skip=row.skip_non_working)
            found = await self._need_rotation(conn, org_id)
        fallback = row.skip_non_working and found.calendar.uses_fallback(anchor + timedelta(days=60))
        return found, fallback

    async def member_removed(self, org_id: int, member_id: int, actor_id: int) -> bool:
        """Drop a removed member from future shifts (a new version without her)."""
        async with self.db.transaction() as conn:
            return await self.drop_from_rotation(conn, org_id, member_id, actor_id, self.clock.now())

    async def drop_from_rotation(
        self, conn: aiosqlite.Connection, org_id: int, member_id: int, actor_id: int | None, now: datetime
    ) -> bool:
        """member_removed inside the caller's transaction (used by /forget too)."""
        rows = await duty.versions(conn, org_id)
        if not rows or member_id not in rows[-1].member_ids:
            return False
        last = rows[-1]
        remaining = tuple(m for m in last.member_ids if m != member_id)
        if not remaining:
            return False
        current = await self._need_rotation(conn, org_id)
        shift = current.at(now)
        # Keep the cycle's phase: anchor the new order so the next shift goes to the member
        # after the current one.
        anchor = shift.end.astimezone(self.tz).date() if shift else last.anchor
        await duty.add_version(
            conn, org_id,
            duty.VersionRow(_rotated_after(remaining, last.member_ids, shift.base_member_id if shift else None),
                            last.period, anchor, last.handoff, last.skip_non_working, now),
            actor_id, now,
        )
        await audit.record(conn, org_id, actor_id, "duty.member_removed", now, member_id=member_id)
        return True

    async def add_day_off(self, actor: Actor, org_id: int, day: date) -> bool:
        """Record a local day off → whether the rotation in effect that day skips it (a daily one that
        skips non-working days); else it is kept for later, with no effect on today's rotation."""
        now = self.clock.now()
        async with self.db.transaction() as conn:
            await require_manager(conn, actor, org_id)
            if day <= self.today():
                raise Refusal("dayoff.past")  # it would reshuffle past shifts and the one in progress
            await duty.add_day_off(conn, org_id, day)
            await audit.record(conn, org_id, actor.user_id, "duty.day_off", now, day=day)
            current = await self._rotation(conn, org_id)
        start = datetime.combine(day, time(12), self.tz)
        in_effect = [v for v in current.versions if v.effective_from <= start] if current is not None else []
        version = in_effect[-1] if in_effect else (current.versions[0] if current and current.versions else None)
        return version is not None and version.period == "day" and version.skip_non_working

    # --- overrides -----------------------------------------------------------------------------

    async def leave(self, member: Member, first: date, last: date, reason: str) -> list[tuple[Shift, Shift]]:
        """Mark her unavailable; returns (before, after) for every shift that changed hands."""
        if first < self.today():
            raise Refusal("leave.past")
        if (last - first).days > 366:
            raise Refusal("leave.too_long")
        now = self.clock.now()
        async with self.db.transaction() as conn:
            before = await self._need_rotation(conn, member.org_id)
            start = datetime.combine(first, time(0), self.tz) - timedelta(days=40)
            end = datetime.combine(last + timedelta(days=1), time(0), self.tz)
            old = [s for s in rotation.shifts_between(before.versions, before.overrides, start, end, before.calendar)
                   if s.last_day >= first and s.first_day <= last and s.end > now]
            row = duty.OverrideRow(0, "leave", member.id, first, last, None, now)
            await duty.add_override(conn, member.org_id, row, reason[:200], member.user_id)
            await audit.record(conn, member.org_id, member.user_id, "duty.leave", now, member_id=member.id,
                               first=first, last=last, reason=reason[:200])
            after = await self._need_rotation(conn, member.org_id)
            changed = []
            for shift in old:
                new = after.covering(shift.first_day)
                if new is not None and new.member_id != shift.member_id:
                    changed.append((shift, new))
            # Each replacement is told in the same transaction: if the leave is stored, she will know.
            people = await members.by_ids(conn, {new.member_id for _, new in changed if not new.unresolved})
            await outbox.enqueue(conn, [
                Outgoing(p.user_id, "leave.notify_replacement", {"who": member.display_name, "range": span(new)},
                         org_id=member.org_id)
                for _, new in changed if not new.unresolved
                if (p := people.get(new.member_id)) is not None and p.user_id is not None
            ], now)
        return changed

    async def request_swap(self, requester: Member, target: Member, day: date,
                           here: int | None = None) -> tuple[duty.SwapRequest, Shift]:
        """Ask `target` to take her shift covering `day`: the request with its 同意/拒绝 buttons is
        written to the outbox with the request itself, into the work group (else `here`)."""
        if target.id == requester.id:
            raise Refusal("swap.self")
        now = self.clock.now()
        async with self.db.transaction() as conn:
            current = await self._need_rotation(conn, requester.org_id)
            shift = current.covering(day)
            if shift is None or shift.end <= now:
                raise Refusal("swap.past")
            if shift.member_id != requester.id:
                raise Refusal("swap.not_yours", day=fmt.day(day))
            if shift.start <= now:
                raise Refusal("swap.started")
            if await duty.pending_swap_for_shift(conn, requester.org_id, requester.id, shift.start, now) is not None:
                raise Refusal("swap.pending")
            request = await duty.add_swap(conn, requester.org_id, requester.id, target.id, day, shift.start, now)
            await audit.record(conn, requester.org_id, requester.user_id, "duty.swap_request", now,
                               swap_id=request.id, target=target.id, day=day)
            work = await orgs.chat_of(conn, requester.org_id, "work")
            dest = work.chat_id if work is not None else here
            if dest is not None:
                buttons = ((("swap.accept", f"swap:{request.id}:yes"), ("swap.decline", f"swap:{request.id}:no")),)
                params = {"requester": requester.display_name, "target": target.display_name, "range": span(shift)}
                await outbox.enqueue(conn, [Outgoing(dest, "swap.request", params, buttons=buttons,
                                                     org_id=requester.org_id)], now)
        return request, shift

    async def decide_swap(self, user_id: int, swap_id: int, accept: bool) -> tuple[duty.SwapRequest, Shift | None]:
        now = self.clock.now()
        async with self.db.transaction() as conn:
            request = await duty.get_swap(conn, swap_id)
            if request is None:
                raise Refusal("swap.gone")
            target = await members.get(conn, request.target_id)
            if target is None or target.user_id != user_id:
                raise Refusal("swap.not_for_you")
            if request.status != "pending":
                raise Refusal("swap.already_decided")
            if now >= request.expires_at:
                await duty.decide_swap(conn, swap_id, "expired", now)
                raise Refusal("swap.expired")
            await duty.decide_swap(conn, swap_id, "accepted" if accept else "declined", now)
            shift = None
            if accept:
                row = duty.OverrideRow(0, "swap", request.requester_id, request.day, request.day,
                                       request.target_id, now)
                await duty.add_override(conn, request.org_id, row, "", user_id)
                shift = (await self._need_rotation(conn, request.org_id)).covering(request.day)
            await audit.record(conn, request.org_id, user_id, "duty.swap_accept" if accept else "duty.swap_decline",
                               now, swap_id=swap_id)
            requester = await members.get(conn, request.requester_id)
            if requester is not None and requester.user_id is not None:  # she learns the answer in private
                covering = shift or (await self._need_rotation(conn, request.org_id)).covering(request.day)
                when = span(covering) if covering is not None else fmt.day(request.day)
                params = {"target": target.display_name, "requester": requester.display_name, "range": when}
                await outbox.enqueue(conn, [Outgoing(requester.user_id, "swap.accepted" if accept else "swap.declined",
                                                     params, org_id=request.org_id)], now)
        return request, shift

    async def assign(self, actor: Actor, org_id: int, day: date, target: Member) -> tuple[Shift, Shift]:
        now = self.clock.now()
        async with self.db.transaction() as conn:
            await require_manager(conn, actor, org_id)
            before = (await self._need_rotation(conn, org_id)).covering(day)
            if before is None or before.end <= now:
                raise Refusal("assign.past")
            row = duty.OverrideRow(0, "assign", before.member_id, day, day, target.id, now)
            await duty.add_override(conn, org_id, row, "", actor.user_id)
            await audit.record(conn, org_id, actor.user_id, "duty.assign", now, day=day, target=target.id,
                               previous=before.member_id)
            after = (await self._need_rotation(conn, org_id)).covering(day)
            assert after is not None
            told: list[Outgoing] = []
            if before.member_id != target.id:
                if target.user_id is not None and target.user_id != actor.user_id:
                    told.append(Outgoing(target.user_id, "assign.notify", {"range": span(after)}, org_id=org_id))
                # the member who had the shift is told she is off it (else she turns up, or stays away unsure)
                previous = await members.get(conn, before.member_id)
                if previous is not None and previous.user_id is not None and previous.user_id != actor.user_id:
                    told.append(Outgoing(previous.user_id, "assign.notify_off",
                                         {"range": span(before), "name": target.display_name}, org_id=org_id))
            await outbox.enqueue(conn, told, now)
        return before, after

    async def is_checked_in(self, org_id: int, shift: Shift) -> bool:
        async with self.db.read() as conn:
            return await duty.checked_in(conn, org_id, shift.start)

    # --- on duty -------------------------------------------------------------------------------

    async def checkin(self, member: Member) -> Shift:
        now = self.clock.now()
        async with self.db.transaction() as conn:
            shift = (await self._need_rotation(conn, member.org_id)).at(now)
            if shift is None or shift.member_id != member.id:
                raise Refusal("checkin.not_on_duty")
            if not await duty.checkin(conn, member.org_id, shift.start, member.id, now):
                raise Refusal("checkin.already")
            await audit.record(conn, member.org_id, member.user_id, "duty.checkin", now, shift=shift.start)
        return shift

    async def log(self, member: Member, category: str, content: str, file_id: str | None,
                  file_kind: str | None, again: bool = False) -> tuple[int, str, bool]:
        """Add a ledger entry; returns (id, category used, whether the category was unknown). The same
        entry from the same member within SAME_ENTRY_WINDOW is refused ("log.already") unless `again`."""
        content = content.strip()
        if not content and file_id is None:
            raise Refusal("log.usage")
        if len(content) > MAX_TEXT:
            raise Refusal("common.too_long", limit=MAX_TEXT)
        if simplified(category) in LEDGER_CATEGORIES:  # 走訪 in Traditional is 走访
            category = simplified(category)
        unknown = category not in LEDGER_CATEGORIES
        if unknown:
            content = f"{category} {content}".strip()
            category = "其他"
        now = self.clock.now()
        async with self.db.transaction() as conn:
            if not again and file_id is None:
                # The same entry from her a moment ago: a retry after a failed reply, not a new visit.
                same = await duty.recent_same_ledger(conn, member.id, category, content, now - SAME_ENTRY_WINDOW)
                if same is not None:
                    raise Refusal("log.already", id=same)
            entry_id = await duty.add_ledger(conn, member.org_id, member.id, category, content, file_id, file_kind, now)
        return entry_id, category, unknown

    async def log_again(self, member: Member, entry_id: int) -> tuple[int, str, bool]:
        """再记一条: the same entry once more, on purpose (only hers, in her organisation)."""
        async with self.db.read() as conn:
            found = await duty.ledger_entry(conn, entry_id)
        if found is None or found[1] != member.id or found[0] != member.org_id:
            raise Refusal("log.again_gone")
        return await self.log(member, found[2], found[3], None, None, again=True)

    async def handover(self, member: Member, content: str) -> None:
        content = content.strip()
        if not content:
            raise Refusal("handover.usage")
        if len(content) > MAX_TEXT:
            raise Refusal("common.too_long", limit=MAX_TEXT)
        async with self.db.transaction() as conn:
            await duty.add_handover(conn, member.org_id, member.id, content, self.clock.now())

    def month_range(self, year: int, month: int) -> tuple[datetime, datetime]:
        start = datetime(year, month, 1, tzinfo=self.tz)
        end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=self.tz)
        return start, end

    async def ledger(self, org_id: int, year: int, month: int) -> list[duty.LedgerEntry]:
        start, end = self.month_range(year, month)
        async with self.db.read() as conn:
            return await duty.ledger_between(conn, org_id, start, end)

    async def schedule(self, org_id: int, year: int, month: int) -> list[tuple[Shift, bool]]:
        """The month's shifts with whether each was checked in."""
        start, end = self.month_range(year, month)
        async with self.db.read() as conn:
            current = await self._need_rotation(conn, org_id)
            shifts = rotation.shifts_between(current.versions, current.overrides, start, end, current.calendar)
            done = await duty.checkins_between(conn, org_id, start - timedelta(days=40), end)
        return [(s, to_db(s.start) in done) for s in shifts]

    # --- notices (the duty producer: services/duty_notices.py) -----------------------------------

    async def rotations(self, conn: aiosqlite.Connection, org_ids: list[int]) -> dict[int, Rotation]:
        """The rotations of many organisations in a few queries (those without one are left out)."""
        found = await duty.rotation_inputs(conn, org_ids)
        extra = await holidays.overrides(conn) if found else {}
        return {
            org_id: Rotation(
                [RotationVersion(r.effective_from, r.member_ids, r.period, r.anchor, self.tz, r.handoff,  # type: ignore[arg-type]
                                 r.skip_non_working) for r in inputs.versions],
                [Override(o.id, o.kind, o.member_id, o.first_day, o.last_day, o.replacement_id,  # type: ignore[arg-type]
                          o.created_at) for o in inputs.overrides],
                WorkdayCalendar.with_days_off(inputs.days_off, extra),
            )
            for org_id, inputs in found.items()
        }

    def situation(self, org_id: int, current: Rotation, now: datetime) -> Situation:
        """The shift in progress and the next one. The shifts are a pure function of the rotation, so
        a run of them worked out at an earlier tick for this same rotation object serves every later
        moment it covers (`SHIFTS_AHEAD` at a time)."""
        run = self._shifts.get(org_id)
        if run is None or run[0] is not current or not (run[1][0].start <= now < run[1][-2].end):
            shift, found = current.at_and_next(now, SHIFTS_AHEAD)
            if shift is None:
                self._shifts.pop(org_id, None)
                return Situation(org_id, current, None, found[:2], None, tuple(x.start.isoformat() for x in found[:2]))
            run = (current, found, [x.start.isoformat() for x in found], [None] * len(found))
            self._shifts[org_id] = run
        shifts, refs, made = run[1], run[2], run[3]
        i = next(j for j, x in enumerate(shifts) if x.start <= now < x.end)
        found_s = made[i]
        if found_s is None:  # the same for every moment of this shift: made once
            found_s = made[i] = Situation(org_id, current, shifts[i], shifts[i:i + 2], refs[i], tuple(refs[i:i + 2]))
        return found_s

    def _eve(self, start: datetime) -> tuple[date, datetime]:
        """The day before the shift starting at `start` and the eve notice's moment on it."""
        found = self._eves.get(start)
        if found is None:
            if len(self._eves) > 4096:  # shift starts are shared by many organisations: a few a day
                self._eves.clear()
            day = start.astimezone(self.tz).date() - timedelta(days=1)
            found = self._eves[start] = (day, datetime.combine(day, self.notice_time, self.tz))
        return found

    def _local_day(self, now: datetime) -> date:
        if self._today is None or self._today[0] is not now:
            self._today = (now, now.astimezone(self.tz).date())
        return self._today[1]

    def next_wake(self, current: Rotation, now: datetime) -> datetime:
        return self.wake(self.situation(0, current, now), now)

    def wake(self, s: Situation, now: datetime) -> datetime:
        """The first moment after `now` at which `plan` may find something new: the next hand-off and
        its eve notice, this shift's nudge and note to the chair. Waking early is harmless (the claims
        decide); every change to the rotation's inputs wakes it at once."""
        times: list[datetime] = []
        shift = s.shift
        if shift is not None:
            times.extend(t for t in (shift.start + self.nudge, shift.start + self.chair_alert) if now < t < shift.end)
        for nxt in s.upcoming:
            if nxt.start <= now:
                continue
            times.append(nxt.start)
            eve = self._eve(nxt.start)[1]
            if eve > now:
                times.append(eve)
            break
        return min(times, default=now + timedelta(days=1))

    def plan(self, s: Situation, now: datetime, claimed: Container[tuple[str, str]], checked_in: bool) -> list[Planned]:
        """The notices to claim now, given the (kind, ref) claims already journaled for the organisation
        and whether the shift in progress is checked in. Pure: the producer reads and writes in batches."""
        planned: list[Planned] = []
        shift = s.shift
        if shift is not None and s.shift_ref is not None:
            ref = s.shift_ref
            # Claimed even when too late to send: the claim also records that this shift began.
            if ("handoff", ref) not in claimed:
                notice = None
                if now - shift.start <= self.grace:
                    nxt = next((x for x in s.upcoming if x.start > shift.start), None)
                    notice = Notice("handoff", s.org_id, shift, s.current.period, nxt,
                                    late=now - shift.start > timedelta(minutes=30))
                planned.append(Planned("handoff", ref, notice))
            if not checked_in:
                for kind, delay in (("nudge", self.nudge), ("chair_alert", self.chair_alert)):
                    if shift.start + delay <= now < shift.end and (kind, ref) not in claimed:
                        planned.append(Planned(kind, ref, Notice(kind, s.org_id, shift, s.current.period)))
        for nxt, ref in zip(s.upcoming, s.upcoming_refs, strict=True):
            if nxt.start <= now:
                continue
            eve_day, eve = self._eve(nxt.start)
            # Only on the eve itself: a rotation set on the day of its first hand-off gets no
            # "明天起" notice that day (the hand-off notice comes at the start).
            on_eve = self._local_day(now) == eve_day
            if on_eve and eve <= now < nxt.start and ("eve", ref) not in claimed:
                planned.append(Planned("eve", ref, Notice("eve", s.org_id, nxt, s.current.period)))
            break
        return planned


@dataclass(frozen=True)
class Situation:
    """One organisation's rotation around a moment: the shift in progress (None before the rotation
    starts) and the next two shifts, the first being the one in progress when there is one."""

    org_id: int
    current: Rotation
    shift: Shift | None
    upcoming: list[Shift]
    shift_ref: str | None  # the claim refs (start times as text) of the shift in progress and the next ones
    upcoming_refs: tuple[str, ...]


@dataclass(frozen=True)
class Planned:
    """A notice to claim (journal in sent_notices); `notice` None: claimed only (too late to send)."""

    kind: str
    ref: str
    notice: Notice | None


def _rotated_after(remaining: tuple[int, ...], order: tuple[int, ...], current: int | None) -> tuple[int, ...]:
    """`remaining` reordered to start with the member who followed `current` in `order`."""
    if current is None or current not in order:
        return remaining
    i = order.index(current)
    for step in range(1, len(order) + 1):
        candidate = order[(i + step) % len(order)]
        if candidate in remaining:
            j = remaining.index(candidate)
            return remaining[j:] + remaining[:j]
    return remaining
