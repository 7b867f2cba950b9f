"""Handler tests for the duty rotation and ledger (the demo rotation: daily since 11-20, 08:00,
刘敏 陈静 杨秀兰 赵霞 黄丽娟 周红 吴桂英 徐萍; the clock starts Monday 2026-11-23 09:00 Shanghai)."""

from __future__ import annotations

import html
import io
import re
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from bot.fake_api import ApiCall
from bot.simulator import Persona
from tests.harness import PUBLIC, WORK, Harness

pytestmark = pytest.mark.handler

SH = ZoneInfo("Asia/Shanghai")
STRANGER = Persona(5555, "陌生人", "stranger_x")


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SH)


async def test_duty_shows_now_and_next(h: Harness) -> None:
    text = await h.say(WORK, "刘敏", "/duty")
    assert "现在值班：<b>赵霞</b>（11月23日）" in text
    assert "还没签到" in text
    assert "下一班：<b>黄丽娟</b>（11月24日）" in text


async def test_duty_refusals(h: Harness) -> None:
    assert "妇女之家群里不处理" in await h.say(PUBLIC, "孙小梅", "/duty")
    assert "只有本组织的执委" in await h.say(WORK, STRANGER, "/duty")
    assert "还没有绑定组织" in await h.say(-1007777, STRANGER, "/duty")


async def test_rota_lists_next_shifts(h: Harness) -> None:
    text = await h.say(WORK, "刘敏", "/rota")
    assert "接下来 8 班" in text
    assert "1. 11月23日 赵霞" in text and "8. 11月30日 杨秀兰" in text
    three = await h.say(WORK, "刘敏", "/rota 3")
    assert "3. 11月25日 周红" in three and "4." not in three
    assert "1 到 60 之间的数字" in await h.say(WORK, "刘敏", "/rota abc")
    assert "1 到 60 之间的数字" in await h.say(WORK, "刘敏", "/rota 100")


async def test_rota_set_with_arguments(h: Harness) -> None:
    text = await h.say(WORK, "王芳", "/rota_set 周 2026-11-30 @liumin @chenjing 杨秀兰 09:00")
    assert "轮值表已设置：每周轮换，09:00 交接，从 11月30日 起，共 3 人" in text
    assert "顺序：刘敏 → 陈静 → 杨秀兰" in text
    # the confirmation lists the new rotation's first shifts and says the old one goes on until then
    assert "11月30日 之前仍按原来的轮值表" in text and "1. 11月30日 至 12月6日 刘敏" in text
    assert "赵霞" not in text.split("新轮值表的头几班")[1]
    rota = await h.say(WORK, "刘敏", "/rota 10")
    # The old daily rotation runs until the new one starts; past and current shifts never change.
    assert "1. 11月23日 赵霞" in rota
    assert "11月30日 至 12月6日 刘敏" in rota and "12月7日 至 12月13日 陈静" in rota


async def test_rota_set_anchor_in_the_past_for_a_new_org(fresh: Harness) -> None:
    await fresh.say(WORK, "王芳", "/setup 新村妇联")
    await fresh.say(WORK, "刘敏", "你好")
    await fresh.say(WORK, "王芳", "/addmember @liumin")
    text = await fresh.say(WORK, "王芳", "/rota_set 周 2026-11-16 @liumin 王芳")
    assert "共 2 人" in text
    duty = await fresh.say(WORK, "刘敏", "/duty")
    assert "现在值班：<b>王芳</b>（11月23日 至 11月29日）" in duty


