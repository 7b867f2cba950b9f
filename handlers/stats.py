"""/stats [月份]: the month's work as one PNG chart (check-ins per week, ledger by category, policy
questions), for the chair and vice chairs in the work group or a private chat."""

from __future__ import annotations

import asyncio
from typing import Any

from handlers.commands import handles
from handlers.common import BotContext, Req, command, org_and_member, reply
from handlers.duty import parse_month
from handlers.i18n import t
from services.charts import ChartLabels, StatsChart, WeekCount, render_stats
from services.stats import MonthStats, Week, month_stats

LABEL_KEYS = ("checkins_title", "expected", "checked", "ledger_title", "faq_title", "asked", "answered",
              "passed_on", "member_answered", "count_axis", "no_ledger", "no_faq")


def plain(lang: str | None, key: str, **params: Any) -> str:
    """A locale string formatted without HTML escaping: chart text is drawn, not parsed by Telegram."""
    return t(lang, key).format(**params)


def week_label(lang: str | None, week: Week) -> str:
    if week.first == week.last:
        return plain(lang, "stats.chart.week_one", month=week.first.month, first=week.first.day)
    return plain(lang, "stats.chart.week", month=week.first.month, first=week.first.day, last=week.last.day)


def chart_labels(lang: str | None, org: str, year: int, month: int, has_rotation: bool) -> ChartLabels:
    texts = {k: plain(lang, f"stats.chart.{k}") for k in LABEL_KEYS}
    no_checkins = plain(lang, "stats.chart.no_checkins" if has_rotation else "stats.chart.no_rotation")
    return ChartLabels(title=plain(lang, "stats.chart.title", org=org, year=year, month=month),
                       no_checkins=no_checkins, **texts)


def chart_data(lang: str | None, stats: MonthStats) -> StatsChart:
    s = stats.summary
    weeks = [WeekCount(week_label(lang, w), w.expected, w.checked) for w in stats.weeks]
    return StatsChart(weeks, list(s.ledger.items()), s.asked, s.answered, s.passed_on, s.member_answered)


@handles("stats")
@command
async def stats(req: Req, context: BotContext) -> None:
    allowed = await org_and_member(req, "stats.managers_only", managers=True)
    if allowed is None:
        return
    org, _ = allowed
    month = parse_month(" ".join(context.args or []), req.services.duty.today())
    if month is None:
        await reply(req, req.t("stats.usage"))
        return
    year, mon = month
    found = await month_stats(req.services.monthly_report, req.services.duty, org.id, year, mon)
    labels = chart_labels(req.lang, org.name, year, mon, found.has_rotation)
    png = await asyncio.to_thread(render_stats, chart_data(req.lang, found), labels)
    s = found.summary
    await context.bot.send_photo(
        req.chat_id, png, filename=f"stats-{year}-{mon:02d}.png",
        caption=req.t("stats.caption", org=org.name, year=year, month=mon, checked=s.checked_in, shifts=s.shifts,
                      ledger_total=s.ledger_total, asked=s.asked),
    )
