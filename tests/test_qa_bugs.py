"""Regressions found by using the bot like its users (QA pass): one test per bug."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest import MonkeyPatch

from bot import shell
from bot.config import from_mapping
from bot.simulator import Persona
from tests.harness import PUBLIC, WORK, Harness

pytestmark = pytest.mark.handler

STRANGER = Persona(5555, "陌生人", "stranger_x")


async def count_trainings(h: Harness) -> int:
    async with h.db.read() as conn:
        cur = await conn.execute("SELECT COUNT(*) FROM trainings")
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def test_training_add_zero_duration_is_refused(h: Harness) -> None:
    before = await count_trainings(h)
    text = await h.say(WORK, "王芳", "/training_add 明天下午3点 村委会 学习 时长0小时")
    assert "时长要在" in text
    assert await count_trainings(h) == before


async def test_faq_list_is_for_managers_like_the_other_faq_commands(h: Harness) -> None:
    for who in ("刘敏", STRANGER):
        text = await h.say(WORK, who, "/faq_list")
        assert "只有本组织的主席、副主席" in text
        assert "问答库</b>（共" not in text
    assert "问答库</b>（共" in await h.say(WORK, "李秀英", "/faq_list")
    assert "问答库</b>（共" in await h.say(1001, "王芳", "/faq_list")


async def test_save_as_faq_pressed_twice_saves_one_entry(h: Harness) -> None:
    calls = await h.send(PUBLIC, "孙小梅", "/ask 明天村里放电影吗？")
    to_duty = next(c for c in calls if c.chat_id == WORK)
    await h.press("赵霞", to_duty, 0)
    calls = await h.send(WORK, "赵霞", "晚上7点在村委会门口放")
    confirm = next(c for c in calls if c.chat_id == WORK and "已把您的回答转给提问人" in c.text)
    first = await h.press("王芳", confirm, 0)
    assert any("已存为问答" in c.text for c in first)
    second = await h.press("王芳", confirm, 0)  # a stale client still shows the button
    assert not any("已存为问答" in c.text for c in second)
    assert any("已经存为问答" in c.params.get("text", "") for c in second)
    async with h.db.read() as conn:
        cur = await conn.execute("SELECT COUNT(*) FROM faq_entries WHERE org_id IS NOT NULL")
        row = await cur.fetchone()
    assert row is not None and row[0] == 1


async def test_dayoff_in_the_past_is_refused_and_changes_no_shift(h: Harness) -> None:
    await h.say(WORK, "王芳", "/rota_set 日 2026-11-16 @liumin @chenjing 杨秀兰 跳过节假日")
    before = await h.say(WORK, "王芳", "/rota 5")
    for day in ("2026-11-18", "今天"):
        text = await h.say(WORK, "王芳", f"/dayoff {day}")
        assert "已经过去" in text and "设为本地休息日" not in text
    assert await h.say(WORK, "王芳", "/rota 5") == before
    assert "设为本地休息日" in await h.say(WORK, "王芳", "/dayoff 2026-12-24")


async def test_month_so_far_does_not_count_trainings_still_to_come(h: Harness) -> None:
    def training_line(text: str) -> str:
        return next(line for line in text.splitlines() if line.startswith("【培训】"))

    before = training_line(await h.say(WORK, "王芳", "/report_month"))
    await h.say(WORK, "王芳", "/training_add 11月28日下午2点 村委会 学习")  # later this month
    assert training_line(await h.say(WORK, "王芳", "/report_month")) == before
    assert "举办 0 场" in before


async def test_shell_advance_delivers_scheduled_messages_on_time(tmp_path: Path, monkeypatch: MonkeyPatch) -> None:
    # Start at 08:28 Shanghai: with plain 10-minute steps a 09:00 reminder went out at 09:08 and was
    # marked as sent late "because the bot was offline".
    monkeypatch.setattr(shell, "_start_time", lambda: datetime(2026, 12, 1, 0, 28, tzinfo=UTC))
    out = io.StringIO()
    script = io.StringIO(":in work\n:as 刘敏\n/remind 今天9点 交材料\n:advance 1h\n")
    await shell.run_shell(from_mapping({}, env={}), str(tmp_path / "s.db"), False, True, script, out)
    text = out.getvalue()
    assert "⏰ 提醒：交材料" in text
    assert "机器人当时不在线" not in text


async def test_forget_a_village_woman_not_on_any_roster(h: Harness) -> None:
    admin = h.person("县妇联周主任")
    await h.say(PUBLIC, "孙小梅", "妇女之家几点开门？")
    preview = await h.say(admin.user_id, admin, "/forget 2001")
    assert "删除个人信息：孙小梅" in preview
    done = await h.say(admin.user_id, admin, "/forget 2001 确认")
    assert "已删除 孙小梅 的个人信息" in done
    assert "改成 —" not in done and "名册上她的记录" not in done
    assert "没有名册记录要改" in done


async def test_none_of_these_passes_on_her_question_not_the_bots_prompt(h: Harness) -> None:
    guest = h.person("孙小梅")
    await h.say(PUBLIC, guest, "大家好")  # she belongs to 青石村 through its public group
    calls = await h.send(guest.user_id, guest, "保护令?")
    suggest = next(c for c in calls if "您是不是想问" in c.text or "您问的是不是" in c.text)
    rows = suggest.params["reply_markup"]["inline_keyboard"]
    pressed = await h.press(guest, suggest, len(rows) - 1)  # 都不是
    to_duty = next(c for c in pressed if c.chat_id == WORK)
    assert "「保护令?」" in to_duty.text
    assert "您是不是想问" not in to_duty.text and "您问的是不是" not in to_duty.text


async def test_help_footer_explains_only_the_notation_it_uses(h: Harness) -> None:
    for chat, who in ((WORK, "王芳"), (PUBLIC, "孙小梅"), (1004, "刘敏")):
        text = await h.say(chat, who, "/help")
        body, footer = text.rsplit("\n", 1)
        assert "&lt;" not in body  # no command description uses <尖括号>
        assert "尖括号" not in footer
        assert "[方括号]" in footer


async def test_help_states_the_one_rule_for_a_day_without_a_time(h: Harness) -> None:
    text = await h.say(WORK, "王芳", "/help")
    assert "截止时间（任务、述职报告）算到那天 23:59" in text and "提醒和培训是那天上午 9:00" in text
    assert "23:59" in await h.say(1004, "刘敏", "/help")  # /remind is there in private too
