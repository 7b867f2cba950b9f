"""Task list (任务清单 · 销号): handler tests for every command and refusal, evidence files, the
reminders before / on the deadline day and the daily overdue digests, and the figures other
features read (summary, closed_on_time_counts).

The demo world seeds three open tasks (#1–#3, deadlines 11-25 17:00, 11-26 23:59, 11-28 18:00);
the clock starts Monday 2026-11-23 09:00 Shanghai. 王芳 chair, 李秀英 vice chair, 刘敏 (1004) and
陈静 (1005) members."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from telegram import Update

from bot.config import ConfigError, from_mapping
from bot.fake_api import ApiCall
from bot.simulator import Persona
from services.clock import SimClock
from services.roster import Actor
from services.tasks import TaskService, current_stage, stages
from storage import members, orgs
from storage import tasks as task_repo
from storage.db import Database
from tests.harness import PUBLIC, WORK, Harness

pytestmark = pytest.mark.handler

SH = ZoneInfo("Asia/Shanghai")
STRANGER = Persona(5555, "陌生人", "stranger_x")
LIUMIN, CHENJING, CHAIR = 1004, 1005, 1001
HOUR = timedelta(hours=1)


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SH)


def texts_to(calls: list[ApiCall], chat_id: int) -> list[str]:
    return [c.text for c in calls if c.method == "sendMessage" and c.chat_id == chat_id]


async def add(h: Harness, text: str, who: str = "王芳", chat: int = WORK) -> int:
    reply = await h.say(chat, who, text)
    assert "已布置任务" in reply, reply
    return int(reply.split("<b>#", 1)[1].split("</b>", 1)[0])


async def with_file(h: Harness, who: str, caption: str, kind: str, chat: int = WORK) -> list[ApiCall]:
    message: dict[str, Any] = h.factory.message_dict(chat, h.person(who), "")
    del message["text"]
    if kind == "photo":
        message["photo"] = [{"file_id": "PHOTO-S", "file_unique_id": "s1", "width": 90, "height": 90},
                            {"file_id": "PHOTO-L", "file_unique_id": "l1", "width": 900, "height": 900}]
    else:
        message["document"] = {"file_id": "DOC-1", "file_unique_id": "d1", "file_name": "记录.pdf"}
    message["caption"] = caption
    message["caption_entities"] = [{"type": "bot_command", "offset": 0, "length": len(caption.split()[0])}]
    before = len(h.api.calls)
    await h.app.process_update(Update.de_json({"update_id": 777000 + len(h.api.calls), "message": message},
                                              h.app.bot))
    return h.api.calls[before:]


# --- /task_add ---------------------------------------------------------------------------------


async def test_task_add_with_owners_notifies_them(h: Harness) -> None:
    calls = await h.send(WORK, "王芳", "/task_add 12月10日前 上报妇女议事会记录 @liumin @chenjing")
    reply = texts_to(calls, WORK)[0]
    assert "已布置任务 <b>#4</b>：上报妇女议事会记录" in reply
    assert "截止：12月10日（周四）23:59，还有 17 天" in reply
    assert "负责人：刘敏、陈静" in reply
    assert "/done 4" in reply
    assert "刘敏，您有一项新任务：<b>#4</b>" in texts_to(calls, LIUMIN)[0]
    assert "陈静，您有一项新任务" in texts_to(calls, CHENJING)[0]


async def test_task_add_owner_forms_and_default_owner(h: Harness) -> None:
    # A roster display name at the end, and a one-off time.
    reply = await h.say(WORK, "王芳", "/task_add 12月10日下午5点 交妇女之家活动照片 刘敏")
    assert "截止：12月10日（周四）17:00" in reply and "负责人：刘敏" in reply
    assert "交妇女之家活动照片" in reply
    # "@刘敏": an @ before a roster name (Telegram usernames are Latin) names her too.
    assert "负责人：刘敏" in await h.say(WORK, "王芳", "/task_add 12月10日 交议事会记录 @刘敏")
    assert "名册里没有找到" in await h.say(WORK, "王芳", "/task_add 12月10日 交签到表 @nobody_here")
    # No owner: the creator. Deadline words: 月底, 年底前, 4月底前.
    assert "负责人：王芳" in await h.say(WORK, "王芳", "/task_add 月底 整理本月台账")
    assert "11月30日（周一）23:59" in await h.say(WORK, "王芳", "/task_add 月底 整理台账")
    assert "12月31日（周四）23:59" in await h.say(WORK, "王芳", "/task_add 年底前 写年度总结")
    assert "2027年4月30日（周五）23:59" in await h.say(WORK, "王芳", "/task_add 4月底前 换届准备")
    # one rule: a day without a time is the end of that day, with 前 or without
    assert "11月25日（周三）23:59" in await h.say(WORK, "王芳", "/task_add 周三 交照片")
    assert "12月2日（周三）23:59" in await h.say(WORK, "王芳", "/task_add 下周三 交活动照片")
    assert "12月20日（周日）23:59" in await h.say(WORK, "王芳", "/task_add 12月20日 交总结")
    assert "11月23日（周一）23:59" in await h.say(WORK, "王芳", "/task_add 今天 打电话")
    # A text mention (a member without @username) counts as an owner.
    text = "/task_add 12月1日前 联系家访 红姐"
    mention = {"type": "text_mention", "offset": text.rindex("红姐"), "length": 2,
               "user": {"id": 1009, "is_bot": False, "first_name": "周红"}}
    calls = await h.send(WORK, "王芳", text, entities=[mention])
    assert "负责人：周红" in texts_to(calls, WORK)[0]
    assert "：联系家访\n" in texts_to(calls, WORK)[0]


async def test_vice_chair_adds_in_private_chat(h: Harness) -> None:
    reply = await h.say(1002, "李秀英", "/task_add 12月5日前 收集低保材料 @chenjing")
    assert "已布置任务" in reply and "负责人：陈静" in reply
    assert "收集低保材料" in await h.say(WORK, "陈静", "/tasks")


async def test_task_add_refusals(h: Harness) -> None:
    assert "只有本组织的主席、副主席" in await h.say(WORK, "刘敏", "/task_add 12月10日前 上报 @liumin")
    assert "只有本组织的主席、副主席" in await h.say(WORK, STRANGER, "/task_add 12月10日前 上报")
    assert "妇女之家群里不处理" in await h.say(PUBLIC, "王芳", "/task_add 12月10日前 上报")
    assert "还没有绑定组织" in await h.say(-1007777, "王芳", "/task_add 12月10日前 上报")
    usage = "/task_add 12月10日前 上报妇女议事会记录 @liumin @chenjing"
    assert usage in await h.say(WORK, "王芳", "/task_add")
    assert usage in await h.say(WORK, "王芳", "/task_add 12月10日前")
    bad = await h.say(WORK, "王芳", "/task_add 过几天 上报")
    assert "没看懂" in bad and usage in bad
    past = await h.say(WORK, "王芳", "/task_add 昨天 上报")
    assert "已经过去了" in past and usage in past
    past_today = await h.say(WORK, "王芳", "/task_add 今天早上8点 上报")
    assert "已经过去了" in past_today
    recurring = await h.say(WORK, "王芳", "/task_add 每周一9点 开例会")
    assert "不能是“每周一9点”这样重复的时间" in recurring and usage in recurring
    unknown = await h.say(WORK, "王芳", "/task_add 12月10日前 上报 @liumin @nobody_x")
    assert "名册里没有找到负责人「@nobody_x」，任务没有保存" in unknown
    listing = await h.say(WORK, "王芳", "/tasks")
    assert "共 3 项" in listing and "上报\n" not in listing  # nothing was saved
    assert "太长" in await h.say(WORK, "王芳", "/task_add 12月10日前 " + "长" * 300)


async def test_names_are_shown_literally(h: Harness) -> None:
    reply = await h.say(WORK, "王芳", "/task_add 12月3日前 <b>交</b> & 报 🌸 @liumin")
    assert "&lt;b&gt;交&lt;/b&gt; &amp; 报 🌸" in reply
    assert "&lt;b&gt;交&lt;/b&gt; &amp; 报 🌸" in await h.say(WORK, "刘敏", "/tasks")


# --- /tasks /task /overdue ---------------------------------------------------------------------


async def test_tasks_soonest_first_with_owners(h: Harness) -> None:
    await add(h, "/task_add 11月24日下午5点 先交的 @chenjing")
    text = await h.say(WORK, "陈静", "/tasks")
    assert "没完成的任务</b>（共 4 项" in text
    order = [text.index(x) for x in ("先交的", "上报11月妇女议事会记录", "收集两癌筛查报名表", "走访3组")]
    assert order == sorted(order)
    assert "截止 11月24日（周二）17:00 · 明天截止 · 负责人：陈静" in text
    assert "11月25日（周三）17:00 · 还有 2 天 · 负责人：刘敏、陈静" in text
    assert "只有本组织的执委" in await h.say(WORK, STRANGER, "/tasks")
    assert "妇女之家群里不处理" in await h.say(PUBLIC, "孙小梅", "/tasks")
    assert "先交的" in await h.say(CHENJING, "陈静", "/tasks")  # private chat works too


async def test_overdue_and_markers(h: Harness) -> None:
    assert "没有逾期的任务" in await h.say(WORK, "刘敏", "/overdue")
    h.clock.set(at(27, 10))
    text = await h.say(WORK, "刘敏", "/overdue")
    assert "逾期没完成的任务</b>（共 2 项）" in text
    assert "<b>#1</b> 上报11月妇女议事会记录\n    截止 11月25日（周三）17:00 · ⚠️ 逾期 2 天 · 负责人：刘敏、陈静" in text
    assert "<b>#2</b> 收集两癌筛查报名表" in text and "逾期 1 天 · 负责人：杨秀兰" in text
    assert "走访3组" not in text
    listing = await h.say(WORK, "刘敏", "/tasks")
    assert "⚠️ 逾期 2 天" in listing and "明天截止" in listing  # #3 is due 11-28
    h.clock.set(at(28, 19))
    assert "⚠️ 今天已过截止时间" in await h.say(WORK, "刘敏", "/overdue")


async def test_task_detail(h: Harness) -> None:
    text = await h.say(WORK, "刘敏", "/task 1")
    assert "<b>任务 #1</b>：上报11月妇女议事会记录" in text
    assert "负责人：刘敏、陈静" in text and "布置：王芳，11月23日 09:00" in text
    assert "状态：⏳ 没完成（还有 2 天）" in text
    assert "没有编号为 99 的任务" in await h.say(WORK, "刘敏", "/task 99")
    assert "请写上任务编号" in await h.say(WORK, "刘敏", "/task")
    assert "请写上任务编号" in await h.say(WORK, "刘敏", "/task abc")


# --- /done -------------------------------------------------------------------------------------


async def test_closed_in_private_the_work_group_is_told_once(h: Harness) -> None:
    h.clock.set(at(24, 15, 30))
    owner = h.person("陈静")
    calls = await h.send(owner.user_id, owner, "/done 1 已交镇妇联 <王主任>")
    group = [c.text for c in calls if c.chat_id == WORK]
    assert group == ["✅ 已销号：<b>#1</b> 上报11月妇女议事会记录（陈静，11月24日 15:30）"
                     "\n说明：已交镇妇联 &lt;王主任&gt;"]


async def test_owner_closes_and_chair_sees_who_and_when(h: Harness) -> None:
    h.clock.set(at(24, 15, 30))
    reply = await h.say(WORK, "陈静", "/done 1 已交镇妇联 <王主任>")
    assert "✅ 已销号：<b>#1</b> 上报11月妇女议事会记录（陈静，11月24日 15:30）" in reply
    assert "说明：已交镇妇联 &lt;王主任&gt;" in reply
    assert "上报11月妇女议事会记录" not in await h.say(WORK, "王芳", "/tasks")
    full = await h.say(WORK, "王芳", "/tasks all")
    assert "最近 30 天销号的任务</b>（共 1 项）" in full
    assert "<b>#1</b> 上报11月妇女议事会记录\n    陈静 11月24日 15:30 销号" in full
    assert "（逾期完成）" not in full
    detail = await h.say(WORK, "王芳", "/task 1")
    assert "状态：✅ 已销号（陈静，11月24日 15:30）" in detail and "说明：已交镇妇联 &lt;王主任&gt;" in detail
    async with h.db.read() as conn:
        task = await task_repo.get(conn, 1, 1)
    assert task is not None and task.closed_by == CHENJING and task.note == "已交镇妇联 <王主任>"
    assert task.closed_at == at(24, 15, 30).astimezone(UTC)


async def test_done_refusals(h: Harness) -> None:
    assert "不是您负责的" in await h.say(WORK, "刘敏", "/done 2")  # 杨秀兰's task
    assert "只有本组织的执委" in await h.say(WORK, STRANGER, "/done 1")
    assert "妇女之家群里不处理" in await h.say(PUBLIC, "刘敏", "/done 1")
    assert "没有编号为 99 的任务" in await h.say(WORK, "刘敏", "/done 99")
    assert "请写上任务编号" in await h.say(WORK, "刘敏", "/done")
    assert "请写上任务编号" in await h.say(WORK, "刘敏", "/done 第一个")
    assert "已销号" in await h.say(WORK, "刘敏", "/done #1")
    twice = await h.say(WORK, "陈静", "/done 1 我也交了")
    assert "任务 #1 已经销号了（刘敏，11月23日 09:00），不用再销一次" in twice
    async with h.db.read() as conn:
        task = await task_repo.get(conn, 1, 1)
    assert task is not None and task.closed_by == LIUMIN and task.note is None



async def test_task_of_another_organisation_is_unknown_here(h: Harness) -> None:
    async with h.db.transaction() as conn:
        other = await orgs.create(conn, "别村妇联", 4242, at(23, 9))
        task = await task_repo.add(conn, other.id, "别村的任务", at(30, 9), [], 4242, at(23, 9))
    assert "没有编号为" in await h.say(WORK, "王芳", f"/done {task.id}")
    assert "没有编号为" in await h.say(WORK, "王芳", f"/task {task.id}")


async def test_chair_closes_anyones_task_late_and_group_is_told_from_private(h: Harness) -> None:
    h.clock.set(at(27, 8))
    calls = await h.send(CHAIR, "王芳", "/done 2 报名表已收齐")
    reply = texts_to(calls, CHAIR)[0]
    assert "已销号：<b>#2</b> 收集两癌筛查报名表（王芳，11月27日 08:00）" in reply
    assert "晚了一些" in reply
    group = texts_to(calls, WORK)
    assert len(group) == 1 and "已销号：<b>#2</b> 收集两癌筛查报名表（王芳，11月27日 08:00）" in group[0]
    assert "报名表已收齐" in group[0]
    assert "（逾期完成）" in await h.say(WORK, "王芳", "/tasks 全部")


async def test_evidence_photo_and_document(h: Harness) -> None:
    calls = await with_file(h, "刘敏", "/done 1 会议记录照片", "photo")
    reply = texts_to(calls, WORK)[0]
    assert "已销号：<b>#1</b>" in reply and "凭证已保存" in reply
    calls = await with_file(h, "赵霞", "/done 3", "document")
    assert "凭证已保存" in texts_to(calls, WORK)[0]
    async with h.db.read() as conn:
        one = await task_repo.get(conn, 1, 1)
        three = await task_repo.get(conn, 1, 3)
    assert one is not None and (one.file_id, one.file_kind, one.note) == ("PHOTO-L", "photo", "会议记录照片")
    assert three is not None and (three.file_id, three.file_kind, three.note) == ("DOC-1", "document", None)
    assert "📎" in await h.say(WORK, "王芳", "/tasks all")
    # The chair gets the evidence back with /task; a member who is not an owner sees only the mark.
    calls = await h.send(WORK, "王芳", "/task 1")
    assert "凭证：📷 照片" in texts_to(calls, WORK)[0]
    photos = [c for c in calls if c.method == "sendPhoto"]
    assert len(photos) == 1 and photos[0].params["photo"] == "PHOTO-L"
    calls = await h.send(WORK, "杨秀兰", "/task 3")
    assert "凭证：📎 文件" in texts_to(calls, WORK)[0]
    assert not any(c.method in ("sendPhoto", "sendDocument") for c in calls)
    # A caption /done from a non-owner saves nothing.
    calls = await with_file(h, "刘敏", "/done 2", "photo")
    assert "不是您负责的" in texts_to(calls, WORK)[0]


# --- reminders and the overdue digest ----------------------------------------------------------


async def test_reminders_before_and_on_the_day(h: Harness) -> None:
    task_id = await add(h, "/task_add 11月27日下午5点 上交妇代会名单 @liumin @chenjing")
    # Nothing at once: the 3-day reminder is due 11-24 09:00.
    early = await h.advance_to(at(24, 8), step=HOUR)
    assert not [x for x in texts_to(early, LIUMIN) if "妇代会名单" in x]
    calls = await h.advance_to(at(24, 9), step=HOUR)
    mine = [x for x in texts_to(calls, LIUMIN) if "妇代会名单" in x]
    assert len(mine) == 1 and "刘敏，任务提醒" in mine[0] and "还有 3 天截止" in mine[0]
    assert "11月27日（周五）17:00" in mine[0] and f"/done {task_id}" in mine[0]
    assert [x for x in texts_to(calls, CHENJING) if "妇代会名单" in x and "陈静" in x]
    # Ticks in between send nothing again.
    calls = await h.advance_to(at(26, 8), step=HOUR)
    assert not [x for x in texts_to(calls, LIUMIN) if "妇代会名单" in x]
    calls = await h.advance_to(at(26, 9), step=HOUR)
    assert ["还有 1 天截止" in x for x in texts_to(calls, LIUMIN) if "妇代会名单" in x] == [True]
    calls = await h.advance_to(at(27, 9), step=HOUR)
    day = [x for x in texts_to(calls, CHENJING) if "妇代会名单" in x]
    assert len(day) == 1 and "任务今天截止" in day[0]
    async with h.db.read() as conn:
        cur = await conn.execute("SELECT dedupe FROM outbox WHERE dedupe LIKE ? ORDER BY dedupe",
                                 (f"task:{task_id}:%",))
        keys = [r[0] for r in await cur.fetchall()]
    member = {LIUMIN: 4, CHENJING: 5}
    assert keys == sorted(f"task:{task_id}:{s}:{member[u]}" for s in ("before:1", "before:3", "day")
                          for u in (LIUMIN, CHENJING))


async def test_reminder_falls_back_to_the_work_group(h: Harness) -> None:
    await add(h, "/task_add 11月25日下午5点 找妇女之家钥匙 @liumin")
    h.api.unreachable.add(LIUMIN)
    calls = await h.advance_to(at(24, 9), step=HOUR)
    assert [x for x in texts_to(calls, WORK) if "找妇女之家钥匙" in x and "刘敏" in x]


async def test_overdue_digest_daily_until_closed(h: Harness) -> None:
    task_id = await add(h, "/task_add 11月24日下午5点 报送<困难>妇女名单 @liumin @chenjing")
    h.clock.set(at(25, 8))
    calls = await h.advance_to(at(25, 9), step=HOUR)
    owner = texts_to(calls, LIUMIN)
    digest = [x for x in owner if "逾期还没销号" in x]
    assert len(digest) == 1
    assert f"<b>#{task_id}</b> 报送&lt;困难&gt;妇女名单" in digest[0] and "逾期 1 天" in digest[0]
    group = [x for x in texts_to(calls, WORK) if "逾期任务日报" in x]
    assert len(group) == 1
    assert f"<b>#{task_id}</b> 报送&lt;困难&gt;妇女名单" in group[0] and "负责人：刘敏、陈静" in group[0]
    # The same day again: nothing more. The next day: again, one more day overdue.
    assert not [x for x in texts_to(await h.advance_to(at(25, 23), step=HOUR), LIUMIN) if "逾期" in x]
    calls = await h.advance_to(at(26, 9), step=HOUR)
    second = [x for x in texts_to(calls, CHENJING) if "逾期还没销号" in x]
    assert len(second) == 1 and "逾期 2 天" in second[0]
    # Her digest lists all her overdue tasks: demo task #1 (11-25 17:00) is late too now.
    assert "<b>#1</b>" in second[0] and f"<b>#{task_id}</b>" in second[0]
    assert "您负责的任务有 2 项逾期" in second[0]
    await h.say(WORK, "刘敏", f"/done {task_id}")
    await h.say(WORK, "陈静", "/done 1")
    calls = await h.advance_to(at(27, 9), step=HOUR)
    assert not [x for x in texts_to(calls, LIUMIN) + texts_to(calls, CHENJING) if "逾期" in x]
    group = [x for x in texts_to(calls, WORK) if "逾期任务日报" in x]
    assert len(group) == 1 and f"#{task_id}</b>" not in group[0] and "收集两癌筛查报名表" in group[0]


async def test_nothing_for_closed_tasks(h: Harness) -> None:
    task_id = await add(h, "/task_add 11月27日下午5点 布置会场 @liumin")
    await h.say(WORK, "刘敏", f"/done {task_id} 已经弄好")
    calls = await h.advance_to(at(29, 9), step=HOUR)
    assert not [c for c in calls if "布置会场" in c.text]


# --- pure logic and storage --------------------------------------------------------------------


def test_stages_skip_what_was_due_before_creation() -> None:
    deadline = at(27, 17)
    created = at(23, 9)
    found = stages(deadline, created, SH, (3, 1))
    assert [(s.label, s.due) for s in found] == [("before:3", at(24, 9)), ("before:1", at(26, 9)),
                                                  ("day", at(27, 9))]
    late_created = stages(deadline, at(26, 10), SH, (3, 1))
    assert [s.label for s in late_created] == ["day"]
    early = stages(at(27, 8), created, SH, (1,))
    assert early[-1].due == at(27, 8)  # the deadline is before 09:00: remind at the deadline
    assert [s.label for s in stages(deadline, created, SH, ())] == ["day"]


def test_current_stage_only_the_latest_and_not_after_the_deadline() -> None:
    task = task_repo.Task(1, 1, "x", at(27, 17), 1, at(20, 9), None, None, None, None, None, (1,))
    assert current_stage(task, at(23, 9), SH, (3, 1)) is None
    stage = current_stage(task, at(24, 10), SH, (3, 1))
    assert stage is not None and stage.label == "before:3"
    # After a downtime only the latest due stage goes out.
    stage = current_stage(task, at(27, 12), SH, (3, 1))
    assert stage is not None and stage.label == "day"
    assert current_stage(task, at(27, 18), SH, (3, 1)) is None


async def _org_with_members(tmp_path: Path) -> tuple[Database, int, list[int]]:
    db = await Database.open(tmp_path / "t.db")
    now = at(1, 9)
    async with db.transaction() as conn:
        org = await orgs.create(conn, "测试村妇联", CHAIR, now)
        ids = []
        for uid, role in ((CHAIR, "chair"), (LIUMIN, "member"), (CHENJING, "member")):
            m = await members.add(conn, org.id, uid, None, f"u{uid}", role, now)  # type: ignore[arg-type]
            ids.append(m.id)
    return db, org.id, ids


async def test_summary_and_closed_on_time_counts(tmp_path: Path) -> None:
    db, org_id, (chair, a, b) = await _org_with_members(tmp_path)
    created = at(1, 9)
    async with db.transaction() as conn:
        t1 = await task_repo.add(conn, org_id, "on time", at(10, 17), [a, b], CHAIR, created)
        t2 = await task_repo.add(conn, org_id, "late", at(12, 17), [a], CHAIR, created)
        await task_repo.add(conn, org_id, "open overdue", at(15, 17), [b], CHAIR, created)
        await task_repo.add(conn, org_id, "open", at(5, 17, month=12), [a], CHAIR, created)
        t5 = await task_repo.add(conn, org_id, "last month", at(20, 17, month=10), [a], CHAIR, at(1, 9, month=10))
        assert await task_repo.close(conn, t1.id, LIUMIN, at(10, 16), None, None, None)
        assert await task_repo.close(conn, t2.id, LIUMIN, at(13, 10), "晚了", None, None)
        assert await task_repo.close(conn, t5.id, LIUMIN, at(2, 10), None, None, None)
        assert not await task_repo.close(conn, t1.id, CHENJING, at(14, 10), None, None, None)
    start, end = at(1, 0), at(1, 0, month=12)
    async with db.read() as conn:
        counts = await task_repo.closed_on_time_counts(conn, org_id, start, end)
        assert counts == {a: (1, 2), b: (1, 2)}
        assert chair not in counts
        # t5 (deadline in October) was closed in November.
        assert await task_repo.summary(conn, org_id, start, end, at(20, 9)) == (3, 2, 1)
        # As seen at 11-11: t2 and the others still open; t1 closed; nothing overdue yet except none.
        assert await task_repo.summary(conn, org_id, start, end, at(11, 9)) == (3, 3, 0)
        assert await task_repo.summary(conn, org_id, start, end, at(13, 9)) == (3, 3, 1)
        assert await task_repo.summary(conn, org_id, at(1, 0, month=12), datetime(2027, 1, 1, tzinfo=SH),
                                       at(20, 9)) == (0, 2, 1)
    await db.close()


async def test_service_add_and_close_rules(tmp_path: Path) -> None:
    db, org_id, (chair, a, _b) = await _org_with_members(tmp_path)
    clock = SimClock(at(1, 9))
    svc = TaskService(db, clock, SH, (3, 1))
    from services.errors import Refusal

    with pytest.raises(Refusal) as refused:
        await svc.add(Actor(LIUMIN), org_id, at(5, 9), "x", [a])
    assert refused.value.key == "roster.not_manager"
    with pytest.raises(Refusal) as refused:
        await svc.add(Actor(CHAIR), org_id, at(1, 8), "x", [a])
    assert refused.value.key == "tasks.past"
    task = await svc.add(Actor(CHAIR), org_id, at(5, 9), "  两个   空格 ", [])
    assert task.title == "两个 空格" and task.owner_ids == (chair,)
    with pytest.raises(Refusal) as refused:
        await svc.close(Actor(CHENJING), org_id, task.id, "", None, None)
    assert refused.value.key == "tasks.not_owner"
    closed = await svc.close(Actor(CHAIR), org_id, task.id, "好了", None, None)
    assert closed.closed_by == CHAIR and closed.note == "好了"
    with pytest.raises(Refusal) as refused:
        await svc.close(Actor(CHAIR), org_id, task.id, "", None, None)
    assert refused.value.key == "tasks.already_closed"
    async with db.read() as conn:
        cur = await conn.execute("SELECT action FROM audit_log ORDER BY id")
        assert [r[0] for r in await cur.fetchall()] == ["task.add", "task.done"]
    await db.close()


def test_config_remind_days_before() -> None:
    assert from_mapping({}, env={}).tasks.remind_days_before == (3, 1)
    assert from_mapping({"tasks": {"remind_days_before": [7, 2, 1]}}, env={}).tasks.remind_days_before == (7, 2, 1)
    for bad in ([0], ["3"], [True], 3):
        with pytest.raises(ConfigError) as err:
            from_mapping({"tasks": {"remind_days_before": bad}}, env={})
        assert "tasks.remind_days_before" in str(err.value)
    with pytest.raises(ConfigError):
        from_mapping({"tasks": {"remind_before": [1]}}, env={})


async def test_configured_days_are_used(tmp_path: Path) -> None:
    from tests.harness import make_harness

    world_cfg = from_mapping({"tasks": {"remind_days_before": [2]}}, env={})
    harness = await make_harness(tmp_path, config=world_cfg)
    try:
        task_id = await add(harness, "/task_add 11月27日下午5点 交表 @liumin")
        calls = await harness.advance_to(at(25, 9), step=HOUR)
        mine = [x for x in texts_to(calls, LIUMIN) if "交表" in x]
        assert len(mine) == 1 and "还有 2 天截止" in mine[0] and f"#{task_id}" in mine[0]
    finally:
        await harness.app.shutdown()
        await harness.db.close()


async def test_the_same_task_twice_is_set_once_unless_she_means_it(h: Harness) -> None:
    first = await h.say(WORK, "王芳", "/task_add 12月10日前 上报妇女议事会记录 @liumin")
    assert "已布置任务" in first
    calls = await h.send(WORK, "王芳", "/task_add 12月10日前 上报妇女议事会记录 @liumin")
    repeat = next(c for c in calls if c.chat_id == WORK)
    assert "刚才已经布置过了" in repeat.text
    forged = await h.press("李秀英", repeat, 0)  # another manager: not hers to repeat
    assert any(c.params.get("show_alert") for c in forged)
    again = await h.press("王芳", repeat, 0)
    assert any("已布置任务" in c.text for c in again)
    listing = await h.say(WORK, "王芳", "/tasks")
    assert listing.count("上报妇女议事会记录") == 2


async def test_the_same_title_for_other_owners_or_another_deadline_is_a_new_task(h: Harness) -> None:
    """Only a repeat of the whole task is held back: the same title for someone else or by another day is
    set at once (a play-through saw 陈静's task refused as a repeat of 刘敏's, and 再布置一个 give 刘敏 it twice)."""
    assert "已布置任务" in await h.say(WORK, "王芳", "/task_add 12月18日前 收集反家暴签名 @liumin")
    other = await h.say(WORK, "王芳", "/task_add 12月18日前 收集反家暴签名 @chenjing")
    assert "已布置任务" in other and "陈静" in other
    later = await h.say(WORK, "王芳", "/task_add 12月20日前 收集反家暴签名 @liumin")
    assert "已布置任务" in later
    listing = await h.say(WORK, "王芳", "/tasks")
    assert listing.count("收集反家暴签名") == 3


async def test_an_owner_named_but_not_on_the_roster_is_refused_not_kept_in_the_title(h: Harness) -> None:
    reply = await h.say(WORK, "王芳", "/task_add 12月20日前 入户宣传 张丽 王小红")
    assert "「王小红」" in reply and "没有保存" in reply and "已布置任务" not in reply
    listed = await h.say(WORK, "王芳", "/task_add 12月20日前 宣传材料发放 刘敏、陈静")
    assert "已布置任务" in listed and "宣传材料发放" in listed and "刘敏" in listed and "陈静" in listed
    kept = await h.say(WORK, "王芳", "/task_add 12月20日前 走访 王家")  # a family, not a person
    assert "已布置任务" in kept and "走访 王家" in kept
