"""Operations on PostgreSQL (issue #15): `stats-db`, `vacuum`, `backup` / `restore` with pg_dump and
pg_restore (or the exact command to run without them), the scheduled backup once across workers.
Needs TEST_DATABASE_URL (.ci/run starts a server); skipped without it."""

from __future__ import annotations

import asyncio
import re
import shutil
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.__main__ import main
from services.backups import BackupService
from storage import backup, orgs, outbox
from storage.db import Database
from storage.outbox import Outgoing
from storage.pg import PgDatabase
from tests import pg_support

pytestmark = [pytest.mark.unit, pytest.mark.skipif(not pg_support.TEST_URL, reason=pg_support.NO_SERVER)]

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
needs_tools = pytest.mark.skipif(shutil.which("pg_dump") is None or shutil.which("pg_restore") is None,
                                 reason="pg_dump / pg_restore not on PATH")


@pytest.fixture
async def url() -> object:
    found = await pg_support.create_database()
    yield found
    await pg_support.drop_database(found)


def config_file(tmp_path: Path, url: str) -> str:
    path = tmp_path / "c.toml"
    path.write_text(f'[database]\nurl = "{url}"\npath = "{tmp_path / "zhiwei.db"}"\n'
                    f'[backup]\ndir = "{tmp_path / "backups"}"\n', encoding="utf-8")
    return str(path)


async def run(argv: list[str]) -> int:
    return await asyncio.to_thread(main, argv)


async def org_names(url: str) -> list[str]:
    db = await Database.open(url, migrate=False)
    try:
        async with db.read() as conn:
            cur = await conn.execute("SELECT name FROM orgs ORDER BY name")
            return [str(r[0]) for r in await cur.fetchall()]
    finally:
        await db.close()


async def test_stats_db_and_vacuum(url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = await Database.open(url)
    async with db.transaction() as conn:
        await outbox.enqueue(conn, [Outgoing(i, "outbox.verbatim", {"text": {"$html": "x" * 200}})
                                    for i in range(300)], NOW)
        await conn.execute("UPDATE outbox SET status = 'sent', sent_at = ?", ((NOW - timedelta(days=90)).isoformat(),))
    await db.close()
    config = config_file(tmp_path, url)
    assert await run(["stats-db", "--config", config]) == 0
    out = capsys.readouterr().out
    assert "（PostgreSQL）" in out and "autovacuum" in out
    found = re.search(r"^outbox\s+(\d+)\s+([\d.]+)$", out, re.M)
    assert found and int(found.group(1)) == 300 and float(found.group(2)) > 0, out  # counted: never analysed
    assert await run(["vacuum", "--config", config]) == 0
    out = capsys.readouterr().out
    assert "已删除 60 天前发送的消息 300 条" in out and "VACUUM (ANALYZE)" in out
    assert await run(["stats-db", "--config", config]) == 0
    assert re.search(r"^outbox\s+0\s", capsys.readouterr().out, re.M)  # the estimate after ANALYZE


@needs_tools
async def test_backup_and_restore_with_pg_dump(url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = await Database.open(url)
    async with db.transaction() as conn:
        await orgs.create(conn, "备份村妇联", 1, NOW)
    config = config_file(tmp_path, url)
    assert await run(["backup", "--config", config]) == 0
    dumps = backup.backups_in(tmp_path / "backups", backup.SCHEDULED)
    assert [p.suffix for _, p in dumps] == [".dump"] and "已备份到" in capsys.readouterr().out
    async with db.transaction() as conn:
        await orgs.create(conn, "后来村妇联", 1, NOW)
    assert await db.hold_sender_lock(123456)  # a bot is running: restore refuses
    assert await run(["restore", "--config", config, str(dumps[0][1])]) == 1
    assert "正在使用" in capsys.readouterr().err
    await db.close()
    assert await run(["restore", "--config", config, str(dumps[0][1])]) == 0
    assert "已用" in capsys.readouterr().out
    assert await org_names(url) == ["备份村妇联"]
    safety = [p for _, p in backup.backups_in(tmp_path / "backups") if p.name.startswith("pre-restore-")]
    assert len(safety) == 1 and safety[0].suffix == ".dump"
    (tmp_path / "junk.dump").write_text("not an archive")
    assert await run(["restore", "--config", config, str(tmp_path / "junk.dump")]) == 1
    assert "不是完整的 pg_dump 备份" in capsys.readouterr().err
    assert await org_names(url) == ["备份村妇联"]


async def test_without_the_tools_the_exact_command_is_given(
        url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    await (await Database.open(url)).close()
    monkeypatch.setattr(shutil, "which", lambda name: None)
    secret = url.replace("postgres@", "postgres:s3cret@")
    config = config_file(tmp_path, secret)
    assert await run(["backup", "--config", config, str(tmp_path / "b.dump")]) == 1
    err = capsys.readouterr().err
    assert "postgresql-client" in err and f"pg_dump -Fc --no-owner -f {tmp_path / 'b.dump'} -d {url}" in err
    assert "s3cret" not in err and not (tmp_path / "b.dump").exists()


@needs_tools
async def test_scheduled_backup_runs_once_across_workers(url: str, tmp_path: Path) -> None:
    tz = ZoneInfo("Asia/Shanghai")
    first, second = await Database.open(url), await Database.open(url)
    assert isinstance(first, PgDatabase)
    folder = tmp_path / "backups"
    services = [BackupService(db, tz, folder, time(3, 30)) for db in (first, second)]
    now = datetime(2026, 11, 22, 4, 0, tzinfo=tz)
    written = await asyncio.gather(*(s.backup_now(now + timedelta(seconds=i)) for i, s in enumerate(services)))
    assert sum(1 for w in written if w is not None) == 1  # the other found the lock taken
    assert all(s.failed_at is None for s in services)  # … and is not a failure
    assert not any(s.due(now + timedelta(minutes=1)) for s in services)  # today's is done for both
    assert [p.suffix for _, p in backup.backups_in(folder, backup.SCHEDULED)] == [".dump"]
    await first.close()
    await second.close()
