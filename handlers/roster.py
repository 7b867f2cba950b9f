"""Organisation and roster commands: /setup /link /addmember /join /members /setrole /removemember."""

from __future__ import annotations

import logging
import re
from datetime import date

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError

from handlers.args import extract_target, split_role
from handlers.commands import handles, publish_work_menu
from handlers.common import (
    BotContext,
    Req,
    command,
    commit_changes,
    deliver_later,
    load_req,
    org_for_management,
    reply,
)
from services.errors import Refusal
from storage.models import Org

JOIN_CALLBACK = re.compile(r"^join:(\d+):(yes|no)$")

log = logging.getLogger(__name__)


@handles("setup")
@command
async def setup(req: Req, context: BotContext) -> None:
    chat = req.update.effective_chat
    assert chat is not None
    if req.private:
        await reply(req, req.t("common.group_only"))
        return
    name = " ".join(context.args or [])
    if not name:
        await reply(req, req.t("setup.usage"))
        return
    is_admin = False
    if not req.actor.is_super_admin:
        member = await context.bot.get_chat_member(chat.id, req.user_id)
        is_admin = member.status in (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR)
    hint = await privacy_hint(req, context, None)  # asks Telegram: before the change holds the writer
    org = await req.services.roster.setup(req.actor, chat.id, chat.title or "", name, is_admin)
    await reply(req, req.t("setup.done", org=org.name) + hint)  # in the change's transaction
    await commit_changes(req)
    await publish_work_menu(context.bot, req.chat_id, req.services.config.bot.locale)  # this group's menu


async def privacy_hint(req: Req, context: BotContext, public_chat: int | None) -> str:
    """For the chair after /setup and /link: when the bot answers ordinary questions in the public
    group (faq.auto_answer = "question") but Telegram's group privacy mode hides them from it
    (getMe, asked afresh: the setting can change while the bot runs), what to do. An administrator
    sees every message, so no hint when the bot is one in `public_chat`."""
    if req.services.config.faq.auto_answer != "question":
        return ""
    try:
        me = await context.bot.get_me()
        if me.can_read_all_group_messages is not False:
            return ""
        if public_chat is not None:
            member = await context.bot.get_chat_member(public_chat, me.id)
            if member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER):
                return ""
    except TelegramError as exc:
        log.info("could not check the privacy mode: %s", exc)
        return ""
    return "\n\n" + req.t("privacy_mode.hint", bot=me.username or "")


@handles("link")
@command
async def link(req: Req, context: BotContext) -> None:
    chat = req.update.effective_chat
    assert chat is not None
    code = (context.args or [""])[0]
    if req.private or req.ctx.kind == "work":
        org = await org_for_management(req)
        if org is None:
            return
        new_code, minutes = await req.services.roster.new_link_code(req.actor, org.id)
        await reply(req, req.t("link.code", code=new_code, minutes=minutes))
        return
    if not code:
        await reply(req, req.t("link.in_public_usage"))
        return
    hint = await privacy_hint(req, context, chat.id)  # for the chair: in the work group, not the pinned notice
    org = await req.services.roster.link_public(req.actor, chat.id, chat.title or "", code)
    work_chat = await req.services.roster.work_chat(org.id)
    if work_chat is not None:  # the note to the work group: in the link's own transaction
        await deliver_later(req.services, work_chat,
                            req.t("link.done_work", title=chat.title or "", org=org.name) + hint)
    await commit_changes(req)
    await pin_public_notice(req, context, org)  # sent directly: pinning needs its message id
    if work_chat is None and hint:
        await reply(req, hint.strip())


async def pin_public_notice(req: Req, context: BotContext, org: Org) -> None:
    """The public group's notice: what the bot does here, with the button that opens a private chat
    tied to this village; pinned when the bot may pin (a failure to pin is not an error)."""
    from handlers.faq import start_link

    keyboard = None
    if context.bot.username:
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton(req.t("faq.ask_privately"),
                                                               url=start_link(context.bot.username, org.id))]])
    notice = await reply(req, req.t("link.done", org=org.name), keyboard)
    if notice is not None:
        try:
            await context.bot.pin_chat_message(req.chat_id, notice.message_id, disable_notification=True)
        except TelegramError as exc:
            log.info("could not pin the notice in %s: %s", req.chat_id, exc)


@handles("addmember")
@command
async def addmember(req: Req, context: BotContext) -> None:
    message = req.update.effective_message
    assert message is not None
    org = await org_for_management(req)
    if org is None:
        return
    parsed = extract_target(message)
    if parsed.target is not None and parsed.target.name and parsed.target.user_id is None \
            and not parsed.target.username:
        # a name alone names nobody on Telegram: say what is missing and how to give it
        await reply(req, req.t("addmember.name_only", name=parsed.target.name) + "\n\n" + req.t("addmember.usage"))
        return
    if parsed.target is None or (parsed.target.user_id is None and not parsed.target.username):
        await reply(req, req.t("addmember.usage"))
        return
    if parsed.tg_user is not None:
        if parsed.tg_user.is_bot:
            await reply(req, req.t("addmember.bot_target"))
            return
        user = parsed.tg_user
        await req.services.roster.touch_user(user.id, user.username, user.first_name or "", user.last_name or "")
    role, rest = split_role(parsed.rest)
    added = await req.services.roster.add_member(req.actor, org.id, parsed.target, role or "member", " ".join(rest))
    key = "addmember.done" if added.user_id is not None else "addmember.done_pending"
    await reply(req, req.t(key, name=added.display_name, role=req.t(f"roles.{added.role}")))


