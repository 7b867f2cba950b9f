"""Start, help, whoami, language, unknown commands, group migration, the error handler, and the
pre-handler that remembers every user the bot sees."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatType
from telegram.error import BadRequest, NetworkError, TimedOut

from handlers.commands import handles, visible
from handlers.common import BotContext, Req, command, deliver_later, load_req, reply, services_of
from handlers.i18n import LANGS, t
from services.handoff import Asker
from storage.db import commits_since_tracking, track_commits

log = logging.getLogger(__name__)


async def remember_user(update: Update, context: BotContext) -> None:
    """Runs before every handler (group -1): keep the users table and last-visited org fresh."""
    user = update.effective_user
    if user is None or user.is_bot:
        return
    svc = services_of(context)
    await svc.roster.touch_user(user.id, user.username, user.first_name or "", user.last_name or "")
    chat = update.effective_chat
    if chat is not None and chat.type != ChatType.PRIVATE:
        ctx = await svc.roster.chat_context(chat.id, user.id)
        if ctx.org is not None and ctx.kind == "public":
            await svc.roster.remember_public_visit(user.id, ctx.org.id)
    track_commits()  # what the handlers of this update write from here on counts as its change


@handles("start")
async def start(update: Update, context: BotContext) -> None:
    req = await load_req(update, context)
    if req.private and context.args and context.args[0].startswith("review"):
        from handlers.review.cycle import start_review  # the button of a review command used in a group

        await start_review(req, context, context.args[0])
        return
    text = req.t("start.private" if req.private else "start.group")
    arg = context.args[0] if context.args else ""
    if req.private and arg.startswith("v") and arg[1:].isdigit():
        # The deep link of a public group (handlers/faq.start_link): she belongs to that village.
        org = await req.services.roster.find_org(arg[1:])
        if org is not None:
            await req.services.handoff.tie_to_village(_asker_of(update), org.id)
            text += "\n\n" + req.t("start.linked", org=org.name)
    step = await _first_step(req)
    if step:
        text += "\n\n" + step
    await reply(req, text)


def _asker_of(update: Update) -> Asker:
    user = update.effective_user
    assert user is not None
    return Asker(user.id, user.full_name, user.username)


_ROLE_RANK = {"chair": 3, "vice_chair": 2, "member": 1}


def _role_label(req: Req, private_role: str | None) -> str:
    if req.actor.is_super_admin:
        return req.t("roles.super_admin")
    if req.member is not None:
        return req.t(f"roles.{req.member.role}")
    if private_role is not None:
        return req.t(f"roles.{private_role}")
    if not req.private and req.org is None:
        return req.t("roles.unbound_group")  # nobody here is anyone yet: not "群众"
    return req.t("roles.guest")


async def _first_step(req: Req) -> str | None:
    """Where she is and what to do first, when nothing is set up for her yet."""
    if not req.private and req.org is None:
        return req.t("help.first_step_group")
    if req.private and req.actor.is_super_admin and not await req.services.roster.any_org():
        return req.t("help.first_step_super")
    return None


@handles("help")
async def help_command(update: Update, context: BotContext) -> None:
    """Only what the caller may use here: her level, the kind of chat, and where commands work
    (work commands are refused in the public group, so it lists only the everyone-level ones)."""
    req = await load_req(update, context)
    level = req.level
    private_role: str | None = None
    if req.private and level in ("everyone", "member"):
        # In a private chat the caller's highest role in any organisation decides what is shown.
        roles = [m.role for _, m in await req.services.roster.memberships(req.user_id)]
        if roles:
            private_role = max(roles, key=lambda r: _ROLE_RANK.get(r, 0))
            level = "manager" if private_role in ("chair", "vice_chair") else "member"
    specs = visible(level, req.private)
    if req.org is not None:
        specs = [s for s in specs if s.name != "setup"]
    if not req.private and req.ctx.kind == "public" and level != "super":
        specs = [s for s in specs if s.level == "everyone"]
    if not req.private and req.member is not None:
        specs = [s for s in specs if s.name != "join"]  # she is on this organisation's roster already
    if not req.private and level in ("everyone", "member"):
        specs = [s for s in specs if s.name != "lang"]  # a group's language is the managers' choice
    lines = [req.t("help.title"), req.t("help.role_line", role=_role_label(req, private_role))]
    step = await _first_step(req)
    lines += [step, ""] if step else [""]
    sections = [("everyone", "help.section_everyone"), ("member", "help.section_member"),
                ("manager", "help.section_manager"), ("super", "help.section_super")]
    for section_level, title in sections:
        in_section = [s for s in specs if s.level == section_level]
        if not in_section:
            continue
        lines.append(req.t(title))
        lines.extend(f"/{s.name} — {req.t(f'help.commands.{s.name}')}" for s in in_section)
        lines.append("")
    if any(s.name in ("task_add", "remind", "training_add", "review_start") for s in specs):
        lines.append(req.t("help.dates"))  # one rule for a day written without a time
    lines.append(req.t("help.footer"))
    await reply(req, "\n".join(lines))


@handles("whoami")
async def whoami(update: Update, context: BotContext) -> None:
    req = await load_req(update, context)
    user = update.effective_user
    assert user is not None
    found = await req.services.roster.memberships(req.user_id)
    lines = [req.t("whoami.header", name=user.full_name)]
    if req.actor.is_super_admin:
        lines.append(req.t("whoami.super"))
    for org, member in found:
        flags = req.t("whoami.elected_flag", date=member.elected_on or "") if member.newly_elected else ""
        lines.append(req.t("whoami.line", org=org.name, role=req.t(f"roles.{member.role}"), flags=flags))
    if not found and not req.actor.is_super_admin:
        lines = [req.t("whoami.none")]
    await reply(req, "\n".join(lines))


@handles("lang")
@command
async def lang(req: Req, context: BotContext) -> None:
    word = (context.args or [""])[0].lower().replace("-", "_")
    choice = LANG_WORDS.get(word, word)
    if choice not in LANGS:
        await reply(req, req.t("lang.usage"))
        return
    await req.services.roster.set_lang(req.actor, req.chat_id, req.private, choice)
    suffix = "" if req.private else "_group"  # in a group the whole group changes, not "和您说话"
    await reply(req, t(choice, ("lang.done_tw" if choice == "zh_tw" else "lang.done_cn") + suffix))


# What people type for a script: 繁体/繁體/正體/台湾 → zh_tw, 简体/簡體/大陆 → zh_cn.
LANG_WORDS = {"繁体": "zh_tw", "繁體": "zh_tw", "繁体字": "zh_tw", "繁體字": "zh_tw", "正体": "zh_tw", "正體": "zh_tw",
              "台湾": "zh_tw", "台灣": "zh_tw", "zh_hant": "zh_tw", "简体": "zh_cn", "簡體": "zh_cn", "简体字": "zh_cn",
              "簡體字": "zh_cn", "大陆": "zh_cn", "zh_hans": "zh_cn", "zh": "zh_cn"}


async def unknown_command(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None or not message.text:
        return
    command = message.text.split()[0]
    if "@" in command:
        addressed = command.split("@", 1)[1]
        if addressed.lower() != (context.bot.username or "").lower():
            return  # a command for another bot in the same group
    req = await load_req(update, context)
    await reply(req, req.t("common.unknown_command", command=command[:64]))


async def chat_migrated(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None:
        return
    svc = services_of(context)
    if message.migrate_to_chat_id:
        old, new = message.chat.id, message.migrate_to_chat_id
    elif message.migrate_from_chat_id:
        old, new = message.migrate_from_chat_id, message.chat.id
    else:
        return
    if await svc.roster.migrate_chat(old, new):
        log.info("chat %s migrated to %s; binding moved", old, new)


def _what_ran(update: object) -> str:
    """What the failed update was, without what anybody wrote: a command's name, a button, a message."""
    if not isinstance(update, Update):
        return "job" if update is None else type(update).__name__
    kind = "private" if update.effective_chat is not None and update.effective_chat.type == ChatType.PRIVATE \
        else "group"
    if update.callback_query is not None:
        data = update.callback_query.data or ""
        return f"button {data.split(':', 1)[0][:16]} ({kind})"
    message = update.effective_message
    words = (message.text or message.caption or "").split() if message is not None else []
    if words and words[0].startswith("/"):
        return f"{words[0].split('@', 1)[0][:40]} ({kind})"
    return f"message ({kind})"


async def on_error(update: object, context: BotContext) -> None:
    """Log the failure and tell the chat, without internals, and truthfully: if the command had
    already saved its change, she is told it was saved (so she does not do it twice); "没有办成" only
    when nothing was written. The message goes through the outbox, so a failing network does not
    swallow it too."""
    error = context.error
    saved = commits_since_tracking()  # read before the operator's alert is written
    if isinstance(error, (TimedOut, NetworkError)) and not isinstance(error, BadRequest):
        if update is not None:  # a failed poll (update None) is counted by the rate limiter, not logged
            log.warning("network trouble while handling an update: %s", error)  # no traceback per failure
    else:
        log.error("error while handling an update", exc_info=error)
        if error is not None:
            try:  # the operator's chat gets a short traceback summary (rate-limited per kind)
                await services_of(context).alerts.error(error, _what_ran(update))
            except Exception:
                log.exception("could not alert the operator")
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    key = "common.saved_but_error" if saved else "common.internal_error"
    try:
        svc = services_of(context)
        text = t(svc.config.bot.locale, key)
        await deliver_later(svc, update.effective_chat.id, text)
    except Exception:  # the error handler must never raise
        log.exception("could not report the error to the chat")
