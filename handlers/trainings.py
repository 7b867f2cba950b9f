"""Training commands: /training_add /trainings /attend /untrained /training_cancel and the
报名/请假 buttons on the training notice. The reminders are produced by services/trainings.py
into the outbox and sent by the sender."""

from __future__ import annotations

import contextlib
import html
import re
from datetime import datetime, timedelta
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, MessageEntity, Update
from telegram.error import BadRequest

from handlers import formats
from handlers.commands import handles
from handlers.common import (
    BotContext,
    Req,
    command,
    commit_changes,
    deliver_later,
    load_req,
    message_text_after_command,
    org_and_member,
    org_for_management,
    reply,
    time_error,
)
from handlers.i18n import t
from services.errors import Refusal
from services.roster import Target
from services.timeparse import OneOff, TimeParseError, parse_when
from services.trainings import OutsideWindow, TrainingService, when_params
from storage.trainings import Audience, Counts, SignupStatus, Training

TRAINING_CALLBACK = re.compile(r"^tr:(\d{1,9}):(s|l)$")
_ID = re.compile(r"\d{1,9}")
AUDIENCE_WORDS: dict[str, Audience] = {
    "全体": "all", "全体执委": "all", "所有人": "all", "全部": "all",
    "新当选": "new", "新当选执委": "new", "新任": "new", "新任执委": "new",
}
_HOURS = re.compile(r"^(?:时长)?(\d{1,2}(?:\.\d)?|[一两二三四五六七八]|半)(?:个)?(半)?(?:小时|钟头)$")
_MINUTES = re.compile(r"^(?:时长)?(\d{1,3})分钟$")
_CN = {"一": 1, "两": 2, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "半": 0.5}


def _svc(req: Req) -> TrainingService:
    found = req.services.trainings
    assert isinstance(found, TrainingService)
    return found


# --- rendering ---------------------------------------------------------------------------------


def when_text(lang: str | None, training: Training, tz: Any) -> str:
    return t(lang, "training.when", **when_params(training, tz))


def moment_text(lang: str | None, moment: datetime, tz: Any) -> str:
    return formats.day_time(lang, moment, tz)


def _date(lang: str | None, moment: datetime, tz: Any) -> str:
    return formats.full_day(lang, moment.astimezone(tz).date())


def notice_text(lang: str | None, training: Training, counts: Counts, tz: Any) -> str:
    lines = [
        t(lang, "training.notice", id=training.id, topic=training.topic, when=when_text(lang, training, tz),
          place=training.place, audience=t(lang, f"training.audience_{training.audience}")),
        t(lang, "training.notice_counts", signed=counts.signed, leave=counts.leave),
    ]
    return "\n".join(lines)


def notice_keyboard(lang: str | None, training_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[
        InlineKeyboardButton(t(lang, "training.btn_sign"), callback_data=f"tr:{training_id}:s"),
        InlineKeyboardButton(t(lang, "training.btn_leave"), callback_data=f"tr:{training_id}:l"),
    ]])


def _id(word: str) -> int | None:
    """A training id as typed (full-width digits too); None for anything else or absurdly long."""
    return int(word) if _ID.fullmatch(word) else None


def _toast(text: str) -> str:
    """Locale text for a callback answer: plain text, so the escaping for HTML is undone."""
    return html.unescape(text)[:200]



async def _outside(req: Req, refusal: OutsideWindow) -> None:
    tz = req.services.config.tz
    training = refusal.training
    if training is None:
        await reply(req, req.t(refusal.key))
        return
    opens, closes = _svc(req).window(training)
    await reply(req, req.t(refusal.key, topic=training.topic, when=when_text(req.lang, training, tz),
                           opens=moment_text(req.lang, opens, tz), closes=moment_text(req.lang, closes, tz)))



# --- /training_add -----------------------------------------------------------------------------


def _duration(word: str) -> timedelta | None:
    hours = _HOURS.match(word)
    if hours:
        raw = hours.group(1)
        value = float(_CN[raw]) if raw in _CN else float(raw)
        return timedelta(hours=value + (0.5 if hours.group(2) else 0))
    minutes = _MINUTES.match(word)
    return timedelta(minutes=int(minutes.group(1))) if minutes else None


