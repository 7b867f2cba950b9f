"""Backups you can trust: checked online backups, retention, restore with a safety copy, a backup
before migrations, the daily scheduled backup and the CLI."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.demo import load_world, seed
from services.backups import BackupService
from services.clock import SimClock
from storage import backup
from storage.db import Database, available_migrations

pytestmark = pytest.mark.unit

TZ = ZoneInfo("Asia/Shanghai")
LATEST = available_migrations()[-1][0]
NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def every_row(path: Path) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                             "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        return {t: sorted(conn.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in tables}


async def demo_db(path: Path) -> Database:
    from bot.config import from_mapping

    cfg = from_mapping({}, env={})
    db = await Database.open(path)
    await seed(db, load_world(), SimClock(NOW), cfg.tz, cfg.duty.handoff)
    return db


async def test_backup_then_restore_finds_every_tables_rows(tmp_path: Path) -> None:
    live = tmp_path / "zhiwei.db"
    db = await demo_db(live)
    copy = tmp_path / "backups" / "zhiwei-20261123-090000.db"
    await db.backup_verified(copy)
    await db.close()
    before = every_row(live)
    assert sum(1 for rows in before.values() if rows) >= 10  # the demo fills many tables
    assert every_row(copy) == before
    # Later changes, then the restore brings back exactly what the backup holds.
    with sqlite3.connect(live) as conn:
        conn.execute("DELETE FROM members")
        conn.execute("UPDATE orgs SET name = name || '（改）'")
    safety = backup.restore(copy, live, tmp_path / "backups", LATEST, datetime(2026, 11, 24, 10, 0, tzinfo=TZ))
    assert every_row(live) == before
    # The database it replaced was kept, checked, with the changes.
    assert safety is not None and safety.name == "pre-restore-20261124-100000.db"
    assert backup.check_file(safety).ok and every_row(safety)["members"] == []
    # The restored database opens and works as usual.
    db = await Database.open(live)
    assert await db.schema_version() == LATEST
    await db.close()


async def test_restore_refuses_a_corrupt_or_foreign_file_and_leaves_the_database_alone(tmp_path: Path) -> None:
    live = tmp_path / "zhiwei.db"
    await (await demo_db(live)).close()
    before = every_row(live)
    folder = tmp_path / "backups"
    good = folder / "good.db"
    backup.copy_verified(live, good)
    # Damaged pages.
    corrupt = tmp_path / "corrupt.db"
    data = bytearray(good.read_bytes())
    data[8192:16384] = b"\x17" * 8192
    corrupt.write_bytes(bytes(data))
    text = tmp_path / "notes.db"
    text.write_text("这不是数据库", encoding="utf-8")
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE t(x)")
    newer = tmp_path / "newer.db"
    backup.copy_verified(live, newer)
    with sqlite3.connect(newer) as conn:
        conn.execute(f"PRAGMA user_version = {LATEST + 1}")
    for path, code in ((corrupt, "bad_file"), (text, "bad_file"), (tmp_path / "missing.db", "bad_file"),
                       (foreign, "not_ours"), (newer, "too_new")):
        with pytest.raises(backup.BackupError) as refused:
            backup.restore(path, live, folder, LATEST, datetime(2026, 11, 24, tzinfo=TZ))
        assert refused.value.code == code, path
    # While the bot runs (it holds the lock), no restore either.
    with backup.run_lock(live), pytest.raises(backup.BackupError) as refused:
        backup.restore(good, live, folder, LATEST, datetime(2026, 11, 24, tzinfo=TZ))
    assert refused.value.code == "in_use"
    assert every_row(live) == before
    assert not list(folder.glob("pre-restore-*"))  # refused before any safety copy


def test_a_copy_that_fails_its_check_is_deleted(tmp_path: Path) -> None:
    partial = tmp_path / "x.db.partial"
    partial.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)
    with pytest.raises(backup.BackupError):
        backup.finish(partial, tmp_path / "x.db")
    assert not partial.exists() and not (tmp_path / "x.db").exists()


def test_retention_rule() -> None:
    start = datetime(2026, 1, 1, 3, 30)  # noqa: DTZ001 - backup names carry naive local times
    daily = [start + timedelta(days=i) for i in range(200)]  # one backup a day, Jan 1 .. Jul 19
    extra = daily[-1] + timedelta(hours=5)  # two backups on the last day: the newer one counts
    keep = backup.to_keep([*daily, extra], keep_daily=7, keep_weekly=4, keep_monthly=6)
    days = {d for d in keep if extra - d < timedelta(days=7)}
    assert days == {*daily[-7:-1], extra}
    assert daily[-1] not in keep
    # Each of the last 4 ISO weeks: its newest (a Sunday, or the newest day of the current week).
    weeks = sorted({tuple(d.isocalendar())[:2] for d in daily})[-4:]
    for week in weeks[:-1]:
        newest_of_week = max(d for d in daily if tuple(d.isocalendar())[:2] == week)
        assert newest_of_week in keep
    # Each of the last 6 months: its newest (the month's last day).
    for month in (2, 3, 4, 5, 6):
        last = max(d for d in daily if d.month == month)
        assert last in keep
    assert not any(d.month == 1 for d in keep)
    assert len(keep) <= 7 + 4 + 6
    assert backup.to_keep([], 7, 4, 6) == set()
    assert backup.to_keep([start], 0, 0, 0) == {start}  # the newest is always kept


def test_prune_touches_only_scheduled_backups(tmp_path: Path) -> None:
    start = datetime(2026, 3, 1, 3, 30, tzinfo=TZ)
    for i in range(40):
        (tmp_path / backup.scheduled_name(start + timedelta(days=i))).write_bytes(b"x")
    others = ["pre-migrate-v9-20260101-000000.db", "pre-restore-20260101-000000.db", "notes.txt",
              "zhiwei-20260101-000000.db.partial"]
    for name in others:
        (tmp_path / name).write_bytes(b"x")
    deleted = backup.prune(tmp_path, keep_daily=3, keep_weekly=2, keep_monthly=2)
    left = sorted(p.name for p in tmp_path.iterdir())
    scheduled = [n for n in left if backup.SCHEDULED.match(n)]
    # Apr 9 (newest), Apr 8, Apr 7 (daily); Apr 5 (week 14's last); Mar 31 (March's last)
    assert scheduled == ["zhiwei-20260331-033000.db", "zhiwei-20260405-033000.db", "zhiwei-20260407-033000.db",
                         "zhiwei-20260408-033000.db", "zhiwei-20260409-033000.db"]
    assert len(deleted) == 35
    assert all(name in left for name in others)


async def test_a_backup_is_taken_before_migrations_on_an_existing_database(tmp_path: Path) -> None:
    path = tmp_path / "zhiwei.db"
    db = await Database.open(path, migrate=False)
    await db.migrate(up_to=8)
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO orgs(name, created_at, created_by) VALUES ('青石村妇联', '2026-01-01', 1)")
    await db.close()
    db = await Database.open(path)  # the upgrade
    assert await db.schema_version() == LATEST
    await db.close()
    copies = list((tmp_path / "backups").glob("pre-migrate-v8-*.db"))
    assert len(copies) == 1
    found = backup.check_file(copies[0])
    assert found.ok and found.version == 8
    assert every_row(copies[0])["orgs"][0][1] == "青石村妇联"
    # Up to date: no copy. A new database: nothing to keep. A configured folder is used.
    await (await Database.open(path)).close()
    await (await Database.open(tmp_path / "new.db", backup_dir=tmp_path / "elsewhere")).close()
    assert len(list((tmp_path / "backups").iterdir())) == 1
    assert not (tmp_path / "elsewhere").exists()


async def test_no_migration_when_the_backup_before_it_fails(tmp_path: Path) -> None:
    path = tmp_path / "zhiwei.db"
    db = await Database.open(path, migrate=False)
    await db.migrate(up_to=8)
    await db.close()
    blocker = tmp_path / "backups"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(OSError):
        await Database.open(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 8


async def test_scheduled_backup_once_a_day_at_the_set_time_checked_and_pruned(tmp_path: Path) -> None:
    db = await demo_db(tmp_path / "zhiwei.db")
    folder = tmp_path / "backups"
    service = BackupService(db, TZ, folder, time(3, 30), keep=(2, 0, 0))
    day = datetime(2026, 11, 23, 19, 0, tzinfo=UTC)  # 03:00 on Nov 24 in Shanghai
    await service.produce(day)
    assert not folder.exists()
    await service.produce(day + timedelta(minutes=30))  # 03:30
    assert [p.name for p in folder.iterdir()] == ["zhiwei-20261124-033000.db"]
    await service.produce(day + timedelta(hours=5))  # the same day: done already
    assert len(list(folder.iterdir())) == 1
    # Next days (a restart in between changes nothing: the folder is the memory).
    service = BackupService(db, TZ, folder, time(3, 30), keep=(2, 0, 0))
    await service.produce(day + timedelta(days=1, hours=1))
    await service.produce(day + timedelta(days=2, hours=7))
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["zhiwei-20261125-040000.db", "zhiwei-20261126-100000.db"]  # kept: the newest 2 days
    assert all(backup.check_file(folder / n).ok for n in names)
    # Off when [backup] time = "".
    assert not BackupService(db, TZ, folder, None).due(day + timedelta(days=5))
    await db.close()


async def test_a_failed_scheduled_backup_is_retried_an_hour_later(tmp_path: Path) -> None:
    db = await demo_db(tmp_path / "zhiwei.db")
    blocker = tmp_path / "backups"
    blocker.write_text("not a folder")
    service = BackupService(db, TZ, blocker, time(3, 30))
    moment = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)
    await service.produce(moment)
    assert not service.due(moment + timedelta(minutes=30))
    blocker.unlink()
    assert service.due(moment + timedelta(hours=1))
    await service.produce(moment + timedelta(hours=1))
    assert len(list(blocker.iterdir())) == 1
    await db.close()


@pytest.mark.e2e
async def test_backup_and_restore_cli(tmp_path: Path) -> None:
    live = tmp_path / "zhiwei.db"
    await (await demo_db(live)).close()
    before = every_row(live)
    env = {**os.environ, "BOT_DB": str(live)}
    env.pop("TELEGRAM_TOKEN", None)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=env,
                              timeout=120)

    made = cli("backup")
    assert made.returncode == 0, made.stderr
    copies = list((tmp_path / "backups").glob("zhiwei-*.db"))
    assert len(copies) == 1 and "已备份到" in made.stdout
    other = cli("backup", "--dir", str(tmp_path / "other"))
    assert other.returncode == 0 and len(list((tmp_path / "other").glob("zhiwei-*.db"))) == 1
    with sqlite3.connect(live) as conn:
        conn.execute("DELETE FROM members")
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"garbage" * 1000)
    refused = cli("restore", str(bad))
    assert refused.returncode == 1 and "不是完好的数据库文件" in refused.stderr and "没有改动" in refused.stderr
    assert every_row(live)["members"] == []
    done = cli("restore", str(copies[0]))
    assert done.returncode == 0, done.stderr
    assert "已用" in done.stdout and "pre-restore-" in done.stdout
    assert every_row(live) == before
