"""What the 述职考评 handlers share: private chats only (in a group, a button to continue in
private), which organisation a private command is about, and small helpers for the replies."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from handlers.args import TargetArgs, extract_target
from handlers.common import BotContext, Req, message_text_after_command, reply
from handlers.i18n import t
from services.errors import Refusal
from storage.models import Member, Org


def private_url(bot_username: str, org: Org | None) -> str:
    return f"https://t.me/{bot_username}?start=review" + (f"_{org.id}" if org else "")


async def private_only(req: Req, context: BotContext) -> bool:
    """In a group: answer with a button to continue in private, and do nothing else."""
    if req.private:
        return True
    url = private_url(context.bot.username or "", req.org)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton(req.t("review.private_button"), url=url)]])
    await reply(req, req.t("review.go_private"), keyboard)
    return False


async def review_org(req: Req, context: BotContext) -> Org | None:
    """The organisation a private review command is about: the one chosen through the group's
    button (`/start review_<id>`), else her only organisation."""
    if req.private and req.actor.is_super_admin:
        # The county names the organisation first: /score 青石村妇联 王芳 93; remembered for what follows.
        named = await req.services.roster.org_named(req.args)
        if named is not None:
            del req.args[: named[1]]  # args_text and target_of read the rest
            if context.user_data is not None:
                context.user_data["review_org"] = named[0].id
            return named[0]
    found = await req.services.roster.memberships(req.user_id)
    chosen = context.user_data.get("review_org") if context.user_data is not None else None
    if chosen is not None:
        for org, _ in found:
            if org.id == chosen:
                return org
        if req.actor.is_super_admin:
            picked = await req.services.roster.find_org(str(chosen))
            if picked is not None:
                return picked
    if len(found) == 1:
        return found[0][0]
    if not found:
        await reply(req, req.t("review.super_pick_org" if req.actor.is_super_admin else "review.no_org"))
    else:
        await reply(req, req.t("review.many_orgs", orgs="、".join(o.name for o, _ in found)))
    return None


async def here(req: Req, context: BotContext) -> Org | None:
    """The organisation, in a private chat (None: already answered)."""
    if not await private_only(req, context):
        return None
    return await review_org(req, context)


async def member_here(req: Req, context: BotContext) -> tuple[Org, Member] | None:
    """The organisation and her roster row, in a private chat (None: already answered)."""
    org = await here(req, context)
    if org is None:
        return None
    me = await req.services.roster.member_of(org.id, req.user_id)
    if me is None:
        await reply(req, req.t("review.member_only"))
        return None
    return org, me


def args_text(req: Req) -> str:
    """The text after the command (inner spacing kept), without the organisation a super admin named."""
    message = req.update.effective_message
    assert message is not None
    text = message_text_after_command(message).strip()
    named = len(text.split()) - len(req.args)  # words `review_org` took off req.args (context.args)
    if named > 0 and req.actor.is_super_admin and message.text:
        parts = text.split(None, named)
        text = parts[named].strip() if len(parts) > named else ""
    return text


def target_of(req: Req) -> TargetArgs:
    message = req.update.effective_message
    assert message is not None
    return extract_target(message, args_text(req))


def role_name(req: Req | str | None, role: str) -> str:
    lang = req.lang if isinstance(req, Req) else req
    return t(lang, f"roles.{role}")


async def progress_lines(req: Req, me: Member, *head: str) -> list[str]:
    """`head` and her progress in the open cycle (report, colleagues rated), or why there is none."""
    try:
        _, reported, rated, total = await req.services.review.cycles.progress(me)
    except Refusal as refusal:
        return [req.t(refusal.key, **refusal.params)]
    return [*head, req.t("review.progress", report=req.t("review.yes" if reported else "review.no"),
                         rated=rated, total=total)]
