"""述职考评 commands, all in a private chat: /review_start /report /review_status /score /adjust
/myreview /review_config and `/start review`; /rate and its buttons are in review_rating.py,
/review_close and the results in review_close.py (re-exported here for bot/app.py).

Used in a group, every review command only answers with a button that opens the private chat:
no score, rating or report is ever posted in a group.
"""

from __future__ import annotations

import html
import re
from datetime import date, datetime, time, timedelta
from typing import Any

from handlers import formats
from handlers.commands import handles
from handlers.common import BotContext, Req, command, reply, time_error
from handlers.i18n import Raw
from handlers.review_close import CLOSE_CALLBACK, close_button, review_close, send_results
from handlers.review_common import (
    args_text,
    here,
    member_here,
    progress_lines,
    review_org,
    role_name,
    target_of,
)
from handlers.review_export import adjustment_items, result_lines, rubric_text
from handlers.review_rating import RATE_CALLBACK, rate, rate_button
from services.errors import Refusal
from services.review_parse import parse_amount, parse_delta, parse_grades, parse_score, parse_weights
from services.roster import Target
from services.timeparse import Deadline, OneOff, TimeParseError, parse_date, parse_when
from storage.models import Org
from storage.reviews import Cycle

__all__ = [  # the handlers bot/app.py registers (rating and closing re-exported from their modules)
    "CLOSE_CALLBACK", "RATE_CALLBACK", "adjust", "close_button", "myreview", "rate", "rate_button", "report",
    "review_close", "review_config", "review_start", "review_status", "score", "start_review",
]

# 从 2026-01-01 [起] [到 2026-12-31 [止]] at the end of /review_start
PERIOD_FROM = re.compile(r"\s(?:从|自)\s*(?P<a>\S+?)\s*(?:起|开始)?(?:\s*(?:到|至)\s*(?P<b>\S+?)\s*(?:止|为止)?)?\s*$")
FOUR_DIGITS = re.compile(r"\d{4}")  # a year written out: the day is taken as said
APPEND_WORDS = ("续", "追加", "接上")
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
    cycle = await req.services.review.current(org.id)
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
        cycle = await svc.set_period(req.actor, org.id, period_start, period_stop)
        await reply(req, req.t("review_start.period_changed", cycle=cycle.name, period=svc.local(cycle.period_start),
                               until=_until(req, cycle)))
        return
    name, deadline, period_start, period_stop = _parse_start(req, text)
    cycle, people = await svc.start(req.actor, org.id, name, deadline, period_start, context.bot.username or "",
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


# --- /report -------------------------------------------------------------------------------------


@handles("report")
@command
async def report(req: Req, context: BotContext) -> None:
    found = await member_here(req, context)
    if found is None:
        return
    org, me = found
    message = req.update.effective_message
    assert message is not None
    text = args_text(req)
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


async def _show_own_report(req: Req, context: BotContext, org: Org) -> None:
    try:
        cycle, _, saved = await req.services.review.report_of(req.actor, org.id, None)
    except Refusal:
        await reply(req, req.t("report.usage"))
        return
    if saved is None:
        await reply(req, req.t("report.none_yet", cycle=cycle.name) + "\n\n" + req.t("report.usage"))
        return
    await _send_report(req, context, cycle.name, req.t("report.yours"), saved)


async def _send_report(req: Req, context: BotContext, cycle_name: str, who: str, saved: Any) -> None:
    header = req.t("report.show_header", cycle=cycle_name, who=who, chars=len(saved.content),
                   at=req.services.review.local(saved.updated_at))
    body = html.escape(saved.content, quote=False) if saved.content else req.t("report.only_file")
    await reply(req, req.t("report.show", header=Raw(header), body=Raw(body)))
    if saved.file_id:
        await context.bot.send_document(req.chat_id, saved.file_id,
                                        caption=req.t("report.file_caption", who=who)[:1024])


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
        cycle, who, saved = await req.services.review.report_of(req.actor, org.id, parsed.target)
        if saved is None:
            await reply(req, req.t("review_status.no_report", who=who.display_name, cycle=cycle.name))
            return
        await _send_report(req, context, cycle.name, who.display_name, saved)
        return
    status = await req.services.review.status(req.actor, org.id)
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


# --- /score and /adjust --------------------------------------------------------------------------


async def _target_value_words(req: Req, usage: str, least: int) -> tuple[Target, str, str] | None:
    """`<who> <value> [words…]` with at least `least` words after her name (else the usage is shown)."""
    parsed = target_of(req)
    if parsed.target is None or len(parsed.rest) < least:
        await reply(req, req.t(usage))
        return None
    return parsed.target, parsed.rest[0], " ".join(parsed.rest[1:])


@handles("score")
@command
async def score(req: Req, context: BotContext) -> None:
    org = await here(req, context)
    if org is None:
        return
    found = await _target_value_words(req, "score.usage", 1)
    if found is None:
        return
    target, word, comment = found
    value = parse_score(word)
    who, replaced = await req.services.review.score(req.actor, org.id, target, value, comment)
    lines = [req.t("score.replaced" if replaced else "score.done", name=who.display_name, score=str(value))]
    if comment:
        lines.append(req.t("score.comment", comment=comment))
    await reply(req, "\n".join(lines))


@handles("adjust")
@command
async def adjust(req: Req, context: BotContext) -> None:
    org = await here(req, context)
    if org is None:
        return
    found = await _target_value_words(req, "adjust.usage", 2)
    if found is None:
        return
    target, word, reason = found
    delta = parse_delta(word)
    who, items = await req.services.review.adjust(req.actor, org.id, target, delta, reason)
    lines = [req.t("adjust.done", name=who.display_name, delta=items[-1].delta, reason=reason)]
    lines.append(req.t("adjust.all", items=adjustment_items((a.delta, a.reason) for a in items)))
    await reply(req, "\n".join(lines))


# --- /myreview -----------------------------------------------------------------------------------


@handles("myreview")
@command
async def myreview(req: Req, context: BotContext) -> None:
    found = await member_here(req, context)
    if found is None:
        return
    _, me = found
    if args_text(req):
        await reply(req, req.t("myreview.own_only"))
        return
    svc = req.services.review
    lines: list[str] = []
    cycle = await svc.current(me.org_id)
    if cycle is not None and cycle.is_open:
        lines.extend(await progress_lines(
            req, me, req.t("myreview.open", cycle=cycle.name, deadline=svc.local(cycle.deadline))))
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
