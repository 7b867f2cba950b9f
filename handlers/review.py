"""述职考评 commands, all in a private chat: /review_start /report /review_status /rate /score /adjust
/review_close /myreview /review_config, the rating and close buttons, and `/start review`.

Used in a group, every review command only answers with a button that opens the private chat:
no score, rating or report is ever posted in a group.
"""

from __future__ import annotations

import html
import re
from datetime import datetime, time, timedelta
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from handlers.args import extract_target
from handlers.common import Req, command, load_req, message_text_after_command, reply
from handlers.i18n import Raw
from handlers.review_export import result_lines, results_text, review_xlsx, rubric_text
from services.errors import Refusal
from services.review import parse_amount, parse_delta, parse_grades, parse_score, parse_weights
from services.timeparse import Deadline, OneOff, TimeParseError, parse_date, parse_when
from storage.models import Member, Org

RATE_CALLBACK = re.compile(r"^rv:(g|p|l|n):(\d+)(?::(\d+))?(?::(\d+))?$")
CLOSE_CALLBACK = re.compile(r"^rvc:(\d+):(yes|no)$")
PERIOD_FROM = re.compile(r"\s(?:从|自)\s*(\S+?)\s*(?:起|开始)?\s*$")
APPEND_WORDS = ("续", "追加", "接上")
CONFIRM_WORDS = ("确定", "确认", "yes")
START_PAYLOAD = re.compile(r"^review(?:_(\d+))?$")


# --- plumbing ------------------------------------------------------------------------------------


def private_url(bot_username: str, org: Org | None) -> str:
    return f"https://t.me/{bot_username}?start=review" + (f"_{org.id}" if org else "")


async def _private_only(req: Req, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """In a group: answer with a button to continue in private, and do nothing else."""
    if req.private:
        return True
    url = private_url(context.bot.username or "", req.org)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton(req.t("review.private_button"), url=url)]])
    await reply(req, req.t("review.go_private"), keyboard)
    return False


async def _org(req: Req, context: ContextTypes.DEFAULT_TYPE) -> Org | None:
    """The organisation a private review command is about: the one chosen through the group's
    button (`/start review_<id>`), else her only organisation."""
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


async def _here(req: Req, context: ContextTypes.DEFAULT_TYPE) -> Org | None:
    if not await _private_only(req, context):
        return None
    return await _org(req, context)


async def _member_here(req: Req, context: ContextTypes.DEFAULT_TYPE) -> tuple[Org, Member] | None:
    org = await _here(req, context)
    if org is None:
        return None
    me = await req.services.roster.member_of(org.id, req.user_id)
    if me is None:
        await reply(req, req.t("review.member_only"))
        return None
    return org, me


def _text(req: Req) -> str:
    message = req.update.effective_message
    assert message is not None
    return message_text_after_command(message).strip()


def _role(req: Req | str | None, role: str) -> str:
    from handlers.i18n import t

    lang = req.lang if isinstance(req, Req) else req
    return t(lang, f"roles.{role}")


# --- /start review -------------------------------------------------------------------------------


async def start_review(req: Req, context: ContextTypes.DEFAULT_TYPE, payload: str) -> None:
    """The private chat opened from a group's button: remember the organisation, say what to do."""
    match = START_PAYLOAD.match(payload)
    if match and match.group(1) and context.user_data is not None:
        org_id = int(match.group(1))
        mine = {o.id for o, _ in await req.services.roster.memberships(req.user_id)}
        if org_id in mine or req.actor.is_super_admin:
            context.user_data["review_org"] = org_id
    org = await _org(req, context)
    if org is None:
        return
    me = await req.services.roster.member_of(org.id, req.user_id)
    cycle = await req.services.review.current(org.id)
    lines = [req.t("review.start_title", org=org.name)]
    if cycle is not None and cycle.is_open:
        lines.append(req.t("review.start_open", cycle=cycle.name, deadline=req.services.review.local(cycle.deadline)))
        if me is not None:
            try:
                _, reported, rated, total = await req.services.review.my_progress(me)
                lines.append(req.t("review.progress", report=req.t("review.yes" if reported else "review.no"),
                                   rated=rated, total=total))
            except Refusal as refusal:
                lines.append(req.t(refusal.key, **refusal.params))
    else:
        lines.append(req.t("review.start_none"))
    if me is not None:
        lines.append(req.t("review.start_member"))
    if req.actor.is_super_admin or (me is not None and me.is_manager):
        lines.append(req.t("review.start_manager"))
    await reply(req, "\n".join(lines))