@handles("training_add")
@command
async def training_add(req: Req, context: BotContext) -> None:
    org = await org_for_management(req)
    if org is None:
        return
    message = req.update.effective_message
    assert message is not None
    body = message_text_after_command(message)
    if not body.strip():
        await reply(req, req.t("training_add.usage"))
        return
    tz = req.services.config.tz
    try:
        when, rest = parse_when(body, req.services.clock.now().astimezone(tz))
    except TimeParseError as error:
        if error.code == "past":
            await reply(req, req.t("training_add.past"))
        else:
            await reply(req, time_error(req, error) + "\n\n" + req.t("training_add.usage"))
        return
    if not isinstance(when, OneOff):
        await reply(req, req.t("training_add.not_one_off"))
        return
    words = rest.split()
    audience: Audience = "all"
    duration: timedelta | None = None
    while words:
        if words[-1] in AUDIENCE_WORDS:
            audience = AUDIENCE_WORDS[words.pop()]
        elif (found := _duration(words[-1])) is not None:
            duration = found
            words.pop()
        else:
            break
    if len(words) < 2:
        await reply(req, req.t("training_add.missing") + "\n\n" + req.t("training_add.usage"))
        return
    training = await _svc(req).add(req.actor, org.id, when.at, words[0], " ".join(words[1:]), audience, duration)
    work = await req.services.roster.work_chat(org.id)
    target = work if work is not None else req.chat_id
    lang = req.lang if target == req.chat_id else await req.services.roster.lang_for(target, None, False)
    if target == req.chat_id:
        await reply(req, notice_text(lang, training, Counts(), tz), notice_keyboard(lang, training.id))
        return
    # The notice to the work group, in the training's own transaction; if the bot cannot post there,
    # it comes here instead (the row's fallback chat) and stands for the confirmation.
    notice = await deliver_later(req.services, target, notice_text(lang, training, Counts(), tz),
                                 notice_keyboard(lang, training.id), fallback_chat_id=req.chat_id)
    await commit_changes(req)  # stored, and the notice sent
    if req.services.sender.delivered_to(notice) != req.chat_id:
        await reply(req, req.t("training_add.posted", id=training.id))


async def training_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    match = TRAINING_CALLBACK.match(query.data)
    req = await load_req(update, context)
    if match is None:
        await query.answer()
        return
    training_id = int(match.group(1))
    status: SignupStatus = "signed" if match.group(2) == "s" else "leave"
    svc = _svc(req)
    try:
        training, _member, previous = await svc.respond(req.user_id, training_id, status)
    except Refusal as refusal:
        await query.answer(_toast(req.t(refusal.key, **refusal.params)), show_alert=True)
        return
    if previous == status:
        await query.answer(_toast(req.t(f"training.same_{status}", topic=training.topic)))
        return
    await query.answer(_toast(req.t(f"training.{status}_toast", topic=training.topic)))
    counts = await svc.counts(training_id)
    with contextlib.suppress(BadRequest):  # the notice is gone or unchanged: the choice is recorded anyway
        await query.edit_message_text(notice_text(req.lang, training, counts, req.services.config.tz),
                                      reply_markup=notice_keyboard(req.lang, training_id))


# --- /training_cancel --------------------------------------------------------------------------


@handles("training_cancel")
@command
async def training_cancel(req: Req, context: BotContext) -> None:
    org = await org_for_management(req)
    if org is None:
        return
    args = context.args or []
    training_id = _id(args[0]) if len(args) == 1 else None
    if training_id is None:
        await reply(req, req.t("training_cancel.usage"))
        return
    svc = _svc(req)
    training = await svc.cancel(req.actor, org.id, training_id)
    counts = await svc.counts(training.id)
    await reply(req, req.t("training_cancel.done", topic=training.topic,
                           when=when_text(req.lang, training, req.services.config.tz), count=counts.signed))


# --- /attend -----------------------------------------------------------------------------------


def _targets(req: Req) -> tuple[str | None, list[Target]]:
    """The first word (a training id, if any) and the people named after it."""
    message = req.update.effective_message
    assert message is not None
    body = message_text_after_command(message)
    targets: list[Target] = []
    found = message.parse_entities([MessageEntity.TEXT_MENTION, MessageEntity.MENTION])
    for entity, value in sorted(found.items(), key=lambda item: item[0].offset):
        if entity.type == MessageEntity.TEXT_MENTION and entity.user is not None:
            targets.append(Target(user_id=entity.user.id, username=entity.user.username, name=value))
        else:
            targets.append(Target(username=value.lstrip("@")))
        body = body.replace(value, " ", 1)
    words = body.split()
    if not words:
        return None, targets
    for word in words[1:]:
        targets.append(Target(username=word[1:]) if word.startswith("@") and len(word) > 1 else Target(name=word))
    return words[0], targets


