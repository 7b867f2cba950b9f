"""The cycle's commands, all in a private chat: `/start review` (the private chat opened from a
group's button), /review_start (with its activity period), /review_status, /review_close with its
confirmation buttons `rvc:<cycle>:yes|no` and the results sent to the chair, /review_config (the rubric).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from handlers import formats
from handlers.commands import handles
from handlers.common import BotContext, Req, command, load_req, reply, time_error
from handlers.i18n import Raw, in_script
from handlers.review.common import args_text, here, progress_lines, review_org, role_name, target_of
from handlers.review.results import results_text, review_xlsx, rubric_text
from handlers.review.work_reports import send_report
from services.errors import Refusal
from services.review.cycle import CloseLine
from services.review.results import ClosedCycle
from services.review.scoring import parse_amount, parse_grades, parse_weights
from services.timeparse import Deadline, OneOff, TimeParseError, parse_date, parse_when
from storage.models import Org
from storage.reviews import Cycle

# 从 2026-01-01 [起] [到 2026-12-31 [止]] at the end of /review_start
PERIOD_FROM = re.compile(r"\s(?:从|自)\s*(?P<a>\S+?)\s*(?:起|开始)?(?:\s*(?:到|至)\s*(?P<b>\S+?)\s*(?:止|为止)?)?\s*$")
FOUR_DIGITS = re.compile(r"\d{4}")  # a year written out: the day is taken as said
START_PAYLOAD = re.compile(r"^review(?:_(\d+))?$")


# --- /start review -------------------------------------------------------------------------------


async def start_review(req: Req, context: BotContext, payload: str) -> None:
    """The private chat opened from a group's button: remember the organisation, say what to do."""
    match = START_PAYLOAD.match(payload)
    if match and match.group(1) and context.user_data is not None:
        org_id = int(match.group(1))
        mine = {o.id for o, _ in await req.services.roster.memberships(req.user_id)}
        if org_id in mine or req.actor.is_super_admin:
            context.user_data["review_org"] = org_id
    org = await review_org(req, context)
    if org is None:
        return
    me = await req.services.roster.member_of(org.id, req.user_id)
    cycle = await req.services.review.cycles.current(org.id)
    lines = [req.t("review.start_title", org=org.name)]
    if cycle is not None and cycle.is_open:
        lines.append(req.t("review.start_open", cycle=cycle.name, deadline=req.services.review.local(cycle.deadline)))
        if me is not None:
            lines.extend(await progress_lines(req, me))
    else:
        lines.append(req.t("review.start_none"))
    if me is not None:
        lines.append(req.t("review.start_member"))
    if req.actor.is_super_admin or (me is not None and me.is_manager):
        lines.append(req.t("review.start_manager"))
    await reply(req, "\n".join(lines))


# --- /review_start -------------------------------------------------------------------------------


def _period_day(req: Req, text: str, today: date) -> date:
    """A day of the activity period (a past one: 1月1日 in December is this year's)."""
    try:
        day, rest = parse_date(text, today)
    except TimeParseError as error:
        if error.code in ("unrecognised", "empty"):
            raise Refusal("review_start.bad_from", text=text) from error
        # 2月30日: the same "no such day" as the other date commands
        raise Refusal("review_start.bad_period_code", problem=Raw(time_error(req, error, brief=True))) from error
    if rest:
        raise Refusal("review_start.bad_from", text=text)
    return day


def _year_before(day: date) -> date:
    return day.replace(year=day.year - 1, day=28) if (day.month, day.day) == (2, 29) else day.replace(year=day.year - 1)


def _parse_period(req: Req, text: str) -> tuple[str, datetime | None, datetime | None]:
    """Take `从<日期> [到<日期>]` off the end of `text`: (the rest, period start, period stop (exclusive))."""
    tz = req.services.config.tz
    today = req.services.clock.now().astimezone(tz).date()
    found = PERIOD_FROM.search(" " + text)
    if not found:
        return text, None, None
    first = _period_day(req, found.group("a"), today)
    if first > today and not FOUR_DIGITS.search(found.group("a")):  # 从1月1日 in December: this year's
        first = _year_before(first)
    stop = None
    if found.group("b"):
        last = _period_day(req, found.group("b"), today)
        if (last - first).days > 366:  # 到6月30日 without a year: the same year as the start
            last = _year_before(last)
        stop = datetime.combine(last + timedelta(days=1), time(0), tz)
    return (" " + text)[: found.start()].strip(), datetime.combine(first, time(0), tz), stop


