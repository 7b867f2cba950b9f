"""Duty rotation and ledger commands: /rota_set /duty /rota /leave /swap /assign /checkin /log
/handover /ledger, the swap buttons, the guided /rota_set flow, and the duty notice ticker."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import Forbidden

from handlers import formats
from handlers.args import extract_target
from handlers.commands import handles
from handlers.common import (
    BotContext,
    Req,
    command,
    load_req,
    message_text_after_command,
    org_and_member,
    org_for_management,
    reply,
    settle_press,
    time_error,
)
from handlers.i18n import t
from services.duty import LEDGER_CATEGORIES, RotaFlow
from services.errors import Refusal
from services.exports import xlsx_bytes
from services.roster import Target
from services.rotation import Shift
from services.timeparse import TimeParseError, parse_date, parse_date_range
from storage.models import Member, Org

SWAP_CALLBACK = re.compile(r"^swap:(\d+):(yes|no)$")
ROTA_FLOW_CALLBACK = re.compile(r"^rs:(p|s|m|done|clear)(?::([\w-]+))?$")
PERIOD_WORDS = {"日": "day", "天": "day", "每天": "day", "每日": "day", "day": "day",
                "周": "week", "每周": "week", "星期": "week", "week": "week",
                "月": "month", "每月": "month", "month": "month"}
SKIP_WORDS = ("跳过节假日", "跳过休息日", "节假日休息", "工作日")
HHMM = re.compile(r"^([01]?\d|2[0-3])[:：]([0-5]\d)$")
CLOCKISH = re.compile(r"^\d{1,2}[:：]\d{1,2}$")  # looks like a time, but HHMM rejected it
MONTH = re.compile(r"^(?:(\d{4})[-年/.])?(\d{1,2})月?$")


# --- helpers -----------------------------------------------------------------------------------


def day_span(lang: str | None, first: date, last: date) -> str:
    if first == last:
        return t(lang, "duty.range_one", first=formats.day(lang, first))
    return t(lang, "duty.range_many", first=formats.day(lang, first), last=formats.day(lang, last))


def shift_range(req_or_lang: Req | str | None, shift: Shift) -> str:
    lang = req_or_lang.lang if isinstance(req_or_lang, Req) else req_or_lang
    return day_span(lang, shift.first_day, shift.last_day)


async def _member_here(req: Req) -> tuple[Org, Member] | None:
    """The organisation of this chat (work group / private) and the caller's roster row."""
    org = await org_for_management(req)
    if org is None:
        return None
    me = await req.services.roster.member_of(org.id, req.user_id)
    if me is None:
        await reply(req, req.t("duty.member_only"))
        return None
    return org, me


async def _names(req: Req, ids: set[int]) -> dict[int, str]:
    found = await req.services.duty.names(ids)
    return {k: v.display_name for k, v in found.items()}



# --- /rota_set ---------------------------------------------------------------------------------


@handles("rota_set")
@command
async def rota_set(req: Req, context: BotContext) -> None:
    org = await org_for_management(req)
    if org is None:
        return
    message = req.update.effective_message
    assert message is not None
    words = message_text_after_command(message).split()
    if not words:
        await _flow_start(req, context, org)
        return
    period = PERIOD_WORDS.get(words[0])
    if period is None:
        await reply(req, req.t("rota_set.bad_period", text=words[0]))
        return
    today = req.services.duty.today()
    try:
        anchor, rest = parse_date(" ".join(words[1:]), today)
    except TimeParseError as error:
        if error.code == "unrecognised" or error.code == "empty":
            await reply(req, req.t("rota_set.bad_date"))
        else:  # 2月30日: the same "no such day" as /leave, then this command's usage
            await reply(req, time_error(req, error, brief=True) + "\n\n" + req.t("rota_set.usage"))
        return
    handoff: time | None = None
    skip = False
    member_ids: list[int] = []
    for token in rest.split():
        hhmm = HHMM.match(token)
        if hhmm:
            handoff = time(int(hhmm.group(1)), int(hhmm.group(2)))
        elif token in SKIP_WORDS:
            skip = True
        elif CLOCKISH.match(token):
            await reply(req, req.t("rota_set.bad_handoff", text=token))
            return
        else:
            target = Target(username=token[1:]) if token.startswith("@") else Target(name=token)
            try:
                found = await req.services.roster.resolve(org.id, target)
            except Refusal as refusal:
                if refusal.key != "roster.not_found":
                    raise
                await reply(req, req.t("duty.unknown_member", who=token))
                return
            member_ids.append(found.id)
    if not member_ids:
        await reply(req, req.t("rota_set.usage"))
        return
    await _save_rotation(req, org, period, anchor, member_ids, handoff, skip)


