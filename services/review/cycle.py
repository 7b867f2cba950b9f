"""The 述职考评 cycle's life: the chair opens it for every current member, managers follow its
progress (counts only), and the chair closes it — results frozen, ballot key destroyed, members told.
Also the organisation's rubric the chair sets for its cycles (`Rubrics`)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import aiosqlite

from services.errors import Refusal
from services.review import ballot, notices
from services.review.common import (
    ReviewContext,
    active_participants,
    current_cycle,
    merge_rubric,
    open_cycle,
    period_end,
    require_chair,
    require_manager,
    rubric_error,
    rubric_for,
    some_cycle,
)
from services.review.results import ClosedCycle, ResultRow, compute_rows, subsidy_sum
from services.review.scoring import Rubric, RubricError
from services.roster import Actor
from storage import audit, members, reviews
from storage.models import Member
from storage.reviews import Cycle

MAX_NAME = 40
YEAR_IN_NAME = re.compile(r"(?<!\d)(20\d\d)(?!\d)")  # 2026年度述职 → 2026


@dataclass(frozen=True)
class StatusLine:
    member: Member
    report: bool
    rated: int
    to_rate: int
    scored: bool
    adjustments: int


@dataclass(frozen=True)
class Status:
    cycle: Cycle
    lines: list[StatusLine]
    ratings_total: int


@dataclass(frozen=True)
class CloseLine:
    """What closing now means for one member who is missing something."""

    member: Member
    scored: bool
    peer_counts: bool  # at least the rubric's minimum of colleagues rated her
    report: bool
    nobody_can_score: bool  # the chair, with no vice chair: only a super admin can score her
    # Her result if closed now, only when it cannot reveal anything about ratings (her peer
    # component does not count): the chair sees what "没有评分" will cost her.
    preview: ResultRow | None


@dataclass(frozen=True)
class CloseCheck:
    cycle: Cycle
    unscored: list[Member]
    no_report: list[Member]
    before_deadline: bool
    lines: list[CloseLine] = field(default_factory=list)
    min_peer: int = 0


class Cycles:
    def __init__(self, ctx: ReviewContext, votes: ballot.Ballot) -> None:
        self.ctx = ctx
        self.votes = votes

    async def start(self, actor: Actor, org_id: int, name: str, deadline: datetime, period_start: datetime | None,
                    bot_username: str, period_stop: datetime | None = None) -> tuple[Cycle, list[Member]]:
        """Open a cycle. The activity period is [period_start, period_stop) when given; by default it
        is the review's year (the year in its name, else this year), or from the end of the last
        closed cycle's period if that is later; it ends with that year if the year is over, else at
        the deadline or the close."""
        name = " ".join(name.split())
        if not name:
            raise Refusal("review_start.usage")
        if len(name) > MAX_NAME:
            raise Refusal("review_start.name_too_long", limit=MAX_NAME)
        now = self.ctx.clock.now()
        if deadline <= now:
            raise Refusal("review_start.deadline_past")
        if period_start is not None and period_start > now:
            raise Refusal("review_start.period_future")
        async with self.ctx.db.transaction() as conn:
            me = await require_chair(conn, actor, org_id)
            existing = await reviews.open_cycle(conn, org_id)
            if existing is not None:
                raise Refusal("review_start.already_open", name=existing.name)
            people = await members.active_in_org(conn, org_id)
            if len(people) < 2:
                raise Refusal("review_start.too_few")
            start, stop = await self._period(conn, org_id, name, now, period_start, period_stop)
            cycle_id = await reviews.create_cycle(conn, org_id, name, start, deadline, ballot.new_key(),
                                                  bot_username, actor.user_id, now, stop)
            await reviews.add_participants(conn, cycle_id, [m.id for m in people])
            cycle = await reviews.get_cycle(conn, cycle_id)
            assert cycle is not None
            await notices.enqueue_started(self.ctx, conn, cycle, people, now)
            await audit.record(conn, org_id, actor.user_id, "review.start", now, cycle_id=cycle_id, name=name,
                               deadline=deadline, period_start=start, period_end=stop, members=[m.id for m in people],
                               by_member=me.id if me else None)
        return cycle, people

    async def set_period(self, actor: Actor, org_id: int, start: datetime, stop: datetime | None) -> Cycle:
        """The chair changes the open cycle's activity period (`/review_start 从 … 到 …`)."""
        now = self.ctx.clock.now()
        if start > now:
            raise Refusal("review_start.period_future")
        if stop is not None and stop <= start:
            raise Refusal("review_start.period_reversed")
        async with self.ctx.db.transaction() as conn:
            await require_chair(conn, actor, org_id)
            cycle = await reviews.open_cycle(conn, org_id)
            if cycle is None:
                raise Refusal("review_start.period_only_open")
            await reviews.set_period(conn, cycle.id, start, stop)
            await audit.record(conn, org_id, actor.user_id, "review.period", now, cycle_id=cycle.id,
                               period_start=start, period_end=stop)
            changed = await reviews.get_cycle(conn, cycle.id)
        assert changed is not None
        return changed

    async def _period(self, conn: aiosqlite.Connection, org_id: int, name: str, now: datetime,
                      start: datetime | None, stop: datetime | None) -> tuple[datetime, datetime | None]:
        tz = self.ctx.tz
        this_year = now.astimezone(tz).year
        said = YEAR_IN_NAME.search(name)
        year = int(said.group(1)) if said and int(said.group(1)) <= this_year else this_year
        if stop is None and year < this_year:
            stop = datetime(year + 1, 1, 1, tzinfo=tz)  # a year already over: that year only
        if start is None:
            start = datetime(year, 1, 1, tzinfo=tz)
            last = await reviews.latest_cycle(conn, org_id, "closed")
            if last is not None and last.closed_at is not None:
                counted = period_end(last, last.closed_at)  # not counted twice, if within this period
                if stop is None or counted < stop:
                    start = max(start, counted)
        if stop is not None and stop <= start:
            raise Refusal("review_start.period_reversed")
        return start, stop

    async def current(self, org_id: int) -> Cycle | None:
        """The open cycle, else the latest closed one, else None."""
        async with self.ctx.db.read() as conn:
            return await current_cycle(conn, org_id)

    async def get(self, cycle_id: int) -> Cycle | None:
        async with self.ctx.db.read() as conn:
            return await reviews.get_cycle(conn, cycle_id)

    async def status(self, actor: Actor, org_id: int) -> Status:
        async with self.ctx.db.read() as conn:
            await require_manager(conn, actor, org_id)
            cycle = await some_cycle(conn, org_id)
            people = await reviews.participants(conn, cycle.id)
            active = [m for m in people if m.active]
            reports = await reviews.reports(conn, cycle.id)
            scores = await reviews.scores(conn, cycle.id)
            adjustments = await reviews.adjustments(conn, cycle.id)
            lines = []
            for m in people:
                others = [o for o in active if o.id != m.id]
                found = await ballot.choices(conn, cycle, m, others) if m.active else {}
                rated = sum(1 for c in found.values() if c is not None)
                lines.append(StatusLine(m, m.id in reports, rated, len(others), m.id in scores,
                                        len(adjustments.get(m.id, []))))
            total = await reviews.rating_total(conn, cycle.id)
        return Status(cycle, lines, total)

    async def progress(self, member: Member) -> tuple[Cycle, bool, int, int]:
        """In the open cycle: (cycle, report submitted, colleagues rated, colleagues to rate)."""
        cycle, _, found = await self.votes.colleagues(member)
        async with self.ctx.db.read() as conn:
            report = await reviews.get_report(conn, cycle.id, member.id)
        return cycle, report is not None, sum(1 for _, c in found if c is not None), len(found)

    async def close_check(self, actor: Actor, org_id: int) -> CloseCheck:
        """What closing now would leave out, per member: no chair score, too few peer ratings, no report."""
        now = self.ctx.clock.now()
        async with self.ctx.db.read() as conn:
            await require_chair(conn, actor, org_id)
            cycle = await open_cycle(conn, org_id)
            people = await active_participants(conn, cycle)
            scores = await reviews.scores(conn, cycle.id)
            reports = await reviews.reports(conn, cycle.id)
            rubric = await rubric_for(self.ctx, conn, org_id)
            received = {k: len(v) for k, v in (await reviews.ratings_for(conn, cycle.id)).items()}
            rows = {r.member_id: r for r in await compute_rows(self.ctx, conn, replace(cycle, closed_at=now),
                                                               period_end(cycle, now), rubric)}
            vice = any(m.role == "vice_chair" for m in await members.active_in_org(conn, org_id))
        lines = []
        for m in people:
            scored, report = m.id in scores, m.id in reports
            peer = received.get(m.id, 0) >= rubric.min_peer_ratings
            if scored and report and peer:
                continue
            lines.append(CloseLine(m, scored, peer, report, m.role == "chair" and not vice and not scored,
                                   None if peer else rows.get(m.id)))
        return CloseCheck(cycle, [m for m in people if m.id not in scores], [m for m in people if m.id not in reports],
                          now < cycle.deadline, lines, rubric.min_peer_ratings)

    async def close(self, actor: Actor, org_id: int, cycle_id: int | None = None) -> ClosedCycle:
        """Compute and freeze the results and destroy the ballot key, in one transaction."""
        now = self.ctx.clock.now()
        async with ballot.destroying_key(self.ctx.db), self.ctx.db.transaction() as conn:
            await require_chair(conn, actor, org_id)
            cycle = await open_cycle(conn, org_id)
            if cycle_id is not None and cycle.id != cycle_id:
                raise Refusal("review.closed_already", name=cycle.name)
            closed = replace(cycle, closed_at=now)
            rubric = await rubric_for(self.ctx, conn, org_id)
            rows = await compute_rows(self.ctx, conn, closed, period_end(closed, now), rubric)
            await reviews.save_results(conn, cycle.id, [(r.member_id, r.to_json()) for r in rows])
            await reviews.close_cycle(conn, cycle.id, json.dumps(rubric.to_json(), ensure_ascii=False),
                                      actor.user_id, now)
            await notices.enqueue_closed(conn, cycle, await active_participants(conn, cycle), now)
            await audit.record(conn, org_id, actor.user_id, "review.close", now, cycle_id=cycle.id,
                               subsidy_total=str(subsidy_sum(rows)))
            final = await reviews.get_cycle(conn, cycle.id)
        assert final is not None
        return ClosedCycle(final, rubric, rows)


