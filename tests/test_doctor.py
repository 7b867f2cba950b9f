"""`python -m bot doctor` against the local Bot API stub: token, privacy mode, groups, webhook,
database, backups, super admins, holiday calendar."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import Config, from_mapping
from bot.doctor import run_doctor
from storage import backup
from storage.db import Database
from tests import pg_support
from tests.botapi_stub import BotApiStub

pytestmark = pytest.mark.e2e

TOKEN = "123456:DOCTOR-token_abcdefghijklmnopqrstuvwxyz"
WORK = -1001000000001
PUBLIC = -1001000000002
JUNE = datetime(2026, 6, 10, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai; 2027's holidays not due yet
DECEMBER = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)


@pytest.fixture
def stub() -> Iterator[BotApiStub]:
    with BotApiStub(TOKEN) as server:
        server.set_privacy(False)
        server.set_chat_member_status(PUBLIC, server.bot_user["id"], "administrator")
        yield server


async def make_db(tmp_path: Path, now: datetime = JUNE, with_backup: bool = True) -> Path:
    path = tmp_path / "zhiwei.db"
    db = await Database.open(path)
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO orgs(id, name, created_at, created_by) "
                           "VALUES (1, '青石村妇联', '2026-01-01', 1)")
        await conn.execute("INSERT INTO chats(chat_id, org_id, kind, title, bound_at) "
                           "VALUES (?, 1, 'work', '执委群', '')", (WORK,))
        await conn.execute("INSERT INTO chats(chat_id, org_id, kind, title, bound_at) "
                           "VALUES (?, 1, 'public', '妇女之家', '')", (PUBLIC,))
    await db.close()
    if with_backup:
        local = now.astimezone(from_mapping({}, env={}).tz) - timedelta(hours=5)
        backup.copy_verified(path, tmp_path / "backups" / backup.scheduled_name(local))
    return path


def config(stub: BotApiStub | None, db: Path, **sections: dict[str, object]) -> Config:
    data: dict[str, dict[str, object]] = {
        "telegram": {"token": TOKEN, "base_url": stub.base_url if stub else "http://127.0.0.1:9"},
        "database": {"path": str(db)},
        "admins": {"super_admins": [11]},
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return from_mapping(data, env={})


async def doctor(cfg: Config, now: datetime = JUNE) -> tuple[int, str]:
    lines: list[str] = []
    code = await run_doctor(cfg, lines.append, now=now)
    return code, "\n".join(lines)


async def test_all_good_exits_0(stub: BotApiStub, tmp_path: Path) -> None:
    code, out = await doctor(config(stub, await make_db(tmp_path)))
    assert code == 0, out
    assert "❌" not in out and "全部正常" in out
    assert "token 有效：机器人 @zhiwei_test_bot" in out
    assert "群隐私模式已关闭" in out
    assert "青石村妇联 · 执委工作群「执委群」：机器人在群里（成员）" in out
    assert "妇女之家群「妇女之家」：机器人在群里（管理员）" in out
    assert "运行方式：长轮询" in out
    assert "数据库完好" in out and "最近一次备份：" in out and "5 小时前" in out
    assert "超级管理员：1 位（11）" in out and "时区：Asia/Shanghai" in out
    assert "节假日：2027 年的安排还没有" in out  # before December: a note, not a problem


async def test_privacy_on_with_question_mode_says_how_to_fix(stub: BotApiStub, tmp_path: Path) -> None:
    stub.set_privacy(True)
    stub.set_chat_member_status(PUBLIC, stub.bot_user["id"], "member")
    db = await make_db(tmp_path)
    code, out = await doctor(config(stub, db))
    assert code == 1
    assert "❌ 群隐私模式是开着的" in out
    assert "/setprivacy → 选择 @zhiwei_test_bot → Disable" in out and "移出、再重新拉进来" in out
    assert "妇女之家群「妇女之家」：隐私模式开着、机器人又不是管理员" in out
    # Only mentions and replies wanted: privacy mode does not matter.
    code, out = await doctor(config(stub, db, faq={"auto_answer": "mention"}))
    assert code == 0, out
    assert "不需要看普通消息" in out
    # An administrator sees every message even with privacy on.
    stub.set_chat_member_status(PUBLIC, stub.bot_user["id"], "administrator")
    code, out = await doctor(config(stub, db))
    assert code == 0, out
    assert "机器人在每个妇女之家群里都是管理员" in out


async def test_groups_where_the_bot_lacks_rights_or_is_gone(stub: BotApiStub, tmp_path: Path) -> None:
    bot_id = stub.bot_user["id"]
    stub.set_chat_member_status(WORK, bot_id, "restricted")
    stub.set_chat_member_rights(PUBLIC, bot_id, can_pin_messages=False)
    db = await make_db(tmp_path)
    code, out = await doctor(config(stub, db))
    assert code == 1
    assert "❌ 青石村妇联 · 执委工作群「执委群」：机器人被限制，不能在群里发言" in out
    assert "解除对 @zhiwei_test_bot 的限制" in out
    assert "ℹ️ 青石村妇联 · 妇女之家群「妇女之家」：机器人不能置顶消息" in out
    stub.set_chat_member_status(WORK, bot_id, "kicked")
    stub.remove_chat(PUBLIC)
    code, out = await doctor(config(stub, db))
    assert code == 1
    assert "执委工作群「执委群」（-1001000000001）：机器人不在这个群里" in out and "bot was kicked" in out
    assert "妇女之家群「妇女之家」（-1001000000002）：机器人不在这个群里" in out and "Chat not found" in out
    assert "请把 @zhiwei_test_bot 重新拉进这个群" in out


async def test_broken_token_and_unreachable_api(stub: BotApiStub, tmp_path: Path) -> None:
    db = await make_db(tmp_path)
    cfg = config(stub, db, telegram={"token": "123456:WRONG"})
    code, out = await doctor(cfg)
    assert code == 1
    assert "❌ token 无效" in out and "/mybots" in out and "跳过隐私模式、群和 webhook" in out
    assert "数据库完好" in out  # the rest is still checked
    code, out = await doctor(config(None, db))
    assert code == 1 and "连不上 Bot API（http://127.0.0.1:9）" in out
    code, out = await doctor(config(stub, db, telegram={"token": ""}))
    assert code == 1 and "没有设置 Telegram token" in out and "TELEGRAM_TOKEN" in out


async def test_webhook_against_the_run_mode(stub: BotApiStub, tmp_path: Path) -> None:
    db = await make_db(tmp_path)
    hook = "https://bot.example.org/telegram"
    code, out = await doctor(config(stub, db, telegram={"webhook_url": hook}))
    assert code == 0 and "Telegram 那边还没有设置，机器人启动时会自动设置" in out
    from telegram import Bot

    async with Bot(TOKEN, base_url=stub.base_url + "/bot") as bot:
        await bot.set_webhook(hook)
    code, out = await doctor(config(stub, db, telegram={"webhook_url": hook}))
    assert code == 0 and f"运行方式：webhook，Telegram 投递到 {hook}" in out
    stub.set_webhook_error("Connection refused")
    code, out = await doctor(config(stub, db, telegram={"webhook_url": hook}), now=datetime.now(UTC))
    assert code == 1 and "投递到 webhook 失败" in out and "Connection refused" in out
    code, out = await doctor(config(stub, db))  # polling configured, a webhook set elsewhere
    assert code == 1 and f"配置是长轮询，但 Telegram 那边设置了 webhook：{hook}" in out


async def test_database_checks(stub: BotApiStub, tmp_path: Path) -> None:
    # A fresh database passes the integrity check; no backup yet is a problem.
    fresh = tmp_path / "fresh" / "zhiwei.db"
    fresh.parent.mkdir()
    await (await Database.open(fresh)).close()
    code, out = await doctor(config(stub, fresh))
    assert "✅ 数据库完好" in out and "结构版本" in out
    assert code == 1 and "备份目录里还没有备份" in out and "python -m bot backup" in out
    # Missing.
    code, out = await doctor(config(stub, tmp_path / "nowhere.db"))
    assert code == 1 and "数据库文件不存在" in out and "init-db" in out
    # Pending migrations (an older database).
    old = tmp_path / "old" / "zhiwei.db"
    old.parent.mkdir()
    db = await Database.open(old, migrate=False)
    await db.migrate(up_to=3)
    await db.close()
    code, out = await doctor(config(stub, old))
    assert code == 1 and "升级没做（当前结构版本 3" in out
    # Corrupt: garbage over the pages.
    bad = tmp_path / "bad" / "zhiwei.db"
    bad.parent.mkdir()
    await (await Database.open(bad)).close()
    data = bytearray(bad.read_bytes())
    data[4096:8192] = b"\x17" * 4096
    bad.write_bytes(bytes(data))
    code, out = await doctor(config(stub, bad))
    assert code == 1 and "❌ 数据库检查（integrity_check）不通过" in out and "python -m bot restore" in out


async def test_old_backup_no_admins_and_holidays(stub: BotApiStub, tmp_path: Path) -> None:
    db = await make_db(tmp_path, now=JUNE - timedelta(days=3))
    code, out = await doctor(config(stub, db, admins={"super_admins": []}))
    assert code == 1
    assert "最近一次备份已经是 3 天前" in out
    assert "没有配置超级管理员" in out and "/whoami" in out
    # December, and 2027 unknown to the library: a problem until a super admin enters days.
    (tmp_path / "dec").mkdir()
    db2 = await make_db(tmp_path / "dec", now=DECEMBER)
    code, out = await doctor(config(stub, db2), now=DECEMBER)
    assert code == 1 and "❌ 节假日：还没有 2027 年的放假和调休安排" in out and "/holiday_set 2027-01-01 休 元旦" in out
    with sqlite3.connect(db2) as conn:
        conn.execute("INSERT INTO holiday_days(day, workday, name, set_at) VALUES ('2027-01-01', 0, '元旦', '')")
    code, out = await doctor(config(stub, db2), now=DECEMBER)
    assert code == 0, out
    assert "节假日：2027 年的放假和调休安排已有（超级管理员录入了 1 天）" in out


def test_doctor_cli_exit_code(stub: BotApiStub, tmp_path: Path) -> None:
    env = {"PATH": "", "TELEGRAM_TOKEN": "123456:WRONG", "TELEGRAM_BASE_URL": stub.base_url,
           "BOT_DB": str(tmp_path / "x.db")}
    done = subprocess.run([sys.executable, "-m", "bot", "doctor"], capture_output=True, text=True, env=env,
                          timeout=60)
    assert done.returncode == 1, done.stderr
    assert "token 无效" in done.stdout and "发现" in done.stdout


async def test_operator_chat(stub: BotApiStub, tmp_path: Path) -> None:
    db = await make_db(tmp_path)
    code, out = await doctor(config(stub, db))
    assert code == 0 and "ℹ️ 运维通知：没有设置 [ops] operator_chat_id" in out
    code, out = await doctor(config(stub, db, ops={"operator_chat_id": -1009876543210}))
    assert code == 0 and "✅ 运维通知：发到" in out and "（-1009876543210）" in out
    stub.remove_chat(-1009876543210)
    code, out = await doctor(config(stub, db, ops={"operator_chat_id": -1009876543210}))
    assert code == 1 and "❌ 运维通知的聊天 -1009876543210 找不到" in out and "把机器人拉进群" in out


@pytest.mark.skipif(not pg_support.TEST_URL, reason=pg_support.NO_SERVER)
async def test_on_postgresql_the_database_and_its_groups_are_read_from_the_server(stub: BotApiStub) -> None:
    url = await pg_support.create_database()
    try:
        db = await Database.open(url)
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO orgs(id, name, created_at, created_by)"
                               " VALUES (1, '青石村妇联', '2026-01-01', 1)")
            await conn.execute("INSERT INTO chats(chat_id, org_id, kind, title, bound_at) "
                               "VALUES (?, 1, 'work', '执委群', '')", (WORK,))
            await conn.execute("INSERT INTO chats(chat_id, org_id, kind, title, bound_at) "
                               "VALUES (?, 1, 'public', '妇女之家', '')", (PUBLIC,))
        await db.close()
        code, out = await doctor(config(stub, Path("unused.db"), database={"url": url}))
        assert code == 1, out  # no pg_dump backup in the folder yet
        assert "数据库：PostgreSQL" in out and "备份用 pg_dump" in out and "备份目录里还没有备份" in out
        assert "青石村妇联 · 执委工作群「执委群」：机器人在群里" in out
    finally:
        await pg_support.drop_database(url)
    code, out = await doctor(config(stub, Path("unused.db"), database={"url": "postgresql://nobody@127.0.0.1:9/none"}))
    assert code == 1
    assert "❌ 连不上 PostgreSQL 数据库 127.0.0.1:9/none" in out
