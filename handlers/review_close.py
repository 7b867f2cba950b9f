"""/review_close with its confirmation buttons `rvc:<cycle>:yes|no`, and sending a closed cycle's
results to the chair: the table as text and the xlsx. Private chat only."""

from __future__ import annotations

import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from handlers.commands import handles
from handlers.common import BotContext, Req, command, load_req, reply
from handlers.i18n import in_script
from handlers.review_common import args_text, here
from handlers.review_export import results_text, review_xlsx
from services.errors import Refusal
from services.review_cycle import CloseLine
from services.review_results import ClosedCycle
from storage.models import Org

CLOSE_CALLBACK = re.compile(r"^rvc:(\d+):(yes|no)$")
CONFIRM_WORDS = ("确定", "确认", "yes")


@handles("review_close")
@command
async def review_close(req: Req, context: BotContext) -> None:
    org = await here(req, context)
    if org is None:
        return
    check = await req.services.review.close_check(req.actor, org.id)
    confirmed = args_text(req) in CONFIRM_WORDS
    missing = [x for x in check.lines if not x.scored or not x.peer_counts]
    if not confirmed and (missing or check.before_deadline):
        lines = [req.t("review_close.confirm", cycle=check.cycle.name)]
        if check.before_deadline:
            deadline = req.services.review.local(check.cycle.deadline)
            lines.append(req.t("review_close.before_deadline", deadline=deadline))
        if check.lines:
            lines.append(req.t("review_close.people_header"))
            # per person, and those for whom closing now means the same thing on one line
            grouped: dict[tuple[str, str], list[str]] = {}
            for x in check.lines:
                grouped.setdefault(_consequence(req, org, x, check.min_peer), []).append(x.member.display_name)
            for (problems, result), names in grouped.items():
                lines.append(req.t("review_close.person", names="、".join(names), problems=problems) + result)
        lines.append(req.t("review_close.final"))
        keyboard = InlineKeyboardMarkup([[
            InlineKeyboardButton(req.t("review_close.btn_yes"), callback_data=f"rvc:{check.cycle.id}:yes"),
            InlineKeyboardButton(req.t("review_close.btn_no"), callback_data=f"rvc:{check.cycle.id}:no"),
        ]])
        await reply(req, "\n".join(lines), keyboard)
        return
    await _close(req, context, org, check.cycle.id)


def _consequence(req: Req, org: Org, line: CloseLine, min_peer: int) -> tuple[str, str]:
    """What is missing for one member, and (when it reveals nothing about ratings) her result if
    closed now."""
    problems = []
    if not line.scored:
        problems.append(req.t("review_close.no_score_chair", org=org.name, name=line.member.display_name)
                        if line.nobody_can_score else req.t("review_close.no_score"))
    if not line.peer_counts:
        problems.append(req.t("review_close.peer_few", min=min_peer))
    if not line.report:
        problems.append(req.t("review_close.no_report_one"))
    result = ""
    row = line.preview
    if row is not None and row.total is not None and (not line.scored or not line.peer_counts):
        nothing = all(v is None for v in (row.chair, row.peer, row.duty, row.training))
        result = "\n" + req.t("review_close.result_nothing" if nothing else "review_close.result", total=row.total,
                              grade=in_script(req.lang, row.grade or ""), subsidy=row.subsidy)
    return "；".join(problems), result


async def close_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    req = await load_req(update, context)
    match = CLOSE_CALLBACK.match(query.data)
    cycle = await req.services.review.cycle(int(match.group(1))) if match else None
    if match is None or cycle is None or not req.private:
        await query.answer(req.t("rate.gone"), show_alert=True)
        return
    if match.group(2) == "no":
        await query.answer()
        await query.edit_message_text(req.t("review_close.kept_open", cycle=cycle.name))
        return
    org = await req.services.roster.find_org(str(cycle.org_id))
    assert org is not None
    try:
        await query.answer()
        await query.edit_message_reply_markup(None)
        await _close(req, context, org, cycle.id)
    except Refusal as refusal:
        await reply(req, req.t(refusal.key, **refusal.params))


async def _close(req: Req, context: BotContext, org: Org, cycle_id: int) -> None:
    closed = await req.services.review.close(req.actor, org.id, cycle_id)
    await reply(req, req.t("review_close.done", cycle=closed.cycle.name, count=len(closed.rows)))
    await deliver_results(req, context, org, closed)


async def send_results(req: Req, context: BotContext, org: Org, cycle_id: int | None) -> None:
    """A closed cycle's results again (the latest, or `cycle_id`), for the chair or a vice chair."""
    closed = await req.services.review.results(req.actor, org.id, cycle_id)
    await deliver_results(req, context, org, closed)


async def deliver_results(req: Req, context: BotContext, org: Org, closed: ClosedCycle) -> None:
    await reply(req, results_text(req.lang, org.name, closed))
    data = review_xlsx(req.lang, org.name, closed)
    await context.bot.send_document(req.chat_id, data, filename=f"review-{closed.cycle.id}.xlsx",
                                    caption=req.t("review_close.xlsx_caption", cycle=closed.cycle.name, org=org.name))
