"""Policy questions: answering in private chats and groups, suggestions, honest declines with a
hand-off to the member on duty (我来回答 → her reply goes back to the asker), the danger path,
votes, and the knowledge-base commands /faq_add /faq_edit /faq_del /faq_list /faq_import /faq_export
/unanswered."""

from __future__ import annotations

import re
from dataclasses import replace

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, MessageEntity, Update

from handlers.commands import handles
from handlers.common import (
    BotContext,
    Req,
    command,
    load_req,
    message_text_after_command,
    org_for_management,
    reply,
    settle_press,
)
from handlers.i18n import has, in_script, t
from services.clean import clean_text
from services.danger import detect
from services.errors import Refusal
from services.faq import ImportPreview, parse_add_text
from services.faq_engine import DV_HELP_ENTRY, VIOLENCE_CATEGORIES, Decision, Entry
from services.faq_io import MAX_FILE_BYTES, parse_faq_file, to_xlsx
from services.handoff import Asker, Passed, answer_chat
from services.message_kind import also_look, plan
from services.offload import ChildTimeout, run_in_child

FAQ_CALLBACK = re.compile(r"^faq:(v|q|none|take|save|cancel):([\w.-]+)(?::(-?1))?$")
VILLAGE_CALLBACK = re.compile(r"^vil:(\d+)$")
IMPORT_CALLBACK = re.compile(r"^fi:(ok|no):(\d{1,12})$")
PREVIEW_LINES = 10  # duplicate lines shown under an import preview
PARSE_SECONDS = 30  # reading an uploaded file longer than this: refused, its reader killed
VILLAGE_START = "v"  # /start v<org id>: the deep link of a public group
MAX_QUESTION_CHARS = 500


# --- rendering (shared with the `ask` CLI) -----------------------------------------------------


def answer_text(lang: str | None, entry: Entry) -> str:
    """The entry's answer, then its basis and where to turn."""
    extras = []
    if entry.source:
        extras.append(t(lang, "faq.basis", source=in_script(lang, entry.source)))
    if entry.referral:
        extras.append(t(lang, "faq.referral", referral=in_script(lang, entry.referral)))
    return _escape(in_script(lang, entry.answer)) + ("\n\n" + "\n".join(extras) if extras else "")


def decision_text(lang: str | None, decision: Decision) -> str:
    """The full text the bot sends for a decision (before any hand-off line)."""
    if decision.kind == "danger":
        return danger_text(lang, decision.danger or "help", None, decision)
    if decision.kind == "answer" and decision.best is not None:
        if decision.also is not None and decision.also[2] and decision.candidates:
            # two questions answered: each answer under the question it answers
            first, (other, second, _) = decision.candidates[0], decision.also
            return (t(lang, "faq.two_header", question=first.question) + "\n" + answer_text(lang, decision.best)
                    + "\n\n" + t(lang, "faq.two_header", question=other.question) + "\n" + answer_text(lang, second))
        return answer_text(lang, decision.best)
    if decision.kind == "suggest" and decision.tentative and decision.best is not None and decision.candidates:
        # likely enough: the answer at once, under the question it answers, the other choices as buttons
        # the entry's own first question says what the answer is about (the closest phrasing may be narrower)
        asked = decision.best.questions[0] if decision.best.questions else decision.candidates[0].question
        return t(lang, "faq.tentative", question=in_script(lang, asked)) + "\n\n" + answer_text(lang, decision.best)
    if decision.kind == "suggest":
        return t(lang, "faq.suggest") + "\n" + "\n".join(f"· {_escape(in_script(lang, c.question))}"
                                                       for c in decision.candidates[:3])
    return t(lang, "faq.decline")


def _escape(text: str) -> str:
    import html

    return html.escape(text, quote=False)


def _vote_keyboard(lang: str | None, asked_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[
        InlineKeyboardButton(t(lang, "faq.helpful"), callback_data=f"faq:v:{asked_id}:1"),
        InlineKeyboardButton(t(lang, "faq.unhelpful"), callback_data=f"faq:v:{asked_id}:-1"),
    ]])


# --- who is asking, and from where --------------------------------------------------------------


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


def _asker(req: Req) -> Asker:
    user = req.update.effective_user
    assert user is not None
    return Asker(user.id, user.full_name, user.username)


