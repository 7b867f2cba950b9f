"""Policy questions: answering in private chats and groups, suggestions, honest declines with a
hand-off to the member on duty (我来回答 → her reply goes back to the asker), the danger path,
votes, and the knowledge-base commands /faq_add /faq_edit /faq_del /faq_list /faq_import /faq_export
/unanswered."""

from __future__ import annotations

import re

from telegram import ForceReply, InlineKeyboardButton, InlineKeyboardMarkup, Message, MessageEntity, Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from handlers.common import Req, command, load_req, message_text_after_command, org_for_management, reply, send
from handlers.i18n import t
from services.errors import Refusal
from services.faq import parse_add_text
from services.faq_engine import Decision, Entry, find_danger, normalise
from services.faq_io import MAX_FILE_BYTES, parse_faq_file, to_xlsx

FAQ_CALLBACK = re.compile(r"^faq:(v|q|none|take|save):([\w.-]+)(?::(-?1))?$")
QUESTION_HINTS = ("吗", "么", "怎么", "如何", "能不能", "可不可以", "可以", "咋", "啥", "什么", "哪里", "哪儿",
                  "多少", "几", "是否", "有没有", "会不会", "要不要", "请问")
MAX_QUESTION_CHARS = 500


# --- rendering (shared with the `ask` CLI) -----------------------------------------------------


def answer_text(lang: str | None, entry: Entry) -> str:
    """The entry's answer, then its basis and where to turn."""
    extras = []
    if entry.source:
        extras.append(t(lang, "faq.basis", source=entry.source))
    if entry.referral:
        extras.append(t(lang, "faq.referral", referral=entry.referral))
    return _escape(entry.answer) + ("\n\n" + "\n".join(extras) if extras else "")


def decision_text(lang: str | None, decision: Decision) -> str:
    """The full text the bot sends for a decision (before any hand-off line)."""
    if decision.kind == "danger":
        text = t(lang, "faq.danger_top")
        if decision.best is not None:
            text += "\n\n" + answer_text(lang, decision.best)
        return text
    if decision.kind == "answer" and decision.best is not None:
        return answer_text(lang, decision.best)
    if decision.kind == "suggest":
        return t(lang, "faq.suggest") + "\n" + "\n".join(f"· {_escape(c.question)}" for c in decision.candidates[:3])
    return t(lang, "faq.decline")


def _escape(text: str) -> str:
    import html

    return html.escape(text, quote=False)


def _vote_keyboard(lang: str | None, asked_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[
        InlineKeyboardButton(t(lang, "faq.helpful"), callback_data=f"faq:v:{asked_id}:1"),
        InlineKeyboardButton(t(lang, "faq.unhelpful"), callback_data=f"faq:v:{asked_id}:-1"),
    ]])


# --- deciding whether a message is a question for us -------------------------------------------


def looks_like_question(text: str) -> bool:
    stripped = text.strip()
    return stripped.endswith(("?", "？")) or any(hint in stripped for hint in QUESTION_HINTS)


def _addressed_to_bot(message: Message, bot_username: str) -> bool:
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.username == bot_username:
        return True
    mentions = message.parse_entities([MessageEntity.MENTION])
    return any(v.lstrip("@").lower() == bot_username.lower() for v in mentions.values())


async def _asker_org(req: Req) -> int | None:
    if req.org is not None:
        return req.org.id
    found = await req.services.roster.memberships(req.user_id)
    if found:
        return found[0][0].id
    return await req.services.roster.last_org(req.user_id)


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Plain text: a member's answer to a passed-on question, or a question for the FAQ."""
    message = update.effective_message
    if message is None or not message.text:
        return
    req = await load_req(update, context)
    if await _maybe_member_answer(req, context, message):
        return
    text = message.text
    if not req.private:
        if req.org is None:
            return
        addressed = _addressed_to_bot(message, context.bot.username or "")
        mode = req.services.config.faq.auto_answer
        public = req.ctx.kind == "public"
        # Safety first: "他正在打我" is no question, but in the public group it never goes unanswered.
        auto = public and ((mode == "question" and looks_like_question(text))
                           or (mode != "off" and find_danger(normalise(text)) is not None))
        if not (addressed or auto):
            return
        text = re.sub(rf"@{re.escape(context.bot.username or '')}", "", text, flags=re.IGNORECASE)
    await answer_question(req, context, text, message.message_id)


