"""Regressions found by using the bot like its users (QA pass): one test per bug."""

from __future__ import annotations

from tests.harness import WORK, Harness


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
