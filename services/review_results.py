"""述职考评 results: computing every member's row from the cycle's data (chair scores, ratings,
adjustments, activity) with the pure scoring, and reading the frozen tables of closed cycles."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import aiosqlite

from services.errors import Refusal
from services.review_activity import Activity, activity
from services.review_common import ReviewContext, require_manager
from services.review_parse import signed
from services.review_scoring import Adjustment, MemberInput, Result, Rubric, round_half_up, score_all, show
from services.roster import Actor
from storage import reviews
from storage.models import Member
from storage.reviews import Cycle


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

    async def results(self, actor: Actor, org_id: int, cycle_id: int | None = None) -> ClosedCycle:
        """A closed cycle's table (the latest, or `cycle_id`), for the chair, a vice chair or the CLI."""
        async with self.ctx.db.read() as conn:
            await require_manager(conn, actor, org_id)
            return await self._closed(conn, org_id, cycle_id)

    async def export(self, org_id: int, cycle_id: int | None = None) -> ClosedCycle:
        """The same table for the admin CLI on the server (no chat user, no rights check)."""
        async with self.ctx.db.read() as conn:
            return await self._closed(conn, org_id, cycle_id)

    async def my_result(self, member: Member) -> tuple[ClosedCycle, ResultRow] | None:
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
