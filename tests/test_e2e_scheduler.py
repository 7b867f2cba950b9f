"""End to end for the scheduler: the real `python -m bot run` process against the HTTP stand-in.

A reminder a minute ahead arrives once; a burst answered with 429 still arrives whole and in order
within Telegram's limits; a reminder that fell due while the bot was down arrives once after the
restart (after a kill -9), marked late, and nothing already sent is sent again.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.botapi_stub import ApiCall, BotApiStub, make_chat, make_message_update, make_user
from tests.e2e_process import start_bot, stop_bot

pytestmark = pytest.mark.e2e

TOKEN = "123456:E2E-SCHED"
GROUP = -1001234567000
CHAIR = make_user(701, "王芳", "wangfang_sched")


@pytest.fixture
def stub() -> Iterator[BotApiStub]:
    with BotApiStub(TOKEN, enforce_limits=True) as server:
        yield server


def reminder_texts(stub: BotApiStub, after: int = 0) -> list[str]:
    return [str(c.params.get("text")) for c in stub.calls[after:]
            if c.method == "sendMessage" and c.status == 200 and str(c.params.get("text", "")).startswith("⏰ 提醒")]


def wait_count(stub: BotApiStub, n: int, timeout: float, after: int = 0) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = reminder_texts(stub, after)
        if len(found) >= n:
            return found
        time.sleep(0.2)
    raise AssertionError(f"expected {n} reminders, got {reminder_texts(stub, after)}")


def due_now(db: Path, text_like: str, count: int) -> None:
    """Make the running bot's reminders due now (the next tick sends them, on time)."""
    with sqlite3.connect(db, timeout=20) as conn:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        changed = conn.execute("UPDATE reminders SET next_at = ? WHERE text LIKE ?", (now, text_like)).rowcount
        assert changed == count


def test_reminders_arrive_once_through_429_and_a_restart(stub: BotApiStub, tmp_path: Path) -> None:
    db = tmp_path / "sched.db"
    config = tmp_path / "config.toml"
    config.write_text("[scheduler]\ntick_seconds = 1\n", encoding="utf-8")
    chat = make_chat(GROUP, "提醒村执委工作群")
    stub.set_chat_member_status(GROUP, CHAIR["id"], "creator")

    def step(text: str, expect: str) -> ApiCall:
        mark = len(stub.calls)
        stub.push_update(make_message_update(chat, CHAIR, text))
        return stub.wait_for(lambda c: c.method == "sendMessage" and expect in str(c.params.get("text", "")),
                             timeout=20, after=mark)

    proc = start_bot(stub, db, TOKEN, config)
    try:
        step("/setup 提醒村妇联", "已创建组织")
        started = len(stub.calls)
        for name in ("甲", "乙", "丙", "丁"):
            step(f"/remind 1分钟后 第{name}件事", "提醒编号")
        # The first scheduled send is answered 429: it is waited out and retried, never dropped.
        stub.inject_fault("sendMessage", "429", count=1, retry_after=1)
        due_now(db, "第_件事", 4)  # instead of waiting the minute out
        found = wait_count(stub, 4, timeout=30, after=started)
        assert [t.split("：", 1)[1] for t in found] == ["第甲件事", "第乙件事", "第丙件事", "第丁件事"]
        assert any(c.status == 429 for c in stub.calls[started:])
        time.sleep(3)  # a few more ticks: nothing is sent twice
        assert len(reminder_texts(stub, started)) == 4
        assert all("补发" not in t for t in found)
        step("/remind 1分钟后 停机时到点的事", "提醒编号")
    except BaseException:
        stop_bot(proc)
        raise
    # kill -9: no graceful stop, the database is left as it is (WAL) with the reminder pending.
    proc.kill()
    proc.communicate(timeout=30)

    # While the bot is down its reminder falls due: move the due time ten minutes into the past.
    with sqlite3.connect(db) as conn:
        past = (datetime.now(UTC) - timedelta(minutes=10)).isoformat(timespec="seconds")
        changed = conn.execute("UPDATE reminders SET next_at = ? WHERE text = '停机时到点的事'", (past,)).rowcount
        assert changed == 1

    restarted = len(stub.calls)
    proc = start_bot(stub, db, TOKEN, config)
    try:
        late = wait_count(stub, 1, timeout=20, after=restarted)
        assert "停机时到点的事" in late[0] and "补发" in late[0]
        time.sleep(3)
        assert reminder_texts(stub, restarted) == late  # once, and nothing from before the restart again
    finally:
        stop_bot(proc)
    assert stub.send_rate_violations() == 0
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM outbox WHERE status != 'sent'").fetchone()[0] == 0


def test_a_reminder_goes_out_at_its_time_between_ticks(stub: BotApiStub, tmp_path: Path) -> None:
    """The default 20-second tick: the loop wakes at the reminder's due time (told by the update that
    wrote it), so it goes out within a second or two of it, not at the next 20-second mark."""
    db = tmp_path / "wake.db"
    chat = make_chat(GROUP, "提醒村执委工作群")
    stub.set_chat_member_status(GROUP, CHAIR["id"], "creator")

    def step(text: str, expect: str) -> None:
        mark = len(stub.calls)
        stub.push_update(make_message_update(chat, CHAIR, text))
        stub.wait_for(lambda c: c.method == "sendMessage" and expect in str(c.params.get("text", "")),
                      timeout=20, after=mark)

    proc = start_bot(stub, db, TOKEN)
    try:
        step("/setup 提醒村妇联", "已创建组织")
        step("/remind 1分钟后 准时的事", "提醒编号")
        due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=4)
        with sqlite3.connect(db, timeout=20) as conn:  # instead of waiting the minute out …
            conn.execute("UPDATE reminders SET next_at = ? WHERE text = '准时的事'", (due.isoformat(),))
        started = len(stub.calls)
        step("/reminders", "准时的事")  # … and an update, as the one that wrote it, wakes the loop
        wait_count(stub, 1, timeout=25, after=started)
        sent = next(c for c in stub.calls[started:] if "准时的事" in str(c.params.get("text", ""))
                    and str(c.params.get("text", "")).startswith("⏰ 提醒"))
        assert 0 <= sent.time - due.timestamp() < 2.5
    finally:
        stop_bot(proc)
