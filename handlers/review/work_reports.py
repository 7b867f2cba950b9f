"""/report: a member submits, replaces or extends her 述职报告 (text and/or a document with /report as
its caption) and reads her own; `send_report` shows one (also to a manager, from /review_status).
Private chat only."""

from __future__ import annotations

import html
from typing import Any

from handlers.commands import handles
from handlers.common import BotContext, Req, command, reply
from handlers.i18n import Raw
from handlers.review.common import args_text, member_here
from services.errors import Refusal
from storage.models import Org

APPEND_WORDS = ("续", "追加", "接上")


# --- /report -------------------------------------------------------------------------------------


@handles("report")
@command
async def report(req: Req, context: BotContext) -> None:
    found = await member_here(req, context)
    if found is None:
        return
    org, me = found
    message = req.update.effective_message
    assert message is not None
    text = args_text(req)
    file_id = file_name = None
    if message.document is not None:
        file_id, file_name = message.document.file_id, message.document.file_name or req.t("report.file_default")
    if not text and file_id is None:
        await _show_own_report(req, context, org)
        return
    append = False
    for word in APPEND_WORDS:
        if text.startswith(word):
            append, text = True, text[len(word):].lstrip(" ：:")
            break
    cycle, saved, replaced = await req.services.review.work_reports.submit(me, text, file_id, file_name, append)
    key = "report.appended" if append else "report.replaced" if replaced else "report.done"
    lines = [req.t(key, cycle=cycle.name, chars=len(saved.content),
                   deadline=req.services.review.local(cycle.deadline))]
    if saved.file_id:
        lines.append(req.t("report.with_file", file=saved.file_name or req.t("report.file_default")))
    lines.append(req.t("report.hint_more"))
    await reply(req, "\n".join(lines))


async def _show_own_report(req: Req, context: BotContext, org: Org) -> None:
    try:
        cycle, _, saved = await req.services.review.work_reports.read(req.actor, org.id, None)
    except Refusal:
        await reply(req, req.t("report.usage"))
        return
    if saved is None:
        await reply(req, req.t("report.none_yet", cycle=cycle.name) + "\n\n" + req.t("report.usage"))
        return
    await send_report(req, context, cycle.name, req.t("report.yours"), saved)


async def send_report(req: Req, context: BotContext, cycle_name: str, who: str, saved: Any) -> None:
    header = req.t("report.show_header", cycle=cycle_name, who=who, chars=len(saved.content),
                   at=req.services.review.local(saved.updated_at))
    body = html.escape(saved.content, quote=False) if saved.content else req.t("report.only_file")
    await reply(req, req.t("report.show", header=Raw(header), body=Raw(body)))
    if saved.file_id:
        await context.bot.send_document(req.chat_id, saved.file_id,
                                        caption=req.t("report.file_caption", who=who)[:1024])