def start_link(bot_username: str, org_id: int) -> str:
    """The deep link that opens a private chat tied to the organisation (/start v<org id>)."""
    return f"https://t.me/{bot_username}?start={VILLAGE_START}{org_id}"


def _private_row(req: Req, context: BotContext) -> list[InlineKeyboardButton]:
    """In the public group: a button that opens a private chat already tied to this village."""
    if req.private or req.org is None or req.ctx.kind != "public" or not context.bot.username:
        return []
    return [InlineKeyboardButton(req.t("faq.ask_privately"), url=start_link(context.bot.username, req.org.id))]


def _with_private_row(req: Req, context: BotContext,
                      markup: InlineKeyboardMarkup | None) -> InlineKeyboardMarkup | None:
    row = _private_row(req, context)
    if not row:
        return markup
    rows = [list(r) for r in markup.inline_keyboard] if markup is not None else []
    return InlineKeyboardMarkup([*rows, row])


# --- every text message --------------------------------------------------------------------------


async def on_text(update: Update, context: BotContext) -> None:
    """Plain text: a member's answer after 我来回答, a woman naming her village, or a message to read
    (danger / question / chatter) and act on (services.message_kind.plan)."""
    message = update.effective_message
    if message is None or not message.text:
        return
    req = await load_req(update, context)
    if await _maybe_member_answer(req, context, message):
        return
    text = clean_text(message.text)
    addressed = False
    if not req.private:
        if req.org is None:
            return
        username = context.bot.username or ""
        addressed = _addressed_to_bot(message, username)
        mode = req.services.config.faq.auto_answer
        if addressed:
            text = re.sub(rf"@{re.escape(username)}", "", text, flags=re.IGNORECASE)
        elif req.ctx.kind != "public" or mode == "off":
            return  # the work group is never read unasked; "off": only /ask
    elif await req.services.handoff.village_pending(req.user_id) and await _maybe_village_answer(req, text):
        return
    await answer_message(req, context, text, message.message_id, private_like=req.private or addressed)


@handles("ask")
@command
async def ask(req: Req, context: BotContext) -> None:
    message = req.update.effective_message
    assert message is not None
    text = message_text_after_command(message).strip()
    if not text:
        await reply(req, req.t("faq.ask_usage"))
        return
    await answer_message(req, context, text, message.message_id, private_like=True, asked=True)


