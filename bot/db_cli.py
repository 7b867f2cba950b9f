"""`python -m bot stats-db` (table sizes, while the bot runs too) and `python -m bot vacuum` (prune
now, then VACUUM the file into incremental auto-vacuum; the bot must be stopped). On PostgreSQL
(`database.url`): the database's and each table's size (rows as the planner's estimate), and
prune + `VACUUM (ANALYZE)`, both safe while the bots run."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from bot.config import Config
from handlers.i18n import t
from services.retention import RetentionService
from storage import retention
from storage.backup import BackupError, run_lock
from storage.db import Database


def _mb(n: int | None) -> str:
    return "—" if n is None else f"{n / 1_000_000:.2f}"


def _file_size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def stats_db(cfg: Config) -> int:
    import asyncio

    if cfg.database.shared:
        return asyncio.run(_pg_stats(cfg))
    path = Path(cfg.database.path)
    if not path.exists():
        print(t(None, "db_cli.no_database", path=path), file=sys.stderr)
        return 1
    sizes, info = asyncio.run(_read_stats(path))
    print(t(None, "db_cli.header", db=path, mb=_mb(_file_size(path)), wal_mb=_mb(_file_size(Path(f"{path}-wal"))),
            pages=info.pages, page_size=info.page_size, free=info.free_pages, mode=info.auto_vacuum,
            keep=cfg.database.keep_sent_days))
    if any(s.bytes is None for s in sizes):
        print(t(None, "db_cli.no_dbstat"))
    print(f"{'table':<24} {'rows':>10} {'MB':>9}")
    for size in sizes:
        print(f"{size.name:<24} {size.rows:>10} {_mb(size.bytes):>9}")
    if info.auto_vacuum != "incremental":
        print(t(None, "db_cli.vacuum_hint"))
    return 0


async def _pg_stats(cfg: Config) -> int:
    try:
        db = await Database.open(cfg.database.url, migrate=False)
    except Exception as exc:
        print(t(None, "cli.db_error", error=exc), file=sys.stderr)
        return 1
    try:
        async with db.read() as conn:
            sizes, info = await retention.table_sizes(conn, estimate=True), await retention.file_info(conn)
    finally:
        await db.close()
    print(t(None, "db_cli.header_pg", db=db.path, mb=_mb(info.pages * info.page_size),
            keep=cfg.database.keep_sent_days))
    print(f"{'table':<24} {'rows (est.)':>12} {'MB':>9}")
    for size in sizes:
        print(f"{size.name:<24} {size.rows:>12} {_mb(size.bytes):>9}")
    return 0


async def _read_stats(path: Path) -> tuple[list[retention.TableSize], retention.FileInfo]:
    db = await Database.open(path, migrate=False)
    try:
        async with db.read() as conn:
            return await retention.table_sizes(conn), await retention.file_info(conn)
    finally:
        await db.close()


async def _vacuum(cfg: Config) -> int:
    db = await Database.open(cfg.database.location, backup_dir=cfg.backup.directory(cfg.database.path))
    try:
        if cfg.database.keep_sent_days > 0:
            done = await RetentionService(db, cfg.tz, cfg.database.keep_sent_days).prune(datetime.now(UTC))
            print(t(None, "db_cli.pruned", outbox=done.outbox, notices=done.notices, days=cfg.database.keep_sent_days))
        await db.vacuum_incremental()
    finally:
        await db.close()
    return 0


def vacuum(cfg: Config) -> int:
    import asyncio

    if cfg.database.shared:  # PostgreSQL: VACUUM (ANALYZE) beside the running bots
        code = asyncio.run(_vacuum(cfg))
        print(t(None, "db_cli.vacuumed_pg", db=cfg.database.url.split("@")[-1]))
        return code
    if not Path(cfg.database.path).exists():
        print(t(None, "db_cli.no_database", path=cfg.database.path), file=sys.stderr)
        return 1
    try:
        with run_lock(cfg.database.path):
            code = asyncio.run(_vacuum(cfg))
    except BackupError:
        print(t(None, "db_cli.in_use", db=cfg.database.path), file=sys.stderr)
        return 1
    print(t(None, "db_cli.vacuumed", db=cfg.database.path, mb=_mb(_file_size(Path(cfg.database.path)))))
    return code
