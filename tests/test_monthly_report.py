"""The monthly report (月调度): scheduled on the 1st to the work group, the roll-up to super admins,
once; and /report_month on demand (clock: Mon 2026-11-23 09:00 Shanghai; demo org 青石村妇联)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.fake_api import ApiCall
from bot.simulator import Persona
from tests.harness import PUBLIC, WORK, Harness

pytestmark = pytest.mark.handler

SH = ZoneInfo("Asia/Shanghai")


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SH)


def reports(calls: list[ApiCall], chat: int) -> list[str]:
    return [c.text for c in calls if c.method == "sendMessage" and c.chat_id == chat and c.result is not None
            and ("工作月报" in c.text or "工作汇总" in c.text)]


async def test_report_goes_out_on_the_first_once_with_last_months_numbers(h: Harness) -> None:
    await h.say(WORK, "赵霞", "/checkin")  # 赵霞 is on duty on 11-23
    await h.say(WORK, "赵霞", "/log 走访 看望独居的李奶奶")
    await h.say(WORK, "赵霞", "/log 求助 帮张家媳妇联系法律援助")
    await h.say(WORK, "刘敏", "/log 走访 入户宣传两癌筛查")
    early = await h.advance_to(at(1, 8, 50, month=12), step=timedelta(hours=1))
    assert reports(early, WORK) == []
    calls = await h.advance_to(at(1, 9, 10, month=12), step=timedelta(minutes=10))
    sent = reports(calls, WORK)
    assert len(sent) == 1
    report = sent[0]
    assert "青石村妇联 2026年11月 工作月报" in report
    # Shifts in November: the demo rotation (daily, 08:00) took effect with the shift of 11-23: 23 … 30.
    assert "应值 8 班，签到 1 班，签到率 13%" in report
    assert "【台账】共 3 条" in report and "· 求助 1 条" in report and "· 走访 2 条" in report
    admin = h.world.super_admins[0]
    rollup = reports(calls, admin)
    assert len(rollup) == 1 and "2026年11月 各村（社区）妇联工作汇总（共 1 个组织）" in rollup[0]
    assert "青石村妇联：签到率 13%，台账 3 条" in rollup[0]
    later = await h.advance_to(at(2, 12, 0, month=12), step=timedelta(hours=1))
    assert reports(later, WORK) == [] and reports(later, admin) == []


async def test_report_month_on_demand_and_refusals(h: Harness) -> None:
    await h.say(WORK, "刘敏", "/log 调解 邻里纠纷")
    text = await h.say(WORK, "王芳", "/report_month")
    assert "2026年11月 工作月报" in text and "· 调解 1 条" in text
    assert "月份请这样写" in await h.say(WORK, "王芳", "/report_month 13月")
    assert "2027年1月还没到" in await h.say(WORK, "王芳", "/report_month 2027-01")
    assert "只有本组织的主席、副主席可以用" in await h.say(WORK, "刘敏", "/report_month")
    vice = h.person("李秀英")
    assert "青石村妇联 2026年11月 工作月报" in await h.say(vice.user_id, vice, "/report_month")
    liu = h.person("刘敏")
    assert "只有本组织的主席、副主席可以用" in await h.say(liu.user_id, liu, "/report_month")
    assert "妇女之家群里不处理" in await h.say(PUBLIC, "王芳", "/report_month")
    stranger = Persona(5555, "陌生人", "stranger_x")
    assert "还没有绑定组织" in await h.say(-1007777, stranger, "/report_month")
    admin = next(p for p in h.people.values() if p.user_id == h.world.super_admins[0])
    rollup = await h.say(admin.user_id, admin, "/report_month 11月")
    assert "2026年11月 各村（社区）妇联工作汇总（共 1 个组织）" in rollup


async def test_a_past_months_report_counts_the_tasks_open_when_it_ended(h: Harness) -> None:
    current = await h.say(WORK, "王芳", "/report_month")
    assert "目前未完成 3 项" in current  # the demo's tasks, open today
    october = await h.say(WORK, "王芳", "/report_month 10月")
    assert "月底未完成 0 项" in october  # they did not exist when October ended


async def test_month_so_far_does_not_count_trainings_still_to_come(h: Harness) -> None:
    def training_line(text: str) -> str:
        return next(line for line in text.splitlines() if line.startswith("【培训】"))

    before = training_line(await h.say(WORK, "王芳", "/report_month"))
    await h.say(WORK, "王芳", "/training_add 11月28日下午2点 村委会 学习")  # later this month
    assert training_line(await h.say(WORK, "王芳", "/report_month")) == before
    assert "举办 0 场" in before
