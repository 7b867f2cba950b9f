from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.clock import SimClock
from services.errors import Refusal
from services.roster import Actor, RosterService
from storage import members, orgs
from storage.db import Database, available_migrations
from tests.pg_support import Databases

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


async def test_migrations_from_empty(dbs: Databases) -> None:
    db = await Database.open(await dbs("a.db"))
    latest = len(available_migrations())
    assert await db.schema_version() == latest
    async with db.read() as conn:
        if dbs.pg:
            cur = await conn.execute("SELECT table_name FROM information_schema.tables"
                                     " WHERE table_schema = current_schema()")
        else:
            cur = await conn.execute("PRAGMA journal_mode")
            assert tuple(await cur.fetchone() or ()) == ("wal",)
            cur = await conn.execute("PRAGMA foreign_keys")
            assert tuple(await cur.fetchone() or ()) == (1,)
            cur = await conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        tables = {r[0] for r in await cur.fetchall()}
    assert {"orgs", "chats", "members", "users", "audit_log", "link_codes", "join_requests"} <= tables
    # Opening again applies nothing new.
    assert await db.migrate() == []
    await db.close()


async def test_upgrade_in_place_from_the_previous_version(dbs: Databases) -> None:
    latest = len(available_migrations())
    path = await dbs("old.db")
    old = await Database.open(path, migrate=False)
    await old.migrate(up_to=max(latest - 1, 1))
    async with old.transaction() as conn:
        org = await orgs.create(conn, "老数据村妇联", 1, NOW)
        await members.add(conn, org.id, 1, "old", "老主席", "chair", NOW)
    await old.close()
    db = await Database.open(path)
    assert await db.schema_version() == latest
    async with db.read() as conn:
        found = await orgs.by_name(conn, "老数据村妇联")
        assert found is not None
        roster = await members.active_in_org(conn, found.id)
    assert [m.display_name for m in roster] == ["老主席"]
    await db.close()


async def test_transaction_rolls_back_everything_on_error(dbs: Databases) -> None:
    db = await Database.open(await dbs("t.db"))
    with pytest.raises(RuntimeError):
        async with db.transaction() as conn:
            await orgs.create(conn, "半途而废村", 1, NOW)
            raise RuntimeError("boom")
    async with db.read() as conn:
        assert await orgs.by_name(conn, "半途而废村") is None
    await db.close()


async def test_service_change_is_all_or_nothing(dbs: Databases) -> None:
    """A failure after the org row was inserted (binding a chat that is taken) leaves nothing."""
    db = await Database.open(await dbs("s.db"))
    clock = SimClock(NOW)
    roster = RosterService(db, clock, frozenset({42}))
    await roster.setup(Actor(42, True), -100, "群", "甲村妇联", False)
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM chats")  # make setup pass its checks, then fail on a constraint
        await conn.execute(
            "INSERT INTO chats(chat_id, org_id, kind, title, bound_at) VALUES (-100, 1, 'work', '', 'x')"
        )
    with pytest.raises(Refusal):
        await roster.setup(Actor(42, True), -100, "群", "乙村妇联", False)
    with pytest.raises(sqlite3.IntegrityError):
        async with db.transaction() as conn:
            org = await orgs.create(conn, "丙村妇联", 42, NOW)
            await orgs.bind_chat(conn, -100, org.id, "work", "", NOW)
    async with db.read() as conn:
        assert await orgs.by_name(conn, "丙村妇联") is None
    await db.close()


async def test_backup_copies_a_live_database(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "live.db")
    async with db.transaction() as conn:
        await orgs.create(conn, "备份村妇联", 1, NOW)
    await db.backup(tmp_path / "copy.db")
    await db.close()
    copy = sqlite3.connect(tmp_path / "copy.db")
    assert copy.execute("SELECT name FROM orgs").fetchall() == [("备份村妇联",)]
    copy.close()


@pytest.mark.e2e
def test_init_db_and_backup_cli(tmp_path: Path) -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    env = {"PATH": "/usr/bin:/bin", "BOT_DB": str(tmp_path / "cli.db")}
    init = subprocess.run([sys.executable, "-m", "bot", "init-db"], capture_output=True, text=True, cwd=root, env=env)
    assert init.returncode == 0 and "数据库已就绪" in init.stdout
    target = tmp_path / "b.db"
    backup = subprocess.run([sys.executable, "-m", "bot", "backup", str(target)], capture_output=True, text=True,
                            cwd=root, env=env)
    assert backup.returncode == 0 and target.exists()
    again = subprocess.run([sys.executable, "-m", "bot", "backup", str(target)], capture_output=True, text=True,
                           cwd=root, env=env)
    assert again.returncode == 1 and "已存在" in again.stderr


