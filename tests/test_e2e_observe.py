"""End to end: the real `run` with [log] format = "json", [web] listen and an operator chat: JSON log
lines, GET /health from the running process, /status, and a failing scheduled backup reported to
the operator through the Bot API stand-in."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.botapi_stub import BotApiStub, make_chat, make_message_update, make_user
from tests.e2e_process import start_bot, stop_bot

pytestmark = [pytest.mark.e2e]

TOKEN = "123456:E2E-OBSERVE-TOKEN"
OPERATOR = 501


@pytest.fixture
def stub() -> Iterator[BotApiStub]:
    with BotApiStub(TOKEN) as server:
        server.set_privacy(False)
        yield server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_run_serves_health_logs_json_and_alerts_the_operator(stub: BotApiStub, tmp_path: Path) -> None:
    port = free_port()
    not_a_folder = tmp_path / "blocked"
    not_a_folder.write_text("a file where the backup folder should be", encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(
        f'[backup]\ntime = "00:00"\ndir = "{not_a_folder}"\n[admins]\nsuper_admins = [{OPERATOR}]\n'
        f'[log]\nformat = "json"\n[web]\nlisten = "127.0.0.1:{port}"\n'
        f'[ops]\noperator_chat_id = {OPERATOR}\n[scheduler]\ntick_seconds = 1\n', encoding="utf-8")
    chief = make_user(OPERATOR, "周主任", "zhou_e2e")
    stub.push_update(make_message_update(make_chat(OPERATOR, "周主任"), chief, "/start"))
    proc = start_bot(stub, tmp_path / "zhiwei.db", TOKEN, config=config)
    try:
        alert = stub.wait_for(lambda c: c.method == "sendMessage" and "定时备份失败" in str(c.params.get("text")),
                              timeout=30)
        assert int(alert.params["chat_id"]) == OPERATOR and "blocked" in alert.params["text"]
        # the alert reached the API a moment before its row was marked sent (and the holiday warning
        # may still be on its way): the backlog drains within a few seconds
        deadline = time.monotonic() + 20
        while True:
            code, health = get_json(f"http://127.0.0.1:{port}/health")
            if health["outbox"]["pending"] == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert code == 200 and health["status"] == "ok", health
        assert health["last_tick"] is not None and health["outbox"]["pending"] == 0
        assert health["backup"]["scheduled"] is True and health["backup"]["failing_since"] is not None
        mark = stub.mark()
        stub.push_update(make_message_update(make_chat(OPERATOR, "周主任"), chief, "/status"))
        status = stub.wait_for(lambda c: c.method == "sendMessage" and "运行状态" in str(c.params.get("text")),
                               after=mark, timeout=20)
        text = status.params["text"]
        assert "❌ 定时备份失败" in text and f"运维通知：发到 {OPERATOR}" in text and f"127.0.0.1:{port}" in text
    finally:
        out = stop_bot(proc)
    records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert any(r["logger"] == "bot.runner" and r["message"].startswith("bot ready") for r in records), out[-2000:]
    failed = next(r for r in records if r["message"].startswith("scheduled backup to"))
    assert failed["level"] == "ERROR" and "exc" in failed
    assert all({"time", "level", "logger", "message"} <= r.keys() for r in records)
    # The web server is gone with the process.
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