class Rubrics:
    """An organisation's rubric: the deployment's defaults with its overrides (weights, grades,
    subsidy base), read, changed by the chair, or reset."""

    def __init__(self, ctx: ReviewContext) -> None:
        self.ctx = ctx

    async def in_force(self, org_id: int) -> tuple[Rubric, bool]:
        """The organisation's rubric and whether it has its own overrides."""
        async with self.ctx.db.read() as conn:
            override = await reviews.rubric_override(conn, org_id)
            return await rubric_for(self.ctx, conn, org_id), bool(override)

    async def change(self, actor: Actor, org_id: int, part: str, value: Any) -> Rubric:
        """Override weights / grades / subsidy_base for this organisation, or reset ("reset")."""
        now = self.ctx.clock.now()
        async with self.ctx.db.transaction() as conn:
            await require_chair(conn, actor, org_id)
            override = await reviews.rubric_override(conn, org_id)
            if part == "reset":
                override = {}
            elif part == "weights":
                override["weights"] = {k: str(v) for k, v in value.items()}
            elif part == "grades":
                override["grades"] = [{"label": g.label, "min": str(g.minimum), "coefficient": str(g.coefficient)}
                                      for g in value]
            elif part == "subsidy_base":
                override["subsidy_base"] = str(value)
            else:
                raise ValueError(part)
            try:
                rubric = merge_rubric(self.ctx.base_rubric, override).validate()
            except RubricError as exc:
                raise rubric_error(exc) from exc
            await reviews.set_rubric_override(conn, org_id, override, actor.user_id, now)
            await audit.record(conn, org_id, actor.user_id, "review.config", now, part=part, rubric=override)
        return rubric
