"""Regressions found by using the bot like its users (QA pass): one test per bug."""

from __future__ import annotations

from bot.simulator import Persona
from tests.harness import WORK, Harness

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