def _parse_start(req: Req, text: str) -> tuple[str, datetime, datetime | None, datetime | None]:
    """`<名称> <截止> [从<日期> [到<日期>]]` → (name, deadline, period start, period stop (exclusive)).
    Raises Refusal."""
    tz = req.services.config.tz
    now = req.services.clock.now().astimezone(tz)
    today = now.date()
    text, period_start, period_stop = _parse_period(req, text)
    words = text.split()
    if len(words) < 2:
        raise Refusal("review_start.usage")
    problem: TimeParseError | None = None
    for i in range(1, len(words)):
        tail = " ".join(words[i:])
        try:
            day, rest = parse_date(tail, today)
            if not rest:
                return " ".join(words[:i]), datetime.combine(day, time(23, 59), tz), period_start, period_stop
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
            return " ".join(words[:i]), when.at, period_start, period_stop
        raise Refusal("review_start.recurring")
    if problem is not None and problem.code != "unrecognised":
        raise Refusal("review_start.bad_deadline_code",
                      problem=time_error(req, problem))
    raise Refusal("review_start.bad_deadline", text=words[-1])


@handles("review_start")
@command
async def review_start(req: Req, context: BotContext) -> None:
    org = await here(req, context)
    if org is None:
        return
    text = args_text(req)
    if not text:
        await reply(req, req.t("review_start.usage"))
        return
    svc = req.services.review
    if PERIOD_FROM.match(" " + text):  # only 从 … [到 …]: change the open cycle's period
        _, period_start, period_stop = _parse_period(req, text)
        assert period_start is not None
        cycle = await svc.cycles.set_period(req.actor, org.id, period_start, period_stop)
        await reply(req, req.t("review_start.period_changed", cycle=cycle.name, period=svc.local(cycle.period_start),
                               until=_until(req, cycle)))
        return
    name, deadline, period_start, period_stop = _parse_start(req, text)
    cycle, people = await svc.cycles.start(req.actor, org.id, name, deadline, period_start, context.bot.username or "",
                                    period_stop)
    await reply(req, req.t("review_start.done", cycle=cycle.name, org=org.name, deadline=svc.local(cycle.deadline),
                           period=svc.local(cycle.period_start), until=_until(req, cycle), count=len(people),
                           days="、".join(str(d) for d in sorted(set(svc.config.reminder_days), reverse=True))))


def _until(req: Req, cycle: Cycle) -> str:
    """Where the activity period ends: its last day, or the deadline / the close."""
    if cycle.period_end is None:
        return req.t("review_start.period_to_close")
    last_day = (cycle.period_end - timedelta(seconds=1)).astimezone(req.services.config.tz).date()
    return req.t("review_start.period_to_day", day=formats.full_day(req.lang, last_day))


# --- /review_status ------------------------------------------------------------------------------


