"""Trainings (培训): /training_add, the 报名/请假 buttons, /attend, /trainings, /untrained,
/training_cancel, the reminders a day and an hour before, and the figures for the review and the
monthly report. The demo has training 1 (Thu 11-26 14:30–16:30, 刘敏 陈静 黄丽娟 signed up, 杨秀兰
on leave) and training 2 (70 days before the demo, attended by 王芳 李秀英 刘敏 陈静 黄丽娟 徐萍);
赵霞 and 吴桂英 are newly elected (2026-10-15). The clock starts Monday 2026-11-23 09:00 Shanghai."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import ConfigError, from_mapping
from bot.fake_api import ApiCall
from bot.simulator import Persona
from storage import members, orgs, trainings
from storage.db import Database
from tests.harness import PUBLIC, WORK, Harness

pytestmark = pytest.mark.handler

SH = ZoneInfo("Asia/Shanghai")
STRANGER = Persona(5555, "陌生人", "stranger_x")
EXAMPLE = "/training_add 12月5日下午2点 村委会二楼 反家暴法宣讲 全体"


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SH)


async def count_trainings(h: Harness) -> int:
    async with h.db.read() as conn:
        cur = await conn.execute("SELECT COUNT(*) FROM trainings")
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def member_id(h: Harness, name: str) -> int:
    async with h.db.read() as conn:
        found = await members.find_active(conn, 1, display_name=name)
    assert found is not None
    return found.id


def notice(calls: list[ApiCall]) -> ApiCall:
    return next(c for c in calls if c.method == "sendMessage" and "培训通知" in c.text)


def toasts(calls: list[ApiCall]) -> list[str]:
    return [str(c.params.get("text", "")) for c in calls if c.method == "answerCallbackQuery"]


def texts_to(calls: list[ApiCall], chat_id: int) -> list[str]:
    return [c.text for c in calls if c.method == "sendMessage" and c.chat_id == chat_id]


# --- /training_add -----------------------------------------------------------------------------


async def test_training_add_posts_a_notice_with_buttons(h: Harness) -> None:
    calls = await h.send(WORK, "王芳", EXAMPLE)
    posted = notice(calls)
    assert posted.chat_id == WORK
    assert "培训通知</b>（编号 3）" in posted.text
    assert "主题：反家暴法宣讲" in posted.text and "地点：村委会二楼" in posted.text
    assert "时间：12月5日（周六）14:00–16:00" in posted.text and "对象：全体执委" in posted.text
    assert "已报名 0 人 · 请假 0 人" in posted.text
    buttons = [b["callback_data"] for row in posted.params["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == ["tr:3:s", "tr:3:l"]
    async with h.db.read() as conn:
        training = await trainings.get(conn, 3)
    assert training is not None
    assert training.starts_at == at(5, 14, month=12) and training.ends_at == at(5, 16, month=12)
    assert training.audience == "all" and training.created_by == 1001


async def test_training_add_in_private_goes_to_the_work_group(h: Harness) -> None:
    calls = await h.send(1002, "李秀英", "/training_add 12月6日上午9点 镇妇联 新当选执委 履职培训 新当选 时长3小时")
    assert notice(calls).chat_id == WORK
    assert "对象：新当选执委" in notice(calls).text and "主题：新当选执委 履职培训" in notice(calls).text
    assert any("通知已发到执委工作群" in text for text in texts_to(calls, 1002))
    async with h.db.read() as conn:
        training = await trainings.get(conn, 3)
    assert training is not None and training.audience == "new"
    assert training.ends_at - training.starts_at == timedelta(hours=3)
    # Default audience when no word is given; a text with HTML is shown literally.
    text = await h.say(WORK, "王芳", "/training_add 明天下午3点 <村委会> 学习&讨论")
    assert "对象：全体执委" in text and "地点：&lt;村委会&gt;" in text and "学习&amp;讨论" in text


async def test_training_add_refusals_write_nothing(h: Harness) -> None:
    assert "请这样添加培训" in await h.say(WORK, "王芳", "/training_add")
    assert "没看懂" in await h.say(WORK, "王芳", "/training_add 某一天 村委会 学习")
    past = await h.say(WORK, "王芳", "/training_add 昨天下午3点 村委会 学习")
    assert "已经过去了" in past and "/training_add 12月5日下午2点 村委会二楼 反家暴法宣讲 全体" in past
    assert "已经过去了" in await h.say(WORK, "王芳", "/training_add 今天早上8点 村委会 学习")
    recurring = await h.say(WORK, "王芳", "/training_add 每周一9点 村委会 学习")
    assert "重复时间" in recurring and "例如：/training_add" in recurring
    assert "截止时间" in await h.say(WORK, "王芳", "/training_add 12月5日前 村委会 学习")
    assert "还要写上地点和主题" in await h.say(WORK, "王芳", "/training_add 明天下午3点 村委会")
    assert "时长要在" in await h.say(WORK, "王芳", "/training_add 明天下午3点 村委会 学习 时长20小时")
    assert "最多 60 个字" in await h.say(WORK, "王芳", "/training_add 明天下午3点 " + "村" * 61 + " 学习")
    assert "只有本组织的主席、副主席" in await h.say(WORK, "刘敏", EXAMPLE)
    assert "只有本组织的主席、副主席" in await h.say(WORK, STRANGER, EXAMPLE)
    assert "妇女之家群里不处理" in await h.say(PUBLIC, "王芳", EXAMPLE)
    assert "还没有绑定组织" in await h.say(-1007777, STRANGER, EXAMPLE)
    assert await count_trainings(h) == 2


# --- the buttons -------------------------------------------------------------------------------


async def test_sign_up_and_leave_buttons(h: Harness) -> None:
    posted = notice(await h.send(WORK, "王芳", EXAMPLE))
    pressed = await h.press("刘敏", posted, 0)
    assert any("已报名：反家暴法宣讲" in text for text in toasts(pressed))
    edited = [c for c in pressed if c.method == "editMessageText"]
    assert edited and "已报名 1 人 · 请假 0 人" in edited[0].text
    again = await h.press("刘敏", posted, 0)
    assert any("您已经报过名了" in text for text in toasts(again))
    assert not [c for c in again if c.method == "editMessageText"]
    await h.press("陈静", posted, 1)
    changed = await h.press("刘敏", posted, 1)  # she changes her mind
    assert any("已请假" in text for text in toasts(changed))
    assert "已报名 0 人 · 请假 2 人" in h.api.messages[(WORK, posted.result["message_id"])]["text"]
    stranger = await h.press(STRANGER, posted, 0)
    assert any("只有本组织的执委可以报名" in text for text in toasts(stranger))
    async with h.db.read() as conn:
        found = {s.member_id: s.status for s in await trainings.signups(conn, 3)}
    assert found == {await member_id(h, "刘敏"): "leave", await member_id(h, "陈静"): "leave"}


async def test_a_training_for_the_newly_elected_refuses_the_others(h: Harness) -> None:
    posted = notice(await h.send(WORK, "王芳", "/training_add 12月6日上午9点 镇妇联 履职培训 新当选"))
    refused = await h.press("刘敏", posted, 0)  # 刘敏 is not newly elected
    assert any("是给新当选执委的，您不是新当选执委，不用报名" in text for text in toasts(refused))
    assert not [c for c in refused if c.method == "editMessageText"]
    assert any("不用报名" in text for text in toasts(await h.press("刘敏", posted, 1)))  # nor 请假
    accepted = await h.press("赵霞", posted, 0)  # newly elected on 2026-10-15
    assert any("已报名：履职培训" in text for text in toasts(accepted))
    async with h.db.read() as conn:
        training_id = max(t.id for t in await trainings.upcoming(conn, 1, at(23, 9)))
        found = {s.member_id: s.status for s in await trainings.signups(conn, training_id)}
    assert found == {await member_id(h, "赵霞"): "signed"}


async def test_buttons_after_the_end_or_cancel_are_refused(h: Harness) -> None:
    posted = notice(await h.send(WORK, "王芳", "/training_add 明天下午3点 村委会 学习"))
    cancel = await h.say(WORK, "王芳", "/training_cancel 3")
    assert "已取消培训「学习」" in cancel
    assert any("已经取消了" in text for text in toasts(await h.press("刘敏", posted, 0)))
    h.clock.set(at(24, 18))
    old = notice(await h.send(WORK, "王芳", "/training_add 今天晚上8点 村委会 夜校"))
    h.clock.set(at(24, 23))
    assert any("已经结束了" in text for text in toasts(await h.press("刘敏", old, 0)))



async def test_odd_ids_and_plain_text_toasts(h: Harness) -> None:
    assert "签到：培训开始前半小时" in await h.say(WORK, "刘敏", "/attend 99999999999999999999999")
    assert "主席、副主席帮人登记：/attend 培训编号" in await h.say(WORK, "王芳", "/attend @liumin")
    assert "请这样取消培训" in await h.say(WORK, "王芳", "/training_cancel 99999999999999999999999")
    assert "请这样取消培训" in await h.say(WORK, "王芳", "/training_cancel ²")
    assert "签到时间是 11月26日 14:00" in await h.say(WORK, "刘敏", "/attend １")  # a full-width digit
    posted = notice(await h.send(WORK, "王芳", "/training_add 明天下午3点 村委会 学习&讨论<1>"))
    assert "学习&amp;讨论&lt;1&gt;" in posted.text
    assert any("已报名：学习&讨论<1>" in text for text in toasts(await h.press("刘敏", posted, 0)))


async def test_notice_stays_with_the_chair_when_the_work_group_is_unreachable(h: Harness) -> None:
    h.api.unreachable.add(WORK)
    calls = await h.send(1001, "王芳", "/training_add 明天下午3点 村委会 学习")
    here = [c for c in calls if c.method == "sendMessage" and c.chat_id == 1001]
    assert len(here) == 1 and "培训通知" in here[0].text and here[0].params["reply_markup"]

# --- /attend -----------------------------------------------------------------------------------


async def test_attend_outside_the_window_says_when(h: Harness) -> None:
    text = await h.say(WORK, "刘敏", "/attend")
    assert "下一场培训「《反家庭暴力法》宣讲与案例分析」" in text and "11月26日 14:00 起可以签到" in text
    text = await h.say(WORK, "刘敏", "/attend 1")
    assert "签到时间是 11月26日 14:00 到 11月26日 16:30" in text
    assert "没有找到编号为 99 的培训" in await h.say(WORK, "刘敏", "/attend 99")
    assert "签到：培训开始前半小时" in await h.say(WORK, "刘敏", "/attend abc")
    h.clock.set(at(26, 16, 31))
    assert "签到时间是 11月26日 14:00 到 11月26日 16:30" in await h.say(WORK, "刘敏", "/attend 1")
    h.clock.set(at(27, 9))
    assert "也还没有安排新的培训" in await h.say(WORK, "刘敏", "/attend")
    async with h.db.read() as conn:
        assert await trainings.attended_ids(conn, 1) == set()


async def test_attend_during_the_window(h: Harness) -> None:
    h.clock.set(at(26, 14, 0))  # 30 minutes before the start
    assert "刘敏 签到成功：《反家庭暴力法》宣讲与案例分析" in await h.say(WORK, "刘敏", "/attend")
    assert "您已经签到过了" in await h.say(WORK, "刘敏", "/attend")
    h.clock.set(at(26, 16, 30))  # the last minute of the session
    assert "签到成功" in await h.say(1005, "陈静", "/attend 1")  # in a private chat, with the id
    assert "妇女之家群里不处理" in await h.say(PUBLIC, "杨秀兰", "/attend")
    assert "只有本组织的执委可以用" in await h.say(WORK, STRANGER, "/attend")
    async with h.db.read() as conn:
        cur = await conn.execute("SELECT member_id, marked_by FROM training_attendance WHERE training_id = 1")
        rows = {(r[0], r[1]) for r in await cur.fetchall()}
    assert rows == {(await member_id(h, "刘敏"), 1004), (await member_id(h, "陈静"), 1005)}


async def test_chair_marks_attendance(h: Harness) -> None:
    assert "还没开始" in await h.say(WORK, "王芳", "/attend 1 @chenjing 周红")
    h.clock.set(at(27, 10))  # the day after: the chair may still mark it
    assert "只有本组织的主席、副主席" in await h.say(WORK, "刘敏", "/attend 1 @chenjing")
    unknown = await h.say(WORK, "王芳", "/attend 1 @chenjing 不存在")
    assert "名册里没有找到「不存在」" in unknown
    async with h.db.read() as conn:
        assert await trainings.attended_ids(conn, 1) == set()
    text = await h.say(WORK, "王芳", "/attend 1 @chenjing 周红")
    assert "已为 2 人登记签到（《反家庭暴力法》宣讲与案例分析）：陈静、周红" in text
    again = await h.say(WORK, "王芳", "/attend 1 周红 吴桂英")
    assert "已为 1 人登记签到" in again and "之前已经签到过了：周红" in again
    assert "没有找到编号为 9 的培训" in await h.say(WORK, "王芳", "/attend 9 周红")
    async with h.db.read() as conn:
        cur = await conn.execute("SELECT DISTINCT marked_by FROM training_attendance WHERE training_id = 1")
        assert [r[0] for r in await cur.fetchall()] == [1001]
        cur = await conn.execute("SELECT COUNT(*) FROM audit_log WHERE action = 'training.attendance'")
        row = await cur.fetchone()
    assert row is not None and row[0] == 2


# --- /trainings, /untrained, /training_cancel --------------------------------------------------


async def test_trainings_list(h: Harness) -> None:
    await h.send(WORK, "王芳", EXAMPLE)
    text = await h.say(WORK, "刘敏", "/trainings")
    upcoming, past = text.split("最近结束的培训")
    assert "编号 1：11月26日（周四）14:30–16:30｜村委会二楼会议室" in upcoming
    assert "全体执委 · 报名 3 / 请假 1 / 签到 0" in upcoming
    assert upcoming.index("编号 1：") < upcoming.index("编号 3：12月5日（周六）14:00–16:00｜村委会二楼")
    assert "编号 2：" in past and "报名 6 / 请假 0 / 签到 6" in past
    h.clock.set(at(26, 15))
    assert "（进行中）" in await h.say(1004, "刘敏", "/trainings")
    assert "妇女之家群里不处理" in await h.say(PUBLIC, "孙小梅", "/trainings")
    assert "只有本组织的执委可以用" in await h.say(WORK, STRANGER, "/trainings")


async def test_trainings_list_on_a_new_org(fresh: Harness) -> None:
    await fresh.say(WORK, "王芳", "/setup 新村妇联")
    assert "还没有安排培训" in await fresh.say(WORK, "王芳", "/trainings")
    text = await fresh.say(WORK, "王芳", "/untrained")
    assert "共 1 人" in text and "1. 王芳 — 上次培训：从未参加" in text and "下一场" not in text


async def test_untrained_lists_newly_elected_first(h: Harness) -> None:
    text = await h.say(WORK, "王芳", "/untrained")
    assert "2 年内没有参加过培训的执委</b>（共 5 人" in text
    lines = [line for line in text.splitlines() if line[:2] in {f"{i}." for i in range(1, 10)}]
    assert lines[0].startswith("1. 赵霞（新当选，2026年10月15日当选）— 请在 2028年10月15日 前参加培训")
    assert lines[1].startswith("2. 吴桂英（新当选")
    assert [line.split(" ")[1] for line in lines[2:]] == ["张丽", "杨秀兰", "周红"]
    assert "从未参加" in lines[2]
    assert "刘敏" not in text and "徐萍" not in text
    assert "下一场培训：「《反家庭暴力法》宣讲与案例分析」" in text
    h.clock.set(at(26, 15))
    await h.say(WORK, "赵霞", "/attend")
    assert "赵霞" not in await h.say(1001, "王芳", "/untrained")
    assert "只有本组织的主席、副主席" in await h.say(WORK, "刘敏", "/untrained")
    assert "妇女之家群里不处理" in await h.say(PUBLIC, "王芳", "/untrained")


async def test_untrained_window_is_configurable(tmp_path: Path) -> None:
    from tests.harness import make_harness

    cfg = from_mapping({"admins": {"super_admins": [9001]}, "training": {"window_years": 1}}, env={})
    h = await make_harness(tmp_path, config=cfg)
    try:
        # Training 2 (70 days ago) still counts within one year; a year later it does not.
        assert "刘敏" not in await h.say(WORK, "王芳", "/untrained")
        h.clock.set(at(23, 9) + timedelta(days=366))
        text = await h.say(WORK, "王芳", "/untrained")
        assert "1 年内没有参加过培训" in text and "刘敏 — 上次培训：2026年9月14日" in text
        assert "⚠️ 已超期" in text  # the newly elected: 2027-10-15 has passed
    finally:
        await h.app.shutdown()
        await h.db.close()


def test_training_config_key() -> None:
    assert from_mapping({}, env={}).training.window_years == 2
    assert from_mapping({"training": {"window_years": 3}}, env={}).training.window_years == 3
    with pytest.raises(ConfigError, match=r"training\.window_years"):
        from_mapping({"training": {"window_years": 0}}, env={})
    with pytest.raises(ConfigError, match=r"training\.window_years must be a"):
        from_mapping({"training": {"window_years": "2"}}, env={})
    with pytest.raises(ConfigError, match=r"unknown key training\.years"):
        from_mapping({"training": {"years": 2}}, env={})


async def test_training_cancel(h: Harness) -> None:
    assert "请这样取消培训" in await h.say(WORK, "王芳", "/training_cancel")
    assert "只有本组织的主席、副主席" in await h.say(WORK, "刘敏", "/training_cancel 1")
    assert "没有找到编号为 7 的培训" in await h.say(WORK, "王芳", "/training_cancel 7")
    calls = await h.send(WORK, "王芳", "/training_cancel 1")  # the notes go out with the reply
    text = "\n".join(texts_to(calls, WORK))
    assert "已取消培训「《反家庭暴力法》宣讲与案例分析」" in text and "已报名的 3 人" in text
    assert any("取消了，不用去了" in x for x in texts_to(calls, 1004))
    assert not [c for c in await h.tick() if "取消了" in c.text]  # and only once
    assert not texts_to(calls, 1006)  # 杨秀兰 had asked for leave
    assert "已经取消了" in await h.say(WORK, "王芳", "/training_cancel 1")
    assert "编号 1：" not in (await h.say(WORK, "王芳", "/trainings")).split("最近结束")[0]
    # No reminders for a cancelled training.
    later = await h.advance_to(at(26, 14), step=timedelta(hours=1))
    assert not [c for c in later if "培训「《反家庭暴力法》" in c.text and "提醒" in c.text]


# --- reminders ---------------------------------------------------------------------------------


async def test_reminders_a_day_and_an_hour_before(h: Harness) -> None:
    calls = await h.advance_to(at(25, 14, 20))
    assert not [c for c in calls if "《反家庭暴力法》" in c.text]
    calls = await h.advance_to(at(25, 14, 40))
    day = texts_to(calls, 1004)
    assert len(day) == 1
    assert "刘敏，提醒您：培训「《反家庭暴力法》宣讲与案例分析」将在 11月26日（周四）14:30–16:30" in day[0]
    assert texts_to(calls, 1005) and texts_to(calls, 1008)  # 陈静, 黄丽娟
    assert not texts_to(calls, 1006)  # 杨秀兰 asked for leave
    group = [x for x in texts_to(calls, WORK) if "培训预告" in x]
    assert len(group) == 1 and "已报名 3 人" in group[0]
    # 周红 signs up later: she gets the hour-before reminder only.
    other = notice(await h.send(WORK, "王芳", "/training_add 12月20日上午9点 村委会 另一场"))
    message = h.api.messages[(WORK, other.result["message_id"])]
    await h.app.process_update(h.factory.callback(h.person("周红"), message, "tr:1:s"))
    calls = await h.advance_to(at(26, 13, 40))
    hour = [x for x in texts_to(calls, 1004) if "还有一小时" in x]
    assert len(hour) == 1 and "/attend" in hour[0]
    assert [x for x in texts_to(calls, 1009) if "还有一小时" in x]
    assert not [x for x in texts_to(calls, 1009) if "提醒您" in x]
    assert not [x for x in texts_to(calls, 1006) if "培训" in x]
    # Nothing is sent twice.
    calls = await h.advance_to(at(26, 17))
    assert not [c for c in calls if "《反家庭暴力法》" in c.text]
    async with h.db.read() as conn:
        cur = await conn.execute("SELECT dedupe FROM outbox WHERE dedupe LIKE 'training:1:%' ORDER BY dedupe")
        keys = [r[0] for r in await cur.fetchall()]
    liumin = await member_id(h, "刘敏")
    assert f"training:1:day-before:{liumin}" in keys and f"training:1:hour-before:{liumin}" in keys
    assert "training:1:day-before:group" in keys and len(keys) == 3 + 1 + 4


async def test_reminder_falls_back_to_the_work_group(h: Harness) -> None:
    h.api.unreachable.add(1005)  # 陈静 never opened a private chat with the bot
    calls = await h.advance_to(at(25, 14, 40))
    assert any("陈静，提醒您" in x for x in texts_to(calls, WORK))


async def test_no_day_before_reminder_for_a_training_added_the_same_day(h: Harness) -> None:
    posted = notice(await h.send(WORK, "王芳", "/training_add 今天下午4点 村委会 临时学习"))
    await h.press("刘敏", posted, 0)
    calls = await h.advance_to(at(23, 15, 10))
    hour = [x for x in texts_to(calls, 1004) if "临时学习" in x]
    assert len(hour) == 1 and "还有一小时" in hour[0]
    assert not [x for x in texts_to(calls, WORK) if "培训预告" in x and "临时学习" in x]


# --- figures for the review and the monthly report ---------------------------------------------


def utc(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 2, 0, tzinfo=UTC)


async def test_attendance_counts_and_month_summary(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "t.db")
    try:
        async with db.transaction() as conn:
            org = await orgs.create(conn, "测试村妇联", 1, utc(1, 1))
            other = await orgs.create(conn, "别的村妇联", 2, utc(1, 1))
            a = await members.add(conn, org.id, 11, None, "甲", "member", utc(1, 1))
            b = await members.add(conn, org.id, 12, None, "乙", "member", utc(1, 1))
            await members.set_elected(conn, b.id, True, None)
            c = await members.add(conn, org.id, 13, None, "丙", "member", utc(3, 1))  # joined later
            d = await members.add(conn, org.id, 14, None, "丁", "member", utc(1, 1))
            await members.deactivate(conn, d.id, utc(2, 15))  # left in February
            e = await members.add(conn, other.id, 15, None, "戊", "member", utc(1, 1))
            t1 = await trainings.add(conn, org.id, utc(2, 1), utc(2, 1) + timedelta(hours=2), "村委会", "一",
                                     "all", 1, utc(1, 20))
            t2 = await trainings.add(conn, org.id, utc(3, 10), utc(3, 10) + timedelta(hours=2), "村委会", "二",
                                     "new", 1, utc(3, 1))
            t3 = await trainings.add(conn, org.id, utc(3, 20), utc(3, 20) + timedelta(hours=2), "村委会", "三",
                                     "all", 1, utc(3, 1))
            await trainings.cancel(conn, t3.id, utc(3, 15))
            t4 = await trainings.add(conn, org.id, utc(4, 5), utc(4, 5) + timedelta(hours=2), "村委会", "四",
                                     "all", 1, utc(3, 1))
            t5 = await trainings.add(conn, other.id, utc(2, 1), utc(2, 1) + timedelta(hours=2), "别处", "五",
                                     "all", 2, utc(1, 20))
            for training, member in ((t1, a), (t1, c), (t2, b), (t3, a), (t4, a), (t5, e)):
                await trainings.add_attendance(conn, training.id, member.id, 1, training.starts_at)
            assert not await trainings.add_attendance(conn, t1.id, a.id, 1, utc(2, 1))
        async with db.read() as conn:
            counts = await trainings.attendance_counts(conn, org.id, utc(1, 1), utc(4, 1))
            # 丙 was not on the roster on 2-1 but came (counted); 丁 had not left yet on 2-1.
            assert counts == {a.id: (1, 1), b.id: (1, 2), c.id: (1, 1), d.id: (0, 1)}
            assert await trainings.month_summary(conn, org.id, utc(1, 1), utc(4, 1)) == (2, 3, 5)
            assert await trainings.month_summary(conn, org.id, utc(3, 1), utc(4, 1)) == (1, 1, 1)
            # [start, end): a training starting exactly at `end` belongs to the next period.
            assert await trainings.month_summary(conn, org.id, utc(3, 1), utc(3, 10)) == (0, 0, 0)
            assert await trainings.month_summary(conn, org.id, utc(4, 1), utc(5, 1)) == (1, 1, 3)
            assert await trainings.attendance_counts(conn, org.id, utc(5, 1), utc(6, 1)) == {}
            assert await trainings.attendance_counts(conn, other.id, utc(1, 1), utc(4, 1)) == {e.id: (1, 1)}
    finally:
        await db.close()


# --- /help and the shell -----------------------------------------------------------------------


async def test_help_lists_the_training_commands(h: Harness) -> None:
    chair = await h.say(1001, "王芳", "/help")
    assert "/training_add" in chair and "/untrained" in chair and "/attend" in chair
    member = await h.say(1004, "刘敏", "/help")
    assert "/trainings" in member and "/attend" in member and "/training_add" not in member


@pytest.mark.e2e
def test_shell_shows_demo_trainings_and_reminders() -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-m", "bot", "shell"], input=":in work\n:as 刘敏\n/trainings\n:advance 4d\n",
                          capture_output=True, text=True, cwd=root, timeout=300)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "「《反家庭暴力法》宣讲与案例分析」· 全体执委 · 报名 3 / 请假 1 / 签到 0" in out
    assert "「妇女之家活动组织与台账填写」· 全体执委 · 报名 6 / 请假 0 / 签到 6" in out
    private = out.split("[私聊·刘敏]")
    assert any("刘敏，提醒您：培训「《反家庭暴力法》" in part.split("🤖")[0] for part in private[1:])
    assert any("还有一小时就开始了" in part.split("🤖")[0] for part in private[1:])
    assert "📚 培训预告：「《反家庭暴力法》宣讲与案例分析」" in out


async def test_training_add_zero_duration_is_refused(h: Harness) -> None:
    before = await count_trainings(h)
    text = await h.say(WORK, "王芳", "/training_add 明天下午3点 村委会 学习 时长0小时")
    assert "时长要在" in text
    assert await count_trainings(h) == before
