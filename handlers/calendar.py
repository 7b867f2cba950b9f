"""/calendar: duty shifts as an iCalendar file — her own for the next 60 days, or the whole
rotation (`/calendar 全部`, chair and vice chairs) — and, when the web server has a public address
([web] public_url), a private subscription link a phone's calendar keeps fetching."""

from __future__ import annotations

from typing import Any

from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden

from handlers.commands import handles
from handlers.common import BotContext, Req, Services, command, commit_changes, org_for_management, reply
from handlers.duty import day_span
from handlers.i18n import Raw, t
from services import ical
from services.duty_calendar import CALENDAR_DAYS, DutyCalendar
from services.errors import Refusal

ALL_WORDS = {"全部", "所有", "全体", "全體", "整个", "all"}
RESET_WORDS = {"重置", "换链接", "換鏈接", "reset"}


def _plain(lang: str | None, key: str, **params: Any) -> str:
    """A locale text for the .ics file: parameters as they are (no HTML escaping)."""
    return t(lang, key, **{k: Raw(str(v)) for k, v in params.items()})


def ics_bytes(lang: str | None, cal: DutyCalendar, services: Services) -> bytes:
    """The calendar file: one VEVENT per shift, UID stable per shift (organisation + start)."""
    org = cal.org.name
    events = []
    scope = cal.scope
    for shift in cal.shifts:
        name = cal.names[shift.member_id].display_name if shift.member_id in cal.names else "?"
        covers = shift.member_id != shift.base_member_id and shift.base_member_id in cal.names
        who = cal.names[shift.base_member_id].display_name if covers else ""
        if scope == "all":
            summary = _plain(lang, "calendar.summary_all_cover" if covers else "calendar.summary_all",
                             name=name, who=who)
        else:
            summary = _plain(lang, "calendar.summary_mine_cover" if covers else "calendar.summary_mine",
                             org=org, who=who)
        handoff = shift.start.astimezone(services.config.tz).strftime("%H:%M")
        description = _plain(lang, "calendar.description", org=org, handoff=handoff,
                             range=day_span(lang, shift.first_day, shift.last_day))
        uid = f"{scope}-{cal.org.id}-{ical.utc(shift.start)}@zhiwei-assistant"
        events.append(ical.Event(uid, shift.start, shift.end, summary, description))
    title = (_plain(lang, "calendar.name_all", org=org) if scope == "all"
             else _plain(lang, "calendar.name_mine", org=org, name=cal.member.display_name))
    return ical.render(title, events, services.clock.now(), services.config.bot.timezone)


def feed_url(services: Services, token: str) -> str | None:
    base = services.config.web.public_url.rstrip("/")
    return f"{base}/cal/{token}.ics" if base else None


async def feed(services: Services, token: str) -> bytes | None:
    """The web server's /cal/<token>.ics: the calendar as of now, or None for a dead token."""
    cal = await services.calendars.by_token(token)
    if cal is None:
        return None
    user_id = cal.member.user_id
    lang = (await services.roster.lang_for(user_id, user_id, True) if user_id else None) or services.config.bot.locale
    return ics_bytes(lang, cal, services)


@handles("calendar")
@command
async def calendar(req: Req, context: BotContext) -> None:
    org = await org_for_management(req)
    if org is None:
        return
    me = await req.services.roster.member_of(org.id, req.user_id)
    if me is None:
        await reply(req, req.t("duty.member_only"))
        return
    words = {w.lower() for w in req.args}
    if words - ALL_WORDS - RESET_WORDS:
        await reply(req, req.t("calendar.usage"))
        return
    scope = "all" if words & ALL_WORDS else "mine"
    reset = bool(words & RESET_WORDS)
    if scope == "all" and not me.is_manager:
        raise Refusal("calendar.all_managers_only")
    cal = await req.services.calendars.calendar(org, me, scope)
    if not cal.has_rotation:
        await reply(req, req.t("duty.no_rotation"))
        return
    lines = [req.t("calendar.caption_all" if scope == "all" else "calendar.caption_mine",
                   org=org.name, days=CALENDAR_DAYS, count=len(cal.shifts))]
    if req.services.config.web.public_url:
        url = feed_url(req.services, await req.services.calendars.token(me, scope, reset=reset))
        lines.append(req.t("calendar.link_reset" if reset else "calendar.link", url=url))
    else:
        lines.append(req.t("calendar.no_link"))
        if reset:
            lines.append(req.t("calendar.reset_no_web"))
    data = ics_bytes(req.lang, cal, req.services)
    filename = req.t("calendar.filename_all" if scope == "all" else "calendar.filename_mine")
    # A link is hers alone: in a group the file (and link) go to her private chat.
    await commit_changes(req)  # a new link is stored before the file is sent
    try:
        await context.bot.send_document(req.user_id, data, filename=filename, caption="\n".join(lines)[:1024],
                                        parse_mode=ParseMode.HTML)
    except (Forbidden, BadRequest):
        if req.private:
            raise
        await reply(req, req.t("calendar.need_private"))
        return
    if not req.private:
        await reply(req, req.t("calendar.sent_private"))
