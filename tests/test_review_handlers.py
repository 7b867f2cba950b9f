"""Handler tests for the 述职考评 (demo org 青石村妇联; clock starts Mon 2026-11-23 09:00 Shanghai;
daily rotation 赵霞 11-23, 黄丽娟 11-24, 周红 11-25 …, handoff 08:00)."""

from __future__ import annotations

import hmac
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from telegram import Update

from bot.fake_api import ApiCall
from bot.simulator import Persona
from tests.harness import PG_HARNESS, PUBLIC, WORK, Harness

pytestmark = pytest.mark.handler

SH = ZoneInfo("Asia/Shanghai")
ID = {"王芳": 1001, "李秀英": 1002, "张丽": 1003, "刘敏": 1004, "陈静": 1005, "杨秀兰": 1006, "赵霞": 1007,
      "黄丽娟": 1008, "周红": 1009, "吴桂英": 1010, "徐萍": 1011}
STRANGER = Persona(5555, "陌生人", "stranger_x")
ROOT = Path(__file__).resolve().parent.parent


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SH)


async def pm(h: Harness, who: str, text: str) -> str:
    """Say something in her private chat; the bot's answers joined."""
    return await h.say(ID[who], who, text)


async def start(h: Harness, deadline: str = "11月25日前", period: str = " 从今天") -> str:
    """The cycle most tests use: activity counted from today (the demo's past trainings left out)."""
    return await pm(h, "王芳", f"/review_start 2026年度述职 {deadline}{period}")


def sent_to(calls: list[ApiCall], chat_id: int) -> list[str]:
    return [c.text for c in calls if c.method == "sendMessage" and c.chat_id == chat_id]