@command
async def ask(req: Req, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = req.update.effective_message
    assert message is not None
    text = message_text_after_command(message).strip()
    if not text:
        await reply(req, req.t("faq.ask_usage"))
        return
    await answer_question(req, context, text, message.message_id)


async def answer_question(req: Req, context: ContextTypes.DEFAULT_TYPE, text: str, message_id: int) -> None:
    text = text.strip()[:MAX_QUESTION_CHARS]
    if not text:
        return
    org_id = await _asker_org(req)
    faq = req.services.faq
    asked = await faq.ask(text, org_id, req.chat_id, req.user_id)
    decision = asked.decision
    body = decision_text(req.lang, decision)
    if decision.kind == "answer":
        await reply(req, body, _vote_keyboard(req.lang, asked.asked_id))
        return
    if decision.kind == "suggest":
        rows = [[InlineKeyboardButton(c.question[:60], callback_data=f"faq:q:{c.id}")]
                for c in decision.candidates[:3]]
        rows.append([InlineKeyboardButton(req.t("faq.suggest_none"), callback_data=f"faq:none:{asked.asked_id}")])
        await reply(req, body, InlineKeyboardMarkup(rows))
        return
    danger = decision.kind == "danger"
    handed = await _hand_off(req, context, org_id, text, message_id, danger)
    if danger:
        if handed is not None:
            body += "\n\n" + req.t("faq.danger_passed")
        await reply(req, body, _vote_keyboard(req.lang, asked.asked_id) if decision.best else None)
        return
    if handed is not None:
        body += "\n\n" + (req.t("faq.passed_on", name=handed) if handed else req.t("faq.passed_on_anyone"))
    await reply(req, body)


async def _hand_off(req: Req, context: ContextTypes.DEFAULT_TYPE, org_id: int | None, question: str,
                    message_id: int, danger: bool) -> str | None:
    """Pass the question to the member on duty in the work group; returns her name ('' when no
    rotation), or None when there is no organisation or work group to pass it to."""
    if org_id is None:
        return None
    work = await req.services.roster.work_chat(org_id)
    if work is None:
        return None
    item_id = await req.services.faq.pass_on(org_id, req.chat_id, req.user_id, message_id, question, danger)
    name = ""
    rotation = await req.services.duty.rotation(org_id)
    shift = rotation.at(req.services.clock.now()) if rotation else None
    if shift is not None:
        people = await req.services.duty.names({shift.member_id})
        name = people[shift.member_id].display_name if shift.member_id in people else ""
    work_lang = await req.services.roster.lang_for(work, None, False)
    where = t(work_lang, "faq.where_private" if req.private else "faq.where_public")
    key = "faq.to_duty_danger" if danger else "faq.to_duty"
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton(t(work_lang, "faq.take"),
                                                           callback_data=f"faq:take:{item_id}")]])
    await send(context.bot, work, t(work_lang, key, where=where, name=name or t(work_lang, "faq.duty_anyone"),
                                    question=question), keyboard)
    return name


# --- buttons -----------------------------------------------------------------------------------


async def faq_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    match = FAQ_CALLBACK.match(query.data)
    req = await load_req(update, context)
    if match is None:
        await query.answer()
        return
    action, value = match.group(1), match.group(2)
    try:
        if action == "v":
            await req.services.faq.vote(int(value), req.user_id, int(match.group(3) or "1"))
            await query.answer(req.t("faq.vote_thanks"))
        elif action == "q":
            await query.answer()
            org_id = await _asker_org(req)
            entry = req.services.faq.entry(value, org_id)
            if entry is None:
                raise Refusal("faq.not_found", id=value)
            asked = await req.services.faq.ask(entry.questions[0], org_id, req.chat_id, req.user_id)
            await reply(req, answer_text(req.lang, entry), _vote_keyboard(req.lang, asked.asked_id))
        elif action == "none":
            await query.answer()
            original = query.message.text if isinstance(query.message, Message) else ""
            await query.edit_message_reply_markup(None)
            org_id = await _asker_org(req)
            asked_text = await req.services.faq.asked_question(int(value)) if value.isdigit() else None
            question = asked_text or _question_of(original or "")
            handed = await _hand_off(req, context, org_id, question[:MAX_QUESTION_CHARS], 0, False)
            text = req.t("faq.decline")
            if handed is not None:
                text += "\n\n" + (req.t("faq.passed_on", name=handed) if handed else req.t("faq.passed_on_anyone"))
            await reply(req, text)
        elif action == "take":
            await _take(req, context, int(value))
        elif action == "save":
            if req.org is None or req.level not in ("manager", "super"):
                raise Refusal("roster.not_manager")
            entry = await req.services.faq.save_item(req.actor, int(value))
            await query.answer()
            await query.edit_message_reply_markup(None)
            await reply(req, req.t("faq.saved", id=entry.id))
    except Refusal as refusal:
        await query.answer(req.t(refusal.key, **refusal.params), show_alert=True)