async def answer_message(req: Req, context: BotContext, text: str, message_id: int, *,
                         private_like: bool, asked: bool = False) -> None:
    """Read the message and act: danger → 110/12338 first and a person alerted; a question → the
    answer, suggestions, or an honest decline passed to a person; chatter → nothing in groups, one
    friendly line in private. `asked`: /ask, so anything but small talk is a question."""
    text = text.strip()[:MAX_QUESTION_CHARS]
    if not text:
        return
    org_id = await _asker_org(req)
    reading, decision = req.services.faq.understand(text, org_id, private_like)
    if asked and reading.kind in ("chatter", "other") and reading.small_talk is None:
        reading = replace(reading, kind="question")
    action = plan(reading, decision.kind, private_like, decision.long_shot)
    if not private_like and req.services.config.faq.auto_answer == "mention" and action != "danger":
        return  # "mention": in the public group only danger is answered unasked
    if action == "silent":
        return
    if action == "small_talk":
        await reply(req, req.t(f"faq.small_talk_{reading.small_talk}"))
        return
    if action == "not_for_us":
        await reply(req, req.t("faq.not_for_us"))
        return
    if action == "look":  # nothing said in the group; the member on duty is asked to look
        await _pass_on(req, org_id, text, message_id, False, concern=True)
        return
    if action == "concern":  # 110/12338 first (or, for distress, a kind word and 12356), and a person asked to look
        passed = await _pass_on(req, org_id, text, message_id, False, concern=True)
        opening = req.t("faq.distress") if reading.small_talk == "distress" else req.t("faq.concern")
        body = opening + "\n\n" + _passed_line(req, passed, True)
        await reply(req, body, _with_private_row(req, context, None))
        return
    asked_id = await req.services.faq.log_asked(text, decision, org_id, req.chat_id, req.user_id)
    look = also_look(reading, action, private_like)  # a group's question of concern: a person looks too
    if action == "answer":
        if look:
            await _pass_on(req, org_id, text, message_id, False, concern=True)
        keyboard = _vote_keyboard(req.lang, asked_id)
        if decision.also is not None and not decision.also[2]:  # a second question, offered as a button
            other = decision.also[0]
            label = req.t("faq.also_ask", question=other.question[:50])
            keyboard = InlineKeyboardMarkup([*keyboard.inline_keyboard,
                                             [InlineKeyboardButton(label, callback_data=f"faq:q:{other.id}")]])
        body = decision_text(req.lang, decision) + _local_help_part(req, org_id, decision)
        body += await _unanswered_part(req, org_id, text, message_id, decision, private_like)
        await reply(req, body, _with_private_row(req, context, keyboard))
        return
    if action in ("suggest", "suggest_pass", "suggest_concern"):
        others = decision.candidates[1:3] if decision.tentative else decision.candidates[:3]
        label = "faq.tentative_other" if decision.tentative else "faq.suggest_option"
        rows = [[InlineKeyboardButton(req.t(label, question=in_script(req.lang, c.question[:50])),
                                      callback_data=f"faq:q:{c.id}")] for c in others]
        body = decision_text(req.lang, decision)
        if action == "suggest_pass":  # a long shot: a person gets her question as well
            passed = await _pass_on(req, org_id, text, message_id, False, concern=look)
            body = req.t("faq.long_shot") + "\n" + "\n".join(f"· {_escape(c.question)}" for c in others)
            body += "\n\n" + _passed_line(req, passed, False)
        elif action == "suggest_concern":  # 110/12338 first, the choices, and a person asked to look
            passed = await _pass_on(req, org_id, text, message_id, False, concern=True)
            body = req.t("faq.concern") + "\n\n" + body + "\n\n" + _passed_line(req, passed, True)
        else:
            rows.append([InlineKeyboardButton(req.t("faq.suggest_none"), callback_data=f"faq:none:{asked_id}")])
            if look:
                await _pass_on(req, org_id, text, message_id, False, concern=True)
            else:
                body += await _unanswered_part(req, org_id, text, message_id, decision, private_like)
        await reply(req, body, InlineKeyboardMarkup(rows))
        return
    danger = action == "danger"
    passed = await _pass_on(req, org_id, text, message_id, danger, concern=look)
    if danger:
        category = reading.danger.category if reading.danger else "help"
        body = danger_text(req.lang, category, req.services.faq.entry(DV_HELP_ENTRY, org_id), decision,
                           req.services.faq.local_entry(DV_HELP_ENTRY, org_id))
    else:
        body = t(req.lang, "faq.decline")
    body += "\n\n" + _passed_line(req, passed, danger)
    await reply(req, body, _with_private_row(req, context, danger_choices(req.lang, decision) if danger else None))


def local_help_text(lang: str | None, local: Entry, key: str = "faq.local_help") -> str:
    """The village's own entry on where to turn for violence (its people and phones), to follow the
    general help; `key`: the heading (faq.local_version: the village's own version of another entry)."""
    return "\n\n" + t(lang, key) + "\n" + answer_text(lang, local)


def _local_help_part(req: Req, org_id: int | None, decision: Decision) -> str:
    """A deployment-wide entry answered directly: the village's own entry on its matter follows
    (`FaqService.village_entry_after`: its people and phones after where to turn for violence, its
    dates and place after another matter)."""
    own = req.services.faq.village_entry_after(decision, org_id)
    if own is None or decision.best is None:
        return ""
    heading = "faq.local_help" if decision.best.id == DV_HELP_ENTRY else "faq.local_version"
    return local_help_text(req.lang, own, heading)


async def _pass_on(req: Req, org_id: int | None, question: str, message_id: int, danger: bool,
                   concern: bool = False) -> Passed:
    title = None
    if not req.private:
        chat = req.update.effective_chat
        title = (chat.title if chat is not None else None) or ""
    return await req.services.handoff.pass_on(_asker(req), org_id, req.chat_id, message_id or None, question,
                                              danger, title, concern=concern)


