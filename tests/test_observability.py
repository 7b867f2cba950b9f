"""Issue #16 part 5: log level and format from config, GET /health, /status, the operator's chat."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config import ConfigError, from_mapping
from bot.demo import load_world
from bot.logging_setup import JsonFormatter, setup_logging
from bot.web import WebServer
from services.backups import BackupService
from services.ops_alerts import summarize
from services.outbox import Outgoing
from storage import outbox
from tests.harness import WORK, Harness, make_harness

pytestmark = pytest.mark.handler

OPERATOR = 4242


# ---------------------------------------------------------------- logging


def test_log_config_keys_and_validation() -> None:
    cfg = from_mapping({"log": {"level": "debug", "format": "json"}}, env={})
    assert (cfg.log.level, cfg.log.format) == ("debug", "json")
    with pytest.raises(ConfigError, match=r"log\.format"):
        from_mapping({"log": {"format": "xml"}}, env={})
    with pytest.raises(ConfigError, match=r"log\.level"):
        from_mapping({"log": {"level": "LOUD"}}, env={})
    with pytest.raises(ConfigError, match=r"web\.listen"):
        from_mapping({"web": {"listen": "localhost"}}, env={})
    with pytest.raises(ConfigError, match=r"web\.public_url needs web\.listen"):
        from_mapping({"web": {"public_url": "https://bot.example.org"}}, env={})
    with pytest.raises(ConfigError, match=r"ops\.alert_interval_minutes"):
        from_mapping({"ops": {"alert_interval_minutes": 0}}, env={})
    with pytest.raises(ConfigError, match=r"another port"):
        from_mapping({"web": {"listen": "127.0.0.1:8443"},
                      "telegram": {"webhook_url": "https://bot.example.org/tg"}}, env={})
    web = from_mapping({"web": {"listen": "0.0.0.0:8080"}}, env={}).web
    assert web.address == ("0.0.0.0", 8080)


def test_json_lines_parse_and_carry_level_logger_message() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    try:
        setup_logging("WARNING", "json", stream=stream)
        logging.getLogger("handlers.duty").info("not shown: below the level")
        logging.getLogger("handlers.duty").warning("值班 %s 没有签到", "刘敏")
        try:
            raise ValueError("坏了")
        except ValueError:
            logging.getLogger("bot.runner").exception("ticker failed")
        setup_logging("INFO", "json", stream=stream)  # configured again: still one line per record
        logging.getLogger("x").info("once")
    finally:
        for handler in [h for h in root.handlers if h.get_name() == "zhiwei"]:
            root.removeHandler(handler)
        root.setLevel(level)
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [r["message"] for r in records] == ["值班 刘敏 没有签到", "ticker failed", "once"]
    first, second, _ = records
    assert first["level"] == "WARNING" and first["logger"] == "handlers.duty" and first["time"].endswith("+00:00")
    assert second["level"] == "ERROR" and "ValueError: 坏了" in second["exc"]
    assert "值班" in stream.getvalue()  # readable, not \\u escapes


def test_plain_format_is_one_readable_line() -> None:
    record = logging.LogRecord("bot", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    assert json.loads(JsonFormatter().format(record))["message"] == "hello world"
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    try:
        setup_logging("INFO", "plain", stream=stream)
        logging.getLogger("bot").info("ready")
    finally:
        for handler in [h for h in root.handlers if h.get_name() == "zhiwei"]:
            root.removeHandler(handler)
        root.setLevel(level)
    assert stream.getvalue().rstrip().endswith("INFO bot: ready")


# ---------------------------------------------------------------- health


def ops_config(**ops: Any) -> Any:
    world = load_world()
    return from_mapping({"admins": {"super_admins": world.super_admins},
                         "ops": {"operator_chat_id": OPERATOR, **ops}}, env={})


@pytest.fixture
async def oh(tmp_path: Path) -> AsyncIterator[Harness]:
    """The demo organisation with an operator chat."""
    harness = await make_harness(tmp_path, config=ops_config())
    harness.services.sender.first_backoff = 0.0
    yield harness
    await harness.app.shutdown()
    await harness.db.close()


async def put_pending(h: Harness, chat_id: int, age: timedelta) -> None:
    async with h.db.transaction() as conn:
        await outbox.enqueue(conn, [Outgoing(chat_id, "outbox.verbatim", {"text": {"$html": "旧消息"}})],
                             h.clock.now() - age)


async def test_health_counts_backlog_oldest_and_send_errors_of_the_last_hour(h: Harness) -> None:
    h.services.sender.first_backoff = 0.0
    await h.tick()
    status = await h.services.health.status()
    assert status.state == "ok" and status.pending == 0 and status.oldest_unsent_at is None
    assert status.last_tick == h.clock.now()
    await put_pending(h, 1001, timedelta(minutes=45))
    await put_pending(h, 1002, timedelta(minutes=5))
    status = await h.services.health.status()
    assert status.pending == 2 and status.oldest_unsent_age == timedelta(minutes=45)
    assert status.stuck and status.state == "stuck"
    # Two failed attempts (502), then the sends go through.
    h.api.failing_sends = 2
    await h.tick()
    status = await h.services.health.status()
    assert status.pending == 0 and status.state == "ok"
    assert status.errors == {"5xx": 2} and status.error_total == 2
    body = status.as_json()
    assert body["send_errors_last_hour"] == {"total": 2, "by_outcome": {"5xx": 2}}
    assert body["outbox"]["pending"] == 0 and body["uptime_seconds"] >= 0
    h.clock.advance(timedelta(minutes=61))
    assert (await h.services.health.status()).errors == {}
    # No tick for a long while: the scheduler stopped.
    assert (await h.services.health.status()).state == "no_tick"


async def http_get(port: int, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split(" ")[1]), headers, body


async def test_health_endpoint_json_and_503_when_stuck(h: Harness) -> None:
    server = WebServer(h.services, "127.0.0.1", 0)
    await server.start()
    try:
        await h.tick()
        code, headers, body = await http_get(server.port, "/health")
        data = json.loads(body)
        assert code == 200 and headers["Content-Type"].startswith("application/json")
        assert data["status"] == "ok" and data["outbox"]["pending"] == 0
        assert {"uptime_seconds", "last_tick", "send_errors_last_hour", "backup"} <= data.keys()
        assert int(headers["Content-Length"]) == len(body)
        await put_pending(h, 1001, timedelta(hours=2))
        code, _, body = await http_get(server.port, "/health")
        data = json.loads(body)
        assert code == 503 and data["status"] == "stuck"
        assert data["outbox"]["oldest_unsent_seconds"] == 7200 and data["outbox"]["stuck"] is True
        code, _, body = await http_get(server.port, "/health", "HEAD")
        assert code == 503 and body == b""
        assert (await http_get(server.port, "/nothing"))[0] == 404
        assert (await http_get(server.port, "/cal/AAAAAAAAAAAAAAAAAAAAAAAA.ics"))[0] == 404
        assert (await http_get(server.port, "/health", "POST"))[0] == 405
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"garbage\r\n\r\n")
        assert (await reader.read()).startswith(b"HTTP/1.1 400")
        writer.close()
    finally:
        await server.close()


async def test_status_for_super_admins_in_private(h: Harness) -> None:
    h.services.sender.first_backoff = 0.0
    chief = h.world.super_admins[0]
    h.api.failing_sends = 3
    await put_pending(h, 1001, timedelta(minutes=50))
    await h.tick()
    await put_pending(h, 1002, timedelta(minutes=40))
    text = await h.say(chief, "县妇联周主任", "/status")
    assert "执委助手 · 运行状态" in text
    assert "⚠️ 发件箱卡住了：最早一条没发出的消息已经等了 40 分钟" in text
    assert "发件箱：待发 1 条" in text
    assert "最近一小时发送出错：3 次（Telegram 服务器出错 3）" in text
    assert "最近一次定时检查：0 秒前" in text
    assert "运维通知：没有设置" in text and "网页服务：没有开" in text
    assert "只有超级管理员" in await h.say(1004, "刘敏", "/status")
    assert "请私聊我" in await h.say(WORK, "县妇联周主任", "/status")
    assert "只有超级管理员" in await h.say(WORK, "刘敏", "/status")


# ---------------------------------------------------------------- the operator's chat


def operator_texts(h: Harness) -> list[str]:
    return [c.text for c in h.api.sent(OPERATOR)]


async def test_errors_reach_the_operator_rate_limited_per_kind(oh: Harness, monkeypatch: Any) -> None:
    async def broken(org_id: int) -> None:
        raise RuntimeError("数据库连不上")

    monkeypatch.setattr(oh.services.duty, "rotation", broken)
    await oh.say(WORK, "刘敏", "/duty")
    await oh.tick()
    assert any("出了点问题，没有办成" in text for text in oh.api.texts(WORK))  # she is told, as before
    alerts = operator_texts(oh)
    assert len(alerts) == 1
    alert = alerts[0]
    assert "运维通知" in alert and "程序出错：/duty (group)" in alert
    assert "RuntimeError: 数据库连不上" in alert and "handlers/duty.py:" in alert
    assert "刘敏" not in alert  # who wrote is not the operator's business
    # The same failure again within 10 minutes: held back and counted.
    for _ in range(3):
        await oh.say(WORK, "刘敏", "/duty")
    await oh.tick()
    assert len(operator_texts(oh)) == 1
    oh.clock.advance(timedelta(minutes=11))
    await oh.say(WORK, "刘敏", "/duty")
    await oh.tick()
    alerts = operator_texts(oh)
    assert len(alerts) == 2 and "另有 3 条" in alerts[1]


async def test_a_different_kind_of_error_is_not_held_back(oh: Harness, monkeypatch: Any) -> None:
    async def broken(org_id: int) -> None:
        raise RuntimeError("x")

    async def broken_checkin(member: Any) -> None:
        raise KeyError("y")

    monkeypatch.setattr(oh.services.duty, "rotation", broken)
    monkeypatch.setattr(oh.services.duty, "checkin", broken_checkin)
    await oh.say(WORK, "刘敏", "/duty")
    await oh.say(WORK, "赵霞", "/checkin")
    await oh.tick()
    alerts = operator_texts(oh)
    assert len(alerts) == 2 and "KeyError" in alerts[1]


async def test_a_failing_producer_reaches_the_operator(oh: Harness) -> None:
    async def broken(now: Any) -> None:
        raise ZeroDivisionError("division by zero")

    oh.services.producers.insert(0, broken)
    await oh.tick()
    alerts = operator_texts(oh)
    assert len(alerts) == 1 and "producer broken" in alerts[0] and "ZeroDivisionError" in alerts[0]


async def test_stuck_outbox_alert_once_then_moving_again(oh: Harness) -> None:
    await put_pending(oh, 1001, timedelta(minutes=31))
    await oh.tick()  # the producer sees it stuck; then the drain sends everything
    alerts = operator_texts(oh)
    assert len(alerts) == 1
    assert "发件箱卡住了：1 条待发，最早一条已经等了 31 分钟" in alerts[0]
    oh.clock.advance(timedelta(minutes=1))
    await oh.tick()
    alerts = operator_texts(oh)
    assert len(alerts) == 2 and "发件箱恢复正常" in alerts[1]
    await oh.tick()
    assert len(operator_texts(oh)) == 2


async def test_stuck_outbox_not_reported_without_an_operator(h: Harness) -> None:
    await put_pending(h, 1001, timedelta(hours=3))
    await h.tick()
    async with h.db.read() as conn:
        stats = await outbox.delivery_stats(conn)
    assert stats.sent == 1  # only the old row itself


async def test_failing_scheduled_backup_reaches_the_operator(oh: Harness, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the backup folder should be")
    service = BackupService(oh.db, oh.services.config.tz, blocker, oh.services.config.backup.at,
                            on_failure=oh.services.alerts.backup_failed)
    oh.services.health.backups = service
    assert await service.backup_now(oh.clock.now()) is None
    assert service.failed_at == oh.clock.now()
    await oh.tick()
    alerts = operator_texts(oh)
    assert len(alerts) == 1 and "定时备份失败" in alerts[0] and "not-a-folder" in alerts[0]
    status = await oh.services.health.status()
    assert status.as_json()["backup"]["failing_since"] is not None
    text = await oh.say(oh.world.super_admins[0], "县妇联周主任", "/status")
    assert "❌ 定时备份失败" in text and f"运维通知：发到 {OPERATOR}" in text


def test_summary_names_the_project_frames() -> None:
    def inner() -> None:
        raise ValueError("bad value " + "x" * 500)

    try:
        inner()
    except ValueError as exc:
        summary = summarize(exc)
    assert summary.error.startswith("ValueError: bad value") and len(summary.error) < 330
    assert summary.kind.startswith("ValueError@")
    assert summary.frames and "inner" in summary.frames[-1]
