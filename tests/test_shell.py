"""The README's first command: the shell on the demo data, driven by a piped script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent


def run_shell(script: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "shell", *args], input=script, capture_output=True, text=True, cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_piped_script_prints_the_roster() -> None:
    out = run_shell(":in work\n:as 王芳\n/members\n")
    assert "青石村妇联 执委名册（共 11 人）" in out
    assert "王芳 @wangfang — 主席" in out and "吴桂英 @wuguiying — 执委（新当选）" in out


def test_buttons_are_numbered_and_pressable() -> None:
    out = run_shell(":as 孙小梅\n:in public\n/join\n:as 王芳\n:press 1\n:as 王芳\n:in work\n/members\n")
    assert "[1] 同意  [2] 拒绝" in out
    assert "孙小梅 的申请已由 王芳 同意" in out
    assert "共 12 人" in out


def test_directives_and_bad_input() -> None:
    out = run_shell(":now\n:advance 2h\n:advance soon\n:as 不存在的人\n:in kitchen\n:press 1\n:bogus\n")
    assert "模拟时间：" in out and "⏩ 时间拨到" in out
    assert "请这样写：:advance 10m" in out
    assert "没有这个人：不存在的人" in out
    assert "请写 :in work" in out and "上一条消息没有按钮" in out and "不认识的指令" in out


def test_fresh_database_and_setup(tmp_path: Path) -> None:
    out = run_shell(":as 王芳\n/setup 新村妇联\n/members\n", "--fresh")
    assert "已创建组织「新村妇联」" in out and "新村妇联 执委名册（共 1 人）" in out
    db = tmp_path / "kept.db"
    run_shell(":as 王芳\n/setup 保存村妇联\n", "--db", str(db))
    out = run_shell(":as 王芳\n/members\n", "--db", str(db))
    assert "保存村妇联 执委名册（共 1 人）" in out


def test_advance_fires_reminders_once_and_the_monthly_report() -> None:
    out = run_shell(":in work\n:as 刘敏\n/remind 10分钟后 给张大姐回电话\n:advance 20m\n:press 1\n"
                    ":advance 40m\n:advance 31d\n")
    assert out.count("⏰ 提醒：给张大姐回电话") == 3  # the reminder, the edited message, the snoozed copy
    assert "再提醒一次。（刘敏）" in out
    assert "工作月报" in out and "各村（社区）妇联工作汇总" in out  # the 1st of a month falls in any 31 days


def test_a_new_database_files_and_replies(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    out = run_shell(":as 王芳\n/setup 新村妇联\n/ledger\n:reply 好的\n", "--db", str(db))
    assert "新的空数据库" in out  # --db NEWFILE says it starts empty
    saved = sorted((tmp_path / "shell-files").glob("*.xlsx"))
    assert saved and "文件已保存" in out and str(saved[0]) in out
    assert "王芳@执委工作群> :reply 好的" in out and "请这样写：:reply" not in out