# --- /review_start -------------------------------------------------------------------------------


def _parse_start(req: Req, text: str) -> tuple[str, datetime, datetime | None]:
    """`<名称> <截止> [从<日期>]` → (name, deadline, period start). Raises Refusal."""
    tz = req.services.config.tz
    now = req.services.clock.now().astimezone(tz)
    today = now.date()
    period_start = None
    found = PERIOD_FROM.search(" " + text)
    if found:
        try:
            day, rest = parse_date(found.group(1), today)
        except TimeParseError as exc:
            raise Refusal("review_start.bad_from", text=found.group(1)) from exc
        if rest:
            raise Refusal("review_start.bad_from", text=found.group(1))
        if day > today:
            day = day.replace(year=day.year - 1)
        period_start = datetime.combine(day, time(0), tz)
        text = (" " + text)[: found.start()].strip()
    words = text.split()
    if len(words) < 2:
        raise Refusal("review_start.usage")
    problem: TimeParseError | None = None
    for i in range(1, len(words)):
        tail = " ".join(words[i:])
        try:
            day, rest = parse_date(tail, today)
            if not rest:
                return " ".join(words[:i]), datetime.combine(day, time(23, 59), tz), period_start
        except TimeParseError:
            pass
        try:
            when, rest = parse_when(tail, now)
        except TimeParseError as exc:
            problem = exc
            continue
        if rest:
            continue
        if isinstance(when, OneOff | Deadline):
            return " ".join(words[:i]), when.at, period_start
        raise Refusal("review_start.recurring")
    if problem is not None and problem.code != "unrecognised":
        raise Refusal("review_start.bad_deadline_code",
                      problem=req.t(f"time.error_{problem.code}", **problem.params))
    raise Refusal("review_start.bad_deadline", text=words[-1])


@command
async def review_start(req: Req, context: ContextTypes.DEFAULT_TYPE) -> None:
    org = await _here(req, context)
    if org is None:
        return
    text = _text(req)
    if not text:
        await reply(req, req.t("review_start.usage"))
        return
    name, deadline, period_start = _parse_start(req, text)
    cycle, people = await req.services.review.start(req.actor, org.id, name, deadline, period_start,
                                                    context.bot.username or "")
    svc = req.services.review
    await reply(req, req.t("review_start.done", cycle=cycle.name, org=org.name, deadline=svc.local(cycle.deadline),
                           period=svc.local(cycle.period_start), count=len(people),
                           days="、".join(str(d) for d in sorted(set(svc.config.reminder_days), reverse=True))))


# --- /report -------------------------------------------------------------------------------------


@command
async def report(req: Req, context: ContextTypes.DEFAULT_TYPE) -> None:
    found = await _member_here(req, context)
    if found is None:
        return
    org, me = found
    message = req.update.effective_message
    assert message is not None
    text = _text(req)
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
    cycle, saved, replaced = await req.services.review.submit_report(me, text, file_id, file_name, append)
    key = "report.appended" if append else "report.replaced" if replaced else "report.done"
    lines = [req.t(key, cycle=cycle.name, chars=len(saved.content),
                   deadline=req.services.review.local(cycle.deadline))]
    if saved.file_id:
        lines.append(req.t("report.with_file", file=saved.file_name or req.t("report.file_default")))
    lines.append(req.t("report.hint_more"))
    await reply(req, "\n".join(lines))


async def _show_own_report(req: Req, context: ContextTypes.DEFAULT_TYPE, org: Org) -> None:
    try:
        cycle, _, saved = await req.services.review.report_of(req.actor, org.id, None)
    except Refusal:
        await reply(req, req.t("report.usage"))
        return
    if saved is None:
        await reply(req, req.t("report.none_yet", cycle=cycle.name) + "\n\n" + req.t("report.usage"))
        return
    await _send_report(req, context, cycle.name, req.t("report.yours"), saved)


