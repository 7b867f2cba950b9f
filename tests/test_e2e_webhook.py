"""End to end in webhook mode: the real process sets its webhook at the stand-in, serves updates
POSTed to it (checking the secret token) and answers through the Bot API."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.botapi_stub import BotApiStub, make_chat, make_message_update, make_user
from tests.e2e_process import start_bot, stop_bot

pytestmark = pytest.mark.e2e

TOKEN = "123456:E2E-HOOK"
GROUP = -1001234567111
CHAIR = make_user(801, "王芳", "wangfang_hook")


@pytest.fixture
def stub() -> Iterator[BotApiStub]:
    with BotApiStub(TOKEN) as server:
        yield server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post(url: str, update: dict[str, object], secret: str) -> int:
    request = urllib.request.Request(url, data=json.dumps(update).encode(), method="POST", headers={
        "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret})
    for _ in range(50):  # the web server may need a moment after setWebhook
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as error:
            return int(error.code)
        except OSError:
            time.sleep(0.1)
    raise AssertionError("webhook server not reachable")


def test_webhook_mode_serves_updates_and_rejects_a_wrong_secret(stub: BotApiStub, tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    config = tmp_path / "config.toml"
    config.write_text(f'[telegram]\nwebhook_url = "{url}"\nwebhook_listen = "127.0.0.1"\n'
                      f'webhook_port = {port}\nwebhook_secret = "e2e-secret"\n', encoding="utf-8")
    stub.set_chat_member_status(GROUP, CHAIR["id"], "creator")
    proc = start_bot(stub, tmp_path / "hook.db", TOKEN, config, ready="setWebhook")
    try:
        hook = stub.calls_to("setWebhook")[-1]
        assert hook.params["url"] == url and hook.params["secret_token"] == "e2e-secret"
        mark = len(stub.calls)
        message = make_message_update(make_chat(GROUP, "钩子村执委工作群"), CHAIR, "/setup 钩子村妇联")
        update = {"update_id": 1, **message}
        assert post(url, update, "wrong") == 403
        assert post(url, update, "e2e-secret") == 200
        reply = stub.wait_for(
            lambda c: c.method == "sendMessage" and "已创建组织「钩子村妇联」" in str(c.params.get("text")),
            timeout=20, after=mark)
        assert reply.params["chat_id"] == GROUP
        assert len([c for c in stub.calls[mark:] if "已创建组织" in str(c.params.get("text", ""))]) == 1
    finally:
        stop_bot(proc)