async def test_rota_set_refusals(h: Harness) -> None:
    assert "请这样设置轮值表" in await h.say(WORK, "王芳", "/rota_set 周 2026-11-30")
    assert "周期看不懂：年" in await h.say(WORK, "王芳", "/rota_set 年 2026-11-30 @liumin")
    assert "开始日期看不懂" in await h.say(WORK, "王芳", "/rota_set 周 明年某天 @liumin")
    # A day that does not exist gets the same error as /leave's, then this command's usage only.
    no_day = await h.say(WORK, "王芳", "/rota_set 周 2月30日 @liumin")
    assert "“2月30日”这个日期不存在" in no_day and "看不懂" not in no_day
    assert "请这样设置轮值表" in no_day and "10分钟后" not in no_day
    assert "名册里没有找到「@nobody_x」" in await h.say(WORK, "王芳", "/rota_set 周 2026-11-30 @nobody_x")
    assert "出现了两次" in await h.say(WORK, "王芳", "/rota_set 周 2026-11-30 @liumin 刘敏")
    assert "只有本组织的主席、副主席" in await h.say(WORK, "刘敏", "/rota_set 周 2026-11-30 @liumin")
    assert "只有本组织的主席、副主席" in await h.say(WORK, "刘敏", "/rota_set")


async def test_rota_set_button_flow(h: Harness) -> None:
    calls = await h.send(WORK, "王芳", "/rota_set")
    first = calls[-1]
    assert "第 1 步" in first.text
    await h.press("王芳", first, 1)  # 每周
    step2 = h.api.messages[(WORK, first.result["message_id"])]
    assert "第 2 步" in step2["text"]
    buttons = [b["text"] for row in step2["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == ["今天 11月23日", "明天 11月24日", "下周一 11月30日"]
    # Somebody else cannot drive the chair's flow.
    other = await h.press("刘敏", first, 2)
    assert any("别人正在设置" in c.params.get("text", "") for c in other if c.method == "answerCallbackQuery")
    await h.press("王芳", first, 2)  # 下周一
    step3 = h.api.messages[(WORK, first.result["message_id"])]
    names = [b["text"] for row in step3["reply_markup"]["inline_keyboard"] for b in row]
    await h.press("王芳", first, names.index("刘敏"))
    step3 = h.api.messages[(WORK, first.result["message_id"])]
    assert "已选：刘敏" in step3["text"]
    names = [b["text"] for row in step3["reply_markup"]["inline_keyboard"] for b in row]
    await h.press("王芳", first, names.index("陈静"))
    step3 = h.api.messages[(WORK, first.result["message_id"])]
    names = [b["text"] for row in step3["reply_markup"]["inline_keyboard"] for b in row]
    done = await h.press("王芳", first, names.index("✅ 完成"))
    assert any("轮值表已设置：每周轮换，08:00 交接，从 11月30日 起，共 2 人" in c.text for c in done)


def shown(call: ApiCall) -> str:
    """What Telegram shows for a sent or edited text: HTML parsed only under parse_mode HTML."""
    text = call.params.get("text", "")
    return html.unescape(re.sub(r"<[^>]+>", "", text)) if call.params.get("parse_mode") == "HTML" else text


async def test_rota_set_button_flow_shows_names_with_markup_characters_as_written(h: Harness) -> None:
    assert "何&amp;桂兰" in await h.say(WORK, "王芳", "/addmember @he_guilan 执委 何&桂兰")
    first = (await h.send(WORK, "王芳", "/rota_set"))[-1]
    await h.press("王芳", first, 1)  # 每周
    await h.press("王芳", first, 2)  # 下周一
    step3 = h.api.messages[(WORK, first.result["message_id"])]
    names = [b["text"] for row in step3["reply_markup"]["inline_keyboard"] for b in row]
    edits = await h.press("王芳", first, names.index("何&桂兰"))
    edit = next(c for c in edits if c.method == "editMessageText")
    assert "已选：何&桂兰" in shown(edit) and "&amp;" not in shown(edit)
    texts = [c for c in h.api.calls if c.method in ("sendMessage", "editMessageText")]
    assert all(c.params.get("parse_mode") == "HTML" for c in texts)


async def test_rota_set_button_flow_survives_a_restart(h: Harness, restart) -> None:
    first = (await h.send(WORK, "王芳", "/rota_set"))[-1]
    await h.press("王芳", first, 1)  # 每周
    await h.press("王芳", first, 2)  # 下周一
    step3 = h.api.messages[(WORK, first.result["message_id"])]
    names = [b["text"] for row in step3["reply_markup"]["inline_keyboard"] for b in row]
    await h.press("王芳", first, names.index("刘敏"))
    again = await restart(h)
    assert again.app is not h.app and not again.app.chat_data
    step3 = again.api.messages[(WORK, first.result["message_id"])]
    names = [b["text"] for row in step3["reply_markup"]["inline_keyboard"] for b in row]
    picked = await again.press("王芳", first, names.index("陈静"))
    assert any("已选：刘敏、陈静" in c.text for c in picked)
    others = await again.press("刘敏", first, 0)  # still hers alone
    assert any("别人正在设置" in c.params.get("text", "") for c in others if c.method == "answerCallbackQuery")
    step3 = again.api.messages[(WORK, first.result["message_id"])]
    names = [b["text"] for row in step3["reply_markup"]["inline_keyboard"] for b in row]
    done = await again.press("王芳", first, names.index("✅ 完成"))
    assert any("轮值表已设置：每周轮换，08:00 交接，从 11月30日 起，共 2 人" in c.text for c in done)
    expired = await again.press("王芳", first, 0)  # the flow is over once saved
    assert any("已经失效" in c.params.get("text", "") for c in expired if c.method == "answerCallbackQuery")


async def test_leave_moves_her_shifts_and_tells_the_replacement(h: Harness) -> None:
    calls = await h.send(WORK, "黄丽娟", "/leave 11月24日 家里有事")
    text = next(c.text for c in calls if c.chat_id == WORK)
    assert "已登记请假：11月24日" in text
    assert "11月24日 改由 <b>周红</b> 值班" in text
    assert any(c.chat_id == 1009 and "黄丽娟 请假，11月24日 这一班改由您值班" in c.text for c in calls)
    rota = await h.say(WORK, "刘敏", "/rota 3")
    assert "2. 11月24日 周红（替黄丽娟）" in rota
    assert "不需要换人" in await h.say(WORK, "刘敏", "/leave 11月24日")


async def test_leave_refusals(h: Harness) -> None:
    assert "请写上请假日期" in await h.say(WORK, "刘敏", "/leave")
    assert "请假日期已经过去了" in await h.say(WORK, "刘敏", "/leave 11月20日")
    assert "2月30日" in await h.say(WORK, "刘敏", "/leave 2月30日")
    reversed_ = await h.say(WORK, "刘敏", "/leave 12月7日-12月1日")
    assert "请假日期" in reversed_ and "/leave 12月1日-12月7日" in reversed_
    assert "只有本组织的执委" in await h.say(WORK, STRANGER, "/leave 12月1日")


async def test_swap_accepted_by_button(h: Harness) -> None:
    calls = await h.send(WORK, "黄丽娟", "/swap @chenjing 11月24日")
    request = next(c for c in calls if c.chat_id == WORK and "请" in c.text and c.params.get("reply_markup"))
    assert "<b>黄丽娟</b> 请 <b>陈静</b> 替班：11月24日" in request.text
    # Only 陈静 may answer.
    pressed = await h.press("刘敏", request, 0)
    assert any("只有被请的那位执委" in c.params.get("text", "") for c in pressed)
    pressed = await h.press("陈静", request, 0)
    assert any(c.method == "editMessageText" and "陈静 同意替班：11月24日 改由 陈静 值班" in c.text for c in pressed)
    assert any(c.chat_id == 1008 and "同意替班" in c.text for c in pressed)  # 黄丽娟 is told
    assert "2. 11月24日 陈静（替黄丽娟）" in await h.say(WORK, "刘敏", "/rota 3")
    again = await h.press("陈静", request, 1)
    assert any("已经处理过了" in c.params.get("text", "") for c in again)


async def test_swap_declined_and_expired(h: Harness) -> None:
    calls = await h.send(WORK, "黄丽娟", "/swap @chenjing 11月24日")
    request = next(c for c in calls if c.params.get("reply_markup"))
    pressed = await h.press("陈静", request, 1)
    assert any("陈静 没有同意替 黄丽娟 的班" in c.text for c in pressed)
    calls = await h.send(WORK, "黄丽娟", "/swap @liumin 11月24日")
    request = next(c for c in calls if c.params.get("reply_markup"))
    h.clock.set(at(24, 8, 1))
    pressed = await h.press("刘敏", request, 0)
    assert any("已经过期" in c.params.get("text", "") for c in pressed)
    assert "黄丽娟" in await h.say(WORK, "刘敏", "/duty")


async def test_swap_refusals(h: Harness) -> None:
    assert "不能和自己换班" in await h.say(WORK, "黄丽娟", "/swap @huanglijuan 11月24日")
    assert "不是您值班" in await h.say(WORK, "黄丽娟", "/swap @chenjing 2026-11-25")
    assert "名册里没有找到「@nobody_x」" in await h.say(WORK, "黄丽娟", "/swap @nobody_x 11月24日")
    assert "请这样写：/swap" in await h.say(WORK, "黄丽娟", "/swap @chenjing")
    assert "已经开始了" in await h.say(WORK, "赵霞", "/swap @chenjing 11月23日")
    assert "已经过去" in await h.say(WORK, "杨秀兰", "/swap @chenjing 11月22日")


async def test_assign_by_the_chair(h: Harness) -> None:
    calls = await h.send(WORK, "王芳", "/assign 11月25日 @liumin")
    assert "已安排：11月25日 由 <b>刘敏</b> 值班（原来是 周红）" in calls[0].text
    assert any(c.chat_id == 1004 and "主席安排您值班：11月25日" in c.text for c in calls)
    zhou = h.person("周红").user_id  # the member who had the shift is told she is off it
    assert any(c.chat_id == zhou and "改给了 <b>刘敏</b>，这一班您不用值了" in c.text for c in calls)
    assert "3. 11月25日 刘敏（替周红）" in await h.say(WORK, "刘敏", "/rota 3")
    again = await h.send(WORK, "王芳", "/assign 11月25日 @liumin")  # already hers: nobody is told again
    assert not any(c.chat_id in (1004, zhou) for c in again)
    text = await h.say(WORK, "王芳", "/assign 11月26日 陈静")
    assert "由 <b>陈静</b> 值班（原来是 吴桂英）" in text


async def test_assign_refusals(h: Harness) -> None:
    assert "只有本组织的主席、副主席" in await h.say(WORK, "刘敏", "/assign 11月25日 @chenjing")
    assert "请这样写：/assign" in await h.say(WORK, "王芳", "/assign")
    assert "已经结束了" in await h.say(WORK, "王芳", "/assign 11月21日 @chenjing")
    assert "名册里没有找到" in await h.say(WORK, "王芳", "/assign 11月25日 @nobody_x")
    assert "/assign 12月3日 @lixiuying" in await h.say(WORK, "王芳", "/assign 某天 @chenjing")


async def test_checkin_only_for_the_person_on_duty(h: Harness) -> None:
    assert "现在不是您的班" in await h.say(WORK, "刘敏", "/checkin")
    assert "签到成功" in await h.say(WORK, "赵霞", "/checkin")
    assert "已经签到过了" in await h.say(1007, "赵霞", "/checkin")
    assert "已签到" in await h.say(WORK, "刘敏", "/duty")


async def test_log_entries_with_categories_and_files(h: Harness) -> None:
    assert "已记入台账（#1，走访）" in await h.say(WORK, "赵霞", "/log 走访 看望3组独居老人<李奶奶>")
    text = await h.say(WORK, "赵霞", "/log 聊天 群里有人问低保")
    assert "已记入台账（#2，其他）" in text and "「聊天」不是台账类别" in text
    assert "请这样记台账" in await h.say(WORK, "赵霞", "/log")
    assert "请这样记台账" in await h.say(WORK, "赵霞", "/log 走访")
    assert "妇女之家群里不处理" in await h.say(PUBLIC, "赵霞", "/log 走访 x")
    photo = h.factory.message_dict(WORK, h.person("赵霞"), "")
    del photo["text"]
    photo["photo"] = [{"file_id": "PHOTO-1", "file_unique_id": "u1", "width": 90, "height": 90}]
    photo["caption"] = "/log 活动 三八节插花活动"
    photo["caption_entities"] = [{"type": "bot_command", "offset": 0, "length": 4}]
    from telegram import Update

    before = len(h.api.calls)
    await h.app.process_update(Update.de_json({"update_id": 9999, "message": photo}, h.app.bot))
    assert "已记入台账（#3，活动），附件已保存" in h.api.calls[before].text
    ledger = await h.say(WORK, "刘敏", "/ledger")
    assert "值班台账 2026年11月</b>（共 3 条）" in ledger
    assert "[走访] 赵霞：看望3组独居老人&lt;李奶奶&gt;" in ledger
    assert "[活动] 赵霞：三八节插花活动 📎" in ledger
    assert "按类别：走访 1、其他 1、活动 1" in ledger


async def test_ledger_month_argument_and_xlsx_for_the_chair(h: Harness) -> None:
    await h.say(WORK, "赵霞", "/checkin")
    await h.say(WORK, "赵霞", "/log 求助 =HYPERLINK(\"x\") 张大姐咨询离婚")
    await h.say(WORK, "赵霞", "/log 其他 响铃\x07字符")  # a control character Excel refuses
    assert "2026年10月 还没有台账记录" in await h.say(WORK, "刘敏", "/ledger 2026-10")
    assert "请写月份" in await h.say(WORK, "刘敏", "/ledger 十三月")
    member_calls = await h.send(WORK, "刘敏", "/ledger 11月")
    assert not any(c.method == "sendDocument" for c in member_calls)
    calls = await h.send(WORK, "王芳", "/ledger 2026-11")
    docs = [c for c in calls if c.method == "sendDocument"]
    assert [d.params["caption"] for d in docs] == ["青石村妇联 值班台账 2026年11月（Excel）",
                                                   "青石村妇联 值班表 2026年11月（Excel）"]
    # asked for in the work group, the files go to her private chat; the group gets one line
    assert {d.chat_id for d in docs} == {h.person("王芳").user_id}
    assert any(c.chat_id == WORK and "已私聊发给您" in c.text for c in calls)
    h.api.unreachable.add(h.person("王芳").user_id)  # she never opened a private chat with the bot
    calls = await h.send(WORK, "王芳", "/ledger 2026-11")
    sent = [c.chat_id for c in calls if c.method == "sendDocument"]
    assert sent == [h.person("王芳").user_id, WORK, WORK]  # refused privately (403), then here
    assert any(c.chat_id == WORK and "私聊发送 /start" in c.text for c in calls)
    ledger_book = load_workbook(io.BytesIO(next(iter(docs[0].files.values()))))
    sheet = ledger_book.active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("序号", "时间", "类别", "记录人", "内容", "附件")
    # formula-looking text stays exactly as typed, as a text cell Excel never evaluates
    assert rows[1][2:5] == ("求助", "赵霞", "=HYPERLINK(\"x\") 张大姐咨询离婚")
    assert sheet.cell(row=2, column=5).data_type == "s"
    assert rows[2][4] == "响铃字符"  # the control character is gone, the export did not break
    schedule = load_workbook(io.BytesIO(next(iter(docs[1].files.values())))).active
    srows = list(schedule.iter_rows(values_only=True))
    assert srows[0] == ("序号", "开始日期", "结束日期", "交接时间", "值班执委", "原排班", "变更", "签到")
    # The demo rotation was set on 11-23 (anchored on 11-20): no shift existed before that.
    # Real dates in a Chinese format (Excel and WPS sort and filter them); shifts still to come are
    # left empty, not "否" (they are not missed duty).
    first, last, start = (v.isoformat(sep=" ", timespec="minutes") for v in srows[1][1:4])
    assert (first, last, start, srows[1][4]) == ("2026-11-23 00:00", "2026-11-23 00:00", "2026-11-23 08:00", "赵霞")
    assert srows[1][7] == "是"
    assert schedule["B2"].number_format == "yyyy年m月d日" and schedule["D2"].number_format == "yyyy年m月d日 hh:mm"
    assert srows[2][1].date() == date(2026, 11, 24) and srows[2][4] == "黄丽娟" and srows[2][7] is None
    assert srows[-1][1].date() == date(2026, 11, 30) and len(srows) == 9
    assert schedule.freeze_panes == "A2" and schedule.auto_filter.ref == "A1:H9"
    totals = list(ledger_book["按类别统计"].iter_rows(values_only=True))
    assert totals[0] == ("类别", "条数") and ("求助", 1) in totals and totals[-1] == ("合计", len(rows) - 1)


async def test_notices_fire_once_at_their_time(h: Harness) -> None:
    await h.say(WORK, "赵霞", "/handover 3组王大姐家的纠纷下周要回访")
    calls = await h.advance_to(at(23, 20, 0))
    eve = [c for c in calls if "明天起轮值：<b>黄丽娟</b>（11月24日）" in c.text]
    assert [c.chat_id for c in eve] == [WORK]  # the women's group gets one notice a day, at the hand-off
    calls = await h.advance_to(at(24, 8, 0))
    handoff = [c for c in calls if "今日轮值执委：<b>黄丽娟</b>（11月24日）" in c.text]
    assert [c.chat_id for c in handoff] == [WORK]
    assert "下一班：周红（11月25日）" in handoff[0].text
    assert "赵霞：3组王大姐家的纠纷下周要回访" in handoff[0].text
    public = [c for c in calls if c.chat_id == PUBLIC and "今日值班执委：<b>黄丽娟</b>" in c.text]
    assert len(public) == 1 and "纠纷" not in public[0].text
    calls = await h.advance_to(at(24, 10, 0))
    assert [c.chat_id for c in calls if "还没有签到" in c.text] == [1008]
    calls = await h.advance_to(at(24, 12, 0))
    assert [c.chat_id for c in calls if "请主席关心一下" in c.text] == [1001]
    # Nothing is sent twice, also after a restart on the same database.
    assert await h.tick() == []
    restarted = await make_harness_on(h)
    restarted.clock.set(h.clock.now())
    assert await restarted.tick() == []
    await restarted.app.shutdown()


async def make_harness_on(h: Harness) -> Harness:
    from bot.app import build_application, build_services
    from bot.fake_api import FakeBotApi

    api = FakeBotApi(h.clock)
    app = build_application(build_services(h.services.config, h.db, h.clock), token="123456:TEST", request=api)
    await app.initialize()
    return Harness(app, api, h.clock, h.db, h.world)


async def test_checked_in_shift_gets_no_nudge(h: Harness) -> None:
    await h.advance_to(at(24, 8, 30))
    await h.say(WORK, "黄丽娟", "/checkin")
    calls = await h.advance_to(at(24, 13, 0))
    assert not [c for c in calls if "签到" in c.text]


async def test_removed_member_leaves_future_shifts_only(h: Harness) -> None:
    await h.say(WORK, "王芳", "/removemember @huanglijuan")
    rota = await h.say(WORK, "刘敏", "/rota 4")
    assert "1. 11月23日 赵霞" in rota
    assert "黄丽娟" not in rota
    assert "2. 11月24日 周红" in rota


async def test_local_day_off_extends_the_previous_shift(h: Harness) -> None:
    await h.say(WORK, "王芳", "/rota_set 日 2026-11-24 @liumin @chenjing @yangxiulan 跳过节假日")
    text = await h.say(WORK, "王芳", "/dayoff 2026-11-25")
    assert "已把 2026年11月25日 设为本地休息日" in text
    rota = await h.say(WORK, "刘敏", "/rota 3")
    # 11-24 Tue 刘敏 covers the local day off 11-25; 11-26 Thu 陈静.
    assert "2. 11月24日 至 11月25日 刘敏" in rota and "3. 11月26日 陈静" in rota
    assert "只有本组织的主席、副主席" in await h.say(WORK, "刘敏", "/dayoff 2026-11-26")
    assert "请写日期" in await h.say(WORK, "王芳", "/dayoff")
    assert "/dayoff 2026-12-24" in await h.say(WORK, "王芳", "/dayoff 2月30日")


async def test_a_day_off_on_a_rotation_that_does_not_skip_says_it_has_no_effect(h: Harness) -> None:
    await h.say(WORK, "王芳", "/rota_set 周 2026-11-23 @liumin @chenjing @yangxiulan")
    before = await h.say(WORK, "刘敏", "/rota 4")
    text = await h.say(WORK, "王芳", "/dayoff 2026-11-25")
    assert "已记下 2026年11月25日" in text and "照常有人值班" in text and "跳过节假日" in text
    assert await h.say(WORK, "刘敏", "/rota 4") == before


async def test_rota_set_button_flow_in_a_private_chat(h: Harness) -> None:
    calls = await h.send(1001, "王芳", "/rota_set")
    first = calls[-1]
    assert "第 1 步" in first.text and first.chat_id == 1001
    await h.press("王芳", first, 0)  # 每天
    await h.press("王芳", first, 1)  # 明天
    step3 = h.api.messages[(1001, first.result["message_id"])]
    names = [b["text"] for row in step3["reply_markup"]["inline_keyboard"] for b in row]
    await h.press("王芳", first, names.index("陈静"))
    step3 = h.api.messages[(1001, first.result["message_id"])]
    names = [b["text"] for row in step3["reply_markup"]["inline_keyboard"] for b in row]
    done = await h.press("王芳", first, names.index("✅ 完成"))
    assert any("轮值表已设置：每日轮换，08:00 交接，从 11月24日 起，共 1 人" in c.text for c in done)
    assert "只有本组织的主席、副主席" in await h.say(1004, "刘敏", "/rota_set")


async def test_rota_set_bad_handoff_time_is_named(h: Harness) -> None:
    text = await h.say(WORK, "王芳", "/rota_set 日 2026-11-30 @liumin @chenjing 25:00")
    assert "交接时间看不懂：25:00" in text and "08:30" in text
    assert "交接时间看不懂：8:75" in await h.say(WORK, "王芳", "/rota_set 日 2026-11-30 @liumin 8:75")
    assert "1. 11月23日 赵霞" in await h.say(WORK, "刘敏", "/rota 1")


async def test_assign_without_a_person_shows_the_form(h: Harness) -> None:
    text = await h.say(WORK, "王芳", "/assign 11月25日")
    assert "请这样写：/assign 日期 @用户名" in text and "没有找到" not in text


async def test_swap_not_yours_names_the_day_in_chinese(h: Harness) -> None:
    text = await h.say(WORK, "黄丽娟", "/swap @chenjing 2026-11-25")
    assert "11月25日 所在的那一班不是您值班" in text and "2026-11-25" not in text


async def test_a_ledger_longer_than_one_message_is_split_not_cut(h: Harness) -> None:
    body = "<b>&</b>🌸" + "长" * 1500
    for i in range(6):
        assert "已记入台账" in await h.say(WORK, "赵霞", f"/log 走访 第{i}条 {body}")
    calls = [c for c in await h.send(WORK, "刘敏", "/ledger") if c.method == "sendMessage"]
    assert len(calls) >= 3 and all(len(c.text) <= 4096 for c in calls)
    joined = "\n".join(c.text for c in calls)
    assert all(f"第{i}条 &lt;b&gt;&amp;&lt;/b&gt;🌸" in joined for i in range(6))
    assert joined.count("长") == 6 * 1500 and "<b>&</b>" not in joined


async def test_a_second_swap_for_the_same_shift_waits_for_the_first(h: Harness) -> None:
    await h.say(WORK, "黄丽娟", "/swap @chenjing 11月24日")
    assert "对方还没回复" in await h.say(WORK, "黄丽娟", "/swap @liumin 11月24日")


def test_a_month_without_a_year_is_the_most_recent_one_that_has_started() -> None:
    from datetime import date

    from handlers.duty import parse_month

    january = date(2027, 1, 15)
    assert parse_month("12月", january) == (2026, 12)  # not December of the coming year
    assert parse_month("1月", january) == (2027, 1)
    assert parse_month("１２月", january) == (2026, 12)  # full-width digits
    assert parse_month("2027年12月", january) == (2027, 12)  # a year given is kept
    assert parse_month("", january) == (2027, 1)
    assert parse_month("13月", january) is None


async def test_full_width_at_and_digits_from_chinese_input_methods(fresh: Harness) -> None:
    await fresh.say(WORK, "王芳", "/setup 新村妇联")
    await fresh.say(WORK, "刘敏", "你好")
    assert "已把" in await fresh.say(WORK, "王芳", "/addmember ＠liumin")
    text = await fresh.say(WORK, "王芳", "/rota_set 周 ２０２６-１１-１６ ＠liumin 王芳")
    assert "共 2 人" in text


async def test_traditional_categories_roles_and_names_are_understood(h: Harness) -> None:
    logged = await h.say(WORK, "赵霞", "/log 走訪 看望3組獨居老人")
    assert "走访" in logged and "其他" not in logged
    assert "陈静" in await h.say(WORK, "王芳", "/setrole 陳靜 副主席")


async def test_a_rotation_set_on_the_day_of_its_first_handoff_gets_no_eve_notice(tmp_path: Path) -> None:
    from bot.config import from_mapping
    from bot.demo import load_world
    from tests.harness import make_harness

    world = load_world()
    config = from_mapping({"admins": {"super_admins": world.super_admins},
                           "duty": {"handoff_time": "21:00", "notice_time": "20:00"}}, env={})
    h = await make_harness(tmp_path, demo=False, config=config)
    try:
        await h.say(WORK, "王芳", "/setup 新村妇联")
        await h.say(WORK, "刘敏", "你好")
        await h.say(WORK, "王芳", "/addmember @liumin")
        await h.say(WORK, "王芳", "/rota_set 天 2026-11-23 @liumin 王芳")  # 09:00; first hand-off 21:00 today
        calls = await h.advance_to(datetime(2026, 11, 23, 21, 0, tzinfo=SH))
        texts = [c.text for c in calls if c.chat_id == WORK]
        assert not any("明天起轮值：<b>刘敏</b>" in t for t in texts)  # her shift starts today, not tomorrow
        assert any("今日轮值执委：<b>刘敏</b>" in t for t in texts)  # the hand-off notice at 21:00
        assert any("明天起轮值：<b>王芳</b>" in t for t in texts)  # the next eve is right
    finally:
        await h.app.shutdown()
        await h.db.close()


async def test_the_same_log_twice_is_recorded_once_unless_she_means_it(h: Harness) -> None:
    first = await h.say(WORK, "赵霞", "/log 走访 看望3组独居老人")
    assert "已记入台账" in first
    calls = await h.send(WORK, "赵霞", "/log 走访 看望3组独居老人")  # a retry after a lost reply
    repeat = next(c for c in calls if c.chat_id == WORK)
    assert "刚才已经记下了" in repeat.text
    stranger = await h.press("刘敏", repeat, 0)  # not hers: nothing happens
    assert any(c.params.get("show_alert") for c in stranger)
    again = await h.press("赵霞", repeat, 0)
    assert any("已记入台账" in c.text for c in again)
    ledger = await h.say(WORK, "赵霞", "/ledger")
    assert ledger.count("看望3组独居老人") == 2


async def test_a_wrong_date_gets_one_error_with_the_commands_own_examples(h: Harness) -> None:
    text = await h.say(WORK, "刘敏", "/leave 下下下个月")
    assert "没看懂“下下下个月”是哪一天" in text and "/leave 12月1日" in text
    assert "10分钟后" not in text and "每周一9点" not in text  # no reminder examples in /leave


async def test_dayoff_in_the_past_is_refused_and_changes_no_shift(h: Harness) -> None:
    await h.say(WORK, "王芳", "/rota_set 日 2026-11-16 @liumin @chenjing 杨秀兰 跳过节假日")
    before = await h.say(WORK, "王芳", "/rota 5")
    for day in ("2026-11-18", "今天"):
        text = await h.say(WORK, "王芳", f"/dayoff {day}")
        assert "已经过去" in text and "设为本地休息日" not in text
    assert await h.say(WORK, "王芳", "/rota 5") == before
    assert "设为本地休息日" in await h.say(WORK, "王芳", "/dayoff 2026-12-24")
