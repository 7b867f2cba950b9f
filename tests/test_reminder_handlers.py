"""Handler tests for /remind /reminders /cancel and the snooze / done buttons (clock: Mon 2026-11-23
09:00 Shanghai; demo org 青石村妇联)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.fake_api import ApiCall
from bot.simulator import Persona
from tests.harness import PUBLIC, WORK, Harness

pytestmark = pytest.mark.handler

SH = ZoneInfo("Asia/Shanghai")
STRANGER = Persona(5555, "陌生人", "stranger_x")


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SH)


def fired(calls: list[ApiCall], chat: int) -> list[ApiCall]:
    return [c for c in calls if c.method == "sendMessage" and c.chat_id == chat and c.result is not None
            and c.text.startswith("⏰ 提醒")]


async def test_remind_in_the_work_group_fires_once_with_buttons(h: Harness) -> None:
    reply = await h.say(WORK, "刘敏", "/remind 今天下午3点 交妇女议事会记录 <b>&</b>")
    assert "11月23日 15:00 提醒：交妇女议事会记录 &lt;b&gt;&amp;&lt;/b&gt;" in reply
    calls = await h.advance_to(at(23, 14, 50))
    assert fired(calls, WORK) == []
    calls = await h.advance_to(at(24, 9, 0))
    messages = fired(calls, WORK)
    assert len(messages) == 1
    assert messages[0].text == "⏰ 提醒：交妇女议事会记录 &lt;b&gt;&amp;&lt;/b&gt;"  # escaped: shown literally
    buttons = messages[0].params["reply_markup"]["inline_keyboard"][0]
    assert [b["text"] for b in buttons] == ["稍后提醒（30分钟）", "已完成 ✅"]
    assert fired(await h.advance_to(at(25, 9, 0)), WORK) == []


async def test_private_reminder_snooze_and_done(h: Harness) -> None:
    chen = h.person("陈静")
    await h.say(chen.user_id, chen, "/remind 10分钟后 给张大姐回电话")
    messages = fired(await h.advance_to(at(23, 9, 20)), chen.user_id)
    assert len(messages) == 1
    pressed = await h.press(chen, messages[0], 0)
    assert any(c.method == "answerCallbackQuery" and "09:50 再提醒一次" in str(c.params.get("text")) for c in pressed)
    again = fired(await h.advance_to(at(23, 10, 0)), chen.user_id)
    assert len(again) == 1 and "给张大姐回电话" in again[0].text
    done = await h.press(chen, again[0], 1)
    edit = next(c for c in done if c.method == "editMessageText")
    assert "✅ 陈静 标记为已完成" in edit.text and edit.params.get("reply_markup") is None
    assert "没有待发的提醒" in await h.say(chen.user_id, chen, "/reminders")


async def test_recurring_reminder_lists_and_cancels(h: Harness) -> None:
    text = await h.say(WORK, "王芳", "/remind 每周一9点 看网上妇女之家的留言")
    assert "每周一 09:00 提醒：看网上妇女之家的留言" in text and "第一次是 11月30日 09:00" in text
    listing = await h.say(WORK, "刘敏", "/reminders")
    assert "#1  11月30日 09:00（每周一 09:00）  看网上妇女之家的留言" in listing
    weeks = await h.advance_to(at(7, 9, 10, month=12), step=timedelta(hours=1))
    assert len(fired(weeks, WORK)) == 2  # 11-30 and 12-07
    assert "只有设提醒的人或主席、副主席可以取消" in await h.say(WORK, "刘敏", "/cancel 1")
    assert "已取消提醒 #1" in await h.say(WORK, "王芳", "/cancel 1")
    assert fired(await h.advance_to(at(14, 9, 10, month=12), step=timedelta(hours=1)), WORK) == []


async def test_remind_bad_input(h: Harness) -> None:
    assert "请写上时间和要提醒的事" in await h.say(WORK, "刘敏", "/remind")
    assert "已经过去了" in await h.say(WORK, "刘敏", "/remind 昨天 交材料")
    assert "这个日期或钟点不存在" in await h.say(WORK, "刘敏", "/remind 2月30日 交材料")
    assert "没看懂" in await h.say(WORK, "刘敏", "/remind 随便什么时候 交材料")
    assert "请在时间后面写上要提醒的事" in await h.say(WORK, "刘敏", "/remind 明天下午3点")
    assert "最多 1000 个字" in await h.say(WORK, "刘敏", "/remind 明天 " + "长" * 1200)
    assert "请写上要取消的提醒编号" in await h.say(WORK, "刘敏", "/cancel")
    assert "请写上要取消的提醒编号" in await h.say(WORK, "刘敏", "/cancel abc")
    assert "没有编号为 42 的待发提醒" in await h.say(WORK, "刘敏", "/cancel 42")


async def test_remind_in_groups_is_for_members(h: Harness) -> None:
    assert "只对执委开放" in await h.say(PUBLIC, "孙小梅", "/remind 明天 开会")
    assert "还没有绑定组织" in await h.say(-1007777, STRANGER, "/remind 明天 开会")
    # A reminder from another chat cannot be cancelled from here.
    await h.say(WORK, "王芳", "/remind 明天 开会")
    assert "没有编号为 1 的待发提醒" in await h.say(h.person("王芳").user_id, "王芳", "/cancel 1")


async def test_unreachable_private_chat_is_given_up_once_not_retried(h: Harness) -> None:
    chen = h.person("陈静")
    await h.say(chen.user_id, chen, "/remind 10分钟后 私事")
    h.api.unreachable.add(chen.user_id)
    calls = await h.advance_to(at(23, 9, 20))
    assert fired(calls, chen.user_id) == []
    async with h.db.read() as conn:
        cur = await conn.execute("SELECT status, error FROM outbox WHERE body LIKE '%私事%'"
                                 " AND body LIKE '%reminders.fire%'")
        row = await cur.fetchone()
    assert row is not None and row["status"] == "failed" and "forbidden" in row["error"].lower()
    chair = h.person("王芳").user_id
    assert sum("发不到聊天 1005" in c.text for c in calls if c.chat_id == chair and c.result is not None) == 1
    # Later ticks do not retry a permanent failure.
    assert fired(await h.advance_to(at(23, 9, 20) + timedelta(hours=1)), chen.user_id) == []


async def test_help_offers_reminders_where_they_work(h: Harness) -> None:
    guest_help = await h.say(PUBLIC, "孙小梅", "/help")
    assert "/remind" not in guest_help  # a guest cannot set reminders in the group …
    guest = h.person("孙小梅")
    assert "/remind" in await h.say(guest.user_id, guest, "/help")  # … but can in a private chat
    assert "/remind" in await h.say(WORK, "刘敏", "/help")


async def test_empty_list_suggests_remind_only_to_those_who_may_set_one(h: Harness) -> None:
    assert "设一个试试" not in await h.say(PUBLIC, "孙小梅", "/reminders")
    assert "设一个试试" in await h.say(WORK, "刘敏", "/reminders")


async def test_forged_reminder_buttons_act_on_nothing(h: Harness) -> None:
    chen, liu = h.person("陈静"), h.person("刘敏")
    await h.say(chen.user_id, chen, "/remind 明天上午9点 去卫生院拿报告")
    async with h.db.read() as conn:
        cur = await conn.execute("SELECT id, status FROM reminders WHERE chat_id = ?", (chen.user_id,))
        row = await cur.fetchone()
        assert row is not None
        rid, status = row[0], row[1]
        cur = await conn.execute("SELECT COUNT(*) FROM reminders")
        total = await cur.fetchone()
        assert total is not None
        count = total[0]
    # 刘敏 forges 已完成 and 稍后提醒 for 陈静's private reminder from her own chat, and from the work group
    own = await h.send(liu.user_id, liu, "/reminders")
    own_message = next(c for c in own if c.method == "sendMessage").result
    work = await h.send(WORK, liu, "/reminders")
    work_message = next(c for c in work if c.method == "sendMessage").result
    for message in (own_message, work_message):
        for data in (f"rm:d:{rid}", f"rm:s:{rid}"):
            before = len(h.api.calls)
            await h.app.process_update(h.factory.callback(liu, message, data))
            calls = h.api.calls[before:]
            assert any(c.method == "answerCallbackQuery" and c.params.get("show_alert") for c in calls), data
    # a stranger in the work group is refused too
    before = len(h.api.calls)
    await h.app.process_update(h.factory.callback(STRANGER, work_message, f"rm:d:{rid}"))
    assert any(c.params.get("show_alert") for c in h.api.calls[before:])
    async with h.db.read() as conn:
        cur = await conn.execute("SELECT status FROM reminders WHERE id = ?", (rid,))
        after = await cur.fetchone()
        assert after is not None and after[0] == status  # not marked done
        cur = await conn.execute("SELECT COUNT(*) FROM reminders")
        after = await cur.fetchone()
        assert after is not None and after[0] == count  # no snoozed copy
