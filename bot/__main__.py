"""Command line: run, shell, check-config, doctor, init-db, backup, restore, export, forget."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from bot import config as config_mod
from bot.config import Config, ConfigError
from bot.logging_setup import setup_logging
from handlers.i18n import t


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="执委助手")
    sub = parser.add_subparsers(dest="command")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="TOML config file (see config.example.toml)")
    sub.add_parser("run", parents=[common], help="run the bot (long polling)")
    shell = sub.add_parser("shell", parents=[common], help="local chat console, no token needed (default)")
    shell.add_argument("--db", help="use this database instead of a fresh demo one")
    shell.add_argument("--fresh", action="store_true", help="start from an empty database")
    shell.add_argument("--script", help="read the conversation from this file")
    sub.add_parser("check-config", parents=[common], help="validate the configuration")
    sub.add_parser("init-db", parents=[common], help="create or upgrade the database")
    sub.add_parser("doctor", parents=[common], help="check the deployment; exit code 1 when something needs doing")
    backup = sub.add_parser("backup", parents=[common], help="online backup of the database, checked")
    backup.add_argument("file", nargs="?", help="write here (default: a new zhiwei-….db in the backup folder)")
    backup.add_argument("--dir", help="the backup folder (default: [backup] dir)")
    sub.add_parser("stats-db", parents=[common], help="table sizes (rows, MB) and the retention settings")
    sub.add_parser("vacuum", parents=[common], help="prune old sent messages now, then VACUUM (bot stopped)")
    restore = sub.add_parser("restore", parents=[common], help="replace the database with a backup")
    restore.add_argument("file")
    ask = sub.add_parser("ask", parents=[common], help="answer from the knowledge base as the bot would")
    ask.add_argument("question", nargs="?")
    ask.add_argument("--org", help="organisation name or id (default: deployment-wide entries only)")
    ask.add_argument("--json", action="store_true", help="one JSON object per question")
    ask.add_argument("--batch", help="a file with one question per line")
    imp = sub.add_parser("import-faq", parents=[common], help="import FAQ entries (CSV, JSONL, XLSX)")
    imp.add_argument("file")
    imp.add_argument("--org", help="organisation name or id (default: deployment-wide)")
    exp = sub.add_parser("export-faq", parents=[common], help="export FAQ entries (.jsonl or .xlsx)")
    exp.add_argument("file")
    exp.add_argument("--org", help="organisation name or id (default: deployment-wide)")
    export = sub.add_parser("export", parents=[common], help="xlsx export of an organisation's records")
    export.add_argument("org", help="organisation name or id")
    export.add_argument("--what", choices=["ledger", "duty", "review"], required=True)
    export.add_argument("--month", help="YYYY-MM (default: this month)")
    export.add_argument("--cycle", type=int, help="review cycle id (default: the latest closed one)")
    export.add_argument("file")
    forget = sub.add_parser("forget", parents=[common], help="export and delete a person's data (个人信息保护法)")
    forget.add_argument("user_id", type=int, help="her Telegram ID")
    forget.add_argument("--export", required=True, help="write the JSON export here first")
    forget.add_argument("--yes", action="store_true", help="really delete (without it: export and preview only)")
    return parser


def _load(path: str | None) -> Config:
    return config_mod.load(path)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "shell"
    try:
        cfg = _load(getattr(args, "config", None))
    except ConfigError as exc:
        print(t(None, "cli.config_error", error=exc), file=sys.stderr)
        return 2
    if command == "shell":
        return _shell(cfg, args)
    setup_logging(cfg.log.level, cfg.log.format)
    if command == "check-config":
        where = f"PostgreSQL {cfg.database.url.split('@')[-1]}" if cfg.database.url else cfg.database.path
        print(t(None, "cli.config_ok", db=where, tz=cfg.bot.timezone, locale=cfg.bot.locale,
                base_url=cfg.telegram.base_url or "https://api.telegram.org",
                token=t(None, "cli.token_set" if cfg.telegram.token else "cli.token_unset"),
                admins=", ".join(map(str, cfg.admins.super_admins)) or "—"))
        return 0
    if command == "init-db":
        return asyncio.run(_init_db(cfg))
    if command == "doctor":
        from bot.doctor import run_doctor

        return asyncio.run(run_doctor(cfg))
    if command == "backup":
        from storage.backup import scheduled_name

        folder = Path(args.dir) if args.dir else cfg.backup.directory(cfg.database.path)
        suffix = ".dump" if cfg.database.shared else ".db"  # PostgreSQL: pg_dump -Fc (storage/pg_dump.py)
        target = Path(args.file) if args.file else folder / scheduled_name(datetime.now(cfg.tz), suffix)
        if target.exists():
            print(t(None, "cli.backup_exists", target=target), file=sys.stderr)
            return 1
        code = asyncio.run(_backup(cfg, target))
        if code == 0:
            print(t(None, "cli.backup_done", target=target, size=target.stat().st_size))
        return code
    if command == "restore":
        return _restore(cfg, Path(args.file))
    if command == "stats-db":
        from bot.db_cli import stats_db

        return stats_db(cfg)
    if command == "vacuum":
        from bot.db_cli import vacuum

        return vacuum(cfg)
    if command in ("ask", "import-faq", "export-faq"):
        from bot.faq_cli import run_faq_cli

        return asyncio.run(run_faq_cli(cfg, command, args))
    if command == "export":
        if args.what == "review":
            return asyncio.run(_export_review(cfg, args.org, args.cycle, Path(args.file)))
        return asyncio.run(_export(cfg, args.org, args.what, args.month, Path(args.file)))
    if command == "forget":
        return asyncio.run(_forget(cfg, args.user_id, Path(args.export), args.yes))
    if command == "run":
        if not cfg.telegram.token:
            print(t(None, "cli.token_missing"), file=sys.stderr)
            return 2
        from bot.runner import run_bot
        from storage.backup import BackupError

        print(t(None, "cli.starting"), file=sys.stderr)
        try:
            run_bot(cfg)
        except BackupError:
            print(t(None, "backup_cli.run_in_use", db=cfg.database.path), file=sys.stderr)
            return 1
        return 0
    return 2


def _shell(cfg: Config, args: argparse.Namespace) -> int:
    from bot.shell import run_shell

    setup_logging(level=40)  # errors only: the console is for the conversation
    script = open(args.script, encoding="utf-8") if args.script else None  # noqa: SIM115
    try:
        if args.db:
            new = not Path(args.db).exists()  # --db NEWFILE: the shell says it starts empty
            return asyncio.run(run_shell(cfg, args.db, fresh=args.fresh, seed_demo=False, script=script,
                                         new_database=new, files_dir=Path(args.db).resolve().parent / "shell-files"))
        with tempfile.TemporaryDirectory(prefix="zhiwei-shell-") as folder:
            db_path = str(Path(folder) / "demo.db")
            return asyncio.run(run_shell(cfg, db_path, fresh=args.fresh, seed_demo=True, script=script))
    finally:
        if script is not None:
            script.close()


async def _init_db(cfg: Config) -> int:
    from storage.db import Database

    try:
        db = await Database.open(cfg.database.location, backup_dir=cfg.backup.directory(cfg.database.path))
    except Exception as exc:
        print(t(None, "cli.db_error", error=exc), file=sys.stderr)
        return 1
    version = await db.schema_version()
    await db.close()
    print(t(None, "cli.db_ready", db=cfg.database.url.split("@")[-1] or cfg.database.path, version=version))
    return 0


async def _backup(cfg: Config, target: Path) -> int:
    """A checked online backup; the database is not migrated (a backup must not change it)."""
    from storage.backup import BackupError
    from storage.db import Database

    if cfg.database.shared:
        return await asyncio.to_thread(_backup_pg, cfg, target)
    if not await asyncio.to_thread(Path(cfg.database.path).is_file):
        print(t(None, "backup_cli.no_database", path=cfg.database.path), file=sys.stderr)
        return 1
    try:
        db = await Database.open(cfg.database.path, migrate=False)
        try:
            await db.backup_verified(target)
        finally:
            await db.close()
    except BackupError as exc:
        print(t(None, "backup_cli.verify_failed", target=target, problem=exc.detail), file=sys.stderr)
        return 1
    except Exception as exc:
        print(t(None, "cli.db_error", error=exc), file=sys.stderr)
        return 1
    return 0


def _backup_pg(cfg: Config, target: Path) -> int:
    from storage import pg_dump
    from storage.backup import BackupError

    try:
        pg_dump.dump(cfg.database.url, target)
    except BackupError as exc:
        key = {"no_tool": "pg_no_tool", "verify_failed": "pg_verify_failed"}.get(exc.code, "pg_dump_failed")
        print(t(None, f"backup_cli.{key}", command=exc.detail, target=target, problem=exc.detail), file=sys.stderr)
        return 1
    return 0


def _restore_pg(cfg: Config, source: Path) -> int:
    """PostgreSQL: refused while a bot process holds a sender's lock on the database; a checked dump
    of the current contents first (pre-restore-….dump), then pg_restore in one transaction."""
    from storage import pg_dump
    from storage.backup import BackupError
    from storage.pg import PgDatabase

    async def running() -> int:
        db = await PgDatabase.open_url(cfg.database.url, migrate=False)
        try:
            return await db.senders_running()
        finally:
            await db.close()

    where = cfg.database.url.split("@")[-1]
    try:
        count = asyncio.run(running())
    except Exception as exc:
        print(t(None, "cli.db_error", error=exc), file=sys.stderr)
        return 1
    if count:
        print(t(None, "backup_cli.pg_restore_in_use", count=count), file=sys.stderr)
        return 1
    try:
        safety = pg_dump.restore(cfg.database.url, source, cfg.backup.directory(cfg.database.path),
                                 datetime.now(cfg.tz))
    except BackupError as exc:
        key = {"no_tool": "pg_no_tool", "bad_file": "pg_restore_bad_file", "not_ours": "restore_not_ours",
               "restore_failed": "pg_restore_failed", "verify_failed": "pg_verify_failed"}.get(exc.code,
                                                                                             "pg_dump_failed")
        print(t(None, f"backup_cli.{key}", command=exc.detail, file=source, problem=exc.detail, target=source,
                db=where), file=sys.stderr)
        return 1
    print(t(None, "backup_cli.pg_restored", file=source, db=where))
    print(t(None, "backup_cli.safety_copy", target=safety))
    return 0


def _restore(cfg: Config, source: Path) -> int:
    from storage import backup
    from storage.db import available_migrations

    if cfg.database.shared:
        return _restore_pg(cfg, source)

    db_path = Path(cfg.database.path)
    try:
        safety = backup.restore(source, db_path, cfg.backup.directory(cfg.database.path),
                                available_migrations()[-1][0], datetime.now(cfg.tz))
    except backup.BackupError as exc:
        print(t(None, f"backup_cli.restore_{exc.code}", file=source, problem=exc.detail, db=db_path),
              file=sys.stderr)
        return 1
    print(t(None, "backup_cli.restored", file=source, db=db_path))
    if safety is not None:
        print(t(None, "backup_cli.safety_copy", target=safety))
    return 0


async def _export(cfg: Config, org_name: str, what: str, month_text: str | None, target: Path) -> int:
    from bot.app import build_services
    from handlers.duty import ledger_xlsx, parse_month, schedule_xlsx
    from services.clock import SystemClock
    from storage.db import Database

    db = await Database.open(cfg.database.location, backup_dir=cfg.backup.directory(cfg.database.path))
    try:
        services = build_services(cfg, db, SystemClock())
        org = await services.roster.find_org(org_name)
        if org is None:
            print(t(None, "cli.unknown_org", name=org_name), file=sys.stderr)
            return 1
        month = parse_month(month_text or "", services.duty.today())
        if month is None:
            print(t(None, "cli.bad_month", text=month_text or ""), file=sys.stderr)
            return 1
        if what == "ledger":
            data: bytes | None = await ledger_xlsx(services, cfg.bot.locale, org.id, *month)
        else:
            data = await schedule_xlsx(services, cfg.bot.locale, org.id, *month)
        if data is None:
            print(t(None, "duty.no_rotation"), file=sys.stderr)
            return 1
    finally:
        await db.close()
    await asyncio.to_thread(target.write_bytes, data)
    print(t(None, "cli.export_done", target=target, org=org.name, what=what, month=f"{month[0]}-{month[1]:02d}"))
    return 0


async def _export_review(cfg: Config, org_name: str, cycle_id: int | None, target: Path) -> int:
    from bot.app import build_services
    from handlers.review.results import review_xlsx
    from services.clock import SystemClock
    from services.errors import Refusal
    from storage.db import Database

    db = await Database.open(cfg.database.location, backup_dir=cfg.backup.directory(cfg.database.path))
    try:
        services = build_services(cfg, db, SystemClock())
        org = await services.roster.find_org(org_name)
        if org is None:
            print(t(None, "cli.unknown_org", name=org_name), file=sys.stderr)
            return 1
        try:
            closed = await services.review.results.export(org.id, cycle_id)
        except Refusal:
            key = "review_cli.bad_cycle" if cycle_id is not None else "review_cli.no_closed"
            print(t(None, key, org=org.name, cycle=cycle_id or ""), file=sys.stderr)
            return 1
        data = review_xlsx(cfg.bot.locale, org.name, closed)
    finally:
        await db.close()
    await asyncio.to_thread(target.write_bytes, data)
    print(t(None, "review_cli.export_done", org=org.name, cycle=closed.cycle.name, target=target,
            count=sum(1 for r in closed.rows if not r.removed), total=closed.subsidy_total))
    return 0


async def _forget(cfg: Config, user_id: int, target: Path, yes: bool) -> int:
    """/forget for operators without Telegram: the export is written first, deletion needs --yes.
    The audit row's actor is 0 (the command line)."""
    from bot.app import build_services
    from services.clock import SystemClock
    from services.errors import Refusal
    from services.roster import Actor
    from storage.db import Database

    if await asyncio.to_thread(target.exists):
        print(t(None, "forget_cli.exists", target=target), file=sys.stderr)
        return 1
    db = await Database.open(cfg.database.location, backup_dir=cfg.backup.directory(cfg.database.path))
    try:
        privacy = build_services(cfg, db, SystemClock()).privacy
        actor = Actor(0, is_super_admin=True)
        try:
            pending = await privacy.prepare(actor, user_id=user_id)
        except Refusal as refusal:
            print(t(None, refusal.key, **refusal.params), file=sys.stderr)
            return 1
        person = pending.person
        print(t(None, "forget_cli.preview", who=person.shown_as, id=user_id, orgs="、".join(person.orgs) or "—"))
        for kind, count in pending.counts.items():
            if count:
                print(t(None, "forget.line", kind=t(None, f"forget.kinds.{kind}"), count=count))
        data = privacy.export_bytes(await privacy.export(person))
        await asyncio.to_thread(target.write_bytes, data)
        print(t(None, "forget_cli.exported", target=target))
        if not yes:
            print(t(None, "forget_cli.confirm_hint", target=target))
            return 0
        done = await privacy.forget(actor, pending.token)
    finally:
        await db.close()
    print(t(None, "forget_cli.done", who=person.shown_as, labels="、".join(done.labels.values()) or "—"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
