"""`:advance` jumps from one due time to the next; what it shows is what a walk through every
5-minute mark shows (the reference: the same shell with the wake-ups ignored)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import shell
from bot.config import from_mapping

pytestmark = pytest.mark.handler

SCRIPT = """:in work
:as 刘敏
/remind 10分钟后 给张大姐回电话
/remind 每个工作日8点半 看网上妇女之家的留言
/remind 12月1日15点 交材料
:as 王芳
/task_add 12月2日前 上报妇女议事会记录 @liumin
/training_add 12月1日下午2点 村委会二楼 反家暴法宣讲 全体
:press 1
:in private
/review_start 2026年度述职 12月2日
:in work
:advance 20m
:press 1
:advance 3h
:advance 1d
:advance 2d
"""


async def _transcript(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, walk: bool) -> tuple[str, int]:
    # Monday 30 November 08:28 in Shanghai: reminders, a task, a training and a review falling due over
    # three days, the monthly report and the December warning on the 1st.
    monkeypatch.setattr(shell, "_start_time", lambda: datetime(2026, 11, 30, 0, 28, tzinfo=UTC))
    if walk:
        async def always_now(services: object, now: datetime) -> datetime:
            return now  # "cannot tell": tick on every 5-minute mark

        monkeypatch.setattr(shell, "next_due", always_now)
    out = io.StringIO()
    db = tmp_path / ("walk" if walk else "jump") / "s.db"
    db.parent.mkdir()
    ticks = 0
    original = shell.Shell.run_due

    async def counted(self: shell.Shell) -> None:
        nonlocal ticks
        ticks += 1
        await original(self)

    monkeypatch.setattr(shell.Shell, "run_due", counted)
    await shell.run_shell(from_mapping({}, env={}), str(db), False, True, io.StringIO(SCRIPT), out)
    return out.getvalue().replace(str(db), "DB"), ticks


def _segments(transcript: str) -> list[list[str]]:
    """The messages shown after each line typed, as a sorted list: the outbox serves chats in
    parallel, so messages to different chats in one drain may be shown in either order."""
    found: list[list[str]] = []
    current: list[str] = []
    for block in transcript.split("\n\n"):
        lines = block.split("\n")
        typed = [i for i, line in enumerate(lines) if "> /" in line or "> :" in line]
        if typed:
            current.append("\n".join(lines[: typed[0]]))  # what the line before it left on screen
            found.append(sorted(current))
            current = ["\n".join(lines[typed[0]: typed[0] + 1])]
            lines = lines[typed[0] + 1:]
        current.append("\n".join(lines))
    found.append(sorted(current))
    return found


async def test_advance_shows_what_a_walk_through_every_mark_shows(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    jumped, jump_ticks = await _transcript(tmp_path, monkeypatch, walk=False)
    walked, walk_ticks = await _transcript(tmp_path, monkeypatch, walk=True)
    assert _segments(jumped) == _segments(walked)
    for seen, least in (("给张大姐回电话", 4), ("看网上妇女之家的留言", 5), ("交材料", 2), ("上报妇女议事会记录", 6),
                        ("反家暴法宣讲", 5), ("2026年度述职", 20), ("已经截止", 1), ("逾期任务日报", 1), ("月报", 1)):
        assert jumped.count(seen) >= least, seen  # set up, then fell due (again)
    assert jump_ticks < walk_ticks / 3  # it jumped: far fewer ticks (counted, not timed)


async def test_shell_advance_delivers_scheduled_messages_on_time(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # Start at 08:28 Shanghai: with plain 10-minute steps a 09:00 reminder went out at 09:08 and was
    # marked as sent late "because the bot was offline".
    monkeypatch.setattr(shell, "_start_time", lambda: datetime(2026, 12, 1, 0, 28, tzinfo=UTC))
    out = io.StringIO()
    script = io.StringIO(":in work\n:as 刘敏\n/remind 今天9点 交材料\n:advance 1h\n")
    await shell.run_shell(from_mapping({}, env={}), str(tmp_path / "s.db"), False, True, script, out)
    text = out.getvalue()
    assert "⏰ 提醒：交材料" in text
    assert "机器人当时不在线" not in text