async def _send_report(req: Req, context: ContextTypes.DEFAULT_TYPE, cycle_name: str, who: str, saved: Any) -> None:
    header = req.t("report.show_header", cycle=cycle_name, who=who, chars=len(saved.content),
                   at=req.services.review.local(saved.updated_at))
    body = html.escape(saved.content, quote=False) if saved.content else req.t("report.only_file")
    await reply(req, req.t("report.show", header=Raw(header), body=Raw(body)))
    if saved.file_id:
        await context.bot.send_document(req.chat_id, saved.file_id,
                                        caption=req.t("report.file_caption", who=who)[:1024], parse_mode=ParseMode.HTML)


# --- /review_status ------------------------------------------------------------------------------


@command
async def review_status(req: Req, context: ContextTypes.DEFAULT_TYPE) -> None:
    org = await _here(req, context)
    if org is None:
        return
    message = req.update.effective_message
    assert message is not None
    if _text(req):
        parsed = extract_target(message)
        assert parsed.target is not None
        cycle, who, saved = await req.services.review.report_of(req.actor, org.id, parsed.target)
        if saved is None:
            await reply(req, req.t("review_status.no_report", who=who.display_name, cycle=cycle.name))
            return
        await _send_report(req, context, cycle.name, who.display_name, saved)
        return
    status = await req.services.review.status(req.actor, org.id)
    cycle = status.cycle
    if not cycle.is_open:
        await _send_results(req, context, org, None)
        return
    svc = req.services.review
    lines = [req.t("review_status.header", cycle=cycle.name, deadline=svc.local(cycle.deadline),
                   left=_left(req, cycle.deadline))]
    for i, line in enumerate(status.lines, 1):
        if not line.member.active:
            lines.append(req.t("review_status.line_removed", index=i, name=line.member.display_name))
            continue
        lines.append(req.t(
            "review_status.line", index=i, name=line.member.display_name, role=_role(req, line.member.role),
            report=req.t("review.yes" if line.report else "review.no"), rated=line.rated, total=line.to_rate,
            scored=req.t("review.yes" if line.scored else "review.no"),
            adjust=req.t("review_status.adjust_count", n=line.adjustments) if line.adjustments else "",
        ))
    active = [x for x in status.lines if x.member.active]
    lines.append(req.t(
        "review_status.totals", count=len(active), reports=sum(x.report for x in active),
        rated=sum(1 for x in active if x.to_rate and x.rated == x.to_rate), scored=sum(x.scored for x in active),
        ratings=status.ratings_total,
    ))
    lines.append(req.t("review_status.privacy"))
    lines.append(req.t("review_status.hint"))
    await reply(req, "\n".join(lines))