async def _unanswered_part(req: Req, org_id: int | None, text: str, message_id: int, decision: Decision,
                           private: bool) -> str:
    """A question of her message the base does not answer (离婚冷静期多久 还有低保怎么申请): in a
    private chat it is passed to the member on duty and she is told so (a line to add to the reply);
    in a group nothing (questions there that are not for us stay with the people in it)."""
    if decision.unanswered is None or not private:
        return ""
    passed = await _pass_on(req, org_id, text, message_id, False)
    return "\n\n" + req.t("faq.part_unanswered", part=_escape(decision.unanswered)) + _passed_line(req, passed, False)


def _passed_line(req: Req, passed: Passed, danger: bool) -> str:
    """What she is told about the person who will get back to her."""
    if passed.reached == "duty":
        if danger:
            return req.t("faq.danger_passed", name=passed.duty_name or req.t("faq.duty_anyone"))
        return req.t("faq.passed_on", name=passed.duty_name) if passed.duty_name else req.t("faq.passed_on_anyone")
    if passed.reached == "county":
        return req.t("faq.danger_passed_county") + "\n" + req.t("faq.which_village")
    return req.t("faq.which_village") if req.private else req.t("faq.passed_nobody")


def asked_entry(decision: Decision) -> Entry | None:
    """A danger message's own question, when the decision is sure enough to answer it (where can I
    stay tonight, 能不能报警) or finds it likely: shown under the alarm. The help entry is there already."""
    shown = decision.kind == "answer" or (decision.kind == "danger" and (decision.answered or decision.tentative))
    if shown and decision.best is not None and decision.best.id != DV_HELP_ENTRY:
        return decision.best
    return None


def danger_choices(lang: str | None, decision: Decision) -> InlineKeyboardMarkup | None:
    """Under an alarm: what else she may have asked (the candidates the decision found relevant, not
    the help entry or the answer shown) as 「还想问：…」 buttons."""
    if decision.kind != "danger" or not decision.relevant:
        return None
    answer = asked_entry(decision)
    shown = {DV_HELP_ENTRY} | ({answer.id} if answer is not None else set())
    rows = [[InlineKeyboardButton(t(lang, "faq.also_ask", question=in_script(lang, c.question[:50])),
                                  callback_data=f"faq:q:{c.id}")]
            for c in decision.candidates[:3] if c.id not in shown][:2]
    return InlineKeyboardMarkup(rows) if rows else None


def danger_text(lang: str | None, category: str, help_entry: Entry | None,
                decision: Decision | None = None, local_help: Entry | None = None) -> str:
    """110 and 12338 first; a line for what she is facing; for violence, where to turn afterwards, and
    the village's own entry on it (`local_help`: 本村遇到家暴先找谁, with its people and phones); then
    the answer to what she asked (`asked_entry`; under "您问的是不是" when the decision is not sure of it)."""
    text = t(lang, "faq.danger_top")
    extra = f"faq.danger_{category}"
    if has(extra):
        text += "\n" + t(lang, extra)
    asked = asked_entry(decision) if decision is not None else None
    if category in VIOLENCE_CATEGORIES and help_entry is not None:
        text += "\n\n" + answer_text(lang, help_entry)
        if local_help is not None and local_help != asked:
            text += local_help_text(lang, local_help)
    if asked is not None and decision is not None:
        question = _escape(in_script(lang, asked.questions[0] if asked.questions else ""))
        sure = decision.kind == "answer" or decision.answered
        header = "faq.two_header" if sure else "faq.tentative"
        text += "\n\n" + t(lang, header, question=question) + "\n" + answer_text(lang, asked)
    return text


# --- the village question ----------------------------------------------------------------------


async def _maybe_village_answer(req: Req, text: str) -> bool:
    """After an alert or a question nobody could take, the bot asked her village: does this message
    name one? Then confirm with buttons. Anything else (a new danger message, a question) goes on."""
    reading, _ = req.services.faq.understand(text, None, private=True)
    if reading.kind == "danger" or reading.small_talk is not None:
        return False
    found = await req.services.handoff.villages_named(text)
    if not found:
        if len(text.strip()) <= 12 and reading.kind != "question":
            await reply(req, req.t("faq.village_unknown", text=text.strip()[:30]))
            return True
        return False
    rows = [[InlineKeyboardButton(req.t("faq.village_is", org=org.name), callback_data=f"vil:{org.id}")]
            for org in found]
    rows.append([InlineKeyboardButton(req.t("faq.village_none"), callback_data="vil:0")])
    await reply(req, req.t("faq.village_confirm"), InlineKeyboardMarkup(rows))
    return True


