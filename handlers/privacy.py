"""/forget: export and delete a person's data on request (super admin, private chat), with the
确认删除 / 取消 buttons `fg:<token>:y|n`."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError

from handlers.commands import handles
from handlers.common import BotContext, Req, command, load_req, reply
from handlers.i18n import Raw
from services.errors import Refusal
from services.privacy import Pending, PrivacyService

log = logging.getLogger(__name__)

FORGET_CALLBACK = re.compile(r"^fg:([A-Za-z0-9_-]{4,40}):(y|n)$")
CONFIRM_WORDS = ("确认", "確認")


def _lines(req: Req, counts: Mapping[str, int]) -> str:
    shown = [req.t("forget.line", kind=req.t(f"forget.kinds.{k}"), count=v) for k, v in counts.items() if v]
    return "\n".join(shown) or req.t("forget.nothing")


def _service(req: Req) -> PrivacyService:
    found = req.services.privacy
    assert isinstance(found, PrivacyService)
    return found


@handles("forget")
@command
async def forget(req: Req, context: BotContext) -> None:
    if not req.actor.is_super_admin:
        await reply(req, req.t("forget.not_super"))
        return
    if not req.private:
        await reply(req, req.t("forget.private_only"))
        return
    words = list(context.args or [])
    confirmed = bool(words) and words[-1] in CONFIRM_WORDS
    if confirmed:
        words = words[:-1]
    if not words:
        await reply(req, req.t("forget.usage"))
        return
    who = " ".join(words)
    privacy = _service(req)
    if who.isdigit():
        pending = await privacy.prepare(req.actor, user_id=int(who))
    elif who.startswith("@") and len(who) > 1:
        pending = await privacy.prepare(req.actor, username=who[1:])
    else:
        pending = await privacy.prepare(req.actor, name=who)
    if confirmed:
        await _carry_out(req, context, pending)
        return
    person = pending.person
    keyboard = InlineKeyboardMarkup([[
        InlineKeyboardButton(req.t("forget.confirm_button"), callback_data=f"fg:{pending.token}:y"),
        InlineKeyboardButton(req.t("forget.cancel_button"), callback_data=f"fg:{pending.token}:n"),
    ]])
    text = req.t(
        "forget.preview", who=person.shown_as, id=person.subject.user_id or "—",
        orgs="、".join(person.orgs) or req.t("forget.no_orgs"),
        lines=_lines(req, pending.counts),
    )
    await reply(req, text, keyboard)


async def _carry_out(req: Req, context: BotContext, pending: Pending) -> bool:
    """Send the export; only once it is delivered, erase. True when erased."""
    privacy = _service(req)
    person = pending.person
    exported = await privacy.export(person)
    day = req.services.clock.now().astimezone(req.services.config.tz).date().isoformat()
    try:
        await context.bot.send_document(
            req.chat_id, privacy.export_bytes(exported), filename=f"forget-{person.id_text}-{day}.json",
            caption=req.t("forget.export_caption", who=person.shown_as),
        )
    except TelegramError:
        log.warning("forget: export could not be sent; nothing deleted", exc_info=True)
        await reply(req, req.t("forget.export_failed"))
        return False
    done = await privacy.forget(req.actor, pending.token)
    labels = "、".join(done.labels.values())
    roster = req.t("forget.done_roster", labels=labels) if labels else req.t("forget.done_no_roster")
    await reply(req, req.t(
        "forget.done", who=person.shown_as, lines=_lines(req, done.counts), roster=Raw(roster),
        rewritten=done.rewritten,
    ))
    return True


async def forget_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    match = FORGET_CALLBACK.match(query.data)
    req = await load_req(update, context)
    if match is None:
        await query.answer()
        return
    token, choice = match.group(1), match.group(2)
    privacy = _service(req)
    try:
        if not req.actor.is_super_admin:
            raise Refusal("forget.not_super")
        if choice == "n":
            privacy.cancel(req.actor, token)
            await query.answer()
            await query.edit_message_text(req.t("forget.cancelled"))
            return
        pending = privacy.take(req.actor, token)
    except Refusal as refusal:
        await query.answer(req.t(refusal.key, **refusal.params)[:200], show_alert=True)
        return
    await query.answer(req.t("forget.working"))
    await query.edit_message_reply_markup(None)
    try:
        await _carry_out(req, context, pending)
    except Refusal as refusal:
        await reply(req, req.t(refusal.key, **refusal.params))
