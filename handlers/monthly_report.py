"""/report_month [月份]: the monthly report (月调度) on demand; super admins get the roll-up."""

from __future__ import annotations

from handlers.commands import handles
from handlers.common import BotContext, Req, command, org_and_member, reply
from handlers.duty import parse_month
from handlers.sender import render
from services.monthly_report import report_params, rollup_params
from services.outbox import Body


@handles("report_month")
@command
async def report_month(req: Req, context: BotContext) -> None:
    svc = req.services.monthly_report
    today = req.services.duty.today()
    named = await req.services.roster.org_named(req.args) if req.private and req.actor.is_super_admin else None
    if named is not None:
        del req.args[: named[1]]  # /report_month 青石村妇联 11月: the county names the organisation
    month = parse_month(" ".join(req.args), today)
    if month is None:
        await reply(req, req.t("monthly.usage"))
        return
    year, mon = month
    if (year, mon) > (today.year, today.month):
        await reply(req, req.t("monthly.future", year=year, month=mon))
        return
    if named is not None:
        summary = await svc.summary(named[0].id, year, mon)
        text, _ = render(req.lang, Body("monthly.monthly", report_params(summary), ()))
        await reply(req, text)
        return
    if req.private and req.actor.is_super_admin and not await req.services.roster.memberships(req.user_id):
        summaries = await svc.all_summaries(year, mon)
        if not summaries:
            await reply(req, req.t("monthly.no_orgs"))
            return
        text, _ = render(req.lang, Body("monthly.rollup", rollup_params(summaries, year, mon), ()))
        await reply(req, text)
        return
    found = await org_and_member(req, "monthly.managers_only", managers=True)
    if found is None:
        return
    org, _ = found
    summary = await svc.summary(org.id, year, mon)
    text, _ = render(req.lang, Body("monthly.monthly", report_params(summary), ()))
    await reply(req, text)
