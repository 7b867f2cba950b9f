"""Dates, weekdays and repeats come from the locale (handlers/locale/zh_cn/formats.toml): the same text
as before in Simplified Chinese, converted for zh_tw chats (clock: Mon 2026-11-23 09:00 Shanghai)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from handlers import formats
from handlers.i18n import t
from services import fmt
from services.timeparse import Recurrence
from tests.harness import WORK, Harness

pytestmark = pytest.mark.unit

SH = ZoneInfo("Asia/Shanghai")
MOMENT = datetime(2026, 11, 30, 1, 5, tzinfo=ZoneInfo("UTC"))  # 09:05 in Shanghai


@pytest.mark.parametrize("lang", ["zh_cn", "zh_tw"])
def test_dates_and_times(lang: str) -> None:
    assert formats.day(lang, date(2026, 3, 8)) == "3月8日"
    assert formats.full_day(lang, date(2026, 12, 1)) == "2026年12月1日"
    assert formats.month(lang, 2027, 1) == "2027年1月"
    assert formats.day_time(lang, MOMENT, SH) == "11月30日 09:05"
    assert formats.full_day_time(lang, MOMENT, SH) == "2026年11月30日 09:05"


def test_weekdays() -> None:
    week = [date(2026, 11, 23) + timedelta(days=i) for i in range(7)]
    assert [formats.weekday("zh_cn", d) for d in week] == ["周一", "周二", "周三", "周四", "周五", "周六", "周日"]
    assert [formats.weekday("zh_tw", d) for d in week] == ["週一", "週二", "週三", "週四", "週五", "週六", "週日"]


RULES = [
    (Recurrence("daily", 7, 5), "每天 07:05", "每天 07:05"),
    (Recurrence("weekly", 9, 0, weekday=0), "每周一 09:00", "每週一 09:00"),
    (Recurrence("weekly", 18, 5, weekday=6), "每周日 18:05", "每週日 18:05"),
    (Recurrence("workdays", 8, 30), "每个工作日 08:30", "每個工作日 08:30"),
    (Recurrence("monthly", 9, 0, day=1), "每月1日 09:00", "每月1日 09:00"),
    (Recurrence("month_end", 9, 0), "每月最后一天 09:00", "每月最後一天 09:00"),
    (Recurrence("yearly", 9, 0, day=8, month=3), "每年3月8日 09:00", "每年3月8日 09:00"),
]


@pytest.mark.parametrize(("rule", "simplified", "traditional"), RULES)
def test_recurrence(rule: Recurrence, simplified: str, traditional: str) -> None:
    assert formats.recurrence("zh_cn", rule) == simplified == rule.describe()  # describe() stays for logs
    assert formats.recurrence("zh_tw", rule) == traditional


def test_nested_texts_render_in_the_callers_language_and_escape_plain_values() -> None:
    span = {"first": fmt.day(date(2026, 12, 1)), "last": fmt.day(date(2026, 12, 7))}
    assert t("zh_cn", "duty.range_many", **span) == "12月1日 至 12月7日"
    assert t("zh_tw", "reminders.repeat_line", repeat=fmt.recurrence(Recurrence("workdays", 9, 0))) \
        == "\n（每個工作日 09:00）"
    lines = [fmt.weekday(date(2026, 11, 29)), "<b>&"]
    assert t("zh_tw", "outbox.lines", lines=lines) == "週日\n&lt;b&gt;&amp;"


@pytest.mark.handler
async def test_traditional_group_sees_its_reminder_repeat_and_dates_converted(h: Harness) -> None:
    await h.say(WORK, "王芳", "/lang zh_tw")
    reply = await h.say(WORK, "王芳", "/remind 每周一9点 看网上妇女之家的留言")
    assert "每週一 09:00 提醒：看网上妇女之家的留言" in reply and "11月30日 09:00" in reply
    assert "每周" not in reply
    listing = await h.say(WORK, "刘敏", "/reminders")
    assert "#1  11月30日 09:00（每週一 09:00）  看网上妇女之家的留言" in listing
    calls = await h.advance_to(datetime(2026, 11, 30, 9, 10, tzinfo=SH))
    sent = [c.text for c in calls if c.method == "sendMessage" and c.chat_id == WORK and "看网上妇女之家" in c.text]
    assert sent == ["⏰ 提醒：看网上妇女之家的留言\n（每週一 09:00）"]


@pytest.mark.handler
async def test_simplified_group_keeps_the_same_text(h: Harness) -> None:
    reply = await h.say(WORK, "王芳", "/remind 每个工作日8点半 看值班台账")
    assert "每个工作日 08:30 提醒：看值班台账" in reply and "第一次是 11月24日 08:30" in reply
