"""Holiday calendar corrections (super admin, private): /holiday_set /holiday_del /holidays."""

from __future__ import annotations

from handlers.commands import handles
from handlers.common import BotContext, Req, command, message_text_after_command, reply


@handles("holiday_set")
@command
async def holiday_set(req: Req, context: BotContext) -> None:
    """One day or range per line: `/holiday_set 2027-01-01 休 元旦`, `2027-02-14 班 春节调休`."""
    message = req.update.effective_message
    assert message is not None
    saved = await req.services.holidays.set_days(req.actor, message_text_after_command(message))
    lines = [req.t("holiday.saved", count=len(saved))]
    lines += [_line(req, e.day.isoformat(), e.workday, e.name) for e in saved[:40]]
    if len(saved) > 40:
        lines.append(req.t("holiday.more", count=len(saved) - 40))
    await reply(req, "\n".join(lines))


@handles("holiday_del")
@command
async def holiday_del(req: Req, context: BotContext) -> None:
    removed = await req.services.holidays.delete(req.actor, " ".join(req.args))
    await reply(req, req.t("holiday.deleted", line=_line(req, removed.day.isoformat(), removed.workday, removed.name)))


@handles("holidays")
@command
async def holidays_list(req: Req, context: BotContext) -> None:
    year: int | None = None
    if req.args:
        text = req.args[0].removesuffix("年")
        if not (text.isdigit() and len(text) == 4):
            await reply(req, req.t("holiday.list_usage"))
            return
        year = int(text)
    view = await req.services.holidays.year_view(req.actor, year)
    source = req.t("holiday.official_yes" if view.official else "holiday.official_no", year=view.year)
    lines = [req.t("holiday.list_header", year=view.year), source]
    if view.entries:
        lines += [_line(req, e.day.isoformat(), e.workday, e.name) for e in view.entries]
    else:
        lines.append(req.t("holiday.list_empty"))
    lines.append(req.t("holiday.list_footer"))
    await reply(req, "\n".join(lines))


def _line(req: Req, day: str, workday: bool, name: str) -> str:
    return req.t("holiday.line", day=day, kind=req.t("holiday.work" if workday else "holiday.off"), name=name)