def _left(req: Req, deadline: datetime) -> str:
    remaining = deadline - req.services.clock.now()
    if remaining <= timedelta(0):
        return req.t("review_status.passed")
    if remaining >= timedelta(days=1):
        return req.t("review_status.days_left", n=remaining.days)
    return req.t("review_status.hours_left", n=max(1, int(remaining.total_seconds() // 3600)))


# --- /rate and its buttons -----------------------------------------------------------------------


def _card(req: Req, cycle_id: int, rubric: Any, colleague: Member, current: int | None, done: int,
          total: int) -> tuple[str, InlineKeyboardMarkup]:
    now_mark = req.t("rate.current", choice=rubric.ratings[current].label) if current is not None else ""
    text = req.t("rate.card", name=colleague.display_name, role=_role(req, colleague.role), done=done, total=total,
                 current=now_mark)
    options = [InlineKeyboardButton(opt.label, callback_data=f"rv:g:{cycle_id}:{colleague.id}:{i}")
               for i, opt in enumerate(rubric.ratings)]
    rows = [options[i:i + 2] for i in range(0, len(options), 2)]
    rows.append([InlineKeyboardButton(req.t("rate.btn_list"), callback_data=f"rv:l:{cycle_id}")])
    return text, InlineKeyboardMarkup(rows)


def _list_view(req: Req, cycle_id: int, rubric: Any, found: list[tuple[Member, int | None]]) -> tuple[
        str, InlineKeyboardMarkup]:
    done = sum(1 for _, c in found if c is not None)
    buttons = [
        InlineKeyboardButton(
            req.t("rate.btn_person", name=m.display_name,
                  choice=rubric.ratings[c].label if c is not None else req.t("rate.unrated")),
            callback_data=f"rv:p:{cycle_id}:{m.id}")
        for m, c in found
    ]
    rows = [buttons[i:i + 2] for i in range(0, len(buttons), 2)]
    if done < len(found):
        rows.append([InlineKeyboardButton(req.t("rate.btn_next"), callback_data=f"rv:n:{cycle_id}")])
    return req.t("rate.list", done=done, total=len(found)), InlineKeyboardMarkup(rows)


def _next_view(req: Req, cycle_id: int, rubric: Any, found: list[tuple[Member, int | None]]) -> tuple[
        str, InlineKeyboardMarkup]:
    done = sum(1 for _, c in found if c is not None)
    for m, c in found:
        if c is None:
            return _card(req, cycle_id, rubric, m, None, done, len(found))
    text, keyboard = _list_view(req, cycle_id, rubric, found)
    return req.t("rate.all_done", total=len(found)) + "\n\n" + text, keyboard


@command
async def rate(req: Req, context: ContextTypes.DEFAULT_TYPE) -> None:
    found = await _member_here(req, context)
    if found is None:
        return
    _, me = found
    words = _text(req).split()
    svc = req.services.review
    if len(words) >= 2:
        message = req.update.effective_message
        assert message is not None
        parsed = extract_target(message)
        assert parsed.target is not None
        cycle, rubric, colleagues = await svc.colleagues(me)
        labels = [o.label for o in rubric.ratings]
        choice_word = parsed.rest[-1] if parsed.rest else ""
        if choice_word not in labels:
            await reply(req, req.t("rate.bad_word", text=choice_word, options="、".join(labels)))
            return
        ratee = await svc.ratee_by_name(me, parsed.target)
        colleague, new, rubric = await svc.rate(me, cycle.id, ratee.id, labels.index(choice_word))
        await reply(req, req.t("rate.saved_new" if new else "rate.saved_changed", name=colleague.display_name,
                               choice=choice_word))
        return
    cycle, rubric, colleagues = await svc.colleagues(me)
    if not colleagues:
        await reply(req, req.t("rate.nobody"))
        return
    if words and words[0] in ("全部", "列表", "修改", "all"):
        text, keyboard = _list_view(req, cycle.id, rubric, colleagues)
    elif words:
        await reply(req, req.t("rate.usage"))
        return
    else:
        text, keyboard = _next_view(req, cycle.id, rubric, colleagues)
    await reply(req, req.t("rate.intro", cycle=cycle.name) + "\n\n" + text, keyboard)


async def rate_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    req = await load_req(update, context)
    match = RATE_CALLBACK.match(query.data)
    svc = req.services.review
    cycle = await svc.cycle(int(match.group(2))) if match else None
    me = await req.services.roster.member_of(cycle.org_id, req.user_id) if cycle else None
    if match is None or cycle is None or me is None or not req.private:
        await query.answer(req.t("rate.gone"), show_alert=True)
        return
    if not cycle.is_open:
        await query.answer(req.t("rate.closed", name=cycle.name), show_alert=True)
        await query.edit_message_reply_markup(None)
        return
    step = match.group(1)
    try:
        if step == "g":
            colleague, _new, rubric = await svc.rate(me, cycle.id, int(match.group(3)), int(match.group(4)))
            await query.answer(req.t("rate.toast", name=colleague.display_name,
                                     choice=rubric.ratings[int(match.group(4))].label))
            _, rubric, found = await svc.colleagues(me)
            text, keyboard = _next_view(req, cycle.id, rubric, found)
        else:
            _, rubric, found = await svc.colleagues(me)
            await query.answer()
            if step == "l":
                text, keyboard = _list_view(req, cycle.id, rubric, found)
            elif step == "n":
                text, keyboard = _next_view(req, cycle.id, rubric, found)
            else:
                target = int(match.group(3) or 0)
                pick = next(((m, c) for m, c in found if m.id == target), None)
                if pick is None:
                    raise Refusal("rate.not_colleague")
                done = sum(1 for _, c in found if c is not None)
                text, keyboard = _card(req, cycle.id, rubric, pick[0], pick[1], done, len(found))
    except Refusal as refusal:
        await query.answer(req.t(refusal.key, **refusal.params), show_alert=True)
        return
    await query.edit_message_text(req.t("rate.intro", cycle=cycle.name) + "\n\n" + text, parse_mode=ParseMode.HTML,
                                  reply_markup=keyboard)


# --- /score and /adjust --------------------------------------------------------------------------


@command
async def score(req: Req, context: ContextTypes.DEFAULT_TYPE) -> None:
    org = await _here(req, context)
    if org is None:
        return
    message = req.update.effective_message
    assert message is not None
    parsed = extract_target(message)
    if parsed.target is None or not parsed.rest:
        await reply(req, req.t("score.usage"))
        return
    value = parse_score(parsed.rest[0])
    comment = " ".join(parsed.rest[1:])
    who, replaced = await req.services.review.score(req.actor, org.id, parsed.target, value, comment)
    lines = [req.t("score.replaced" if replaced else "score.done", name=who.display_name, score=str(value))]
    if comment:
        lines.append(req.t("score.comment", comment=comment))
    await reply(req, "\n".join(lines))


@command
async def adjust(req: Req, context: ContextTypes.DEFAULT_TYPE) -> None:
    org = await _here(req, context)
    if org is None:
        return
    message = req.update.effective_message
    assert message is not None
    parsed = extract_target(message)
    if parsed.target is None or len(parsed.rest) < 2:
        await reply(req, req.t("adjust.usage"))
        return
    delta = parse_delta(parsed.rest[0])
    reason = " ".join(parsed.rest[1:])
    who, items = await req.services.review.adjust(req.actor, org.id, parsed.target, delta, reason)
    lines = [req.t("adjust.done", name=who.display_name, delta=items[-1].delta, reason=reason)]
    lines.append(req.t("adjust.all", items="；".join(f"{a.delta}（{a.reason}）" for a in items)))
    await reply(req, "\n".join(lines))


# --- /review_close -------------------------------------------------------------------------------


@command
async def review_close(req: Req, context: ContextTypes.DEFAULT_TYPE) -> None:
    org = await _here(req, context)
    if org is None:
        return
    check = await req.services.review.close_check(req.actor, org.id)
    confirmed = _text(req) in CONFIRM_WORDS
    if not confirmed and (check.unscored or check.before_deadline):
        lines = [req.t("review_close.confirm", cycle=check.cycle.name)]
        if check.before_deadline:
            deadline = req.services.review.local(check.cycle.deadline)
            lines.append(req.t("review_close.before_deadline", deadline=deadline))
        if check.unscored:
            lines.append(req.t("review_close.unscored", names="、".join(m.display_name for m in check.unscored)))
        if check.no_report:
            lines.append(req.t("review_close.no_report", names="、".join(m.display_name for m in check.no_report)))
        lines.append(req.t("review_close.final"))
        keyboard = InlineKeyboardMarkup([[
            InlineKeyboardButton(req.t("review_close.btn_yes"), callback_data=f"rvc:{check.cycle.id}:yes"),
            InlineKeyboardButton(req.t("review_close.btn_no"), callback_data=f"rvc:{check.cycle.id}:no"),
        ]])
        await reply(req, "\n".join(lines), keyboard)
        return
    await _close(req, context, org, check.cycle.id)


async def close_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    req = await load_req(update, context)
    match = CLOSE_CALLBACK.match(query.data)
    cycle = await req.services.review.cycle(int(match.group(1))) if match else None
    if match is None or cycle is None or not req.private:
        await query.answer(req.t("rate.gone"), show_alert=True)
        return
    if match.group(2) == "no":
        await query.answer()
        await query.edit_message_text(req.t("review_close.kept_open", cycle=cycle.name), parse_mode=ParseMode.HTML)
        return
    org = await req.services.roster.find_org(str(cycle.org_id))
    assert org is not None
    try:
        await query.answer()
        await query.edit_message_reply_markup(None)
        await _close(req, context, org, cycle.id)
    except Refusal as refusal:
        await reply(req, req.t(refusal.key, **refusal.params))


async def _close(req: Req, context: ContextTypes.DEFAULT_TYPE, org: Org, cycle_id: int) -> None:
    closed = await req.services.review.close(req.actor, org.id, cycle_id)
    await reply(req, req.t("review_close.done", cycle=closed.cycle.name, count=len(closed.rows)))
    await _deliver_results(req, context, org, closed)


async def _send_results(req: Req, context: ContextTypes.DEFAULT_TYPE, org: Org, cycle_id: int | None) -> None:
    closed = await req.services.review.results(req.actor, org.id, cycle_id)
    await _deliver_results(req, context, org, closed)


async def _deliver_results(req: Req, context: ContextTypes.DEFAULT_TYPE, org: Org, closed: Any) -> None:
    await reply(req, results_text(req.lang, org.name, closed))
    data = review_xlsx(req.lang, org.name, closed)
    await context.bot.send_document(req.chat_id, data, filename=f"review-{closed.cycle.id}.xlsx",
                                    caption=req.t("review_close.xlsx_caption", cycle=closed.cycle.name, org=org.name),
                                    parse_mode=ParseMode.HTML)


# --- /myreview -----------------------------------------------------------------------------------


@command
async def myreview(req: Req, context: ContextTypes.DEFAULT_TYPE) -> None:
    found = await _member_here(req, context)
    if found is None:
        return
    _, me = found
    if _text(req):
        await reply(req, req.t("myreview.own_only"))
        return
    svc = req.services.review
    lines: list[str] = []
    cycle = await svc.current(me.org_id)
    if cycle is not None and cycle.is_open:
        try:
            _, reported, rated, total = await svc.my_progress(me)
            lines.append(req.t("myreview.open", cycle=cycle.name, deadline=svc.local(cycle.deadline)))
            lines.append(req.t("review.progress", report=req.t("review.yes" if reported else "review.no"),
                               rated=rated, total=total))
        except Refusal as refusal:
            lines.append(req.t(refusal.key, **refusal.params))
    mine = await svc.my_result(me)
    if mine is not None:
        closed, row = mine
        if lines:
            lines.append("")
        lines.append(req.t("myreview.header", cycle=closed.cycle.name))
        lines.extend(result_lines(req.lang, row, closed.rubric, own=True))
    if not lines:
        lines.append(req.t("myreview.none"))
    await reply(req, "\n".join(lines))


# --- /review_config ------------------------------------------------------------------------------


@command
async def review_config(req: Req, context: ContextTypes.DEFAULT_TYPE) -> None:
    org = await _here(req, context)
    if org is None:
        return
    text = _text(req)
    svc = req.services.review
    me = await req.services.roster.member_of(org.id, req.user_id)
    if not (req.actor.is_super_admin or (me is not None and me.is_manager)):
        raise Refusal("review.manager_only")
    if not text:
        rubric, custom = await svc.rubric(org.id)
        await reply(req, rubric_text(req.lang, org.name, rubric, custom) + "\n\n" + req.t("review_config.usage"))
        return
    word, _, rest = text.partition(" ")
    rest = rest.strip()
    if word in ("权重", "weights"):
        rubric = await svc.set_rubric(req.actor, org.id, "weights", parse_weights(rest))
    elif word in ("补贴", "subsidy"):
        rubric = await svc.set_rubric(req.actor, org.id, "subsidy_base", parse_amount(rest))
    elif word in ("等次", "grades"):
        rubric = await svc.set_rubric(req.actor, org.id, "grades", parse_grades(rest))
    elif word in ("默认", "恢复默认", "reset"):
        rubric = await svc.set_rubric(req.actor, org.id, "reset", None)
    else:
        await reply(req, req.t("review_config.usage"))
        return
    cycle = await svc.current(org.id)
    custom = word not in ("默认", "恢复默认", "reset")
    lines = [req.t("review_config.saved"), rubric_text(req.lang, org.name, rubric, custom)]
    if cycle is not None and cycle.is_open:
        lines.append(req.t("review_config.applies_open", cycle=cycle.name))
    await reply(req, "\n".join(lines))