@pytest.mark.e2e
def test_export_cli_writes_xlsx(tmp_path: Path) -> None:
    import asyncio
    import subprocess
    import sys

    from openpyxl import load_workbook

    from bot.config import from_mapping
    from bot.demo import load_world, seed

    db_path = tmp_path / "exp.db"

    async def prepare() -> None:
        cfg = from_mapping({}, env={})
        db = await Database.open(db_path)
        await seed(db, load_world(), SimClock(datetime.now(UTC)), cfg.tz, cfg.duty.handoff)
        await db.close()

    asyncio.run(prepare())
    root = Path(__file__).resolve().parent.parent
    env = {"PATH": "/usr/bin:/bin", "BOT_DB": str(db_path)}
    out = tmp_path / "duty.xlsx"
    done = subprocess.run([sys.executable, "-m", "bot", "export", "青石村妇联", "--what", "duty", str(out)],
                          capture_output=True, text=True, cwd=root, env=env)
    assert done.returncode == 0, done.stderr
    rows = list(load_workbook(out).active.iter_rows(values_only=True))
    assert rows[0][4] == "值班执委" and len(rows) > 1
    missing = subprocess.run([sys.executable, "-m", "bot", "export", "无此村", "--what", "ledger", str(out)],
                             capture_output=True, text=True, cwd=root, env=env)
    assert missing.returncode == 1 and "没有找到组织" in missing.stderr


def test_migration_splitter_ignores_semicolons_in_comments_and_strings() -> None:
    from storage.db import _split_sql

    script = (
        "-- header; with a semicolon\n"
        "CREATE TABLE a (\n"
        "    x TEXT,  -- first; second\n"
        "    y TEXT DEFAULT 'p;q'\n"
        ");\n"
        "\n"
        "CREATE INDEX a_x ON a (x);\n"
    )
    parts = _split_sql(script)
    assert len(parts) == 2
    assert parts[0].startswith("CREATE TABLE a") and "'p;q'" in parts[0]
    assert parts[1] == "CREATE INDEX a_x ON a (x);"
    conn = sqlite3.connect(":memory:")
    for part in parts:
        conn.execute(part)
    conn.execute("INSERT INTO a (x) VALUES ('v')")
    assert conn.execute("SELECT y FROM a").fetchone() == ("p;q",)


def test_every_shipped_migration_splits_into_complete_statements() -> None:
    from storage.db import _split_sql

    for _version, name, sql in available_migrations():
        for statement in _split_sql(sql):
            assert sqlite3.complete_statement(statement), (name, statement[:80])


def test_statements_for_postgresql() -> None:
    from storage.pg import translate, translate_ddl

    assert translate("SELECT * FROM t WHERE a = ? AND b LIKE '50%' AND c = '?'") == (
        "SELECT * FROM t WHERE a = %s AND b LIKE '50%%' AND c = '?'")
    assert translate("INSERT OR IGNORE INTO t(a) VALUES (?)") == "INSERT INTO t(a) VALUES (%s) ON CONFLICT DO NOTHING"
    assert translate("INSERT OR IGNORE INTO t(a) VALUES (?) RETURNING a") == (
        "INSERT INTO t(a) VALUES (%s) ON CONFLICT DO NOTHING RETURNING a")
    assert translate("SELECT ifnull(a, 0) FROM t ORDER BY rowid") == "SELECT coalesce(a, 0) FROM t ORDER BY ctid"
    with pytest.raises(ValueError, match="ON CONFLICT"):
        translate("INSERT OR REPLACE INTO t(a) VALUES (?)")
    ddl = translate_ddl("CREATE TABLE t (\n    id INTEGER PRIMARY KEY, -- the row's id?\n    n INTEGER NOT NULL,\n"
                        "    r REAL, b BLOB\n) WITHOUT ROWID;")
    assert ddl == ("CREATE TABLE t (\n    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, -- the row's id?\n"
                   "    n BIGINT NOT NULL,\n    r DOUBLE PRECISION, b BYTEA\n)")
    assert translate(ddl).endswith("PRIMARY KEY, \n    n BIGINT NOT NULL,\n    r DOUBLE PRECISION, b BYTEA\n)")
