"""The chair's score (主席评分) and the score adjustments (加减分) of the open cycle: who may give
them to whom, and keeping them with the audit trail."""

from __future__ import annotations

from decimal import Decimal

import aiosqlite

from services.errors import Refusal
from services.review_common import ReviewContext, open_cycle, require_manager, resolve_participant
from services.review_parse import signed
from services.roster import Actor, Target
from storage import audit, reviews
from storage.models import Member
from storage.reviews import Cycle

MAX_COMMENT = 300
MAX_REASON = 200


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