@handles("members")
@command
async def members_list(req: Req, context: BotContext) -> None:
    org = await org_for_management(req)
    if org is None:
        return
    if not req.actor.is_super_admin and await req.services.roster.member_of(org.id, req.user_id) is None:
        await reply(req, req.t("common.not_member"))
        return
    roster = await req.services.roster.org_members(org.id)
    if not roster:
        await reply(req, req.t("roster.list_empty"))
        return
    lines = [req.t("roster.list_header", org=org.name, count=len(roster))]
    for i, m in enumerate(roster, 1):
        flags = f"（{req.t('roles.newly_elected')}）" if m.newly_elected else ""
        if m.user_id is None:
            flags += req.t("roster.pending_link")
        username = f" @{m.username}" if m.username and m.display_name != f"@{m.username}" else ""
        lines.append(
            req.t("roster.list_line", index=i, name=m.display_name, username=username,
                  role=req.t(f"roles.{m.role}"), flags=flags)
        )
    await reply(req, "\n".join(lines))


def _parse_day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


@handles("setrole")
@command
async def setrole(req: Req, context: BotContext) -> None:
    message = req.update.effective_message
    assert message is not None
    org = await org_for_management(req)
    if org is None:
        return
    parsed = extract_target(message)
    if parsed.target is None:
        await reply(req, req.t("setrole.usage"))
        return
    roster = req.services.roster
    words = parsed.rest
    if words and words[0] in ("新当选", "取消新当选"):
        on: date | None = None
        if words[0] == "新当选":
            on = req.services.clock.now().astimezone(req.services.config.tz).date()
            if len(words) > 1:
                on = _parse_day(words[1])
                if on is None:
                    await reply(req, req.t("setrole.bad_date", text=words[1]))
                    return
        changed = await roster.set_newly_elected(req.actor, org.id, parsed.target, on)
        if on is None:
            await reply(req, req.t("setrole.elected_cleared", name=changed.display_name))
        else:
            await reply(req, req.t("setrole.elected_done", name=changed.display_name, date=on.isoformat()))
        return
    role, _ = split_role(words)
    if role is None:
        await reply(req, req.t("setrole.usage"))
        return
    changed = await roster.set_role(req.actor, org.id, parsed.target, role)
    await reply(req, req.t("setrole.done", name=changed.display_name, role=req.t(f"roles.{role}")))


@handles("removemember")
@command
async def removemember(req: Req, context: BotContext) -> None:
    message = req.update.effective_message
    assert message is not None
    org = await org_for_management(req)
    if org is None:
        return
    parsed = extract_target(message)
    if parsed.target is None:
        await reply(req, req.t("removemember.usage"))
        return
    removed = await req.services.roster.remove_member(req.actor, org.id, parsed.target)
    await req.services.duty.member_removed(org.id, removed.id, req.user_id)
    await reply(req, req.t("removemember.done", name=removed.display_name))


@handles("join")
@command
async def join(req: Req, context: BotContext) -> None:
    user = req.update.effective_user
    assert user is not None
    roster = req.services.roster
    org = req.org
    if req.private:
        name = " ".join(context.args or [])
        if not name:
            await reply(req, req.t("join.usage_private"))
            return
        org = await roster.find_org(name)
        if org is None:
            await reply(req, req.t("join.unknown_org", name=name))
            return
    elif org is None:
        await reply(req, req.t("common.not_bound"))
        return
    work_chat = await roster.work_chat(org.id)
    if work_chat is None:
        await reply(req, req.t("join.no_work_group"))
        return
    await roster.request_join(org.id, user.id, user.full_name)  # the managers' buttons go out with it
    if req.chat_id != work_chat:
        await reply(req, req.t("join.sent", org=org.name))


async def join_decision(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    match = JOIN_CALLBACK.match(query.data)
    if match is None:
        await query.answer()
        return
    req = await load_req(update, context)
    approve = match.group(2) == "yes"
    try:
        request, _added = await req.services.roster.decide_join(req.actor, int(match.group(1)), approve)
    except Refusal as refusal:
        await query.answer(req.t(refusal.key, **refusal.params), show_alert=True)
        return
    await query.answer()
    by = update.effective_user.full_name if update.effective_user else ""
    key = "join.approved" if approve else "join.rejected"
    await query.edit_message_text(req.t(key, name=request.display_name, by=by))
    # she is told from the outbox, written with the decision (services/roster.py decide_join)


@handles("orgs")
@command
async def orgs_list(req: Req, context: BotContext) -> None:
    """/orgs (super admin, private): every organisation, its groups, chair, size and last activity."""
    if not req.actor.is_super_admin:
        await reply(req, req.t("forget.not_super"))
        return
    found = await req.services.roster.overview()
    if not found:
        await reply(req, req.t("orgs.empty"))
        return
    none = req.t("orgs.none")
    lines = [req.t("orgs.header", count=len(found))]
    lines += [req.t("orgs.line", index=i, name=o.org.name, chairs="、".join(o.chairs) or none, members=o.members,
                    work=o.work_title or none, public=o.public_title or none, last=o.last_activity or none)
              for i, o in enumerate(found, 1)]
    lines.append(req.t("orgs.footer"))
    await reply(req, "\n".join(lines))
