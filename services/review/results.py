"""述职考评 results and what goes into them besides the ballot: the chair's scores (主席评分) and the
adjustments (加减分) of the open cycle; what a member did during the period, from the other features'
records (duty shifts and check-ins through the rotation engine + `checkins`, ledger entries, trainings
attended, tasks closed on time); computing every member's row with the pure scoring; reading the
frozen tables of closed cycles (for the chair, the member, and the CLI's export)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import aiosqlite

from services import rotation
from services.calendar_cn import WorkdayCalendar
from services.errors import Refusal
from services.review.common import ReviewContext, open_cycle, require_manager, resolve_participant
from services.review.scoring import Adjustment, MemberInput, Result, Rubric, round_half_up, score_all, show, signed
from services.roster import Actor, Target
from storage import audit, duty, holidays, reviews
from storage import tasks as task_store
from storage import trainings as training_store
from storage.models import Member, to_db
from storage.reviews import Cycle

MAX_COMMENT = 300
MAX_REASON = 200


# --- the chair's scores and the adjustments --------------------------------------------------------


async def _scorable(conn: aiosqlite.Connection, actor: Actor, org_id: int, target: Target) -> tuple[Cycle, Member]:
    """A manager scoring someone else; only a vice chair (or a super admin) scores the chair."""
    me = await require_manager(conn, actor, org_id)
    cycle = await open_cycle(conn, org_id)
    who = await resolve_participant(conn, cycle, target)
    if not who.active:
        raise Refusal("score.removed", who=who.display_name)
    if me is not None and me.id == who.id:
        raise Refusal("score.self")
    if who.role == "chair" and not actor.is_super_admin and (me is None or me.role != "vice_chair"):
        raise Refusal("score.chair_by_vice")
    return cycle, who


class Scores:
    def __init__(self, ctx: ReviewContext) -> None:
        self.ctx = ctx

    async def score(self, actor: Actor, org_id: int, target: Target, value: Decimal,
                    comment: str) -> tuple[Member, bool]:
        comment = " ".join(comment.split())
        if len(comment) > MAX_COMMENT:
            raise Refusal("common.too_long", limit=MAX_COMMENT)
        now = self.ctx.clock.now()
        async with self.ctx.db.transaction() as conn:
            cycle, who = await _scorable(conn, actor, org_id, target)
            replaced = who.id in await reviews.scores(conn, cycle.id)
            await reviews.set_score(conn, cycle.id, who.id, str(value), comment, actor.user_id, now)
            await audit.record(conn, org_id, actor.user_id, "review.score", now, cycle_id=cycle.id, member_id=who.id,
                               score=str(value), comment=comment)
        return who, replaced

    async def adjust(self, actor: Actor, org_id: int, target: Target, delta: Decimal,
                     reason: str) -> tuple[Member, list[reviews.AdjustmentRow]]:
        reason = " ".join(reason.split())
        if not reason:
            raise Refusal("adjust.no_reason")
        if len(reason) > MAX_REASON:
            raise Refusal("common.too_long", limit=MAX_REASON)
        now = self.ctx.clock.now()
        async with self.ctx.db.transaction() as conn:
            cycle, who = await _scorable(conn, actor, org_id, target)
            text = signed(delta)
            await reviews.add_adjustment(conn, cycle.id, who.id, text, reason, actor.user_id, now)
            await audit.record(conn, org_id, actor.user_id, "review.adjust", now, cycle_id=cycle.id, member_id=who.id,
                               delta=text, reason=reason)
            found = (await reviews.adjustments(conn, cycle.id)).get(who.id, [])
        return who, found


# --- activity in the period ------------------------------------------------------------------------


@dataclass(frozen=True)
class Activity:
    shifts: int = 0
    checked: int = 0
    ledger: int = 0
    trainings: tuple[int, int] | None = None  # (attended, meant for)
    tasks: tuple[int, int] | None = None  # (closed on time, owned)


async def _shifts(conn: aiosqlite.Connection, org_id: int, tz: ZoneInfo, start: datetime,
                  end: datetime) -> tuple[dict[int, int], dict[int, int]]:
    """Per member: shifts in the period, and how many of them she checked in."""
    shifts: dict[int, int] = {}
    checked: dict[int, int] = {}
    versions = await duty.versions(conn, org_id)
    if not versions or end <= start:
        return shifts, checked
    rv = [rotation.RotationVersion(v.effective_from, v.member_ids, v.period, v.anchor, tz,  # type: ignore[arg-type]
                                   v.handoff, v.skip_non_working) for v in versions]
    ov = [rotation.Override(o.id, o.kind, o.member_id, o.first_day, o.last_day, o.replacement_id,  # type: ignore[arg-type]
                            o.created_at) for o in await duty.overrides(conn, org_id)]
    calendar = WorkdayCalendar.with_days_off(await duty.days_off(conn, org_id), await holidays.overrides(conn))
    found = rotation.shifts_between(rv, ov, start, end, calendar)
    done = await duty.checkins_between(conn, org_id, start - timedelta(days=400), end)
    for s in found:
        is_done = to_db(s.start) in done
        # A shift still running at the end of the period counts only once checked in.
        if s.end > end and not is_done:
            continue
        shifts[s.member_id] = shifts.get(s.member_id, 0) + 1
        checked[s.member_id] = checked.get(s.member_id, 0) + int(is_done)
    return shifts, checked


async def activity(conn: aiosqlite.Connection, org_id: int, tz: ZoneInfo, start: datetime,
                   end: datetime) -> dict[int, Activity]:
    """Per member with any activity in the period."""
    shifts, checked = await _shifts(conn, org_id, tz, start, end)
    ledger = await reviews.ledger_counts(conn, org_id, start, end)
    trainings = await training_store.attendance_counts(conn, org_id, start, end)
    tasks = await task_store.closed_on_time_counts(conn, org_id, start, end)
    ids = set(shifts) | set(ledger) | set(trainings) | set(tasks)
    return {
        i: Activity(shifts.get(i, 0), checked.get(i, 0), ledger.get(i, 0),
                    trainings.get(i) if trainings.get(i, (0, 0))[1] > 0 else None,
                    tasks.get(i) if tasks.get(i, (0, 0))[1] > 0 else None)
        for i in ids
    }


# --- the rows --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResultRow:
    """One member's frozen result, as stored (numbers as exact decimal strings)."""

    member_id: int
    name: str
    role: str
    removed: bool
    chair: str | None
    chair_comment: str
    peer: str | None
    peer_count: int
    duty: str | None
    shifts: int
    checked: int
    training: str | None
    trainings: tuple[int, int] | None
    ledger: int
    tasks: tuple[int, int] | None
    adjustments: tuple[tuple[str, str], ...]
    adjustment_total: str
    weights: Mapping[str, str]
    total: str | None
    grade: str | None
    coefficient: str | None
    subsidy: str | None
    unrated: bool = False  # no component had data: 未评定 (no total, grade or subsidy); absent in older rows

    def to_json(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["adjustments"] = [list(a) for a in self.adjustments]
        data["trainings"] = list(self.trainings) if self.trainings else None
        data["tasks"] = list(self.tasks) if self.tasks else None
        data["weights"] = dict(self.weights)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ResultRow:
        values = dict(data)
        values["adjustments"] = tuple((str(a[0]), str(a[1])) for a in values.get("adjustments", []))
        values["trainings"] = tuple(values["trainings"]) if values.get("trainings") else None
        values["tasks"] = tuple(values["tasks"]) if values.get("tasks") else None
        return cls(**values)


@dataclass(frozen=True)
class ClosedCycle:
    cycle: Cycle
    rubric: Rubric
    rows: list[ResultRow]

    @property
    def subsidy_total(self) -> Decimal:
        return subsidy_sum(self.rows).quantize(Decimal("0.01"))


def subsidy_sum(rows: Iterable[ResultRow]) -> Decimal:
    return sum((Decimal(r.subsidy) for r in rows if r.subsidy is not None), Decimal(0))


def result_row(member: Member, result: Result, activity: Activity, comment: str,
               adjustments: list[reviews.AdjustmentRow]) -> ResultRow:
    def comp(key: str) -> str | None:
        value = result.components.get(key)
        return None if value is None else str(round_half_up(value, 1))

    return ResultRow(
        member_id=member.id, name=member.display_name, role=member.role, removed=result.excluded,
        chair=comp("chair"), chair_comment=comment, peer=comp("peer"), peer_count=result.peer_count,
        duty=comp("duty"), shifts=activity.shifts, checked=activity.checked,
        training=comp("training"), trainings=activity.trainings, ledger=activity.ledger, tasks=activity.tasks,
        adjustments=tuple((a.delta, a.reason) for a in adjustments),
        adjustment_total=signed(result.adjustment_total),
        weights={k: show(v, 3) for k, v in result.weights.items()},
        total=None if result.total is None else str(result.total),
        grade=result.grade,
        coefficient=None if result.coefficient is None else str(result.coefficient),
        subsidy=None if result.subsidy is None else str(result.subsidy),
        unrated=result.unrated,
    )


async def compute_rows(ctx: ReviewContext, conn: aiosqlite.Connection, cycle: Cycle, end: datetime,
                       rubric: Rubric) -> list[ResultRow]:
    """Every participant's row (in participant order), with the activity from the period start to `end`."""
    people = await reviews.participants(conn, cycle.id)
    scores = await reviews.scores(conn, cycle.id)
    adjustments = await reviews.adjustments(conn, cycle.id)
    ratings = await reviews.ratings_for(conn, cycle.id)
    done = await activity(conn, cycle.org_id, ctx.tz, cycle.period_start, end)
    inputs = []
    for m in people:
        act = done.get(m.id, Activity())
        score = scores.get(m.id)
        inputs.append(MemberInput(
            m.id, m.display_name,
            chair_score=Decimal(score.score) if score else None,
            ratings=tuple(ratings.get(m.id, [])),
            duty=(act.checked, act.shifts) if act.shifts else None,
            training=act.trainings,
            adjustments=tuple(Adjustment(Decimal(a.delta), a.reason) for a in adjustments.get(m.id, [])),
            removed=not m.active,
        ))
    return [
        result_row(m, r, done.get(m.id, Activity()), scores[m.id].comment if m.id in scores else "",
                   adjustments.get(m.id, []))
        for m, r in zip(people, score_all(inputs, rubric), strict=True)
    ]


class Results:
    def __init__(self, ctx: ReviewContext) -> None:
        self.ctx = ctx

    async def closed(self, actor: Actor, org_id: int, cycle_id: int | None = None) -> ClosedCycle:
        """A closed cycle's table (the latest, or `cycle_id`), for the chair, a vice chair or the CLI."""
        async with self.ctx.db.read() as conn:
            await require_manager(conn, actor, org_id)
            return await self._closed(conn, org_id, cycle_id)

    async def export(self, org_id: int, cycle_id: int | None = None) -> ClosedCycle:
        """The same table for the admin CLI on the server (no chat user, no rights check)."""
        async with self.ctx.db.read() as conn:
            return await self._closed(conn, org_id, cycle_id)

    async def mine(self, member: Member) -> tuple[ClosedCycle, ResultRow] | None:
        """Her own row in the latest closed cycle she took part in (None if she has none)."""
        async with self.ctx.db.read() as conn:
            try:
                closed = await self._closed(conn, member.org_id, None)
            except Refusal:
                return None
        for row in closed.rows:
            if row.member_id == member.id:
                return closed, row
        return None

    async def _closed(self, conn: aiosqlite.Connection, org_id: int, cycle_id: int | None) -> ClosedCycle:
        if cycle_id is None:
            cycle = await reviews.latest_cycle(conn, org_id, "closed")
        else:
            cycle = await reviews.get_cycle(conn, cycle_id)
            if cycle is not None and (cycle.org_id != org_id or cycle.is_open):
                cycle = None
        if cycle is None:
            raise Refusal("review.no_closed")
        rubric = Rubric.from_json(json.loads(cycle.rubric)) if cycle.rubric else self.ctx.base_rubric
        rows = [ResultRow.from_json(d) for _, d in await reviews.results(conn, cycle.id)]
        return ClosedCycle(cycle, rubric, rows)