@handles("review_status")
@command
async def review_status(req: Req, context: BotContext) -> None:
    org = await here(req, context)
    if org is None:
        return
    if args_text(req):
        parsed = target_of(req)
        assert parsed.target is not None
        cycle, who, saved = await req.services.review.work_reports.read(req.actor, org.id, parsed.target)
        if saved is None:
            await reply(req, req.t("review_status.no_report", who=who.display_name, cycle=cycle.name))
            return
        await send_report(req, context, cycle.name, who.display_name, saved)
        return
    status = await req.services.review.cycles.status(req.actor, org.id)
    cycle = status.cycle
    if not cycle.is_open:
        await send_results(req, context, org, None)
        return
    svc = req.services.review
    lines = [req.t("review_status.header", cycle=cycle.name, deadline=svc.local(cycle.deadline),
                   left=_left(req, cycle.deadline))]
    for i, line in enumerate(status.lines, 1):
        if not line.member.active:
            lines.append(req.t("review_status.line_removed", index=i, name=line.member.display_name))
            continue
        lines.append(req.t(
            "review_status.line", index=i, name=line.member.display_name, role=role_name(req, line.member.role),
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


# --- /review_close ------------------------------------------------------------------------------


CLOSE_CALLBACK = re.compile(r"^rvc:(\d+):(yes|no)$")
CONFIRM_WORDS = ("确定", "确认", "yes")


@handles("review_close")
@command
async def review_close(req: Req, context: BotContext) -> None:
    org = await here(req, context)
    if org is None:
        return
    check = await req.services.review.cycles.close_check(req.actor, org.id)
    confirmed = args_text(req) in CONFIRM_WORDS
    missing = [x for x in check.lines if not x.scored or not x.peer_counts]
    if not confirmed and (missing or check.before_deadline):
        lines = [req.t("review_close.confirm", cycle=check.cycle.name)]
        if check.before_deadline:
            deadline = req.services.review.local(check.cycle.deadline)
            lines.append(req.t("review_close.before_deadline", deadline=deadline))
        if check.lines:
            lines.append(req.t("review_close.people_header"))
            # per person, and those for whom closing now means the same thing on one line
            grouped: dict[tuple[str, str], list[str]] = {}
            for x in check.lines:
                grouped.setdefault(_consequence(req, org, x, check.min_peer), []).append(x.member.display_name)
            for (problems, result), names in grouped.items():
                lines.append(req.t("review_close.person", names="、".join(names), problems=problems) + result)
        lines.append(req.t("review_close.final"))
        keyboard = InlineKeyboardMarkup([[
            InlineKeyboardButton(req.t("review_close.btn_yes"), callback_data=f"rvc:{check.cycle.id}:yes"),
            InlineKeyboardButton(req.t("review_close.btn_no"), callback_data=f"rvc:{check.cycle.id}:no"),
        ]])
        await reply(req, "\n".join(lines), keyboard)
        return
    await _close(req, context, org, check.cycle.id)


def _consequence(req: Req, org: Org, line: CloseLine, min_peer: int) -> tuple[str, str]:
    """What is missing for one member, and (when it reveals nothing about ratings) her result if
    closed now."""
    problems = []
    if not line.scored:
        problems.append(req.t("review_close.no_score_chair", org=org.name, name=line.member.display_name)
                        if line.nobody_can_score else req.t("review_close.no_score"))
    if not line.peer_counts:
        problems.append(req.t("review_close.peer_few", min=min_peer))
    if not line.report:
        problems.append(req.t("review_close.no_report_one"))
    result = ""
    row = line.preview
    if row is not None and row.unrated:
        result = "\n" + req.t("review_close.result_unrated")
    elif row is not None and row.total is not None and (not line.scored or not line.peer_counts):
        result = "\n" + req.t("review_close.result", total=row.total, grade=in_script(req.lang, row.grade or ""),
                              subsidy=row.subsidy)
    return "；".join(problems), result


async def close_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    req = await load_req(update, context)
    match = CLOSE_CALLBACK.match(query.data)
    cycle = await req.services.review.cycles.get(int(match.group(1))) if match else None
    if match is None or cycle is None or not req.private:
        await query.answer(req.t("rate.gone"), show_alert=True)
        return
    if match.group(2) == "no":
        await query.answer()
        await query.edit_message_text(req.t("review_close.kept_open", cycle=cycle.name))
        return
    org = await req.services.roster.find_org(str(cycle.org_id))
    assert org is not None
    try:
        await query.answer()
        await query.edit_message_reply_markup(None)
        await _close(req, context, org, cycle.id)
    except Refusal as refusal:
        await reply(req, req.t(refusal.key, **refusal.params))


async def _close(req: Req, context: BotContext, org: Org, cycle_id: int) -> None:
    closed = await req.services.review.cycles.close(req.actor, org.id, cycle_id)
    await reply(req, req.t("review_close.done", cycle=closed.cycle.name, count=len(closed.rows)))
    await deliver_results(req, context, org, closed)


async def send_results(req: Req, context: BotContext, org: Org, cycle_id: int | None) -> None:
    """A closed cycle's results again (the latest, or `cycle_id`), for the chair or a vice chair."""
    closed = await req.services.review.results.closed(req.actor, org.id, cycle_id)
    await deliver_results(req, context, org, closed)


async def deliver_results(req: Req, context: BotContext, org: Org, closed: ClosedCycle) -> None:
    await reply(req, results_text(req.lang, org.name, closed))
    data = review_xlsx(req.lang, org.name, closed)
    await context.bot.send_document(req.chat_id, data, filename=f"review-{closed.cycle.id}.xlsx",
                                    caption=req.t("review_close.xlsx_caption", cycle=closed.cycle.name, org=org.name))


# --- /review_config ------------------------------------------------------------------------------


@handles("review_config")
@command
async def review_config(req: Req, context: BotContext) -> None:
    org = await here(req, context)
    if org is None:
        return
    text = args_text(req)
    svc = req.services.review
    me = await req.services.roster.member_of(org.id, req.user_id)
    if not (req.actor.is_super_admin or (me is not None and me.is_manager)):
        raise Refusal("review.manager_only")
    if not text:
        rubric, custom = await svc.rubrics.in_force(org.id)
        await reply(req, rubric_text(req.lang, org.name, rubric, custom) + "\n\n" + req.t("review_config.usage"))
        return
    word, _, rest = text.partition(" ")
    rest = rest.strip()
    if word in ("权重", "weights"):
        rubric = await svc.rubrics.change(req.actor, org.id, "weights", parse_weights(rest))
    elif word in ("补贴", "subsidy"):
        rubric = await svc.rubrics.change(req.actor, org.id, "subsidy_base", parse_amount(rest))
    elif word in ("等次", "grades"):
        rubric = await svc.rubrics.change(req.actor, org.id, "grades", parse_grades(rest))
    elif word in ("默认", "恢复默认", "reset"):
        rubric = await svc.rubrics.change(req.actor, org.id, "reset", None)
    else:
        await reply(req, req.t("review_config.usage"))
        return
    cycle = await svc.cycles.current(org.id)
    custom = word not in ("默认", "恢复默认", "reset")
    lines = [req.t("review_config.saved"), rubric_text(req.lang, org.name, rubric, custom)]
    if cycle is not None and cycle.is_open:
        lines.append(req.t("review_config.applies_open", cycle=cycle.name))
    await reply(req, "\n".join(lines))
