"""述职考评 use cases: cycles, 述职报告, anonymous democratic rating, chair scores and adjustments,
activity data, closing with frozen results, per-organisation rubric, and the report reminders.

Privacy: a rating is stored under HMAC(cycle key, rater:ratee) with no rater, no time (see
storage/migrations/0007_review.sql); the key is destroyed when the cycle closes. Nothing here logs
or audits who rated whom or what.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import aiosqlite

from services import rotation
from services.calendar_cn import WorkdayCalendar
from services.clock import Clock
from services.errors import Refusal
from services.outbox import Outgoing, text
from services.review_scoring import (
    COMPONENTS,
    Adjustment,
    Grade,
    MemberInput,
    Result,
    Rubric,
    RubricError,
    dec,
    round_half_up,
    score_all,
    show,
)
from services.roster import Actor, Target
from storage import audit, duty, members, orgs, outbox, reviews
from storage import tasks as task_store
from storage import trainings as training_store
from storage.db import Database
from storage.models import Member, to_db
from storage.reviews import Cycle

log = logging.getLogger(__name__)

MAX_NAME = 40
MAX_COMMENT = 300
MAX_REASON = 200
COMPONENT_WORDS = {
    "chair": "chair", "主席": "chair", "主席评分": "chair", "评分": "chair",
    "peer": "peer", "测评": "peer", "民主测评": "peer", "互评": "peer",
    "duty": "duty", "值班": "duty", "签到": "duty",
    "training": "training", "培训": "training",
}
_GRADE_SPEC = re.compile(r"^(?P<label>[^>=*]+?)(?:>=|=|>)(?P<min>\d+(?:\.\d+)?)\*(?P<coef>\d+(?:\.\d+)?)$")
_SCORE = re.compile(r"^\d{1,3}(?:\.\d)?$")
_DELTA = re.compile(r"^[+-]\d{1,3}(?:\.\d)?$")


# --- records -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Activity:
    shifts: int = 0
    checked: int = 0
    ledger: int = 0
    trainings: tuple[int, int] | None = None  # (attended, meant for)
    tasks: tuple[int, int] | None = None  # (closed on time, owned)


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
        return sum((Decimal(r.subsidy) for r in self.rows if r.subsidy is not None), Decimal(0)).quantize(
            Decimal("0.01"))


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
class CloseCheck:
    cycle: Cycle
    unscored: list[Member]
    no_report: list[Member]
    before_deadline: bool


# --- pure helpers ----------------------------------------------------------------------------------


def rating_id(key: bytes, cycle_id: int, rater_id: int, ratee_id: int) -> str:
    return hmac.new(key, f"{cycle_id}:{rater_id}:{ratee_id}".encode(), hashlib.sha256).hexdigest()


def _normalise(text: str) -> str:
    table = str.maketrans({"＝": "=", "＞": ">", "≥": ">=", "×": "*", "＊": "*", "ｘ": "*", "，": " ", ",": " ",
                           "．": ".", "＋": "+", "－": "-", "：": "=", ":": "="})
    return text.translate(table)


def parse_weights(text: str) -> dict[str, Decimal]:
    """`chair=0.5 peer=0.3 duty=0.1 training=0.1` (or 主席/测评/值班/培训); all four, adding up to 1."""
    found: dict[str, Decimal] = {}
    for token in _normalise(text).split():
        name, sep, value = token.partition("=")
        key = COMPONENT_WORDS.get(name.strip().lower())
        if not sep or key is None:
            raise Refusal("review_config.weights_usage")
        try:
            found[key] = Decimal(value)
        except InvalidOperation as exc:
            raise Refusal("review_config.weights_usage") from exc
        if not found[key].is_finite():
            raise Refusal("review_config.weights_usage")
    missing = [k for k in COMPONENTS if k not in found]
    if missing:
        raise Refusal("review_config.weights_missing", missing=" ".join(missing))
    return found


def parse_grades(text: str) -> tuple[Grade, ...]:
    """`优秀>=90*1.0 称职>=75*0.8 基本称职>=60*0.5 不称职>=0*0`, highest first."""
    grades = []
    for token in _normalise(text).split():
        match = _GRADE_SPEC.match(token)
        if match is None:
            raise Refusal("review_config.grades_usage", text=token)
        grades.append(Grade(match.group("label"), Decimal(match.group("min")), Decimal(match.group("coef"))))
    if not grades:
        raise Refusal("review_config.grades_usage", text="")
    return tuple(grades)


def parse_amount(text: str) -> Decimal:
    cleaned = _normalise(text).strip().removesuffix("元")
    if not re.match(r"^\d{1,7}(?:\.\d{1,2})?$", cleaned):
        raise Refusal("review_config.subsidy_usage")
    return Decimal(cleaned)


def parse_score(text: str) -> Decimal:
    cleaned = _normalise(text).strip().removesuffix("分")
    if not _SCORE.match(cleaned) or Decimal(cleaned) > 100:
        raise Refusal("score.bad_score", text=text)
    return Decimal(cleaned)


def parse_delta(text: str) -> Decimal:
    cleaned = _normalise(text).strip().removesuffix("分")
    if not _DELTA.match(cleaned) or Decimal(cleaned) == 0 or abs(Decimal(cleaned)) > 100:
        raise Refusal("adjust.bad_delta", text=text)
    return Decimal(cleaned)


def rubric_error(exc: RubricError) -> Refusal:
    return Refusal(f"review_config.err_{exc.code}", **{k: str(v) for k, v in exc.params.items()})


def merge_rubric(base: Rubric, override: Mapping[str, Any]) -> Rubric:
    """The deployment rubric with an organisation's overrides (weights, grades, subsidy_base)."""
    found = base
    if "weights" in override:
        found = replace(found, weights={k: dec(v) for k, v in override["weights"].items()})
    if "grades" in override:
        found = replace(found, grades=tuple(Grade(str(g["label"]), dec(g["min"]), dec(g["coefficient"]))
                                            for g in override["grades"]))
    if "subsidy_base" in override:
        found = replace(found, subsidy_base=dec(override["subsidy_base"]))
    return found


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
        adjustment_total=_signed(result.adjustment_total),
        weights={k: show(v, 3) for k, v in result.weights.items()},
        total=None if result.total is None else str(result.total),
        grade=result.grade,
        coefficient=None if result.coefficient is None else str(result.coefficient),
        subsidy=None if result.subsidy is None else str(result.subsidy),
    )