async def village_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    req = await load_req(update, context)
    match = VILLAGE_CALLBACK.match(query.data)
    if match is None or not req.private:
        await query.answer()
        return
    org_id = int(match.group(1))
    try:
        if org_id == 0:
            await query.answer()
            await query.edit_message_reply_markup(None)
            await reply(req, req.t("faq.village_again"))
            return
        org, passed = await req.services.handoff.confirm_village(_asker(req), org_id)
    except Refusal as refusal:
        await query.answer(req.t(refusal.key, **refusal.params), show_alert=True)
        return
    await query.answer()
    await query.edit_message_reply_markup(None)
    text = req.t("faq.village_saved", org=org.name)
    if passed is not None and passed.reached == "duty":
        text += "\n" + req.t("faq.village_passed", name=passed.duty_name or req.t("faq.duty_anyone"))
    alarm = detect(passed.alarm, private=True) if passed is not None and passed.alarm else None
    if alarm is not None and alarm.category in VIOLENCE_CATEGORIES:  # her village's own people and phones
        local = req.services.faq.local_entry(DV_HELP_ENTRY, org.id)
        if local is not None:
            text += local_help_text(req.lang, local)
    await reply(req, text)


# --- buttons -----------------------------------------------------------------------------------


async def faq_button(update: Update, context: BotContext) -> None:
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
            unhelped = await req.services.faq.vote(int(value), req.user_id, int(match.group(3) or "1"))
            await query.answer(req.t("faq.vote_thanks"))
            if unhelped is not None and unhelped.chat_id == req.chat_id:
                # 👎: the answer did not help her, so a person follows up (once per answer)
                passed = await _pass_on(req, await _asker_org(req), unhelped.question[:MAX_QUESTION_CHARS], 0, False)
                await reply(req, req.t("faq.unhelped") + "\n\n" + _passed_line(req, passed, False))
        elif action == "q":
            await query.answer()
            org_id = await _asker_org(req)
            entry = req.services.faq.entry(value, org_id)
            if entry is None:
                raise Refusal("faq.not_found", id=value)
            decision = Decision("answer", entry, [])
            asked_id = await req.services.faq.log_asked(entry.questions[0], decision, org_id, req.chat_id,
                                                        req.user_id)
            await reply(req, answer_text(req.lang, entry) + _local_help_part(req, org_id, decision),
                        _with_private_row(req, context, _vote_keyboard(req.lang, asked_id)))
        elif action == "none":
            asked = await req.services.faq.asked(int(value)) if value.isdigit() else None
            if asked is None or asked.user_id != req.user_id or asked.chat_id != req.chat_id:
                raise Refusal("faq.not_yours")
            await query.answer()
            await query.edit_message_reply_markup(None)
            org_id = await _asker_org(req)
            passed = await _pass_on(req, org_id, asked.question[:MAX_QUESTION_CHARS], 0, False)
            await reply(req, req.t("faq.decline") + "\n\n" + _passed_line(req, passed, False))
        elif action == "take":
            await _take(req, context, int(value))
        elif action == "cancel":
            await req.services.handoff.cancel(req.chat_id, req.user_id, int(value))
            await query.answer()
            await query.edit_message_reply_markup(None)
            await reply(req, req.t("handoff.cancelled"))
        elif action == "save":
            if req.org is None or req.level not in ("manager", "super"):
                raise Refusal("roster.not_manager")
            entry = await req.services.faq.save_item(req.actor, int(value))
            await query.answer()
            await query.edit_message_reply_markup(None)
            await reply(req, req.t("faq.saved", id=entry.id))
    except Refusal as refusal:
        await query.answer(req.t(refusal.key, **refusal.params), show_alert=True)