def _question_of(text: str) -> str:
    return text.split("\n", 1)[0][:MAX_QUESTION_CHARS]


async def _take(req: Req, context: ContextTypes.DEFAULT_TYPE, item_id: int) -> None:
    query = req.update.callback_query
    assert query is not None
    if req.org is None or req.member is None:
        raise Refusal("common.not_member")
    item = await req.services.faq.take(item_id, req.user_id, req.org.id)
    await query.answer()
    prompt = await context.bot.send_message(
        req.chat_id, req.t("faq.take_prompt", question=item.question), parse_mode=ParseMode.HTML,
        reply_markup=ForceReply(selective=True),
    )
    assert context.chat_data is not None
    context.chat_data.setdefault("faq_prompts", {})[prompt.message_id] = item_id
    await reply(req, req.t("faq.taken", name=req.member.display_name))


async def _maybe_member_answer(req: Req, context: ContextTypes.DEFAULT_TYPE, message: Message) -> bool:
    replied = message.reply_to_message
    if replied is None or context.chat_data is None:
        return False
    item_id = context.chat_data.get("faq_prompts", {}).get(replied.message_id)
    if item_id is None and req.org is not None and replied.from_user is not None \
            and replied.from_user.id == context.bot.id and replied.text:
        # The prompt was sent before a restart: find her taken question that it quotes.
        item_id = await req.services.faq.taken_item_in(req.org.id, req.user_id, replied.text)
    if item_id is None:
        return False
    try:
        item = await req.services.faq.answer_item(item_id, req.user_id, message.text or "")
    except Refusal as refusal:
        await reply(req, req.t(refusal.key, **refusal.params))
        return True
    context.chat_data.get("faq_prompts", {}).pop(replied.message_id, None)
    name = req.member.display_name if req.member else ""
    asker_lang = await req.services.roster.lang_for(item.chat_id, item.user_id, item.chat_id > 0)
    text = t(asker_lang, "faq.answer_to_asker", name=name, question=item.question, answer=item.answer or "")
    await send(context.bot, item.chat_id, text)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton(req.t("faq.save"), callback_data=f"faq:save:{item.id}")]])
    await reply(req, req.t("faq.answer_sent"), keyboard)
    return True


# --- knowledge-base commands -------------------------------------------------------------------


async def _scope(req: Req) -> tuple[bool, int | None]:
    """(ok, org id) for knowledge-base management: the work group's organisation, or, for a super
    admin in a private chat without an organisation, the deployment-wide entries (None)."""
    if req.private and req.actor.is_super_admin and not await req.services.roster.memberships(req.user_id):
        return True, None
    org = await org_for_management(req)
    return (org is not None), (org.id if org else None)


@command
async def faq_add(req: Req, context: ContextTypes.DEFAULT_TYPE) -> None:
    ok, org_id = await _scope(req)
    if not ok:
        return
    message = req.update.effective_message
    assert message is not None
    questions, answer, tags = parse_add_text(message_text_after_command(message))
    entry = await req.services.faq.add(req.actor, org_id, questions, answer, tags)
    await reply(req, req.t("faq_add.done", id=entry.id))