@handles("attend")
@command
async def attend(req: Req, context: BotContext) -> None:
    found = await org_and_member(req, "training.member_only")
    if found is None:
        return
    org, me = found
    first, targets = _targets(req)
    svc = _svc(req)
    training_id: int | None = None
    if first is not None:
        training_id = _id(first)
        if training_id is None:
            await reply(req, req.t("attend.usage"))
            return
    try:
        if not targets:
            if me is None:
                await reply(req, req.t("training.member_only"))
                return
            training = await svc.attend(me, training_id)
            await reply(req, req.t("attend.done", name=me.display_name, topic=training.topic))
            return
        if training_id is None:  # "/attend @someone" without the training's id
            await reply(req, req.t("attend.usage"))
            return
        people: list[int] = []
        for target in targets:
            try:
                people.append((await req.services.roster.resolve(org.id, target)).id)
            except Refusal:
                label = target.name or (f"@{target.username}" if target.username else str(target.user_id))
                await reply(req, req.t("attend.unknown_member", who=label))
                return
        result = await svc.mark(req.actor, org.id, training_id, people)
    except OutsideWindow as refusal:
        await _outside(req, refusal)
        return
    lines = []
    if result.marked:
        lines.append(req.t("attend.marked", count=len(result.marked), topic=result.training.topic,
                           names="、".join(m.display_name for m in result.marked)))
    if result.already:
        lines.append(req.t("attend.marked_already", names="、".join(m.display_name for m in result.already)))
    await reply(req, "\n".join(lines))


# --- /trainings and /untrained -----------------------------------------------------------------


@handles("trainings")
@command
async def trainings_list(req: Req, context: BotContext) -> None:
    found = await org_and_member(req, "training.member_only")
    if found is None:
        return
    org, _ = found
    ahead, past = await _svc(req).overview(org.id)
    if not ahead and not past:
        await reply(req, req.t("trainings.none"))
        return
    tz = req.services.config.tz
    now = req.services.clock.now()

    def line(training: Training, counts: Counts) -> str:
        mark = req.t("trainings.in_progress") if training.starts_at <= now < training.ends_at else ""
        return req.t("trainings.line", id=training.id, when=when_text(req.lang, training, tz), mark=mark,
                     place=training.place, topic=training.topic,
                     audience=req.t(f"training.audience_{training.audience}"),
                     signed=counts.signed, leave=counts.leave, attended=counts.attended)

    lines = [req.t("trainings.header_upcoming")]
    if ahead:
        lines.extend(line(tr, c) for tr, c in ahead)
    else:
        lines.append(req.t("trainings.no_upcoming"))
    if past:
        lines.append("")
        lines.append(req.t("trainings.header_past"))
        lines.extend(line(tr, c) for tr, c in past)
    await reply(req, "\n".join(lines))


@handles("untrained")
@command
async def untrained(req: Req, context: BotContext) -> None:
    org = await org_for_management(req)
    if org is None:
        return
    svc = _svc(req)
    found = await svc.untrained(req.actor, org.id)
    years = svc.window_years
    if not found:
        await reply(req, req.t("untrained.none", years=years))
        return
    tz = req.services.config.tz
    now = req.services.clock.now()
    lines = [req.t("untrained.header", years=years, count=len(found))]
    for i, entry in enumerate(found, 1):
        member = entry.member
        last = _date(req.lang, entry.last_attended, tz) if entry.last_attended else req.t("untrained.never")
        if member.newly_elected and entry.deadline is not None and member.elected_on is not None:
            elected = formats.full_day(req.lang, member.elected_on)
            lines.append(req.t("untrained.line_new", index=i, name=member.display_name, elected=elected,
                               deadline=_date(req.lang, entry.deadline, tz),
                               overdue=req.t("untrained.overdue") if entry.deadline < now else ""))
        elif member.newly_elected:
            lines.append(req.t("untrained.line_new_nodate", index=i, name=member.display_name, last=last))
        else:
            lines.append(req.t("untrained.line", index=i, name=member.display_name, last=last))
    ahead, _ = await svc.overview(org.id)
    upcoming = [tr for tr, _ in ahead if tr.starts_at > now]
    if upcoming:
        nxt = upcoming[0]
        lines.append("")
        lines.append(req.t("untrained.next", topic=nxt.topic, when=when_text(req.lang, nxt, tz), id=nxt.id))
    await reply(req, "\n".join(lines))