async def rows(h: Harness, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    async with h.db.read() as conn:
        cur = await conn.execute(sql, args)
        return [tuple(r) for r in await cur.fetchall()]


# --- groups only ever get a button to the private chat --------------------------------------------


async def test_review_commands_in_a_group_answer_with_a_private_button(h: Harness) -> None:
    await start(h)
    for chat, who in ((WORK, "王芳"), (PUBLIC, "王芳"), (WORK, "刘敏")):
        for text in ("/review_start 年度述职 12月31日前", "/report 我的报告", "/rate", "/myreview", "/review_status",
                     "/score 刘敏 90", "/adjust 刘敏 +2 表彰", "/review_close", "/review_config"):
            calls = await h.send(chat, who, text)
            assert len(calls) == 1, (chat, text)
            call = calls[0]
            assert call.chat_id == chat and "只在私聊里办" in call.text
            button = call.params["reply_markup"]["inline_keyboard"][0][0]
            assert button["url"] == "https://t.me/zhiwei_helper_bot?start=review_1"
    # Nothing was changed from the group: the report was not stored, no score given.
    assert await rows(h, "SELECT * FROM review_reports") == []
    assert await rows(h, "SELECT * FROM review_scores") == []


async def test_start_review_in_private_explains_what_to_do(h: Harness) -> None:
    await start(h)
    text = await pm(h, "刘敏", "/start review_1")
    assert "正在进行：「2026年度述职」" in text and "/report" in text and "/rate" in text
    assert "述职报告 — · 民主测评已评 0/10 位" in text
    assert "/review_close" not in text
    chair = await pm(h, "王芳", "/start review")
    assert "/review_close" in chair
    assert "您好，我是" in await pm(h, "刘敏", "/start")  # the plain greeting is untouched


# --- /review_start ------------------------------------------------------------------------------


async def test_review_start_asks_everyone_privately_through_the_outbox(h: Harness) -> None:
    calls = await h.send(ID["王芳"], "王芳", "/review_start 2026年度述职 12月31日前")
    text = calls[0].text
    assert calls[0].chat_id == ID["王芳"]
    assert "已开始「2026年度述职」（青石村妇联），共 11 位执委参加" in text
    assert "2026年12月31日 23:59" in text
    calls += await h.tick()  # sent right after the command (or at the latest on the next tick)
    for name, user_id in ID.items():
        mine = [x for x in sent_to(calls, user_id) if "述职考评开始了" in x]
        assert len(mine) == 1 and f"{name}，您好！「2026年度述职」述职考评开始了" in mine[0], name
        assert "https://t.me/zhiwei_helper_bot?start=review_1" in mine[0]
    group = [x for x in sent_to(calls, WORK) if "述职" in x]
    assert len(group) == 1 and "共 11 位执委参加" in group[0]
    assert not any(c.chat_id == PUBLIC for c in calls if c.method == "sendMessage")
    assert not any("述职" in c.text for c in await h.tick())  # sent once
    audit = await rows(h, "SELECT action FROM audit_log WHERE action = 'review.start'")
    assert audit == [("review.start",)]


async def test_review_start_deadline_forms_and_period(h: Harness) -> None:
    assert "2026年12月31日 23:59" in await start(h, "2026-12-31", "")
    assert "还没结束，同一时间只能进行一次" in await start(h, "12月31日前", "")
    cycle = (await rows(h, "SELECT period_start, deadline, period_end FROM review_cycles"))[0]
    # the review's year: activity counted from 1 January (Shanghai), not from the day it was started
    assert cycle == ("2025-12-31T16:00:00+00:00", "2026-12-31T15:59:00+00:00", None)


async def test_review_period_defaults_to_its_year_or_the_last_cycle(h: Harness) -> None:
    # a year already over: that year only, its last day shown
    past = await pm(h, "王芳", "/review_start 2025年度述职 12月31日前")
    assert "从 2025年1月1日 00:00 算起，到 2025年12月31日 为止" in past
    assert (await rows(h, "SELECT period_start, period_end FROM review_cycles")) == [
        ("2024-12-31T16:00:00+00:00", "2025-12-31T16:00:00+00:00")]
    await pm(h, "王芳", "/review_close 确定")
    text = await start(h, period="")  # a period of 2025 does not shorten 2026's
    assert "活动数据（值班、培训、台账、任务）从 2026年1月1日 00:00 算起，到截止或结束时为止" in text
    assert "要改，请发送 /review_start 从 2026-01-01 到 2026-12-31" in text
    await pm(h, "王芳", "/review_close 确定")
    # a second cycle the same year counts from the end of the first one's period (its close)
    second = await pm(h, "王芳", "/review_start 2026年下半年述职 12月31日前")
    assert "活动数据（值班、培训、台账、任务）从 2026年11月23日 09:00 算起" in second


async def test_review_period_set_at_start_or_changed_while_open(h: Harness) -> None:
    text = await pm(h, "王芳", "/review_start 2026年度述职 12月31日前 从 2026-03-01 到 2026-10-31")
    assert "已开始「2026年度述职」" in text and "从 2026年3月1日 00:00 算起，到 2026年10月31日 为止" in text
    changed = await pm(h, "王芳", "/review_start 从1月1日到12月31日")
    assert "「2026年度述职」的活动数据改为从 2026年1月1日 00:00 算起，到 2026年12月31日 为止" in changed
    assert (await rows(h, "SELECT period_start, period_end FROM review_cycles")) == [
        ("2025-12-31T16:00:00+00:00", "2026-12-31T16:00:00+00:00")]
    assert "只有主席" in await pm(h, "刘敏", "/review_start 从1月1日")
    no_day = await pm(h, "王芳", "/review_start 从 2026-02-30")
    assert "“2026-02-30”这个日期不存在" in no_day and "看不懂" not in no_day
    assert "结束日子比开始的还早" in await pm(h, "王芳", "/review_start 从 2026-06-01 到 2026-03-01")
    assert "日期看不懂：某天" in await pm(h, "王芳", "/review_start 从某天")
    assert "还没到" in await pm(h, "王芳", "/review_start 从 2026-12-25")
    audit = await rows(h, "SELECT action FROM audit_log WHERE action LIKE 'review.%' ORDER BY id")
    assert audit == [("review.start",), ("review.period",)]
    await pm(h, "王芳", "/review_close 确定")
    assert "现在没有进行中的述职考评，不能改" in await pm(h, "王芳", "/review_start 从1月1日")


async def test_review_start_with_a_period_start(tmp_path: Path) -> None:
    from tests.harness import make_harness

    h = await make_harness(tmp_path)
    try:
        text = await pm(h, "王芳", "/review_start 2026 年度 述职 年底前 从1月1日")
        assert "已开始「2026 年度 述职」" in text and "从 2026年1月1日 00:00 算起" in text
    finally:
        await h.app.shutdown()
        await h.db.close()


async def test_review_start_refusals(h: Harness) -> None:
    assert "请这样开始述职考评" in await pm(h, "王芳", "/review_start")
    assert "请这样开始述职考评" in await pm(h, "王芳", "/review_start 年度述职")
    assert "截止时间看不懂" in await pm(h, "王芳", "/review_start 年度述职 下辈子")
    assert "已经过去了" in await pm(h, "王芳", "/review_start 年度述职 2026-11-01")
    assert "不能是「每天、每周」" in await pm(h, "王芳", "/review_start 年度述职 每周一9点")
    assert "名称太长了" in await pm(h, "王芳", "/review_start " + "很" * 50 + " 12月31日前")
    assert "只有主席" in await pm(h, "李秀英", "/review_start 年度述职 12月31日前")
    assert "只有主席" in await pm(h, "刘敏", "/review_start 年度述职 12月31日前")
    assert "不是任何组织的执委" in await h.say(STRANGER.user_id, STRANGER, "/review_start 年度述职 12月31日前")
    assert await rows(h, "SELECT * FROM review_cycles") == []


# --- /report ------------------------------------------------------------------------------------


async def document(h: Harness, who: str, caption: str, name: str = "述职报告.docx") -> list[ApiCall]:
    message = h.factory.message_dict(ID[who], h.person(who), "")
    del message["text"]
    message["document"] = {"file_id": f"DOC-{who}", "file_unique_id": f"u-{who}", "file_name": name}
    message["caption"] = caption
    message["caption_entities"] = [{"type": "bot_command", "offset": 0, "length": 7}]
    before = len(h.api.calls)
    await h.app.process_update(Update.de_json({"update_id": 99000 + len(h.api.calls), "message": message},
                                              h.app.bot))
    return h.api.calls[before:]


async def test_report_submit_replace_append_document_and_show(h: Harness) -> None:
    await start(h)
    assert "还没有进行中" not in await pm(h, "刘敏", "/report")
    long_text = "今年我走访了独居老人和留守妇女。" * 250  # 4000 characters
    first = await pm(h, "刘敏", f"/report {long_text}")
    assert "述职报告已收到（4000 字）" in first
    appended = await pm(h, "刘敏", "/report 续 另外组织了三八节活动。")
    assert "现在一共 4012 字" in appended
    calls = await document(h, "刘敏", "/report")
    assert "📎 附件：述职报告.docx" in calls[-1].text
    replaced = await pm(h, "刘敏", "/report <b>新的</b> & 报告")
    assert "已更新为新的内容（14 字）" in replaced and "📎 附件：述职报告.docx" in replaced
    shown = await h.send(ID["刘敏"], "刘敏", "/report")
    assert "&lt;b&gt;新的&lt;/b&gt; &amp; 报告" in shown[0].text
    assert [c.params["document"] for c in shown if c.method == "sendDocument"] == ["DOC-刘敏"]
    stored = await rows(h, "SELECT content, file_id, file_name FROM review_reports")
    assert stored == [("<b>新的</b> & 报告", "DOC-刘敏", "述职报告.docx")]


async def test_report_after_the_deadline_is_refused_politely(h: Harness) -> None:
    await start(h)
    await pm(h, "刘敏", "/report 第一版")
    await h.advance_to(at(26, 0, 5), step=__import__("datetime").timedelta(hours=6))
    text = await pm(h, "刘敏", "/report 第二版")
    assert "已经在 2026年11月25日 23:59 截止了，不能再提交或修改" in text
    assert await rows(h, "SELECT content FROM review_reports") == [("第一版",)]
    calls = await document(h, "陈静", "/report")
    assert "截止了" in calls[-1].text


async def test_report_refusals(h: Harness) -> None:
    assert "没有进行中" in await pm(h, "刘敏", "/report 我的报告")
    await start(h)
    too_long = await pm(h, "刘敏", "/report " + "字" * 20001)
    assert "报告太长了（20001 字），最多 20000 字" in too_long
    assert "不是任何组织的执委" in await h.say(STRANGER.user_id, STRANGER, "/report 我也写")


async def test_reminders_go_only_to_those_who_have_not_submitted(h: Harness) -> None:
    from datetime import timedelta

    await start(h, "11月28日前")  # 23:59 on 11-28: reminders on 11-25 23:59 and 11-27 23:59
    await h.tick()
    await pm(h, "刘敏", "/report 已交")
    calls = await h.advance_to(at(26, 0, 30), step=timedelta(hours=1))
    reminded = {c.chat_id for c in calls if c.method == "sendMessage" and "还没有提交" in c.text}
    assert reminded == set(ID.values()) - {ID["刘敏"]}
    assert any("还有 3 天截止" in c.text for c in calls if c.chat_id == ID["陈静"])
    await pm(h, "陈静", "/report 我也交了")
    calls = await h.advance_to(at(28, 0, 30), step=timedelta(hours=1))
    again = {c.chat_id for c in calls if c.method == "sendMessage" and "还没有提交" in c.text}
    assert again == set(ID.values()) - {ID["刘敏"], ID["陈静"]}
    assert all("还有 1 天截止" in c.text for c in calls if "还没有提交" in c.text)
    calls = await h.advance_to(at(29, 9), step=timedelta(hours=1))
    assert not any("还没有提交" in c.text for c in calls)
    chair = [x for x in sent_to(calls, ID["王芳"]) if "述职" in x]
    assert len(chair) == 1 and "已经截止：2/11 人提交了" in chair[0]


# --- democratic rating --------------------------------------------------------------------------


async def test_rate_with_buttons_changes_do_not_add(h: Harness) -> None:
    await start(h)
    calls = await h.send(ID["刘敏"], "刘敏", "/rate")
    card = calls[-1]
    assert "请为 <b>王芳</b>（主席）评定等次" in card.text and "已评 0/10 位" in card.text
    labels = [b["text"] for row in card.params["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == ["优秀", "称职", "基本称职", "不称职", "📋 全部同事"]
    pressed = await h.press("刘敏", card, 1)  # 称职 for 王芳
    assert any(c.method == "answerCallbackQuery" and "已记录：王芳 称职" in c.params.get("text", "") for c in pressed)
    now = h.api.messages[(ID["刘敏"], card.result["message_id"])]
    assert "请为 <b>李秀英</b>" in now["text"] and "已评 1/10 位" in now["text"]
    # Change 王芳 from 称职 to 优秀 through the list: still one rating.
    await h.press("刘敏", card, 4)  # 全部同事
    listing = h.api.messages[(ID["刘敏"], card.result["message_id"])]
    names = [b["text"] for row in listing["reply_markup"]["inline_keyboard"] for b in row]
    assert names[0] == "王芳 · 称职" and names[1] == "李秀英 · 未评"
    assert "刘敏" not in " ".join(names)  # never herself
    await h.press("刘敏", card, 0)
    again = h.api.messages[(ID["刘敏"], card.result["message_id"])]
    assert "您现在选的是：称职" in again["text"]
    await h.press("刘敏", card, 0)  # 优秀
    assert await rows(h, "SELECT ratee_id, choice FROM review_ratings") == [(1, 0)]
    changed = await pm(h, "刘敏", "/rate 王芳 基本称职")
    assert "已改为：王芳 基本称职" in changed
    assert await rows(h, "SELECT ratee_id, choice FROM review_ratings") == [(1, 2)]
    assert "已记录：陈静 称职" in await pm(h, "刘敏", "/rate @chenjing 称职")
    assert await rows(h, "SELECT count(*) FROM review_ratings") == [(2,)]


async def test_rating_herself_and_bad_ratings_are_refused(h: Harness) -> None:
    await start(h)
    assert "不能给自己评定" in await pm(h, "刘敏", "/rate 刘敏 优秀")
    assert "等次看不懂：很好" in await pm(h, "刘敏", "/rate 陈静 很好")
    assert "「2026年度述职」的参加人员里没有「路人」" in await pm(h, "刘敏", "/rate 路人 优秀")
    # A forged button for herself is refused too.
    card = (await h.send(ID["刘敏"], "刘敏", "/rate"))[-1]
    before = len(h.api.calls)
    await h.app.process_update(h.factory.callback(h.person("刘敏"), card.result, "rv:g:1:4:0"))
    assert any("不能给自己评定" in c.params.get("text", "") for c in h.api.calls[before:])
    assert await rows(h, "SELECT count(*) FROM review_ratings") == [(0,)]
    assert "不是任何组织的执委" in await h.say(STRANGER.user_id, STRANGER, "/rate")


async def test_rating_after_close_is_refused(h: Harness) -> None:
    await start(h)
    card = (await h.send(ID["刘敏"], "刘敏", "/rate"))[-1]
    await pm(h, "王芳", "/review_close 确定")
    pressed = await h.press("刘敏", card, 0)
    assert any("已经结束，测评不能再修改" in c.params.get("text", "") for c in pressed)
    assert "「2026年度述职」已经结束了" in await pm(h, "刘敏", "/rate")
    assert "已经结束了" in await pm(h, "刘敏", "/rate 陈静 优秀")
    assert await rows(h, "SELECT count(*) FROM review_ratings") == [(0,)]


# --- chair score and adjustments ----------------------------------------------------------------


async def test_score_and_adjust_rules(h: Harness) -> None:
    await start(h)
    assert "已给 <b>刘敏</b> 评分：88" in await pm(h, "王芳", "/score @liumin 88 走访认真")
    assert "已把 <b>刘敏</b> 的评分改为：86.5" in await pm(h, "王芳", "/score 刘敏 86.5 台账齐全")
    assert "不能给自己评分" in await pm(h, "王芳", "/score 王芳 99")
    assert "不能给自己评分" in await pm(h, "李秀英", "/score 李秀英 99")
    assert "已给 <b>王芳</b> 评分：95" in await pm(h, "李秀英", "/score 王芳 95")
    assert "已给 <b>张丽</b> 评分：80" in await pm(h, "李秀英", "/score 张丽 80")
    assert "只有本组织的主席、副主席" in await pm(h, "刘敏", "/score 陈静 100")
    assert "分数看不懂：101" in await pm(h, "王芳", "/score 刘敏 101")
    assert "分数看不懂：八十" in await pm(h, "王芳", "/score 刘敏 八十")
    assert "请这样评分" in await pm(h, "王芳", "/score")
    assert "参加人员里没有「路人」" in await pm(h, "王芳", "/score 路人 80")
    assert "已为 <b>刘敏</b> 记 +2 分（获县级表彰）" in await pm(h, "王芳", "/adjust 刘敏 +2 获县级表彰")
    both = await pm(h, "王芳", "/adjust @liumin -1.5 无故缺席例会")
    assert "她这次的加减分：+2（获县级表彰）；-1.5（无故缺席例会）" in both
    assert "请这样加减分" in await pm(h, "王芳", "/adjust 刘敏 +2")
    assert "分数看不懂：2" in await pm(h, "王芳", "/adjust 刘敏 2 理由")
    assert "不能给自己评分" in await pm(h, "王芳", "/adjust 王芳 +2 自己加")
    assert "已为 <b>王芳</b> 记 +2 分（协助县妇联）" in await pm(h, "张丽", "/adjust 王芳 +2 协助县妇联")
    scores = await rows(h, "SELECT member_id, score, comment FROM review_scores ORDER BY member_id")
    assert scores == [(1, "95", ""), (3, "80", ""), (4, "86.5", "台账齐全")]
    audit = await rows(h, "SELECT action FROM audit_log WHERE action LIKE 'review.%' ORDER BY id")
    assert [a for (a,) in audit] == ["review.start", "review.score", "review.score", "review.score",
                                     "review.score", "review.adjust", "review.adjust", "review.adjust"]


async def test_a_second_chair_cannot_score_the_chair(h: Harness) -> None:
    await start(h)
    await h.say(WORK, "王芳", "/setrole 张丽 主席")
    assert "主席的评分要由副主席或超级管理员来打" in await pm(h, "张丽", "/score 王芳 90")
    assert "主席的评分要由副主席或超级管理员来打" in await pm(h, "王芳", "/adjust 张丽 +1 协助")


async def test_a_super_admin_scores_the_chair_via_the_group_button(h: Harness) -> None:
    await start(h)
    admin = h.person("县妇联周主任")
    assert "请在命令后面先写组织名称" in await h.say(admin.user_id, admin, "/score 王芳 93")
    await h.say(admin.user_id, admin, "/start review_1")
    assert "已给 <b>王芳</b> 评分：93" in await h.say(admin.user_id, admin, "/score 王芳 93")


async def test_without_a_vice_chair_the_county_names_the_org_and_scores_the_chair(h: Harness) -> None:
    await start(h)
    await h.say(WORK, "王芳", "/setrole 李秀英 执委")
    await h.say(WORK, "王芳", "/setrole 张丽 执委")
    refused = await pm(h, "王芳", "/score 王芳 99")
    assert "不能给自己评分" in refused and "/score 组织名称 姓名 分数" in refused
    ask = await pm(h, "王芳", "/review_close")
    assert "请她私聊我发送 /score 青石村妇联 王芳 分数" in ask
    admin = h.person("县妇联周主任")
    assert "请在命令后面先写组织名称" in await h.say(admin.user_id, admin, "/score 王芳 93")
    done = await h.say(admin.user_id, admin, "/score 青石村妇联 王芳 93 带头示范")
    assert "已给 <b>王芳</b> 评分：93" in done and "点评：带头示范" in done
    assert await rows(h, "SELECT score, comment FROM review_scores") == [("93", "带头示范")]
    # the organisation is remembered for the next commands
    assert "已把 <b>王芳</b> 的评分改为：94" in await h.say(admin.user_id, admin, "/score 王芳 94")
    status = await h.say(admin.user_id, admin, "/review_status 青石村妇联")
    assert "「2026年度述职」进度" in status and "1. 王芳（主席）报告 — · 测评 0/10 · 评分 ✅" in status
    assert "本组织没有副主席" not in await pm(h, "王芳", "/review_close")


async def test_scoring_after_close_is_refused(h: Harness) -> None:
    await start(h)
    await pm(h, "王芳", "/score 刘敏 88")
    await pm(h, "王芳", "/review_close 确定")
    assert "已经结束了" in await pm(h, "王芳", "/score 刘敏 99")
    assert "已经结束了" in await pm(h, "王芳", "/adjust 刘敏 +1 补记")
    assert await rows(h, "SELECT score FROM review_scores") == [("88",)]


# --- status, close, results ---------------------------------------------------------------------


async def test_status_shows_counts_never_who_rated_whom(h: Harness) -> None:
    await start(h)
    await pm(h, "刘敏", "/report 报告")
    await pm(h, "刘敏", "/rate 陈静 不称职")
    await pm(h, "王芳", "/score 陈静 70")
    text = await pm(h, "王芳", "/review_status")
    assert "4. 刘敏（执委）报告 ✅ · 测评 1/10 · 评分 —" in text
    assert "5. 陈静（执委）报告 — · 测评 0/10 · 评分 ✅" in text
    assert "收到测评共 1 份" in text
    assert "不称职" not in text
    assert "只有本组织的主席、副主席" in await pm(h, "刘敏", "/review_status")
    report = await pm(h, "李秀英", "/review_status 刘敏")
    assert "「2026年度述职」述职报告 · 刘敏" in report and "报告" in report
    assert "陈静 还没有提交" in await pm(h, "王芳", "/review_status @chenjing")


async def test_myreview_shows_only_her_own(h: Harness) -> None:
    await start(h)
    assert "只能看自己的" in await pm(h, "刘敏", "/myreview 陈静")
    progress = await pm(h, "刘敏", "/myreview")
    assert "「2026年度述职」正在进行" in progress and "已评 0/10 位" in progress
    await pm(h, "王芳", "/score 刘敏 88 走访认真")
    await pm(h, "王芳", "/score 陈静 62")
    await pm(h, "王芳", "/review_close 确定")
    mine = await pm(h, "刘敏", "/myreview")
    assert "您的考评结果" in mine and "总分 <b>88.0</b> · 称职 · 误工补贴 960.00 元" in mine
    assert "点评：走访认真" in mine
    weights_line = next(line for line in mine.splitlines() if "本次计算用的权重" in line)
    assert "主席评分" in weights_line  # never an empty "本次计算用的权重："
    assert "陈静" not in mine and "62" not in mine
    assert "只能看自己的" in await pm(h, "王芳", "/myreview 陈静")


async def test_grade_and_rating_labels_in_traditional_under_zh_tw(h: Harness) -> None:
    await start(h)
    await pm(h, "刘敏", "/lang zh_tw")
    calls = await h.send(ID["刘敏"], "刘敏", "/rate")
    buttons = [b["text"] for row in calls[-1].params["reply_markup"]["inline_keyboard"] for b in row]
    assert "優秀" in buttons and "不稱職" in buttons and "不称职" not in buttons
    saved = await pm(h, "刘敏", "/rate 陈静 優秀")  # typed in Traditional, stored as 优秀
    assert "已記錄：陈静 優秀" in saved
    assert "优秀" not in saved
    await pm(h, "王芳", "/score 刘敏 88")
    await pm(h, "王芳", "/review_close 确定")
    mine = await pm(h, "刘敏", "/myreview")
    assert "稱職" in mine and "称职" not in mine
    assert "不称职" not in await pm(h, "刘敏", "/review_config")


async def test_close_asks_first_and_can_be_kept_open(h: Harness) -> None:
    await start(h)
    calls = await h.send(ID["王芳"], "王芳", "/review_close")
    ask = calls[-1]
    assert "确定要结束「2026年度述职」吗" in ask.text and "<b>王芳、李秀英、张丽" in ask.text
    assert "没有主席评分（这一项不计" in ask.text and "现在结束就是「未评定」，不定等次、不发误工补贴" in ask.text
    kept = await h.press("王芳", ask, 1)
    assert any("继续进行" in c.text for c in kept)
    assert await rows(h, "SELECT status FROM review_cycles") == [("open",)]
    assert "只有主席" in await pm(h, "李秀英", "/review_close")
    done = await h.press("王芳", ask, 0)
    assert any("已结束" in c.text for c in done)
    assert await rows(h, "SELECT status FROM review_cycles") == [("closed",)]
    assert "「2026年度述职」已经结束了" in await pm(h, "王芳", "/review_close")


async def test_close_says_per_person_what_closing_now_means(h: Harness) -> None:
    await start(h)
    await h.say(WORK, "王芳", "/setrole 李秀英 执委")
    await h.say(WORK, "王芳", "/setrole 张丽 执委")  # no vice chair left: nobody in the roster can score the chair
    await pm(h, "王芳", "/score 刘敏 88")
    await pm(h, "刘敏", "/report 报告")
    for rater in ("李秀英", "陈静", "张丽"):
        await pm(h, rater, f"/rate 刘敏 {'优秀'}")
    await pm(h, "王芳", "/score 陈静 70")
    await pm(h, "陈静", "/report 报告")
    await pm(h, "王芳", "/score 赵霞 80")
    ask = await pm(h, "王芳", "/review_close")
    lines = ask.splitlines()
    assert not any("刘敏" in line for line in lines)  # nothing missing: not listed
    chair = next(line for line in lines if line.startswith("· <b>王芳</b>"))
    assert "本组织没有副主席，主席的分只能由县妇联的超级管理员来打" in chair
    # 陈静: scored and reported, two few ratings: what closing now gives her (no rating is involved)
    chen = lines.index(next(line for line in lines if line.startswith("· <b>陈静</b>")))
    assert lines[chen] == "· <b>陈静</b>：民主测评不到 3 人评（这一项不计）"
    assert lines[chen + 1] == "   → 现在结束：总分 70.0 · 基本称职 · 误工补贴 600.00 元"
    zhao = next(line for line in lines if line.startswith("· <b>赵霞</b>"))
    assert "民主测评不到 3 人评" in zhao and "没交述职报告（结束后不能再交）" in zhao
    nobody = lines.index(next(line for line in lines if line.startswith("· <b>李秀英、张丽")))
    assert "没有主席评分（这一项不计，权重分给其他项）" in lines[nobody]
    assert lines[nobody + 1] == ("   → 一项能算分的都没有：现在结束就是「未评定」，不定等次、不发误工补贴；"
                                 "打上主席评分就能评定。")
    # the chair's table shows the weights used for each person, as /myreview does
    table = await pm(h, "王芳", "/review_close 确定")
    assert "本次计算用的权重：主席评分 0.571、民主测评 0.429" in table
    # 李秀英 and 张丽 had nothing to score: not graded, no subsidy, said so (not 不称职 with 0 yuan)
    unrated = "<b>未评定</b>：本周期主席评分、民主测评、值班、培训都没有能算分的数据，不定等次，不发误工补贴。"
    for name in ("李秀英", "张丽"):
        row = table.split(f"<b>{name}</b>（执委）")[1].splitlines()
        assert row[1].strip() == unrated
    assert "不称职" not in table and "总分按 0 计" not in table


async def test_whole_cycle_table_and_xlsx_to_the_cent(h: Harness) -> None:
    """Hand-computed (weights 0.4/0.3/0.2/0.1; no training in the period; peer counts from 3 ratings):
    王芳   chair 95 (by the vice chair)                          → 95.0 优秀   1200.00
    刘敏   chair 88, 2 ratings (too few to count)                → 88.0 称职    960.00
    赵霞   (0.4·90 + 0.3·280/3 + 0.2·100)/0.9 = 93.33 +5          → 98.3 优秀   1200.00
    黄丽娟 (0.4·80 + 0.3·220/3 + 0.2·0)/0.9 = 60.0 exactly        → 60.0 基本称职 600.00
    周红   (0.4·70 + 0.3·60 + 0.2·100)/0.9 = 73.33 +3 −1          → 75.3 称职    960.00
    徐萍   removed during the cycle                              → excluded
    the others: no data                                          → 0.0 不称职    0.00
    """
    from datetime import timedelta

    await start(h)  # deadline 11-25 23:59; the period runs 11-23 09:00 → then
    await h.say(WORK, "赵霞", "/checkin")  # her 11-23 shift: 1/1
    await h.say(WORK, "赵霞", "/log 走访 看望了独居的李奶奶")
    votes = (("李秀英", "称职", "称职"), ("张丽", "称职", "基本称职"), ("陈静", "基本称职", "不称职"))
    for rater, huang, zhou in votes:
        await pm(h, rater, f"/rate 黄丽娟 {huang}")
        await pm(h, rater, f"/rate 周红 {zhou}")
    await pm(h, "陈静", "/rate 赵霞 不称职")
    await pm(h, "陈静", "/rate 赵霞 称职")  # changed, not added
    await pm(h, "李秀英", "/rate 赵霞 优秀")
    await pm(h, "张丽", "/rate 赵霞 优秀")
    await pm(h, "李秀英", "/rate 刘敏 优秀")
    await pm(h, "张丽", "/rate 刘敏 优秀")
    await pm(h, "李秀英", "/score 王芳 95")
    for who, value in (("刘敏", "88"), ("赵霞", "90"), ("黄丽娟", "80"), ("周红", "70")):
        await pm(h, "王芳", f"/score {who} {value}")
    await pm(h, "王芳", "/adjust 赵霞 +5 获县级表彰")
    await pm(h, "王芳", "/adjust 周红 +3 组织三八节活动")
    await pm(h, "王芳", "/adjust 周红 -1 缺席例会")
    await pm(h, "王芳", "/removemember 徐萍")
    await h.advance_to(at(24, 9), step=timedelta(hours=1))  # 黄丽娟 does not check in on 11-24
    await h.advance_to(at(25, 9), step=timedelta(hours=1))
    await h.say(WORK, "周红", "/checkin")  # 11-25, still running at the deadline: counts once checked in
    await h.advance_to(at(26, 9), step=timedelta(hours=1))
    assert "已经截止" in "\n".join(sent_to(h.api.calls, ID["王芳"]))
    calls = await h.send(ID["王芳"], "王芳", "/review_close")
    ask = calls[-1]
    assert "截止时间" not in ask.text  # the deadline has passed; only what is missing is listed
    assert "· <b>李秀英、张丽、陈静、杨秀兰、吴桂英</b>：没有主席评分" in ask.text
    assert "· <b>王芳</b>：民主测评不到 3 人评（这一项不计）；没交述职报告" in ask.text
    assert "   → 现在结束：总分 95.0 · 优秀 · 误工补贴 1200.00 元" in ask.text
    assert "· <b>赵霞、黄丽娟、周红</b>：没交述职报告（结束后不能再交）\n" in ask.text  # no result: rated
    assert "徐萍" not in ask.text  # removed during the cycle
    calls = await h.press("王芳", ask, 0)
    calls += await h.tick()
    table = next(c.text for c in calls if "考评结果" in c.text and c.method == "sendMessage")
    expected = {
        "王芳": "总分 <b>95.0</b> · 优秀 · 误工补贴 1200.00 元",
        "刘敏": "总分 <b>88.0</b> · 称职 · 误工补贴 960.00 元",
        "赵霞": "总分 <b>98.3</b> · 优秀 · 误工补贴 1200.00 元",
        "黄丽娟": "总分 <b>60.0</b> · 基本称职 · 误工补贴 600.00 元",
        "周红": "总分 <b>75.3</b> · 称职 · 误工补贴 960.00 元",
        "李秀英": "<b>未评定</b>：本周期主席评分、民主测评、值班、培训都没有能算分的数据，不定等次，不发误工补贴。",
    }
    blocks = {b.split("<b>")[1].split("</b>")[0]: b for b in table.split("\n\n")[1:-1]}
    for name, line in expected.items():
        assert line in blocks[name], name
    assert "民主测评 93.3（3 人）｜值班 100.0（签到 1/1 班）" in blocks["赵霞"]
    assert "台账 1 条" in blocks["赵霞"]
    assert "加减分 +5：+5（获县级表彰）" in blocks["赵霞"]
    assert "民主测评 73.3（3 人）｜值班 0.0（签到 0/1 班）" in blocks["黄丽娟"]
    assert "民主测评 60.0（3 人）｜值班 100.0（签到 1/1 班）" in blocks["周红"]
    assert "加减分 +2：+3（组织三八节活动）；-1（缺席例会）" in blocks["周红"]
    assert "民主测评 —（2 人评，不足计入人数）" in blocks["刘敏"]
    assert "已移出名册，不参加评定" in blocks["徐萍"]
    assert "<b>误工补贴合计：4920.00 元</b>" in table
    doc = next(c for c in calls if c.method == "sendDocument")
    assert doc.chat_id == ID["王芳"]
    sheet = load_workbook(io.BytesIO(next(iter(doc.files.values())))).worksheets[0]
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][0] == "青石村妇联 2026年度述职 考评结果"
    assert values[1][:5] == ("序号", "姓名", "职务", "主席评分", "民主测评")
    assert values[1][14:18] == ("总分", "等次", "补贴系数", "误工补贴(元)")
    by_name = {r[1]: r for r in values[2:-1]}
    assert by_name["赵霞"][14:18] == (98.3, "优秀", 1, 1200)
    assert by_name["黄丽娟"][14:18] == (60, "基本称职", 0.5, 600)
    assert by_name["周红"][12:14] == (2, "+3（组织三八节活动）；-1（缺席例会）")
    assert by_name["徐萍"][14] == "已移出" and by_name["徐萍"][17] is None
    assert by_name["李秀英"][14:18] == ("未评定", None, None, None)  # nothing to score: no grade, no subsidy
    assert values[-1][1] == "合计（10人）" and values[-1][17] == 4920
    # Every member is told privately that the results are out; nothing reaches a group.
    assert {c.chat_id for c in calls if "述职考评已经结束" in c.text} == set(ID.values()) - {ID["徐萍"]}
    group_texts = [c.text for c in h.api.calls if c.method == "sendMessage" and (c.chat_id or 0) < 0]
    assert not any("98.3" in x or "总分" in x or "不称职" in x for x in group_texts)
    # The chair can ask again later; the same table comes back.
    again = await h.send(ID["王芳"], "王芳", "/review_status")
    assert any(c.text == table for c in again)


async def test_training_attendance_and_tasks_feed_the_table(h: Harness) -> None:
    """The demo's training on 11-26 14:30 (for all) and its tasks (task 1 due 11-25, owners 刘敏 陈静;
    task 2 due 11-26, 杨秀兰) fall in the period 11-23 09:00 → 11-28 23:59.
    刘敏: (0.4·80 + 0.1·100) / 0.5 = 84.0 称职; 陈静: (0.4·80 + 0.1·0) / 0.5 = 64.0 基本称职.
    刘敏's shift of 11-28 is still running at the deadline and not checked in: it does not count."""
    from datetime import timedelta

    await start(h, "11月28日前")
    await h.say(WORK, "刘敏", "/done 1 已上报")
    await h.advance_to(at(26, 15), step=timedelta(hours=1))
    assert "签到" in await h.say(WORK, "刘敏", "/attend")
    await pm(h, "王芳", "/score 刘敏 80")
    await pm(h, "王芳", "/score 陈静 80")
    await h.advance_to(at(29, 9), step=timedelta(hours=2))
    calls = await h.send(ID["王芳"], "王芳", "/review_close 确定")
    table = next(c.text for c in calls if "考评结果" in c.text)
    blocks = {b.split("<b>")[1].split("</b>")[0]: b for b in table.split("\n\n")[1:-1]}
    assert "总分 <b>84.0</b> · 称职" in blocks["刘敏"]
    assert "值班 —｜培训 100.0（出勤 1/1 次）" in blocks["刘敏"] and "按时完成任务 1/1" in blocks["刘敏"]
    assert "总分 <b>64.0</b> · 基本称职" in blocks["陈静"]
    assert "培训 0.0（出勤 0/1 次）" in blocks["陈静"] and "按时完成任务 1/1" in blocks["陈静"]
    assert "按时完成任务 0/1" in blocks["杨秀兰"]
    assert "值班 0.0（签到 0/1 班）" in blocks["赵霞"]  # her 11-23 shift, never checked in


@pytest.mark.skipif(PG_HARNESS, reason="reads the SQLite schema and file (WITHOUT ROWID, the WAL)")
async def test_anonymity_after_close_nothing_links_a_rating_to_its_rater(h: Harness) -> None:
    await start(h)
    await pm(h, "刘敏", "/rate 陈静 不称职")
    await pm(h, "杨秀兰", "/rate 陈静 优秀")
    await pm(h, "赵霞", "/rate 陈静 称职")
    (key,) = (await rows(h, "SELECT ballot_key FROM review_cycles"))[0]
    key = bytes(key)
    # While open, the bot can find 刘敏's rating (to let her change it) — through the key only.
    ids = {r[0]: r[1] for r in await rows(h, "SELECT id, choice FROM review_ratings")}
    mine = hmac.new(key, b"1:4:5", "sha256").hexdigest()
    assert ids[mine] == 3
    await pm(h, "王芳", "/review_close 确定")
    # The ratings table holds no rater, no time, no insertion order.
    columns = [r[1] for r in await rows(h, "PRAGMA table_info(review_ratings)")]
    assert columns == ["id", "cycle_id", "ratee_id", "choice"]
    schema = await rows(h, "SELECT sql FROM sqlite_master WHERE name = 'review_ratings'")
    assert "WITHOUT ROWID" in schema[0][0]
    assert sorted(r[1:] for r in await rows(h, "SELECT * FROM review_ratings")) == [(1, 5, 0), (1, 5, 1), (1, 5, 3)]
    # A copy of the key taken while the cycle was open (a backup) finds none of the final ratings:
    # every rating got a fresh random id at the close.
    final_ids = {r[0] for r in await rows(h, "SELECT id FROM review_ratings")}
    assert mine not in final_ids and not final_ids & set(ids)
    # The key is gone from the table and from the database files (overwritten, WAL checkpointed).
    assert await rows(h, "SELECT ballot_key FROM review_cycles") == [(None,)]
    files = [Path(h.db.path), Path(h.db.path + "-wal")]
    assert all(key not in f.read_bytes() for f in files if f.exists())
    # No other table says who rated whom: no rater ids next to the cycle anywhere.
    tables = [r[0] for r in await rows(h, "SELECT name FROM sqlite_master WHERE type = 'table'")]
    assert not [t for t in tables if "ballot" in t or "rater" in t]
    audit = await rows(h, "SELECT action, detail FROM audit_log")
    assert not any("rate" in action and action != "review.start" for action, _ in audit)
    assert not any("陈静" in detail and "不称职" in detail for _, detail in audit)
    outbox = await rows(h, "SELECT body FROM outbox")
    assert not any("不称职" in json.loads(body)["params"].get("choice", "") for (body,) in outbox)
    # The frozen results show the mean and the count only.
    result = json.loads((await rows(h, "SELECT data FROM review_results WHERE member_id = 5"))[0][0])
    assert (result["peer"], result["peer_count"]) == ("73.3", 3)


async def test_removed_member_cannot_be_rated_or_scored(h: Harness) -> None:
    await start(h)
    await pm(h, "王芳", "/removemember 徐萍")
    assert "不在这次考评的名单里" in await pm(h, "刘敏", "/rate 徐萍 优秀")
    assert "已经移出名册" in await pm(h, "王芳", "/score 徐萍 80")
    card = (await h.send(ID["刘敏"], "刘敏", "/rate 全部"))[-1]
    names = [b["text"] for row in card.params["reply_markup"]["inline_keyboard"] for b in row]
    assert not any("徐萍" in n for n in names) and len([n for n in names if "·" in n]) == 9
    assert "您还不是任何组织的执委" in await pm(h, "徐萍", "/rate")


# --- /review_config -----------------------------------------------------------------------------


async def test_review_config_show_override_validate_reset(h: Harness) -> None:
    shown = await pm(h, "李秀英", "/review_config")
    assert "考评标准 · 青石村妇联</b>（默认标准）" in shown
    assert "主席评分 0.4、民主测评 0.3、值班签到 0.2、培训出勤 0.1" in shown
    assert "优秀 ≥90 ×1、称职 ≥75 ×0.8、基本称职 ≥60 ×0.5、不称职 &lt;60 ×0" in shown
    assert "1200 元" in shown
    assert "只有主席" in await pm(h, "李秀英", "/review_config 补贴 1500")
    assert "只有本组织的主席、副主席" in await pm(h, "刘敏", "/review_config")
    saved = await pm(h, "王芳", "/review_config 权重 chair=0.5 peer=0.3 duty=0.1 training=0.1")
    assert "已保存" in saved and "主席评分 0.5、民主测评 0.3、值班签到 0.1、培训出勤 0.1" in saved
    assert "本组织自定" in saved
    too_much = await pm(h, "王芳", "/review_config 权重 主席=0.6 测评=0.3 值班=0.1 培训=0.1")
    assert "加起来要等于 1，现在是 1.1" in too_much
    assert "还缺：training" in await pm(h, "王芳", "/review_config 权重 chair=0.5 peer=0.3 duty=0.2")
    assert "1500 元" in await pm(h, "王芳", "/review_config 补贴 1500")
    assert "补贴金额看不懂" in await pm(h, "王芳", "/review_config 补贴 -5")
    grades = await pm(h, "王芳", "/review_config 等次 优秀>=85*1 完成任务>=60*0.6 不合格>=0*0")
    assert "优秀 ≥85 ×1、完成任务 ≥60 ×0.6、不合格 &lt;60 ×0" in grades
    upside_down = await pm(h, "王芳", "/review_config 等次 称职>=75*0.8 优秀>=90*1 差>=0*0")
    assert "「称职」的分数线要高于「优秀」" in upside_down
    assert "最后一档（「差」）的分数线要写 0" in await pm(h, "王芳", "/review_config 等次 优秀>=90*1 差>=50*0")
    assert "等次看不懂：优秀90" in await pm(h, "王芳", "/review_config 等次 优秀90")
    assert "主席可以修改本组织的标准" in await pm(h, "王芳", "/review_config 颜色 红")
    # The overrides apply to the next close.
    await start(h)
    await pm(h, "王芳", "/score 刘敏 86")
    await pm(h, "王芳", "/review_close 确定")
    mine = await pm(h, "刘敏", "/myreview")
    assert "总分 <b>86.0</b> · 优秀 · 误工补贴 1500.00 元" in mine
    audit = await rows(h, "SELECT count(*) FROM audit_log WHERE action = 'review.config'")
    assert audit == [(3,)]
    assert "默认标准" in await pm(h, "王芳", "/review_config 默认")
    assert "1200 元" in await pm(h, "王芳", "/review_config")


# --- the admin CLI ------------------------------------------------------------------------------


@pytest.mark.e2e
async def test_export_cli_writes_the_latest_closed_cycle(h: Harness, tmp_path: Path) -> None:
    import asyncio
    import subprocess
    import sys

    root = ROOT
    env = {"PATH": "/usr/bin:/bin", "BOT_DB": str(h.db.path)}
    out = tmp_path / "review.xlsx"

    def export(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot", "export", "青石村妇联", "--what", "review", *extra,
                               str(out)], capture_output=True, text=True, cwd=root, env=env)

    await start(h)
    none_yet = await asyncio.to_thread(export)
    assert none_yet.returncode == 1 and "还没有已经结束的述职考评" in none_yet.stderr
    await pm(h, "李秀英", "/score 王芳 91")
    await pm(h, "王芳", "/score 刘敏 75")
    await pm(h, "王芳", "/review_close 确定")
    done = await asyncio.to_thread(export)
    assert done.returncode == 0, done.stderr
    assert "「2026年度述职」考评结果" in done.stdout and "补贴合计 2160.00 元" in done.stdout
    sheet = load_workbook(out).worksheets[0]
    values = list(sheet.iter_rows(values_only=True))
    by_name = {r[1]: r for r in values[2:-1]}
    assert by_name["王芳"][14:18] == (91, "优秀", 1, 1200) and by_name["刘敏"][14:18] == (75, "称职", 0.8, 960)
    assert values[-1][17] == 2160
    assert load_workbook(out).worksheets[1].title == "评分标准"
    wrong = await asyncio.to_thread(export, "--cycle", "42")
    assert wrong.returncode == 1 and "没有找到这次考评：42" in wrong.stderr
    again = await asyncio.to_thread(export, "--cycle", "1")
    assert again.returncode == 0