async def _save_rotation(req: Req, org: Org, period: str, anchor: date, member_ids: list[int],
                         handoff: time | None, skip: bool) -> None:
    rotation, fallback = await req.services.duty.set_rotation(
        req.actor, org.id, period, anchor, member_ids, handoff, skip
    )
    version = rotation.versions[-1]
    names = await _names(req, set(member_ids))
    lines = [
        req.t("rota_set.done", period=req.t(f"periods.{period}"), handoff=version.handoff.strftime("%H:%M"),
              anchor=formats.day(req.lang, anchor), count=len(member_ids)),
        req.t("rota_set.order", names=" → ".join(names.get(m, "?") for m in member_ids)),
    ]
    if version.skip_non_working:
        lines.append(req.t("rota_set.done_skip"))
    if fallback:
        lines.append(req.t("rota_set.fallback", year=(anchor + timedelta(days=60)).year))
    lines.append("")
    # the new rotation's first shifts (before its first day the old one goes on, and is said so)
    starts = datetime.combine(version.anchor, version.handoff, tzinfo=version.tz)
    if starts > req.services.clock.now():
        lines.append(req.t("rota_set.until_then", day=formats.day(req.lang, anchor)))
    lines.append(await _rota_text(req, org.id, 4, since=starts))
    await reply(req, "\n".join(lines))


async def _flow_start(req: Req, context: BotContext, org: Org) -> None:
    me = await req.services.roster.member_of(org.id, req.user_id)
    if not req.actor.is_super_admin and (me is None or not me.is_manager):
        raise Refusal("roster.not_manager")
    await req.services.duty.save_flow(RotaFlow(req.chat_id, req.user_id, org.id))
    keyboard = InlineKeyboardMarkup([[
        InlineKeyboardButton(req.t("rota_set.btn_day"), callback_data="rs:p:day"),
        InlineKeyboardButton(req.t("rota_set.btn_week"), callback_data="rs:p:week"),
        InlineKeyboardButton(req.t("rota_set.btn_month"), callback_data="rs:p:month"),
    ]])
    await reply(req, req.t("rota_set.pick_period") + "\n\n" + req.t("rota_set.usage"), keyboard)