async def _take(req: Req, context: BotContext, item_id: int) -> None:
    query = req.update.callback_query
    assert query is not None
    item = await req.services.handoff.take(req.actor, item_id, req.org.id if req.org else None, req.chat_id)
    await query.answer()
    asker = await req.services.roster.user(item.user_id)
    asker_name = asker.full_name if asker is not None else str(item.user_id)
    where = req.t("handoff.to_private") if item.chat_id > 0 else (
        req.t("handoff.to_private_from_group") if answer_chat(item) != item.chat_id else req.t("handoff.to_public"))
    name = req.member.display_name if req.member is not None else _asker(req).name
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton(req.t("handoff.cancel"),
                                                           callback_data=f"faq:cancel:{item.id}")]])
    await reply(req, req.t("handoff.prompt", name=name, asker=asker_name, where=where, question=item.question),
                keyboard)


async def _maybe_member_answer(req: Req, context: BotContext, message: Message) -> bool:
    """After 我来回答, her next message in that chat is the answer (no Telegram reply needed; kept in
    the database, so it works across a restart)."""
    item_id = await req.services.handoff.answering(req.chat_id, req.user_id)
    if item_id is None:
        return False
    name = req.member.display_name if req.member is not None else _asker(req).name
    try:
        item = await req.services.handoff.answer(req.chat_id, req.user_id, clean_text(message.text or ""), name)
    except Refusal as refusal:
        await reply(req, req.t(refusal.key, **refusal.params))
        return True
    keyboard = None
    if item.org_id is not None and not (item.danger or item.concern):  # her own trouble: no public entry
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton(req.t("faq.save"),
                                                               callback_data=f"faq:save:{item.id}")]])
    await reply(req, req.t("faq.answer_sent"), keyboard)
    return True


# --- the public group: welcome with the deep link -----------------------------------------------


async def welcome_public(update: Update, context: BotContext) -> None:
    """New members of the 网上妇女之家 group: one short welcome with a button that opens a private
    chat already tied to this village (so an alert from her later reaches its member on duty)."""
    message = update.effective_message
    if message is None or not message.new_chat_members:
        return
    req = await load_req(update, context)
    if req.org is None or req.ctx.kind != "public":
        return
    people = [u for u in message.new_chat_members if not u.is_bot]
    if not people:
        return
    for user in people:
        await req.services.roster.touch_user(user.id, user.username, user.first_name or "", user.last_name or "")
        await req.services.roster.remember_public_visit(user.id, req.org.id)
    names = "、".join(u.full_name for u in people[:5])
    await reply(req, req.t("faq.welcome_public", names=names, org=req.org.name), _with_private_row(req, context, None))


# --- knowledge-base commands -------------------------------------------------------------------


async def _scope(req: Req) -> tuple[bool, int | None]:
    """(ok, org id) for knowledge-base management: the work group's organisation, or, for a super
    admin in a private chat without an organisation, the deployment-wide entries (None)."""
    if req.private and req.actor.is_super_admin and not await req.services.roster.memberships(req.user_id):
        return True, None
    org = await org_for_management(req)
    return (org is not None), (org.id if org else None)


@handles("faq_add")
@command
async def faq_add(req: Req, context: BotContext) -> None:
    ok, org_id = await _scope(req)
    if not ok:
        return
    message = req.update.effective_message
    assert message is not None
    questions, answer, tags = parse_add_text(message_text_after_command(message))
    entry = await req.services.faq.add(req.actor, org_id, questions, answer, tags)
    await reply(req, req.t("faq_add.done", id=entry.id) + _twin_note(req, entry))


@handles("faq_edit")
@command
async def faq_edit(req: Req, context: BotContext) -> None:
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
    entry = await req.services.faq.edit(req.actor, org_id, entry_id, questions, parts[1] or None, tags)
    await reply(req, req.t("faq_edit.done", id=entry_id) + (_twin_note(req, entry) if questions else ""))


def _twin_note(req: Req, entry: Entry) -> str:
    """Where an organisation's new entry will be shown, when it is the village's version of a shipped one
    (`FaqService.shipped_twin`): after that answer, or under the alarm for violence."""
    found = req.services.faq.shipped_twin(entry)
    if found is None:
        return ""
    shipped, violence = found
    if violence:
        return "\n" + req.t("faq_add.twin_violence")
    question = _escape(in_script(req.lang, shipped.questions[0] if shipped.questions else shipped.id))
    return "\n" + req.t("faq_add.twin", question=question)


