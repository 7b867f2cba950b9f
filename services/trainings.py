"""Training use cases (培训): add a training, sign up / ask for leave, check in (签到) or have the
chair mark attendance, list trainings, who has not been trained in the window, and the reminders
(a day and an hour before, to those signed up) produced into the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiosqlite

from services import fmt
from services.clock import Clock
from services.errors import Refusal
from services.outbox import Outgoing, text
from services.roster import Actor, require_manager
from storage import audit, members, orgs, outbox, trainings
from storage.db import Database
from storage.models import Member
from storage.trainings import Audience, Counts, SignupStatus, Training

SESSION = timedelta(hours=2)
CHECKIN_LEAD = timedelta(minutes=30)  # /attend opens this long before the start
MAX_DURATION = timedelta(hours=12)
MAX_PLACE = 60
MAX_TOPIC = 200
DAY_BEFORE = timedelta(days=1)
HOUR_BEFORE = timedelta(hours=1)
PAST_SHOWN = 3


class OutsideWindow(Refusal):
    """/attend outside the check-in window (or before it opened, for the chair). The handler
    renders the times; `training` is the one asked about or the next one (None: no training)."""

    def __init__(self, key: str, training: Training | None) -> None:
        super().__init__(key)
        self.training = training


@dataclass(frozen=True)
class Untrained:
    member: Member
    last_attended: datetime | None  # start of the last training she attended (before the window)
    deadline: datetime | None  # newly elected: end of the window after her election


@dataclass(frozen=True)
class MarkResult:
    training: Training
    marked: list[Member]
    already: list[Member]


def add_years(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + years, day=28)


def when_params(training: Training, tz: ZoneInfo) -> dict[str, Any]:
    """The parameters of the locale's training.when text (a nested text for the outbox)."""
    start = training.starts_at.astimezone(tz)
    end = training.ends_at.astimezone(tz)
    return {"month": start.month, "day": start.day, "weekday": fmt.weekday(start.date()),
            "start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")}