def _signed(value: Decimal) -> str:
    text = str(value.normalize()) if value != 0 else "0"
    if "E" in text:
        text = str(value)
    return f"+{text}" if value > 0 else text


# --- the service -----------------------------------------------------------------------------------


class ReviewService:
    def __init__(self, db: Database, clock: Clock, tz: ZoneInfo, config: Any, super_admins: frozenset[int]) -> None:
        self.db = db
        self.clock = clock
        self.tz = tz
        self.config = config  # bot.config.ReviewConfig
        self.super_admins = super_admins
        self.base_rubric: Rubric = config.rubric()

    # --- rights --------------------------------------------------------------------------------

    async def _me(self, conn: aiosqlite.Connection, actor: Actor, org_id: int) -> Member | None:
        return await members.find_active(conn, org_id, user_id=actor.user_id)

    async def _require_chair(self, conn: aiosqlite.Connection, actor: Actor, org_id: int) -> Member | None:
        me = await self._me(conn, actor, org_id)
        if actor.is_super_admin or (me is not None and me.role == "chair"):
            return me
        raise Refusal("review.chair_only")

    async def _require_manager(self, conn: aiosqlite.Connection, actor: Actor, org_id: int) -> Member | None:
        me = await self._me(conn, actor, org_id)
        if actor.is_super_admin or (me is not None and me.is_manager):
            return me
        raise Refusal("review.manager_only")

    async def _open(self, conn: aiosqlite.Connection, org_id: int) -> Cycle:
        cycle = await reviews.open_cycle(conn, org_id)
        if cycle is None:
            latest = await reviews.latest_cycle(conn, org_id)
            if latest is not None:
                raise Refusal("review.closed_already", name=latest.name)
            raise Refusal("review.no_cycle")
        return cycle

    async def _participant(self, conn: aiosqlite.Connection, cycle: Cycle, member: Member) -> None:
        ids = {m.id for m in await reviews.participants(conn, cycle.id)}
        if member.id not in ids:
            raise Refusal("review.not_participant", name=cycle.name)

    # --- rubric --------------------------------------------------------------------------------

    async def _rubric(self, conn: aiosqlite.Connection, org_id: int) -> Rubric:
        override = await reviews.rubric_override(conn, org_id)
        try:
            return merge_rubric(self.base_rubric, override).validate()
        except (RubricError, KeyError, TypeError, ValueError):
            log.warning("org %s: stored review rubric is invalid; using the defaults", org_id)
            return self.base_rubric

    async def rubric(self, org_id: int) -> tuple[Rubric, bool]:
        """The organisation's rubric and whether it has its own overrides."""
        async with self.db.read() as conn:
            override = await reviews.rubric_override(conn, org_id)
            return await self._rubric(conn, org_id), bool(override)

    async def set_rubric(self, actor: Actor, org_id: int, part: str, value: Any) -> Rubric:
        """Override weights / grades / subsidy_base for this organisation, or reset ("reset")."""
        now = self.clock.now()
        async with self.db.transaction() as conn:
            await self._require_chair(conn, actor, org_id)
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
                rubric = merge_rubric(self.base_rubric, override).validate()
            except RubricError as exc:
                raise rubric_error(exc) from exc
            await reviews.set_rubric_override(conn, org_id, override, actor.user_id, now)
            await audit.record(conn, org_id, actor.user_id, "review.config", now, part=part, rubric=override)
        return rubric

    # --- cycle ---------------------------------------------------------------------------------

    async def start(self, actor: Actor, org_id: int, name: str, deadline: datetime, period_start: datetime | None,
                    bot_username: str) -> tuple[Cycle, list[Member]]:
        name = " ".join(name.split())
        if not name:
            raise Refusal("review_start.usage")
        if len(name) > MAX_NAME:
            raise Refusal("review_start.name_too_long", limit=MAX_NAME)
        now = self.clock.now()
        if deadline <= now:
            raise Refusal("review_start.deadline_past")
        start = period_start or now
        if start > now:
            raise Refusal("review_start.period_future")
        async with self.db.transaction() as conn:
            me = await self._require_chair(conn, actor, org_id)
            existing = await reviews.open_cycle(conn, org_id)
            if existing is not None:
                raise Refusal("review_start.already_open", name=existing.name)
            people = await members.active_in_org(conn, org_id)
            if len(people) < 2:
                raise Refusal("review_start.too_few")
            cycle_id = await reviews.create_cycle(conn, org_id, name, start, deadline, secrets.token_bytes(32),
                                                  bot_username, actor.user_id, now)
            await reviews.add_participants(conn, cycle_id, [m.id for m in people])
            cycle = await reviews.get_cycle(conn, cycle_id)
            assert cycle is not None
            work = await orgs.chat_of(conn, org_id, "work")
            work_id = work.chat_id if work else None
            params = self._cycle_params(cycle)
            msgs = [self._to_member(m, work_id, "review.request_report", f"review:{cycle_id}:request:{m.id}", now,
                                    org_id, {**params, "name": m.display_name})
                    for m in people]
            if work_id is not None:
                msgs.append(Outgoing(work_id, "review.announce", {**params, "count": len(people)}, org_id=org_id,
                                     dedupe=f"review:{cycle_id}:announce", due_at=now))
            await outbox.enqueue(conn, [m for m in msgs if m is not None], now)
            await audit.record(conn, org_id, actor.user_id, "review.start", now, cycle_id=cycle_id, name=name,
                               deadline=deadline, period_start=start, members=[m.id for m in people],
                               by_member=me.id if me else None)
        return cycle, people

    def _cycle_params(self, cycle: Cycle) -> dict[str, Any]:
        link = f"https://t.me/{cycle.bot_username}?start=review_{cycle.org_id}" if cycle.bot_username else ""
        return {"cycle": cycle.name, "deadline": self.local(cycle.deadline),
                "link_line": text("review.link_line", link=link) if link else ""}

    def _to_member(self, member: Member, work_id: int | None, key: str, dedupe: str, due: datetime, org_id: int,
                   params: dict[str, Any]) -> Outgoing | None:
        if member.user_id is not None:
            return Outgoing(member.user_id, key, params, org_id=org_id, dedupe=dedupe, fallback_chat_id=work_id,
                            due_at=due)
        if work_id is not None:
            return Outgoing(work_id, key, params, org_id=org_id, dedupe=dedupe, due_at=due)
        return None

    def local(self, moment: datetime) -> str:
        local = moment.astimezone(self.tz)
        return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"

    async def current(self, org_id: int) -> Cycle | None:
        """The open cycle, else the latest closed one, else None."""
        async with self.db.read() as conn:
            return await reviews.open_cycle(conn, org_id) or await reviews.latest_cycle(conn, org_id)

    async def cycle(self, cycle_id: int) -> Cycle | None:
        async with self.db.read() as conn:
            return await reviews.get_cycle(conn, cycle_id)

    # --- reports -------------------------------------------------------------------------------

    async def submit_report(self, member: Member, content: str, file_id: str | None, file_name: str | None,
                            append: bool = False) -> tuple[Cycle, reviews.Report, bool]:
        """Submit, replace or extend her report; returns (cycle, report, whether it replaced one)."""
        content = content.strip()
        now = self.clock.now()
        async with self.db.transaction() as conn:
            cycle = await self._open(conn, member.org_id)
            await self._participant(conn, cycle, member)
            if now >= cycle.deadline:
                raise Refusal("report.closed", name=cycle.name, deadline=self.local(cycle.deadline))
            old = await reviews.get_report(conn, cycle.id, member.id)
            if not content and file_id is None:
                raise Refusal("report.usage")
            if old is not None:
                if append:
                    content = f"{old.content}\n{content}".strip()
                elif not content:
                    content = old.content  # a new attachment alone keeps the text
                if file_id is None:
                    file_id, file_name = old.file_id, old.file_name  # a new text alone keeps the attachment
            limit = int(self.config.report_max_chars)
            if len(content) > limit:
                raise Refusal("report.too_long", limit=limit, length=len(content))
            await reviews.save_report(conn, cycle.id, member.id, content, file_id, file_name, now)
            report = await reviews.get_report(conn, cycle.id, member.id)
            await audit.record(conn, member.org_id, member.user_id, "review.report", now, cycle_id=cycle.id,
                               chars=len(content), file=file_id is not None, append=append)
        assert report is not None
        return cycle, report, old is not None and not append

    async def report_of(self, actor: Actor, org_id: int,
                        target: Target | None) -> tuple[Cycle, Member, reviews.Report | None]:
        """Her own report (target None), or a manager reading a member's report."""
        async with self.db.read() as conn:
            cycle = await reviews.open_cycle(conn, org_id) or await reviews.latest_cycle(conn, org_id)
            if cycle is None:
                raise Refusal("review.no_cycle")
            if target is None:
                who = await self._me(conn, actor, org_id)
                if who is None:
                    raise Refusal("review.member_only")
            else:
                await self._require_manager(conn, actor, org_id)
                who = await self._resolve_participant(conn, cycle, target)
            return cycle, who, await reviews.get_report(conn, cycle.id, who.id)

    async def _resolve_participant(self, conn: aiosqlite.Connection, cycle: Cycle, target: Target) -> Member:
        people = await reviews.participants(conn, cycle.id)
        for m in people:
            if target.user_id is not None and m.user_id == target.user_id:
                return m
        for m in people:
            if target.username and m.username and m.username.lower() == target.username.lower():
                return m
        if target.username:
            user = await members.user_by_username(conn, target.username)
            if user is not None:
                for m in people:
                    if m.user_id == user.user_id:
                        return m
        for m in people:
            if target.name and m.display_name == target.name:
                return m
        label = target.name or (f"@{target.username}" if target.username else str(target.user_id or ""))
        raise Refusal("review.not_in_cycle", who=label, name=cycle.name)

    # --- democratic rating ---------------------------------------------------------------------

    async def colleagues(self, member: Member) -> tuple[Cycle, Rubric, list[tuple[Member, int | None]]]:
        """The colleagues she rates in the open cycle, each with her current choice (or None)."""
        async with self.db.read() as conn:
            cycle = await self._open(conn, member.org_id)
            await self._participant(conn, cycle, member)
            rubric = await self._rubric(conn, member.org_id)
            others = [m for m in await reviews.participants(conn, cycle.id) if m.active and m.id != member.id]
            assert cycle.ballot_key is not None
            ids = {m.id: rating_id(cycle.ballot_key, cycle.id, member.id, m.id) for m in others}
            stored = await reviews.ratings_by_id(conn, cycle.id, ids.values())
        return cycle, rubric, [(m, stored.get(ids[m.id])) for m in others]

    async def rate(self, member: Member, cycle_id: int, ratee_id: int, choice: int) -> tuple[Member, bool, Rubric]:
        """Her rating of a colleague, new or changed; returns (colleague, whether new, rubric)."""
        async with self.db.transaction() as conn:
            cycle = await reviews.get_cycle(conn, cycle_id)
            if cycle is None or cycle.org_id != member.org_id:
                raise Refusal("rate.gone")
            if not cycle.is_open or cycle.ballot_key is None:
                raise Refusal("rate.closed", name=cycle.name)
            await self._participant(conn, cycle, member)
            if ratee_id == member.id:
                raise Refusal("rate.self")
            people = {m.id: m for m in await reviews.participants(conn, cycle.id)}
            ratee = people.get(ratee_id)
            if ratee is None or not ratee.active:
                raise Refusal("rate.not_colleague")
            rubric = await self._rubric(conn, member.org_id)
            if not 0 <= choice < len(rubric.ratings):
                raise Refusal("rate.bad_choice")
            new = await reviews.put_rating(conn, rating_id(cycle.ballot_key, cycle.id, member.id, ratee_id), cycle.id,
                                           ratee_id, choice)
        return ratee, new, rubric

    async def ratee_by_name(self, member: Member, target: Target) -> Member:
        async with self.db.read() as conn:
            cycle = await self._open(conn, member.org_id)
            return await self._resolve_participant(conn, cycle, target)

    # --- chair score and adjustments -----------------------------------------------------------

    async def _scorable(self, conn: aiosqlite.Connection, actor: Actor, org_id: int,
                        target: Target) -> tuple[Cycle, Member]:
        me = await self._require_manager(conn, actor, org_id)
        cycle = await self._open(conn, org_id)
        who = await self._resolve_participant(conn, cycle, target)
        if not who.active:
            raise Refusal("score.removed", who=who.display_name)
        if me is not None and me.id == who.id:
            raise Refusal("score.self")
        if who.role == "chair" and not actor.is_super_admin and (me is None or me.role != "vice_chair"):
            raise Refusal("score.chair_by_vice")
        return cycle, who

    async def score(self, actor: Actor, org_id: int, target: Target, value: Decimal,
                    comment: str) -> tuple[Member, bool]:
        comment = " ".join(comment.split())
        if len(comment) > MAX_COMMENT:
            raise Refusal("common.too_long", limit=MAX_COMMENT)
        now = self.clock.now()
        async with self.db.transaction() as conn:
            cycle, who = await self._scorable(conn, actor, org_id, target)
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
        now = self.clock.now()
        async with self.db.transaction() as conn:
            cycle, who = await self._scorable(conn, actor, org_id, target)
            text = _signed(delta)
            await reviews.add_adjustment(conn, cycle.id, who.id, text, reason, actor.user_id, now)
            await audit.record(conn, org_id, actor.user_id, "review.adjust", now, cycle_id=cycle.id, member_id=who.id,
                               delta=text, reason=reason)
            found = (await reviews.adjustments(conn, cycle.id)).get(who.id, [])
        return who, found

    # --- status --------------------------------------------------------------------------------

    async def status(self, actor: Actor, org_id: int) -> Status:
        async with self.db.read() as conn:
            await self._require_manager(conn, actor, org_id)
            cycle = await reviews.open_cycle(conn, org_id) or await reviews.latest_cycle(conn, org_id)
            if cycle is None:
                raise Refusal("review.no_cycle")
            people = await reviews.participants(conn, cycle.id)
            active = [m for m in people if m.active]
            reports = await reviews.reports(conn, cycle.id)
            scores = await reviews.scores(conn, cycle.id)
            adjustments = await reviews.adjustments(conn, cycle.id)
            lines = []
            for m in people:
                others = [o for o in active if o.id != m.id]
                rated = 0
                if cycle.ballot_key is not None and m.active:
                    ids = [rating_id(cycle.ballot_key, cycle.id, m.id, o.id) for o in others]
                    rated = len(await reviews.ratings_by_id(conn, cycle.id, ids))
                lines.append(StatusLine(m, m.id in reports, rated, len(others), m.id in scores,
                                        len(adjustments.get(m.id, []))))
            total = await reviews.rating_total(conn, cycle.id)
        return Status(cycle, lines, total)

    async def my_progress(self, member: Member) -> tuple[Cycle, bool, int, int]:
        """In the open cycle: (cycle, report submitted, colleagues rated, colleagues to rate)."""
        cycle, _, found = await self.colleagues(member)
        async with self.db.read() as conn:
            report = await reviews.get_report(conn, cycle.id, member.id)
        return cycle, report is not None, sum(1 for _, c in found if c is not None), len(found)

    # --- activity data -------------------------------------------------------------------------

    def period_end(self, cycle: Cycle, now: datetime) -> datetime:
        return min(cycle.deadline, cycle.closed_at or now)

    async def _activity(self, conn: aiosqlite.Connection, org_id: int, start: datetime,
                        end: datetime) -> dict[int, Activity]:
        shifts: dict[int, int] = {}
        checked: dict[int, int] = {}
        versions = await duty.versions(conn, org_id)
        if versions and end > start:
            rv = [rotation.RotationVersion(v.effective_from, v.member_ids, v.period, v.anchor, self.tz,  # type: ignore[arg-type]
                                           v.handoff, v.skip_non_working) for v in versions]
            ov = [rotation.Override(o.id, o.kind, o.member_id, o.first_day, o.last_day, o.replacement_id,  # type: ignore[arg-type]
                                    o.created_at) for o in await duty.overrides(conn, org_id)]
            calendar = WorkdayCalendar.with_days_off(await duty.days_off(conn, org_id))
            found = rotation.shifts_between(rv, ov, start, end, calendar)
            done = await duty.checkins_between(conn, org_id, start - timedelta(days=400), end)
            for s in found:
                is_done = to_db(s.start) in done
                # A shift still running at the end of the period counts only once checked in.
                if s.end > end and not is_done:
                    continue
                shifts[s.member_id] = shifts.get(s.member_id, 0) + 1
                checked[s.member_id] = checked.get(s.member_id, 0) + int(is_done)
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

    async def _inputs(self, conn: aiosqlite.Connection, cycle: Cycle, end: datetime) -> tuple[
            list[Member], list[MemberInput], dict[int, Activity], dict[int, reviews.Score],
            dict[int, list[reviews.AdjustmentRow]]]:
        people = await reviews.participants(conn, cycle.id)
        scores = await reviews.scores(conn, cycle.id)
        adjustments = await reviews.adjustments(conn, cycle.id)
        ratings = await reviews.ratings_for(conn, cycle.id)
        activity = await self._activity(conn, cycle.org_id, cycle.period_start, end)
        inputs = []
        for m in people:
            act = activity.get(m.id, Activity())
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
        return people, inputs, activity, scores, adjustments

    # --- close and results ---------------------------------------------------------------------

    async def close_check(self, actor: Actor, org_id: int) -> CloseCheck:
        now = self.clock.now()
        async with self.db.read() as conn:
            await self._require_chair(conn, actor, org_id)
            cycle = await self._open(conn, org_id)
            people = [m for m in await reviews.participants(conn, cycle.id) if m.active]
            scores = await reviews.scores(conn, cycle.id)
            reports = await reviews.reports(conn, cycle.id)
        return CloseCheck(cycle, [m for m in people if m.id not in scores], [m for m in people if m.id not in reports],
                          now < cycle.deadline)

    async def close(self, actor: Actor, org_id: int, cycle_id: int | None = None) -> ClosedCycle:
        now = self.clock.now()
        async with self.db.read() as conn:
            await conn.execute("PRAGMA secure_delete = ON")  # the ballot key's bytes are zeroed on disk
        try:
            async with self.db.transaction() as conn:
                await self._require_chair(conn, actor, org_id)
                cycle = await self._open(conn, org_id)
                if cycle_id is not None and cycle.id != cycle_id:
                    raise Refusal("review.closed_already", name=cycle.name)
                closed = replace(cycle, closed_at=now)
                end = self.period_end(closed, now)
                people, inputs, activity, scores, adjustments = await self._inputs(conn, closed, end)
                rubric = await self._rubric(conn, org_id)
                rows = [
                    result_row(m, r, activity.get(m.id, Activity()),
                               scores[m.id].comment if m.id in scores else "", adjustments.get(m.id, []))
                    for m, r in zip(people, score_all(inputs, rubric), strict=True)
                ]
                await reviews.save_results(conn, cycle.id, [(r.member_id, r.to_json()) for r in rows])
                await reviews.close_cycle(conn, cycle.id, json.dumps(rubric.to_json(), ensure_ascii=False),
                                          actor.user_id, now)
                work = await orgs.chat_of(conn, org_id, "work")
                work_id = work.chat_id if work else None
                msgs = [self._to_member(m, work_id, "review.closed_notice", f"review:{cycle.id}:closed:{m.id}", now,
                                        org_id, {"cycle": cycle.name, "name": m.display_name})
                        for m in people if m.active]
                await outbox.enqueue(conn, [m for m in msgs if m is not None], now)
                await audit.record(conn, org_id, actor.user_id, "review.close", now, cycle_id=cycle.id,
                                   subsidy_total=str(sum((Decimal(r.subsidy) for r in rows if r.subsidy), Decimal(0))))
                final = await reviews.get_cycle(conn, cycle.id)
        finally:
            async with self.db.read() as conn:
                await conn.execute("PRAGMA secure_delete = OFF")
                await conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert final is not None
        return ClosedCycle(final, rubric, rows)

    async def results(self, actor: Actor, org_id: int, cycle_id: int | None = None) -> ClosedCycle:
        """A closed cycle's table (the latest, or `cycle_id`), for the chair, a vice chair or the CLI."""
        async with self.db.read() as conn:
            await self._require_manager(conn, actor, org_id)
            return await self._closed(conn, org_id, cycle_id)

    async def export(self, org_id: int, cycle_id: int | None = None) -> ClosedCycle:
        """The same table for the admin CLI on the server (no chat user, no rights check)."""
        async with self.db.read() as conn:
            return await self._closed(conn, org_id, cycle_id)

    async def _closed(self, conn: aiosqlite.Connection, org_id: int, cycle_id: int | None) -> ClosedCycle:
        if cycle_id is None:
            cycle = await reviews.latest_cycle(conn, org_id, "closed")
        else:
            cycle = await reviews.get_cycle(conn, cycle_id)
            if cycle is not None and (cycle.org_id != org_id or cycle.is_open):
                cycle = None
        if cycle is None:
            raise Refusal("review.no_closed")
        rubric = Rubric.from_json(json.loads(cycle.rubric)) if cycle.rubric else self.base_rubric
        rows = [ResultRow.from_json(d) for _, d in await reviews.results(conn, cycle.id)]
        return ClosedCycle(cycle, rubric, rows)

    async def my_result(self, member: Member) -> tuple[ClosedCycle, ResultRow] | None:
        """Her own row in the latest closed cycle she took part in (None if she has none)."""
        async with self.db.read() as conn:
            try:
                closed = await self._closed(conn, member.org_id, None)
            except Refusal:
                return None
        for row in closed.rows:
            if row.member_id == member.id:
                return closed, row
        return None

    # --- reminders (a producer, run on every tick) ---------------------------------------------

    async def produce(self, now: datetime) -> None:
        async with self.db.transaction() as conn:
            for cycle in await reviews.all_open(conn):
                await self._produce_cycle(conn, cycle, now)

    async def _produce_cycle(self, conn: aiosqlite.Connection, cycle: Cycle, now: datetime) -> None:
        work = await orgs.chat_of(conn, cycle.org_id, "work")
        work_id = work.chat_id if work else None
        people = [m for m in await reviews.participants(conn, cycle.id) if m.active]
        reports = await reviews.reports(conn, cycle.id)
        params = self._cycle_params(cycle)
        msgs: list[Outgoing | None] = []
        for days in sorted(set(self.config.reminder_days), reverse=True):
            due = cycle.deadline - timedelta(days=days)
            if not (cycle.created_at <= due <= now < cycle.deadline):
                continue
            for m in people:
                if m.id not in reports:
                    msgs.append(self._to_member(m, work_id, "review.remind_report",
                                                f"review:{cycle.id}:remind:{days}:{m.id}", due, cycle.org_id,
                                                {**params, "name": m.display_name, "days": days}))
        if now >= cycle.deadline:
            chairs = [m for m in people if m.role == "chair"]
            counts = {"cycle": cycle.name, "reports": sum(1 for m in people if m.id in reports), "count": len(people)}
            for chair in chairs:
                msgs.append(self._to_member(chair, work_id, "review.deadline_passed",
                                            f"review:{cycle.id}:deadline:{chair.id}", cycle.deadline, cycle.org_id,
                                            counts))
        await outbox.enqueue(conn, [m for m in msgs if m is not None], now)

    def today(self) -> date:
        return self.clock.now().astimezone(self.tz).date()