@handles("faq_del")
@command
async def faq_del(req: Req, context: BotContext) -> None:
    ok, org_id = await _scope(req)
    if not ok:
        return
    args = context.args or []
    if not args:
        await reply(req, req.t("faq_del.usage"))
        return
    await req.services.faq.delete(req.actor, org_id, args[0])
    await reply(req, req.t("faq_del.done", id=args[0]))


@handles("faq_list")
@command
async def faq_list(req: Req, context: BotContext) -> None:
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


@handles("faq_import")
@command
async def faq_import(req: Req, context: BotContext) -> None:
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
    if len(data) > MAX_FILE_BYTES:  # the size Telegram announced may be missing or wrong
        raise Refusal("faq_import.too_big", limit=MAX_FILE_BYTES // 1024 // 1024)
    try:  # never on the loop; a file that takes too long is refused and its reader killed
        rows = await run_in_child(parse_faq_file, document.file_name or "", data, limit_seconds=PARSE_SECONDS)
    except ChildTimeout:
        raise Refusal("faq_import.too_slow", seconds=PARSE_SECONDS) from None
    preview = await req.services.faq.preview_import(req.actor, org_id, rows)
    save = req.t("faq_import.save", count=preview.count)
    await reply(req, preview_text(req, preview), InlineKeyboardMarkup([[
        InlineKeyboardButton(save, callback_data=f"fi:ok:{preview.pending_id}"),
        InlineKeyboardButton(req.t("faq_import.cancel"), callback_data=f"fi:no:{preview.pending_id}"),
    ]]))


def preview_text(req: Req, preview: ImportPreview) -> str:
    lines = [req.t("faq_import.preview", count=preview.count)]
    for d in preview.duplicates[:PREVIEW_LINES]:
        lines.append(req.t("faq_import.duplicate", row=d.row, question=d.question, id=d.existing_id,
                           existing=d.existing_question))
    if len(preview.duplicates) > PREVIEW_LINES:
        lines.append(req.t("faq_import.more", count=len(preview.duplicates) - PREVIEW_LINES))
    if not preview.duplicates:
        lines.append(req.t("faq_import.no_duplicates", checked=preview.checked))
    for trial in preview.trials:
        lines.append(req.t(f"faq_import.trial_{trial.outcome}", row=trial.row, asked=trial.asked, other=trial.other))
    if preview.one_phrasing:
        lines.append(req.t("faq_import.one_phrasing", count=preview.one_phrasing))
    lines.append(req.t("faq_import.confirm"))
    return "\n".join(lines)


async def import_button(update: Update, context: BotContext) -> None:
    """保存 / 取消 under an import preview: only the chair who sent the file (re-checked in the service)."""
    query = update.callback_query
    assert query is not None and query.data is not None
    req = await load_req(update, context)
    match = IMPORT_CALLBACK.match(query.data)
    if match is None:
        await query.answer()
        return
    pending_id, save = int(match.group(2)), match.group(1) == "ok"

    async def decide() -> str:
        if save:
            return req.t("faq_import.done", count=await req.services.faq.confirm_import(req.actor, pending_id))
        await req.services.faq.cancel_import(req.actor, pending_id)
        return req.t("faq_import.cancelled")

    done = await settle_press(req, decide)
    if done is not None:
        await reply(req, done)


def export_headers(lang: str | None) -> list[str]:
    return [t(lang, f"faq_export.col_{k}") for k in ("id", "question", "answer", "tags", "source", "referral")]


@handles("faq_export")
@command
async def faq_export(req: Req, context: BotContext) -> None:
    ok, org_id = await _scope(req)
    if not ok:
        return
    if org_id is not None:
        await req.services.faq._check_scope(req.actor, org_id)
    entries = req.services.faq.export_dicts(org_id)
    data = to_xlsx(entries, export_headers(req.lang), req.t("faq_export.sheet"))
    await context.bot.send_document(req.chat_id, data, filename="faq.xlsx",
                                    caption=req.t("faq_export.caption", count=len(entries)))


@handles("unanswered")
@command
async def unanswered(req: Req, context: BotContext) -> None:
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


