"""Reminder commands: /remind /reminders /cancel, and the 稍后提醒 / 已完成 buttons."""

from __future__ import annotations

import re

from telegram import Update

from handlers import formats
from handlers.commands import handles
from handlers.common import BotContext, Req, command, load_req, message_text_after_command, reply, time_error
from handlers.i18n import Raw
from services.errors import Refusal
from services.timeparse import TimeParseError, parse_when

REMINDER_CALLBACK = re.compile(r"^rm:([sd]):(\d+)$")
ID = re.compile(r"^#?(\d{1,9})$")


async def _target_org(req: Req) -> tuple[bool, int | None]:
    """(allowed, org id) for a reminder in this chat: any private chat; in a bound group, members only."""
    if req.private:
        found = await req.services.roster.memberships(req.user_id)
        return True, (found[0][0].id if len(found) == 1 else None)
    if req.org is None:
        await reply(req, req.t("common.not_bound"))
        return False, None
    if req.member is None and not req.actor.is_super_admin:
        await reply(req, req.t("reminders.members_only"))
        return False, None
    return True, req.org.id


@handles("remind")
@command
async def remind(req: Req, context: BotContext) -> None:
    assert req.update.effective_message is not None
    raw = message_text_after_command(req.update.effective_message).strip()
    if not raw:
        await reply(req, req.t("reminders.usage"))
        return
    allowed, org_id = await _target_org(req)
    if not allowed:
        return
    try:
        when, content = parse_when(raw, req.services.clock.now().astimezone(req.services.config.tz))
    except TimeParseError as error:
        await reply(req, time_error(req, error) + "\n" + req.t("reminders.example"))
        return
    if not content:
        await reply(req, req.t("reminders.no_text"))
        return
    created = await req.services.reminders.create(req.user_id, org_id, req.chat_id, when, content)
    tz = req.services.config.tz
    assert created.reminder.next_at is not None
    key = "reminders.created_repeat" if created.rule else "reminders.created"
    await reply(req, req.t(key, id=created.reminder.id, at=formats.day_time(req.lang, created.reminder.next_at, tz),
                           repeat=formats.recurrence(req.lang, created.rule) if created.rule else "", text=content))


@handles("reminders")
@command
async def reminders_list(req: Req, context: BotContext) -> None:
    found = await req.services.reminders.in_chat(req.chat_id)
    if not found:
        # Suggest /remind only where she may use it (in a group: committee members).
        may_set = req.private or req.member is not None or req.actor.is_super_admin
        await reply(req, req.t("reminders.none" if may_set else "reminders.none_plain"))
        return
    tz = req.services.config.tz
    lines = [req.t("reminders.list_title", count=len(found))]
    for item in found:
        r = item.reminder
        when = formats.day_time(req.lang, r.next_at, tz) if r.next_at else ""
        lines.append(req.t("reminders.list_line", id=r.id, at=when,
                           repeat=Raw(req.t("reminders.list_repeat", rule=formats.recurrence(req.lang, item.rule)))
                           if item.rule else "",
                           text=r.text))
    lines.append(req.t("reminders.list_hint"))
    await reply(req, "\n".join(lines))


@handles("cancel")
@command
async def cancel(req: Req, context: BotContext) -> None:
    assert req.update.effective_message is not None
    raw = message_text_after_command(req.update.effective_message).strip()
    match = ID.match(raw)
    if match is None:
        await reply(req, req.t("reminders.cancel_usage"))
        return
    found = await req.services.reminders.cancel(req.user_id, req.chat_id, int(match.group(1)),
                                                req.actor.is_super_admin)
    await reply(req, req.t("reminders.cancelled", id=found.id, text=found.text))


async def reminder_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    match = REMINDER_CALLBACK.match(query.data)
    req = await load_req(update, context)
    if match is None:
        await query.answer()
        return
    rid = int(match.group(2))
    svc = req.services.reminders
    original = query.message.text_html if query.message is not None and hasattr(query.message, "text_html") else ""
    name = update.effective_user.full_name if update.effective_user else ""
    try:
        if not req.private and req.member is None and not req.actor.is_super_admin:
            raise Refusal("reminders.members_only")  # a group's reminder: its members press its buttons
        if match.group(1) == "s":
            at = await svc.snooze(req.user_id, rid, req.chat_id)
            note = req.t("reminders.snoozed", at=formats.day_time(req.lang, at, req.services.config.tz), name=name)
        else:
            await svc.done(req.user_id, rid, req.chat_id)
            note = req.t("reminders.marked_done", name=name)
    except Refusal as refusal:
        await query.answer(req.t(refusal.key, **refusal.params), show_alert=True)
        return
    await query.answer(note[:200])
    if original:
        await query.edit_message_text(f"{original}\n\n{note}", reply_markup=None)