async def rota_flow(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    match = ROTA_FLOW_CALLBACK.match(query.data)
    req = await load_req(update, context)
    duty = req.services.duty
    flows = await duty.flows_in_chat(req.chat_id)  # the wizard's steps so far, kept in the database
    state = next((f for f in flows if f.user_id == req.user_id), None)
    if match is None or state is None:
        key = "rota_set.flow_not_yours" if flows else "rota_set.flow_expired"
        await query.answer(req.t(key), show_alert=True)
        return
    step, value = match.group(1), match.group(2) or ""
    # The flow may run in a private chat, where the chat itself names no organisation.
    org = await req.services.roster.find_org(str(state.org_id))
    if org is None:
        await query.answer()
        return
    if step == "p":
        await duty.save_flow(replace(state, period=value))
        today = req.services.duty.today()
        monday = today + timedelta(days=7 - today.weekday())
        options = [("btn_today", today), ("btn_tomorrow", today + timedelta(days=1)), ("btn_next_monday", monday)]
        options = [(key, d) for i, (key, d) in enumerate(options) if d not in [o for _, o in options[:i]]]
        keyboard = InlineKeyboardMarkup([[
            InlineKeyboardButton(req.t(f"rota_set.{key}", date=formats.day(req.lang, d)),
                                 callback_data=f"rs:s:{d.isoformat()}")
            for key, d in options
        ]])
        await query.answer()
        await query.edit_message_text(req.t("rota_set.pick_start"), reply_markup=keyboard)
        return
    if step == "s":
        try:
            state = replace(state, start=date.fromisoformat(value))
        except ValueError:  # not a date this flow offered
            await query.answer()
            return
    elif step == "m" and value.isdigit():
        member_id = int(value)
        if member_id not in state.member_ids:
            state = replace(state, member_ids=(*state.member_ids, member_id))
    elif step == "clear":
        state = replace(state, member_ids=())
    elif step == "done":
        if not state.member_ids or state.period is None or state.start is None:
            await query.answer(req.t("rota_set.flow_empty"), show_alert=True)
            return
        await duty.end_flow(req.chat_id, req.user_id)
        await query.answer()
        await query.edit_message_reply_markup(None)
        try:
            await _save_rotation(req, org, state.period, state.start, list(state.member_ids), None, False)
        except Refusal as refusal:
            await reply(req, req.t(refusal.key, **refusal.params))
        return
    await duty.save_flow(state)
    roster = await req.services.roster.org_members(org.id)
    names = {m.id: m.display_name for m in roster}
    chosen = "、".join(names.get(m, "?") for m in state.member_ids) or req.t("rota_set.pick_none")
    buttons = [InlineKeyboardButton(m.display_name, callback_data=f"rs:m:{m.id}")
               for m in roster if m.id not in state.member_ids]
    rows = [buttons[i:i + 3] for i in range(0, len(buttons), 3)]
    rows.append([InlineKeyboardButton(req.t("rota_set.btn_done"), callback_data="rs:done"),
                 InlineKeyboardButton(req.t("rota_set.btn_clear"), callback_data="rs:clear")])
    await query.answer()
    await query.edit_message_text(req.t("rota_set.pick_members", names=chosen), reply_markup=InlineKeyboardMarkup(rows))


@handles("dayoff")
@command
async def dayoff(req: Req, context: BotContext) -> None:
    """A local non-working day (e.g. the village's own festival) for daily rotations."""
    org = await org_for_management(req)
    if org is None:
        return
    text = " ".join(context.args or [])
    if not text:
        await reply(req, req.t("dayoff.usage"))
        return
    try:
        day, _ = parse_date(text, req.services.duty.today())
    except TimeParseError as error:
        await reply(req, time_error(req, error, brief=True) + "\n\n" + req.t("dayoff.usage"))
        return
    skipped = await req.services.duty.add_day_off(req.actor, org.id, day)
    await reply(req, req.t("dayoff.done" if skipped else "dayoff.kept", day=formats.full_day(req.lang, day)))


# --- /duty and /rota ---------------------------------------------------------------------------


async def _rota_text(req: Req, org_id: int, count: int, since: datetime | None = None) -> str:
    """The next `count` shifts (from `since` when that is later than now)."""
    rotation = await req.services.duty.rotation(org_id)
    if rotation is None:
        return req.t("duty.no_rotation")
    now = req.services.clock.now()
    shifts = rotation.upcoming(max(now, since) if since is not None else now, count)
    names = await _names(req, {s.member_id for s in shifts} | {s.base_member_id for s in shifts})
    version = rotation.versions[-1]
    lines = [req.t("duty.rota_header", count=len(shifts), period=req.t(f"periods.{version.period}"),
                   handoff=version.handoff.strftime("%H:%M"))]
    for i, shift in enumerate(shifts, 1):
        lines.append(req.t("duty.rota_line", index=i, range=shift_range(req, shift),
                           name=names.get(shift.member_id, "?"), mark=_mark(req, shift, names)))
    return "\n".join(lines)


def _mark(req: Req, shift: Shift, names: dict[int, str]) -> str:
    if shift.unresolved:
        return req.t("duty.unresolved_mark")
    if shift.member_id != shift.base_member_id:
        return req.t("duty.leave_mark", who=names.get(shift.base_member_id, "?"))
    return ""


@handles("duty")
@command
async def duty_now(req: Req, context: BotContext) -> None:
    found = await _member_here(req)
    if found is None:
        return
    org, _ = found
    rotation = await req.services.duty.rotation(org.id)
    if rotation is None:
        await reply(req, req.t("duty.no_rotation"))
        return
    now = req.services.clock.now()
    upcoming = rotation.upcoming(now, 2)
    current = rotation.at(now)
    names = await _names(req, {s.member_id for s in upcoming})
    lines = []
    if current is not None:
        lines.append(req.t("duty.now", name=names.get(current.member_id, "?"), range=shift_range(req, current)))
        checked = await req.services.duty.is_checked_in(org.id, current)
        lines.append(req.t("duty.checked" if checked else "duty.not_checked"))
    elif upcoming:
        lines.append(req.t("duty.now_none", start=formats.day(req.lang, upcoming[0].first_day)))
    following = [s for s in upcoming if current is None or s.start > current.start]
    if following:
        nxt = following[0]
        lines.append(req.t("duty.next", name=names.get(nxt.member_id, "?"), range=shift_range(req, nxt)))
    await reply(req, "\n".join(lines))


@handles("rota")
@command
async def rota(req: Req, context: BotContext) -> None:
    found = await _member_here(req)
    if found is None:
        return
    args = context.args or []
    count = 8
    if args:
        if not args[0].isdigit() or not 1 <= int(args[0]) <= 60:
            await reply(req, req.t("duty.rota_usage"))
            return
        count = int(args[0])
    await reply(req, await _rota_text(req, found[0].id, count))


# --- /leave /swap /assign ----------------------------------------------------------------------


@handles("leave")
@command
async def leave(req: Req, context: BotContext) -> None:
    found = await _member_here(req)
    if found is None:
        return
    _, me = found
    message = req.update.effective_message
    assert message is not None
    text = message_text_after_command(message)
    if not text.strip():
        await reply(req, req.t("leave.usage"))
        return
    try:
        first, last, reason = parse_date_range(text, req.services.duty.today())
    except TimeParseError as error:
        await reply(req, time_error(req, error, brief=True) + "\n\n" + req.t("leave.usage"))
        return
    changed = await req.services.duty.leave(me, first, last, reason)
    span = day_span(req.lang, first, last)
    lines = [req.t("leave.done", range=span)]
    if not changed:
        lines.append(req.t("leave.none_changed"))
    names = await _names(req, {after.member_id for _, after in changed})
    for _before, after in changed:
        if after.unresolved:
            lines.append(req.t("leave.unresolved", range=shift_range(req, after)))
            continue
        lines.append(req.t("leave.moved", range=shift_range(req, after), name=names.get(after.member_id, "?")))
        # each replacement's note was written to the outbox with the leave (services/duty.py leave)
    await reply(req, "\n".join(lines))


@handles("swap")
@command
async def swap(req: Req, context: BotContext) -> None:
    found = await _member_here(req)
    if found is None:
        return
    org, me = found
    message = req.update.effective_message
    assert message is not None
    parsed = extract_target(message)
    if parsed.target is None or not parsed.rest:
        await reply(req, req.t("swap.usage"))
        return
    try:
        day, _ = parse_date(" ".join(parsed.rest), req.services.duty.today())
    except TimeParseError as error:
        await reply(req, time_error(req, error, brief=True) + "\n\n" + req.t("swap.usage"))
        return
    target = await req.services.roster.resolve(org.id, parsed.target)
    await req.services.duty.request_swap(me, target, day, here=req.chat_id)  # the request goes out with it
    work_chat = await req.services.roster.work_chat(org.id)
    if work_chat is not None and work_chat != req.chat_id:
        await reply(req, req.t("swap.sent"))


async def swap_decision(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    match = SWAP_CALLBACK.match(query.data)
    req = await load_req(update, context)
    if match is None:
        await query.answer()
        return
    accept = match.group(2) == "yes"
    try:
        request, shift = await req.services.duty.decide_swap(req.user_id, int(match.group(1)), accept)
    except Refusal as refusal:
        await query.answer(req.t(refusal.key, **refusal.params), show_alert=True)
        if refusal.key == "swap.expired":
            await query.edit_message_reply_markup(None)
        return
    await query.answer()
    people = await req.services.duty.names({request.requester_id, request.target_id})
    requester = people[request.requester_id]
    target = people[request.target_id]
    rotation = await req.services.duty.rotation(request.org_id)
    covering = shift or (rotation.covering(request.day) if rotation else None)
    span = shift_range(req, covering) if covering else formats.day(req.lang, request.day)
    if accept:
        text = req.t("swap.accepted", target=target.display_name, range=span)
    else:
        text = req.t("swap.declined", target=target.display_name, requester=requester.display_name, range=span)
    await query.edit_message_text(text)  # the requester's own note went to the outbox with the decision


@handles("assign")
@command
async def assign(req: Req, context: BotContext) -> None:
    org = await org_for_management(req)
    if org is None:
        return
    message = req.update.effective_message
    assert message is not None
    parsed = extract_target(message)
    words = [w for w in message_text_after_command(message).split() if not w.startswith("@")]
    if parsed.target is None or not words:
        await reply(req, req.t("assign.usage"))
        return
    try:
        day, rest = parse_date(" ".join(words), req.services.duty.today())
    except TimeParseError as error:
        await reply(req, time_error(req, error, brief=True) + "\n\n" + req.t("assign.usage"))
        return
    target = parsed.target
    if target.username is None and target.user_id is None:
        # "/assign 12月3日 李秀英": the name is what is left after the date.
        if not rest.strip():
            await reply(req, req.t("assign.usage"))
            return
        target = Target(name=rest.strip())
    member = await req.services.roster.resolve(org.id, target)
    before, after = await req.services.duty.assign(req.actor, org.id, day, member)
    names = await _names(req, {before.member_id})
    await reply(req, req.t("assign.done", range=shift_range(req, after), name=member.display_name,
                           before=names.get(before.member_id, "?")))
    # her note was written to the outbox with the assignment (services/duty.py assign)


# --- on duty: /checkin /log /handover /ledger --------------------------------------------------


@handles("checkin")
@command
async def checkin(req: Req, context: BotContext) -> None:
    found = await _member_here(req)
    if found is None:
        return
    _, me = found
    await req.services.duty.checkin(me)
    await reply(req, req.t("checkin.done", name=me.display_name))


@handles("log")
@command
async def log(req: Req, context: BotContext) -> None:
    found = await _member_here(req)
    if found is None:
        return
    _, me = found
    message = req.update.effective_message
    assert message is not None
    text = message_text_after_command(message).strip()
    file_id, file_kind = None, None
    if message.photo:
        file_id, file_kind = message.photo[-1].file_id, "photo"
    elif message.document is not None:
        file_id, file_kind = message.document.file_id, "document"
    if not text:
        await reply(req, req.t("log.usage"))
        return
    category, _, content = text.partition(" ")
    if not content.strip() and file_id is None:
        await reply(req, req.t("log.usage"))
        return
    try:
        entry_id, used, unknown = await req.services.duty.log(me, category, content, file_id, file_kind)
    except Refusal as refusal:
        if refusal.key != "log.already":
            raise
        # The same entry a moment ago (a retry after a reply that did not arrive): say so, and let
        # her add it again on purpose.
        again = InlineKeyboardButton(req.t("log.again"), callback_data=f"lg:a:{refusal.params['id']}")
        await reply(req, req.t("log.already", id=refusal.params["id"]), InlineKeyboardMarkup([[again]]))
        return
    lines = [req.t("log.done_file" if file_id else "log.done", id=entry_id, category=used)]
    if unknown:
        lines.append(req.t("log.unknown_category", category=category))
    await reply(req, "\n".join(lines))


LOG_AGAIN_CALLBACK = re.compile(r"^lg:a:(\d{1,12})$")


async def log_again_button(update: Update, context: BotContext) -> None:
    """再记一条 under "已经记下了": only the member whose entry it is, in her organisation."""
    query = update.callback_query
    assert query is not None and query.data is not None
    match = LOG_AGAIN_CALLBACK.match(query.data)
    req = await load_req(update, context)

    async def again() -> tuple[int, str, bool]:
        if match is None or req.member is None:
            raise Refusal("log.again_gone")
        return await req.services.duty.log_again(req.member, int(match.group(1)))

    done = await settle_press(req, again)
    if done is not None:
        await reply(req, req.t("log.done", id=done[0], category=done[1]))


@handles("handover")
@command
async def handover(req: Req, context: BotContext) -> None:
    found = await _member_here(req)
    if found is None:
        return
    _, me = found
    message = req.update.effective_message
    assert message is not None
    await req.services.duty.handover(me, message_text_after_command(message))
    await reply(req, req.t("handover.done"))


def parse_month(text: str, today: date) -> tuple[int, int] | None:
    """A month for a report or an export: 2026-11, 2026年11月, 11月, 11 (full-width digits too). A month
    without a year is the most recent one that has started: in January, 12月 is last December."""
    text = unicodedata.normalize("NFKC", text).strip()
    if not text:
        return today.year, today.month
    match = MONTH.match(text)
    if match is None or not 1 <= int(match.group(2)) <= 12:
        return None
    month = int(match.group(2))
    if match.group(1):
        return int(match.group(1)), month
    return (today.year if month <= today.month else today.year - 1), month


@handles("ledger")
@command
async def ledger(req: Req, context: BotContext) -> None:
    # members see it; the county's super admin too, naming the organisation in private: /ledger 青石村妇联 11月
    found = await org_and_member(req, "duty.member_only")
    if found is None:
        return
    org, me = found
    month = parse_month(" ".join(req.args), req.services.duty.today())
    if month is None:
        await reply(req, req.t("ledger.usage"))
        return
    year, mon = month
    label = formats.month(req.lang, year, mon)
    entries = await req.services.duty.ledger(org.id, year, mon)
    tz = req.services.config.tz
    if not entries:
        await reply(req, req.t("ledger.empty", month=label))
    else:
        lines = [req.t("ledger.header", org=org.name, month=label, count=len(entries))]
        counts: dict[str, int] = {}
        for i, e in enumerate(entries, 1):
            counts[e.category] = counts.get(e.category, 0) + 1
            lines.append(req.t("ledger.line", index=i, date=e.at.astimezone(tz).strftime("%m-%d %H:%M"),
                               category=e.category, name=e.member_name, content=e.content,
                               file=req.t("ledger.file_mark") if e.file_id else ""))
        lines.append(req.t("ledger.by_category", counts="、".join(f"{k} {v}" for k, v in counts.items())))
        await reply(req, "\n".join(lines))
    if (me is not None and me.is_manager) or req.actor.is_super_admin:
        await send_exports(req, context, org, year, mon)


async def ledger_xlsx(services: Any, lang: str | None, org_id: int, year: int, month: int) -> bytes:
    tz = services.config.tz
    entries = await services.duty.ledger(org_id, year, month)
    headers = [t(lang, f"xlsx.col_{k}") for k in ("no", "time", "category", "member", "content", "attachment")]
    rows = [[i, e.at.astimezone(tz).replace(tzinfo=None), e.category, e.member_name, e.content,
             t(lang, "xlsx.yes") if e.file_id else ""] for i, e in enumerate(entries, 1)]
    counts = Counter(e.category for e in entries)
    order = (*LEDGER_CATEGORIES, *sorted(set(counts) - set(LEDGER_CATEGORIES)))
    totals: list[list[Any]] = [[category, counts[category]] for category in order if counts[category]]
    totals.append([t(lang, "xlsx.total"), len(entries)])
    by_category = (t(lang, "xlsx.by_category_sheet"), [t(lang, "xlsx.col_category"), t(lang, "xlsx.col_count")],
                   totals, [12, 8])
    return xlsx_bytes(t(lang, "xlsx.ledger_sheet"), headers, rows, [6, 20, 8, 10, 60, 6], more=[by_category])


async def schedule_xlsx(services: Any, lang: str | None, org_id: int, year: int, month: int) -> bytes | None:
    if await services.duty.rotation(org_id) is None:
        return None
    tz = services.config.tz
    shifts = await services.duty.schedule(org_id, year, month)
    people = await services.duty.names({s.member_id for s, _ in shifts} | {s.base_member_id for s, _ in shifts})
    names = {k: v.display_name for k, v in people.items()}
    headers = [t(lang, f"xlsx.col_{k}") for k in ("no", "first", "last", "start", "on_duty", "base", "reason",
                                                   "checked")]
    now = services.clock.now()

    def checked(start: datetime, done: bool) -> str:  # a shift still to come is not a missed one
        return "" if start > now else t(lang, "xlsx.yes" if done else "xlsx.no")

    rows = [[i, s.first_day, s.last_day, s.start.astimezone(tz).replace(tzinfo=None),
             names.get(s.member_id, "?"), names.get(s.base_member_id, "?"), t(lang, f"xlsx.reason_{s.reason}"),
             checked(s.start, done)] for i, (s, done) in enumerate(shifts, 1)]
    return xlsx_bytes(t(lang, "xlsx.schedule_sheet"), headers, rows, [6, 14, 14, 20, 10, 10, 10, 6])


async def send_exports(req: Req, context: BotContext, org: Org, year: int, month: int) -> None:
    """The month's ledger and duty schedule as Excel files. Asked for in a group, they go to her
    private chat (a work group does not fill up with files every time); if she has never opened a
    private chat with the bot, they come here with a line saying how to get them privately next time."""
    label = formats.month(req.lang, year, month)
    stamp = f"{year}-{month:02d}"
    files = [(await ledger_xlsx(req.services, req.lang, org.id, year, month), f"ledger-{stamp}.xlsx",
              req.t("ledger.xlsx_caption", org=org.name, month=label))]
    schedule = await schedule_xlsx(req.services, req.lang, org.id, year, month)
    if schedule is not None:
        files.append((schedule, f"duty-{stamp}.xlsx", req.t("ledger.schedule_caption", org=org.name, month=label)))
    target = req.chat_id if req.private else req.user_id
    try:
        for data, name, caption in files:
            await context.bot.send_document(target, data, filename=name, caption=caption)
    except Forbidden:
        if req.private:
            raise
        await reply(req, req.t("ledger.files_here"))
        for data, name, caption in files:
            await context.bot.send_document(req.chat_id, data, filename=name, caption=caption)
        return
    if not req.private:
        await reply(req, req.t("ledger.files_private"))