@command
async def faq_edit(req: Req, context: ContextTypes.DEFAULT_TYPE) -> None:
    ok, org_id = await _scope(req)
    if not ok:
        return
    message = req.update.effective_message
    assert message is not None
    entry_id, _, rest = message_text_after_command(message).strip().partition(" ")
    if not entry_id or "|" not in rest:
        await reply(req, req.t("faq_edit.usage"))
        return
    parts = [p.strip() for p in rest.split("|")] + ["", ""]
    questions = [q.strip() for q in parts[0].split(";") if q.strip()] or None
    tags = [x for x in re.split(r"[,，、]", parts[2]) if x.strip()] if parts[2] else None
    await req.services.faq.edit(req.actor, org_id, entry_id, questions, parts[1] or None, tags)
    await reply(req, req.t("faq_edit.done", id=entry_id))


@command
async def faq_del(req: Req, context: ContextTypes.DEFAULT_TYPE) -> None:
    ok, org_id = await _scope(req)
    if not ok:
        return
    args = context.args or []
    if not args:
        await reply(req, req.t("faq_del.usage"))
        return
    await req.services.faq.delete(req.actor, org_id, args[0])
    await reply(req, req.t("faq_del.done", id=args[0]))


@command
async def faq_list(req: Req, context: ContextTypes.DEFAULT_TYPE) -> None:
    ok, org_id = await _scope(req)
    if not ok:
        return
    if org_id is not None:
        await req.services.faq._check_scope(req.actor, org_id)
    tag = " ".join(context.args or []) or None
    entries = req.services.faq.listing(org_id, tag)
    if not entries:
        await reply(req, req.t("faq_list.empty"))
        return
    lines = [req.t("faq_list.header", count=len(entries), tag=req.t("faq_list.tag", tag=tag) if tag else "")]
    lines += [req.t("faq_list.line", id=e.id, question=e.questions[0], own=req.t("faq_list.own") if e.org_id else "")
              for e in entries]
    lines.append(req.t("faq_list.footer"))
    await reply(req, "\n".join(lines))


@command
async def faq_import(req: Req, context: ContextTypes.DEFAULT_TYPE) -> None:
    ok, org_id = await _scope(req)
    if not ok:
        return
    message = req.update.effective_message
    assert message is not None
    document = message.document
    if document is None:
        await reply(req, req.t("faq_import.usage"))
        return
    if org_id is not None:
        await req.services.faq._check_scope(req.actor, org_id)
    if document.file_size and document.file_size > MAX_FILE_BYTES:
        raise Refusal("faq_import.too_big", limit=MAX_FILE_BYTES // 1024 // 1024)
    file = await document.get_file()
    data = bytes(await file.download_as_bytearray())
    rows = parse_faq_file(document.file_name or "", data)
    count = await req.services.faq.import_rows(req.actor, org_id, rows)
    await reply(req, req.t("faq_import.done", count=count))


def export_headers(lang: str | None) -> list[str]:
    return [t(lang, f"faq_export.col_{k}") for k in ("id", "question", "answer", "tags", "source", "referral")]


@command
async def faq_export(req: Req, context: ContextTypes.DEFAULT_TYPE) -> None:
    ok, org_id = await _scope(req)
    if not ok:
        return
    if org_id is not None:
        await req.services.faq._check_scope(req.actor, org_id)
    entries = req.services.faq.export_dicts(org_id)
    data = to_xlsx(entries, export_headers(req.lang), req.t("faq_export.sheet"))
    await context.bot.send_document(req.chat_id, data, filename="faq.xlsx",
                                    caption=req.t("faq_export.caption", count=len(entries)),
                                    parse_mode=ParseMode.HTML)


@command
async def unanswered(req: Req, context: ContextTypes.DEFAULT_TYPE) -> None:
    org = await org_for_management(req)
    if org is None:
        return
    me = await req.services.roster.member_of(org.id, req.user_id)
    if not (req.actor.is_super_admin or (me is not None and me.is_manager)):
        raise Refusal("roster.not_manager")
    items = await req.services.faq.unanswered(org.id)
    if not items:
        await reply(req, req.t("faq.unanswered_empty"))
        return
    tz = req.services.config.tz
    lines = [req.t("faq.unanswered_header", count=len(items))]
    for i, item in enumerate(items, 1):
        flag = req.t("faq.unanswered_danger") if item.danger else ""
        lines.append(req.t("faq.unanswered_line", index=i, date=item.at.astimezone(tz).strftime("%m-%d %H:%M"),
                           question=item.question, flag=flag))
    await reply(req, "\n".join(lines))


