"""The holiday calendar's ageing: super admins' overrides over chinese_calendar (pure), the
/holiday_set /holidays /holiday_del commands, their use by rotations and reminders, and the
December warning to super admins."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot.fake_api import ApiCall
from services.calendar_cn import WorkdayCalendar, covers, needs_warning, official_data_covers
from services.holidays import parse
from tests.harness import WORK, Harness

pytestmark = pytest.mark.handler

NEW_YEAR = date(2027, 1, 1)  # a Friday, in a year the shipped data does not cover
SUNDAY = date(2027, 2, 7)


@pytest.mark.unit
def test_overrides_win_over_the_data_and_the_fallback() -> None:
    assert not official_data_covers(2027)
    plain = WorkdayCalendar()
    assert plain.is_workday(NEW_YEAR) and not plain.is_workday(SUNDAY)  # the Monday–Friday fallback
    assert plain.uses_fallback(NEW_YEAR)
    cal = WorkdayCalendar.with_days_off([], {NEW_YEAR: False, SUNDAY: True})
    assert not cal.is_workday(NEW_YEAR) and cal.is_workday(SUNDAY)
    assert not cal.uses_fallback(date(2027, 5, 5))  # a year with overrides counts as covered
    # A correction of a year the data knows: 2026-10-01 (National Day) made a working day.
    assert not plain.is_workday(date(2026, 10, 1))
    assert WorkdayCalendar.with_days_off([], {date(2026, 10, 1): True}).is_workday(date(2026, 10, 1))
    # A local day off still wins.
    assert not WorkdayCalendar.with_days_off([SUNDAY], {SUNDAY: True}).is_workday(SUNDAY)


@pytest.mark.unit
def test_coverage_and_the_december_warning() -> None:
    assert covers(2026) and not covers(2027) and covers(2027, {NEW_YEAR: False})
    assert needs_warning(date(2026, 11, 30)) is None
    assert needs_warning(date(2026, 12, 1)) == 2027
    assert needs_warning(date(2026, 12, 31), {NEW_YEAR: False}) is None
    assert needs_warning(date(2025, 12, 1)) is None  # 2026 is in the data


@pytest.mark.unit
def test_parse_lines() -> None:
    today = date(2026, 12, 6)
    found = parse("2027-01-01 休 元旦\n2027-02-07 班 春节调休\n2027年2月10日~2027年2月16日 放假 春节\n"
                  "2027/10/1 至 2027/10/7 休国庆节", today)
    assert found.bad == []
    days = {e.day: (e.workday, e.name) for e in found.entries}
    assert days[NEW_YEAR] == (False, "元旦") and days[SUNDAY] == (True, "春节调休")
    assert len([d for d in days if d.month == 2 and d.day >= 10]) == 7
    assert days[date(2027, 10, 7)] == (False, "国庆节")
    for bad in ("2027-13-01 休", "2027-01-01 调休", "2027-01-01", "元旦 2027-01-01 休", "2027-01-01~2027-03-01 休",
                "2040-01-01 休", "2027-01-05~2027-01-01 休", "2027-01-01 休 " + "长" * 21):
        assert parse(bad, today).bad == [bad], bad


async def test_holiday_commands_for_super_admins(h: Harness) -> None:
    admin = h.person("县妇联周主任")
    chat = admin.user_id
    text = await h.say(chat, admin, "/holiday_set 2027-01-01 休 元旦\n2027-02-07 班 春节调休\n"
                                    "2027-02-10~2027-02-16 休 春节")
    assert "已保存 9 天" in text and "2027-01-01　休　元旦" in text and "2027-02-07　班　春节调休" in text
    listed = await h.say(chat, admin, "/holidays 2027")
    assert "2027 年录入的节假日和调休" in listed and "系统自带的数据还没有 2027 年" in listed
    assert listed.count("　休　春节") == 7
    # Correcting a day replaces it.
    assert "已保存 1 天" in await h.say(chat, admin, "/holiday_set 2027-02-07 休 春节")
    assert "2027-02-07　休　春节" in await h.say(chat, admin, "/holidays 2027")
    assert "已删除：2027-02-07　休　春节" in await h.say(chat, admin, "/holiday_del 2027-02-07")
    assert "没有录入过" in await h.say(chat, admin, "/holiday_del 2027-02-07")
    # Bad input: nothing saved, the line named, an example given.
    bad = await h.say(chat, admin, "/holiday_set 2027-03-01 休\n2027-13-01 休 乱写")
    assert "这几行看不懂，什么都没有保存" in bad and "2027-13-01 休 乱写" in bad and "2027-01-01 休 元旦" in bad
    assert "2027-03-01" not in await h.say(chat, admin, "/holidays 2027")
    assert "请每行写一天" in await h.say(chat, admin, "/holiday_set")
    assert "请写上要删除的日期" in await h.say(chat, admin, "/holiday_del 明天")
    assert "请写四位年份" in await h.say(chat, admin, "/holidays 明年")
    assert "系统自带的数据已有 2026 年" in await h.say(chat, admin, "/holidays")
    # Audit-logged (no organisation).
    async with h.db.read() as conn:
        cur = await conn.execute("SELECT action FROM audit_log WHERE org_id IS NULL AND action LIKE 'holiday.%'")
        assert [r[0] for r in await cur.fetchall()] == ["holiday.set", "holiday.set", "holiday.delete"]


async def test_holiday_commands_refuse_others(h: Harness) -> None:
    chair = h.person("王芳")
    assert "只有超级管理员" in await h.say(chair.user_id, chair, "/holiday_set 2027-01-01 休 元旦")
    assert "只有超级管理员" in await h.say(chair.user_id, chair, "/holidays 2027")
    assert "只有超级管理员" in await h.say(WORK, chair, "/holiday_del 2027-01-01")
    help_text = await h.say(chair.user_id, chair, "/help")
    assert "/holiday_set" not in help_text
    admin = h.person("县妇联周主任")
    assert "/holiday_set" in await h.say(admin.user_id, admin, "/help")


async def test_rotations_and_reminders_use_the_overrides(h: Harness) -> None:
    admin = h.person("县妇联周主任")
    async with h.db.read() as conn:
        cur = await conn.execute("SELECT org_id FROM chats WHERE chat_id = ?", (WORK,))
        row = await cur.fetchone()
    assert row is not None
    org = int(row[0])
    before = await h.services.duty.rotation(org)
    assert before is not None and before.calendar.is_workday(NEW_YEAR)
    await h.say(admin.user_id, admin, "/holiday_set 2027-01-01 休 元旦\n2027-02-07 班 春节调休")
    after = await h.services.duty.rotation(org)
    assert after is not None and not after.calendar.is_workday(NEW_YEAR) and after.calendar.is_workday(SUNDAY)
    # Reminders (每个工作日 …) read the overrides at each tick.
    await h.services.reminders.produce(h.clock.now())
    cal = h.services.reminders.calendar
    assert not cal.is_workday(NEW_YEAR) and cal.is_workday(SUNDAY)


def warnings_to(calls: list[ApiCall], chat_id: int) -> list[str]:
    return [c.text for c in calls if c.chat_id == chat_id and "节假日数据还没有 2027 年" in c.text]


async def test_super_admins_are_warned_once_from_december(h: Harness) -> None:
    admins = sorted(h.services.config.admins.super_admins)
    assert admins
    h.clock.advance(datetime(2026, 11, 30, 23, 0, tzinfo=UTC) - h.clock.now())  # Dec 1 07:00 local
    calls = await h.tick()
    assert warnings_to(calls, admins[0]) == []  # not at night
    h.clock.advance(timedelta(hours=2, minutes=5))  # 09:05
    calls = await h.tick()
    for admin in admins:
        sent = warnings_to(calls, admin)
        assert len(sent) == 1, admin
        assert "/holiday_set 2027-01-01 休 元旦" in sent[0] and "chinesecalendar" in sent[0]
    # Once a year: later ticks and days say nothing more.
    h.clock.advance(timedelta(days=3))
    later = await h.tick()
    assert all(warnings_to(later, a) == [] for a in admins)


async def test_no_warning_when_next_year_was_entered(h: Harness) -> None:
    admin = h.person("县妇联周主任")
    await h.say(admin.user_id, admin, "/holiday_set 2027-01-01 休 元旦")
    h.clock.advance(datetime(2026, 12, 1, 2, 0, tzinfo=UTC) - h.clock.now())
    calls = await h.tick()
    assert all(warnings_to(calls, a) == [] for a in h.services.config.admins.super_admins)
