"""述职报告: a member submits, replaces or extends her report (text and/or one attachment) until the
deadline; she reads her own, the chair and vice chairs read anyone's."""

from __future__ import annotations

from services.errors import Refusal
from services.review.common import (
    ReviewContext,
    me,
    open_cycle,
    require_manager,
    require_participant,
    resolve_participant,
    some_cycle,
)
from services.roster import Actor, Target
from storage import audit, reviews
from storage.models import Member
from storage.reviews import Cycle


class WorkReports:
    def __init__(self, ctx: ReviewContext) -> None:
        self.ctx = ctx

    async def submit(self, member: Member, content: str, file_id: str | None, file_name: str | None,
                            append: bool = False) -> tuple[Cycle, reviews.Report, bool]:
        """Submit, replace or extend her report; returns (cycle, report, whether it replaced one)."""
        content = content.strip()
        now = self.ctx.clock.now()
        async with self.ctx.db.transaction() as conn:
            cycle = await open_cycle(conn, member.org_id)
            await require_participant(conn, cycle, member)
            if now >= cycle.deadline:
                raise Refusal("report.closed", name=cycle.name, deadline=self.ctx.local(cycle.deadline))
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
            limit = int(self.ctx.config.report_max_chars)
            if len(content) > limit:
                raise Refusal("report.too_long", limit=limit, length=len(content))
            await reviews.save_report(conn, cycle.id, member.id, content, file_id, file_name, now)
            report = await reviews.get_report(conn, cycle.id, member.id)
            await audit.record(conn, member.org_id, member.user_id, "review.report", now, cycle_id=cycle.id,
                               chars=len(content), file=file_id is not None, append=append)
        assert report is not None
        return cycle, report, old is not None and not append

    async def read(self, actor: Actor, org_id: int,
                        target: Target | None) -> tuple[Cycle, Member, reviews.Report | None]:
        """Her own report (target None), or a manager reading a member's report."""
        async with self.ctx.db.read() as conn:
            cycle = await some_cycle(conn, org_id)
            if target is None:
                who = await me(conn, actor, org_id)
                if who is None:
                    raise Refusal("review.member_only")
            else:
                await require_manager(conn, actor, org_id)
                who = await resolve_participant(conn, cycle, target)
            return cycle, who, await reviews.get_report(conn, cycle.id, who.id)