class TrainingService:
    def __init__(self, db: Database, clock: Clock, tz: ZoneInfo, window_years: int = 2,
                 session: timedelta = SESSION) -> None:
        self.db = db
        self.clock = clock
        self.tz = tz
        self.window_years = window_years
        self.session = session

    # --- reading -------------------------------------------------------------------------------

    async def _get(self, conn: aiosqlite.Connection, org_id: int, training_id: int) -> Training:
        found = await trainings.get(conn, training_id)
        if found is None or found.org_id != org_id:
            raise Refusal("training.not_found", id=training_id)
        return found

    async def get(self, org_id: int, training_id: int) -> Training:
        async with self.db.read() as conn:
            return await self._get(conn, org_id, training_id)

    async def counts(self, training_id: int) -> Counts:
        async with self.db.read() as conn:
            return (await trainings.counts(conn, [training_id])).get(training_id, Counts())

    async def overview(self, org_id: int) -> tuple[list[tuple[Training, Counts]], list[tuple[Training, Counts]]]:
        """(upcoming and in progress, soonest first; the last few that are over, latest first)."""
        now = self.clock.now()
        async with self.db.read() as conn:
            ahead = await trainings.upcoming(conn, org_id, now)
            past = await trainings.recent_past(conn, org_id, now, PAST_SHOWN)
            found = await trainings.counts(conn, [t.id for t in ahead + past])
        return [(t, found[t.id]) for t in ahead], [(t, found[t.id]) for t in past]

    # --- adding --------------------------------------------------------------------------------

    async def add(self, actor: Actor, org_id: int, starts_at: datetime, place: str, topic: str,
                  audience: Audience = "all", duration: timedelta | None = None) -> Training:
        place, topic = " ".join(place.split()), " ".join(topic.split())
        if not place or not topic:
            raise Refusal("training_add.usage")
        if len(place) > MAX_PLACE:
            raise Refusal("training_add.place_too_long", limit=MAX_PLACE)
        if len(topic) > MAX_TOPIC:
            raise Refusal("training_add.topic_too_long", limit=MAX_TOPIC)
        length = self.session if duration is None else duration
        if not timedelta(minutes=10) <= length <= MAX_DURATION:
            raise Refusal("training_add.bad_duration")
        now = self.clock.now()
        if starts_at <= now:
            raise Refusal("training_add.past")
        async with self.db.transaction() as conn:
            await require_manager(conn, actor, org_id)
            training = await trainings.add(conn, org_id, starts_at, starts_at + length, place, topic, audience,
                                           actor.user_id, now)
            await audit.record(conn, org_id, actor.user_id, "training.add", now, id=training.id,
                               starts_at=starts_at, place=place, topic=topic, audience=audience)
        return training

    async def cancel(self, actor: Actor, org_id: int, training_id: int) -> Training:
        now = self.clock.now()
        async with self.db.transaction() as conn:
            await require_manager(conn, actor, org_id)
            training = await self._get(conn, org_id, training_id)
            if training.cancelled_at is not None:
                raise Refusal("training.cancelled", topic=training.topic)
            if training.starts_at <= now:
                raise Refusal("training_cancel.started", topic=training.topic)
            await trainings.cancel(conn, training_id, now)
            await audit.record(conn, org_id, actor.user_id, "training.cancel", now, id=training_id)
            signed = [s for s in await trainings.signups(conn, training_id) if s.status == "signed"]
            work = await orgs.chat_of(conn, org_id, "work")
            work_id = work.chat_id if work else None
            msgs = []
            for signup in signed:
                member = await members.get(conn, signup.member_id)
                route = _private_route(member, work_id)
                if member is None or route is None:
                    continue
                msgs.append(Outgoing(
                    chat_id=route[0], key="training.cancelled_notice", org_id=org_id,
                    params={"name": member.display_name, "topic": training.topic,
                            "when": text("training.when", **when_params(training, self.tz))},
                    dedupe=f"training:{training_id}:cancelled:{member.id}",
                    fallback_chat_id=route[1],
                ))
            await outbox.enqueue(conn, msgs, now)
        return training

    # --- sign-up buttons -----------------------------------------------------------------------

    async def respond(self, user_id: int, training_id: int, status: SignupStatus
                      ) -> tuple[Training, Member, SignupStatus | None]:
        """Her 报名/请假 press; returns the training, her roster row and her previous choice."""
        now = self.clock.now()
        async with self.db.transaction() as conn:
            training = await trainings.get(conn, training_id)
            if training is None:
                raise Refusal("training.not_found", id=training_id)
            member = await members.find_active(conn, training.org_id, user_id=user_id)
            if member is None:
                raise Refusal("training.members_only")
            if training.cancelled_at is not None:
                raise Refusal("training.cancelled", topic=training.topic)
            if training.ends_at <= now:
                raise Refusal("training.over", topic=training.topic)
            if training.audience == "new" and not member.newly_elected:
                # a 新当选 training: the others are not expected, so neither 报名 nor 请假 is counted
                raise Refusal("training.new_only", topic=training.topic)
            previous = await trainings.set_signup(conn, training_id, member.id, status, now)
        return training, member, previous

    # --- attendance ----------------------------------------------------------------------------

    def window(self, training: Training) -> tuple[datetime, datetime]:
        """When /attend is accepted: from 30 minutes before the start to the end of the session."""
        return training.starts_at - CHECKIN_LEAD, training.ends_at

    async def attend(self, member: Member, training_id: int | None) -> Training:
        """She checks herself in, to the given training or the one whose window is open now."""
        now = self.clock.now()
        async with self.db.transaction() as conn:
            if training_id is not None:
                training = await self._get(conn, member.org_id, training_id)
                if training.cancelled_at is not None:
                    raise Refusal("training.cancelled", topic=training.topic)
                opens, closes = self.window(training)
                if not opens <= now <= closes:
                    raise OutsideWindow("attend.outside", training)
            else:
                open_now = await trainings.open_windows(conn, member.org_id, now, CHECKIN_LEAD)
                if not open_now:
                    upcoming = await trainings.next_after(conn, member.org_id, now)
                    raise OutsideWindow("attend.no_session_next" if upcoming else "attend.no_session", upcoming)
                training = open_now[0]
                for candidate in open_now:
                    if member.id not in await trainings.attended_ids(conn, candidate.id):
                        training = candidate
                        break
            if not await trainings.add_attendance(conn, training.id, member.id, member.user_id or 0, now):
                raise Refusal("attend.already", topic=training.topic)
        return training

    async def mark(self, actor: Actor, org_id: int, training_id: int, member_ids: list[int]) -> MarkResult:
        """The chair marks others attended (from the window's opening on, also afterwards)."""
        now = self.clock.now()
        async with self.db.transaction() as conn:
            await require_manager(conn, actor, org_id)
            training = await self._get(conn, org_id, training_id)
            if training.cancelled_at is not None:
                raise Refusal("training.cancelled", topic=training.topic)
            if now < self.window(training)[0]:
                raise OutsideWindow("attend.too_early", training)
            marked: list[Member] = []
            already: list[Member] = []
            seen: set[int] = set()
            for member_id in member_ids:
                member = await members.get(conn, member_id)
                if member is None or member.org_id != org_id or not member.active:
                    raise Refusal("training.not_in_roster")
                if member_id in seen:
                    continue
                seen.add(member_id)
                added = await trainings.add_attendance(conn, training_id, member_id, actor.user_id, now)
                (marked if added else already).append(member)
            if marked:
                await audit.record(conn, org_id, actor.user_id, "training.attendance", now, id=training_id,
                                   members=[m.id for m in marked])
        return MarkResult(training, marked, already)

    # --- who has not been trained --------------------------------------------------------------

    async def untrained(self, actor: Actor, org_id: int) -> list[Untrained]:
        """Active members without an attended training in the window, newly elected first:
        a newly elected member since her election (deadline: election + window), others in the
        last `window_years` years."""
        now = self.clock.now()
        async with self.db.read() as conn:
            await require_manager(conn, actor, org_id)
            roster = await members.active_in_org(conn, org_id)
            attended = await trainings.last_attended(conn, org_id)
        recent_since = add_years(now, -self.window_years)
        new: list[Untrained] = []
        others: list[Untrained] = []
        for member in roster:
            deadline = None
            since = recent_since
            if member.newly_elected and member.elected_on is not None:
                since = datetime.combine(member.elected_on, time(0, 0), tzinfo=self.tz)
                deadline = add_years(since, self.window_years)
            starts = attended.get(member.id, [])
            if any(start >= since for start in starts):
                continue
            entry = Untrained(member, max(starts) if starts else None, deadline)
            (new if member.newly_elected else others).append(entry)
        far = datetime.max.replace(tzinfo=self.tz)
        new.sort(key=lambda u: u.deadline or far)
        return new + others

    # --- reminders (the outbox producer) -------------------------------------------------------

    async def next_due(self, now: datetime) -> datetime | None:
        """The next day-before or hour-before moment of a training still to come."""
        async with self.db.read() as conn:
            # Within a day: both moments may be ahead; later: the first one's day-before comes first.
            coming = await trainings.starting_between(conn, now, now + DAY_BEFORE)
            coming += await trainings.starting_between(conn, now + DAY_BEFORE, now + timedelta(days=3660), limit=1)
        found = [t.starts_at - before for t in coming for before in (DAY_BEFORE, HOUR_BEFORE)]
        return min((t for t in found if t > now), default=None)

    async def produce(self, now: datetime) -> None:
        """A day and an hour before each training, a private reminder to every member signed up by
        then (the work group as fallback), and a note in the work group the day before."""
        async with self.db.transaction() as conn:
            msgs: list[Outgoing] = []
            for training in await trainings.starting_between(conn, now, now + DAY_BEFORE):
                msgs.extend(await self._due(conn, training, now))
            if msgs:
                await outbox.enqueue(conn, msgs, now)

    async def _due(self, conn: aiosqlite.Connection, training: Training, now: datetime) -> list[Outgoing]:
        work = await orgs.chat_of(conn, training.org_id, "work")
        work_id = work.chat_id if work else None
        signups = await trainings.signups(conn, training.id)
        params: dict[str, Any] = {"topic": training.topic, "place": training.place,
                                  "when": text("training.when", **when_params(training, self.tz)),
                                  "id": training.id}
        found: list[Outgoing] = []
        hour_due = training.starts_at - HOUR_BEFORE
        day_due = training.starts_at - DAY_BEFORE
        # The day-before reminder is skipped once the hour-before one is due (a bot that was down).
        kinds = [("hour-before", hour_due)] if now >= hour_due else [("day-before", day_due)]
        for kind, due in kinds:
            for signup in signups:
                if signup.status != "signed" or signup.at > due:
                    continue
                member = await members.get(conn, signup.member_id)
                route = _private_route(member, work_id)
                if member is None or route is None:
                    continue
                found.append(Outgoing(
                    chat_id=route[0], key=f"training.remind_{kind.replace('-', '_')}", org_id=training.org_id,
                    params={**params, "name": member.display_name},
                    dedupe=f"training:{training.id}:{kind}:{member.id}",
                    fallback_chat_id=route[1], due_at=due,
                ))
            if kind == "day-before" and work_id is not None and training.created_at <= day_due:
                signed = sum(1 for s in signups if s.status == "signed")
                found.append(Outgoing(
                    chat_id=work_id, key="training.group_day_before", org_id=training.org_id,
                    params={**params, "signed": signed}, dedupe=f"training:{training.id}:day-before:group",
                    due_at=day_due,
                ))
        return found


def _private_route(member: Member | None, work_id: int | None) -> tuple[int, int | None] | None:
    """(chat, fallback) for a private note to an active member: her private chat with the work group
    as fallback, or the work group when she has no Telegram account linked; None if neither."""
    if member is None or not member.active:
        return None
    if member.user_id is not None:
        return member.user_id, work_id
    return (work_id, None) if work_id is not None else None
