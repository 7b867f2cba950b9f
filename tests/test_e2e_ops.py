"""End to end: the real `run` takes its scheduled backup, holds the database against a restore or
a second bot, and `doctor` checks the running deployment through the Bot API stand-in."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import backup
from tests.botapi_stub import BotApiStub
from tests.e2e_process import ROOT, start_bot, stop_bot

pytestmark = pytest.mark.e2e

TOKEN = "123456:E2E-OPS-TOKEN"


@pytest.fixture
def stub() -> Iterator[BotApiStub]:
    with BotApiStub(TOKEN) as server:
        server.set_privacy(False)
        yield server


def test_run_backs_up_holds_the_database_and_doctor_checks_it(stub: BotApiStub, tmp_path: Path) -> None:
    db = tmp_path / "zhiwei.db"
    config = tmp_path / "config.toml"
    config.write_text('[backup]\ntime = "00:00"\n[admins]\nsuper_admins = [501]\n', encoding="utf-8")
    env = {**os.environ, "TELEGRAM_TOKEN": TOKEN, "TELEGRAM_BASE_URL": stub.base_url, "BOT_DB": str(db)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot", *args, "--config", str(config)], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)

    proc = start_bot(stub, db, TOKEN, config=config)
    try:
        deadline = time.monotonic() + 20
        while not backup.backups_in(tmp_path / "backups", backup.SCHEDULED) and time.monotonic() < deadline:
            time.sleep(0.2)
        found = backup.backups_in(tmp_path / "backups", backup.SCHEDULED)
        assert len(found) == 1 and backup.check_file(found[0][1]).ok
        refused = cli("restore", str(found[0][1]))
        assert refused.returncode == 1 and "机器人正在使用数据库" in refused.stderr
        second = cli("run")
        assert second.returncode == 1 and "同一个数据库只能运行一个机器人" in second.stderr
        checked = cli("doctor")
        assert "token 有效" in checked.stdout and "数据库完好" in checked.stdout
        assert "最近一次备份" in checked.stdout and "运行方式：长轮询" in checked.stdout
    finally:
        stop_bot(proc)
    done = cli("restore", str(found[0][1]))
    assert done.returncode == 0, done.stderr
