"""What every part of 述职考评 shares: the context (database, clock, settings), who may do what,
finding the cycle, its participants and its activity period, and the rubric in force for an organisation
(the deployment's defaults with the organisation's overrides)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiosqlite

from services import fmt
from services.clock import Clock
from services.config import ReviewConfig
from services.errors import Refusal
from services.review.scoring import Grade, Rubric, RubricError, dec
from services.roster import Actor, Target
from storage import members, reviews
from storage.db import Database
from storage.models import Member
from storage.reviews import Cycle

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReviewContext:
    db: Database
    clock: Clock
    tz: ZoneInfo
    config: ReviewConfig
    base_rubric: Rubric  # the deployment's rubric, before an organisation's overrides

    def local(self, moment: datetime) -> fmt.Text:
        """The moment for a message: a nested text, rendered in the reader's language."""
        return fmt.full_day_time(moment, self.tz)


# --- rights ----------------------------------------------------------------------------------------


async def me(conn: aiosqlite.Connection, actor: Actor, org_id: int) -> Member | None:
    return await members.find_active(conn, org_id, user_id=actor.user_id)


async def require_chair(conn: aiosqlite.Connection, actor: Actor, org_id: int) -> Member | None:
    found = await me(conn, actor, org_id)
    if actor.is_super_admin or (found is not None and found.role == "chair"):
        return found
    raise Refusal("review.chair_only")


async def require_manager(conn: aiosqlite.Connection, actor: Actor, org_id: int) -> Member | None:
    found = await me(conn, actor, org_id)
    if actor.is_super_admin or (found is not None and found.is_manager):
        return found
    raise Refusal("review.manager_only")


# --- cycles and participants -----------------------------------------------------------------------


async def open_cycle(conn: aiosqlite.Connection, org_id: int) -> Cycle:
    """The open cycle, else a refusal naming the last closed one."""
    cycle = await reviews.open_cycle(conn, org_id)
    if cycle is None:
        latest = await reviews.latest_cycle(conn, org_id)
        if latest is not None:
            raise Refusal("review.closed_already", name=latest.name)
        raise Refusal("review.no_cycle")
    return cycle


async def current_cycle(conn: aiosqlite.Connection, org_id: int) -> Cycle | None:
    """The open cycle, else the latest closed one, else None."""
    return await reviews.open_cycle(conn, org_id) or await reviews.latest_cycle(conn, org_id)


async def some_cycle(conn: aiosqlite.Connection, org_id: int) -> Cycle:
    """The current cycle (open or the latest closed), else a refusal."""
    cycle = await current_cycle(conn, org_id)
    if cycle is None:
        raise Refusal("review.no_cycle")
    return cycle


def period_end(cycle: Cycle, now: datetime) -> datetime:
    """The period counts up to its set end (else the deadline), or the close if that came first."""
    return min(cycle.period_end or cycle.deadline, cycle.closed_at or now)


async def active_participants(conn: aiosqlite.Connection, cycle: Cycle) -> list[Member]:
    return [m for m in await reviews.participants(conn, cycle.id) if m.active]


async def require_participant(conn: aiosqlite.Connection, cycle: Cycle, member: Member) -> None:
    ids = {m.id for m in await reviews.participants(conn, cycle.id)}
    if member.id not in ids:
        raise Refusal("review.not_participant", name=cycle.name)


async def resolve_participant(conn: aiosqlite.Connection, cycle: Cycle, target: Target) -> Member:
    """A participant by Telegram id, @username (also through the users table) or display name."""
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


# --- the rubric in force ---------------------------------------------------------------------------


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


async def rubric_for(ctx: ReviewContext, conn: aiosqlite.Connection, org_id: int) -> Rubric:
    """The rubric in force for the organisation (the defaults if what is stored is invalid)."""
    override = await reviews.rubric_override(conn, org_id)
    try:
        return merge_rubric(ctx.base_rubric, override).validate()
    except (RubricError, KeyError, TypeError, ValueError):
        log.warning("org %s: stored review rubric is invalid; using the defaults", org_id)
        return ctx.base_rubric
