"""`python -m bot doctor`: everything a deployment can get wrong, checked, with what to do (Chinese).

Checks, in order: the token (getMe), group privacy against faq.auto_answer, every bound group (is
the bot there, may it speak, may it pin), the webhook against the run mode, the operator's chat
([ops] operator_chat_id: set, and reachable through getChat), the database
(integrity, pending migrations, size, the last backup), the time zone, super admins, the holiday
calendar. Nothing is changed: the database is opened read-only. Exit code 0 when nothing needs
doing, 1 otherwise (for scripts and monitoring).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from telegram import Bot, ChatMember, ChatMemberAdministrator, ChatMemberRestricted, User
from telegram.constants import ChatMemberStatus
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, TelegramError

from bot.config import Config
from handlers.i18n import Raw, t
from services import calendar_cn
from storage import backup
from storage.db import available_migrations

Status = Literal["ok", "problem", "info"]
BACKUP_MAX_AGE = timedelta(hours=36)  # a daily backup missed once is already worth a look
BACKUP_MAX_AGE_MANUAL = timedelta(days=7)


@dataclass(frozen=True)
class Finding:
    status: Status
    text: str
    fix: str = ""


@dataclass(frozen=True)
class Group:
    chat_id: int
    org: str
    kind: str
    title: str


class Doctor:
    def __init__(self, cfg: Config, now: datetime | None = None, bot: Bot | None = None) -> None:
        self.cfg = cfg
        self.now = (now or datetime.now(UTC)).astimezone(cfg.tz)
        self.bot = bot
        self.lang = cfg.bot.locale
        self.findings: list[Finding] = []

    def t(self, key: str, **params: Any) -> str:
        return t(self.lang, f"doctor.{key}", **params)

    def add(self, level: Status, key: str, fix: str | None = None, **params: Any) -> None:
        self.findings.append(Finding(level, self.t(key, **params), self.t(fix, **params) if fix else ""))

    async def run(self) -> list[Finding]:
        groups, overrides = await asyncio.to_thread(self._read_db_facts)
        await self.check_telegram(groups)
        await asyncio.to_thread(self.check_database)
        self.check_time_zone()
        self.check_admins()
        self.check_holidays(overrides)
        return self.findings

    # --- Telegram ---------------------------------------------------------------------------

    def _make_bot(self) -> Bot:
        tg = self.cfg.telegram
        if tg.base_url:
            root = tg.base_url.rstrip("/")
            return Bot(tg.token, base_url=f"{root}/bot", base_file_url=f"{root}/file/bot")
        return Bot(tg.token)

    async def check_telegram(self, groups: list[Group]) -> None:
        if not self.cfg.telegram.token and self.bot is None:
            self.add("problem", "token_missing", "token_missing_fix")
            self.add("info", "skipped")
            return
        bot = self.bot or self._make_bot()
        try:
            try:
                me = await bot.get_me()
            except InvalidToken:
                self.add("problem", "token_invalid", "token_invalid_fix")
                self.add("info", "skipped")
                return
            except (NetworkError, TelegramError) as exc:
                self.add("problem", "network", "network_fix",
                         url=self.cfg.telegram.base_url or "https://api.telegram.org", error=exc)
                self.add("info", "skipped")
                return
            self.add("ok", "token_ok", username=me.username or "", name=me.first_name, id=me.id)
            admin_in_public = await self.check_groups(bot, me, groups)
            self.check_privacy(me, groups, admin_in_public)
            await self.check_webhook(bot)
            await self.check_operator(bot)
        finally:
            if self.bot is None:
                with contextlib.suppress(Exception):
                    await bot.shutdown()

    def check_privacy(self, me: User, groups: list[Group], admin_in_public: dict[int, bool]) -> None:
        reads_all = me.can_read_all_group_messages
        mode = self.cfg.faq.auto_answer
        if reads_all is None:
            self.add("info", "privacy_unknown")
        elif reads_all:
            self.add("ok", "privacy_off")
        elif mode != "question":
            self.add("info", "privacy_on_not_needed", mode=mode)
        elif admin_in_public and all(admin_in_public.values()):
            self.add("info", "privacy_on_admin")
        else:
            self.add("problem", "privacy_on", "privacy_on_fix", username=me.username or "")
            for group in groups:
                if admin_in_public.get(group.chat_id) is False:
                    self.add("problem", "group_privacy", **self._group_params(group))

    def _group_params(self, group: Group) -> dict[str, Any]:
        return {"org": group.org, "kind": self.t(f"kind_{group.kind}"), "title": group.title, "chat": group.chat_id}

    async def check_groups(self, bot: Bot, me: User, groups: list[Group]) -> dict[int, bool]:
        """One finding per bound group; returns, per public group the bot is in, whether it is admin."""
        if not groups:
            self.add("info", "groups_none")
            return {}
        admin_in_public: dict[int, bool] = {}
        for group in groups:
            params = {**self._group_params(group), "username": me.username or ""}
            try:
                await bot.get_chat(group.chat_id)
                member: ChatMember = await bot.get_chat_member(group.chat_id, me.id)
            except (BadRequest, Forbidden) as exc:  # 400 chat not found, 403 kicked / not a member
                self.add("problem", "group_gone", "group_gone_fix", error=exc.message, **params)
                continue
            except TelegramError as exc:
                self.add("problem", "group_error", error=exc, **params)
                continue
            status = member.status
            if status in (ChatMemberStatus.LEFT, ChatMemberStatus.BANNED):
                self.add("problem", "group_gone", "group_gone_fix", error=status, **params)
                continue
            if isinstance(member, ChatMemberRestricted) and not member.can_send_messages:
                self.add("problem", "group_cannot_send", "group_cannot_send_fix", **params)
                continue
            is_admin = status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)
            self.add("ok", "group_ok", status=self.t(f"status_{getattr(status, 'value', status)}"), **params)
            if group.kind == "public":
                admin_in_public[group.chat_id] = is_admin
                can_pin = isinstance(member, ChatMemberAdministrator) and bool(member.can_pin_messages)
                if not can_pin and status != ChatMemberStatus.OWNER:
                    self.add("info", "group_no_pin", "group_no_pin_fix", **params)
        return admin_in_public

    async def check_webhook(self, bot: Bot) -> None:
        tg = self.cfg.telegram
        try:
            info = await bot.get_webhook_info()
        except TelegramError as exc:
            self.add("problem", "network", "network_fix", url=tg.base_url or "https://api.telegram.org", error=exc)
            return
        if not tg.webhook_url:
            if info.url:
                self.add("problem", "webhook_polling_conflict", "webhook_polling_conflict_fix", url=info.url)
            else:
                self.add("ok", "webhook_polling")
            return
        if not info.url:
            self.add("info", "webhook_not_set", url=tg.webhook_url)
            return
        if info.url != tg.webhook_url:
            self.add("problem", "webhook_other", "webhook_other_fix", want=tg.webhook_url, url=info.url)
            return
        self.add("ok", "webhook_ok", url=info.url, pending=info.pending_update_count)
        if info.last_error_date is not None and self.now - info.last_error_date < timedelta(days=1):
            self.add("problem", "webhook_error", "webhook_error_fix", age=self.age(self.now - info.last_error_date),
                     error=info.last_error_message or "", listen=tg.webhook_listen, port=tg.webhook_port)

    async def check_operator(self, bot: Bot) -> None:
        """The operator's chat ([ops] operator_chat_id): set, and one the bot can reach."""
        chat_id = self.cfg.ops.operator_chat_id
        if not chat_id:
            self.add("info", "operator_none")
            return
        try:
            chat = await bot.get_chat(chat_id)
        except (BadRequest, Forbidden) as exc:
            self.add("problem", "operator_gone", "operator_gone_fix", chat=chat_id, error=exc.message)
            return
        except TelegramError as exc:
            self.add("problem", "operator_gone", "operator_gone_fix", chat=chat_id, error=exc)
            return
        self.add("ok", "operator_ok", chat=chat_id, name=chat.title or chat.full_name or "")

    # --- the database -----------------------------------------------------------------------

    def _read_db_facts(self) -> tuple[list[Group], dict[date, bool]]:
        """Bound groups and holiday overrides, read-only (nothing when the database is missing)."""
        if self.cfg.database.url:
            return self._read_pg_facts()
        path = Path(self.cfg.database.path)
        if not path.is_file():
            return [], {}
        try:
            with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
                tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                groups = []
                if {"chats", "orgs"} <= tables:
                    rows = conn.execute("SELECT c.chat_id, o.name, c.kind, c.title FROM chats c "
                                        "JOIN orgs o ON o.id = c.org_id ORDER BY o.id, c.kind DESC")
                    groups = [Group(int(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]
                overrides = {}
                if "holiday_days" in tables:
                    overrides = {date.fromisoformat(r[0]): bool(r[1])
                                 for r in conn.execute("SELECT day, workday FROM holiday_days")}
        except sqlite3.DatabaseError:
            return [], {}  # check_database reports it
        return groups, overrides

    def _read_pg_facts(self) -> tuple[list[Group], dict[date, bool]]:
        import psycopg

        try:
            with psycopg.connect(self.cfg.database.url, connect_timeout=5) as conn:
                cur = conn.execute("SELECT c.chat_id, o.name, c.kind, c.title FROM chats c "
                                   "JOIN orgs o ON o.id = c.org_id ORDER BY o.id, c.kind DESC")
                groups = [Group(int(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in cur.fetchall()]
                overrides = {date.fromisoformat(str(r[0])): bool(r[1])
                             for r in conn.execute("SELECT day, workday FROM holiday_days").fetchall()}
        except psycopg.Error:
            return [], {}  # check_database reports it
        return groups, overrides

    def check_postgres(self) -> None:
        """PostgreSQL (`database.url`): reachable, its schema version; backups are pg_dump's."""
        import psycopg

        where = self.cfg.database.url.split("@")[-1]
        try:
            with psycopg.connect(self.cfg.database.url, connect_timeout=5) as conn:
                found = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
                row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone() \
                    if found and found[0] else (0,)
                size = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        except psycopg.Error as exc:
            self.add("problem", "db_pg_unreachable", "db_pg_unreachable_fix", where=where, error=str(exc).strip())
            return
        version = int(row[0]) if row else 0
        self.add("ok", "db_pg_ok", where=where, size=self.size(int(size[0]) if size else 0), version=version)
        latest = available_migrations()[-1][0]
        if version > latest:
            self.add("problem", "db_too_new", "db_too_new_fix", version=version, latest=latest)
        elif version < latest:
            self.add("problem", "db_pending", "db_pending_fix", count=latest - version, version=version, latest=latest)
        if shutil.which("pg_dump") is None:
            self.add("problem", "db_pg_no_dump", "db_pg_no_dump_fix")
        self.check_backups(Path(self.cfg.database.path), exists=True)

    def check_database(self) -> None:
        if self.cfg.database.url:
            self.check_postgres()
            return
        path = Path(self.cfg.database.path)
        if not path.is_file():
            self.add("problem", "db_missing", "db_missing_fix", path=path)
            self.check_backups(path)
            return
        found = backup.check_file(path)
        size = self.size(path.stat().st_size + _size(Path(f"{path}-wal")))
        if not found.ok:
            self.add("problem", "db_corrupt", "db_corrupt_fix", problem=found.problem)
        else:
            self.add("ok", "db_ok", path=path, size=size, version=found.version)
            latest = available_migrations()[-1][0]
            if found.version > latest:
                self.add("problem", "db_too_new", "db_too_new_fix", version=found.version, latest=latest)
            elif found.version < latest:
                self.add("problem", "db_pending", "db_pending_fix", count=latest - found.version,
                         version=found.version, latest=latest)
        self.check_backups(path)

    def check_backups(self, db_path: Path, exists: bool | None = None) -> None:
        """The newest backup in the folder; none at all is a problem once the database `exists`
        (default: the SQLite file is there; on PostgreSQL the server's database)."""
        folder = self.cfg.backup.directory(str(db_path))
        if self.cfg.backup.at is None:
            self.add("info", "backup_off")
        last = backup.latest(folder)
        if last is None:
            if db_path.is_file() if exists is None else exists:
                self.add("problem", "backup_none", "backup_none_fix", dir=folder)
            return
        when, file = last
        age = self.now.replace(tzinfo=None) - when  # names carry the local time
        limit = BACKUP_MAX_AGE if self.cfg.backup.at is not None else BACKUP_MAX_AGE_MANUAL
        if age > limit:
            self.add("problem", "backup_old", "backup_old_fix", age=self.age(age), file=file, dir=folder)
        else:
            self.add("ok", "backup_ok", file=file, age=self.age(max(age, timedelta(0))))

    # --- settings ---------------------------------------------------------------------------

    def check_time_zone(self) -> None:
        tz = self.cfg.bot.timezone
        self.add("ok", "tz_ok", tz=tz, now=self.now.strftime("%Y-%m-%d %H:%M"))
        if tz not in ("Asia/Shanghai", "Asia/Chongqing", "Asia/Urumqi", "PRC", "Asia/Harbin"):
            self.add("info", "tz_unusual", tz=tz)

    def check_admins(self) -> None:
        admins = self.cfg.admins.super_admins
        if not admins:
            self.add("problem", "admins_none", "admins_none_fix")
        else:
            self.add("ok", "admins_ok", count=len(admins), ids=", ".join(map(str, admins)))

    def check_holidays(self, overrides: dict[date, bool]) -> None:
        today = self.now.date()
        for year in (today.year, today.year + 1):
            if calendar_cn.official_data_covers(year):
                self.add("ok", "holiday_ok", year=year, source=self.t("holiday_source_library"))
            elif calendar_cn.covers(year, overrides):
                count = sum(1 for d in overrides if d.year == year)
                self.add("ok", "holiday_ok", year=year, source=self.t("holiday_source_db", count=count))
            elif year == today.year or today.month == 12:
                self.add("problem", "holiday_missing", "holiday_missing_fix", year=year)
            else:
                self.add("info", "holiday_not_yet", year=year)

    # --- formatting ---------------------------------------------------------------------------

    def age(self, span: timedelta) -> str:
        hours = int(span.total_seconds() // 3600)
        return self.t("age_hours", n=hours) if hours < 48 else self.t("age_days", n=hours // 24)

    def size(self, n: int) -> str:
        return self.t("size_mb", n=f"{n / 1_048_576:.1f}") if n >= 1_048_576 else self.t("size_kb", n=max(1, n // 1024))

    def report(self) -> list[str]:
        """Plain-text lines for a terminal (the locale's HTML escaping undone)."""
        lines = [self.t("header", when=self.now.strftime("%Y-%m-%d %H:%M"))]
        for f in self.findings:
            lines.append(self.t(f.status, text=Raw(f.text)))
            if f.fix:
                lines.append(self.t("fix", text=Raw(f.fix)))
        problems = sum(1 for f in self.findings if f.status == "problem")
        lines.append(self.t("summary_problems", count=problems) if problems else self.t("summary_ok"))
        return [html.unescape(line) for line in lines]


def _size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else 0


async def run_doctor(cfg: Config, out: Callable[[str], None] = print, now: datetime | None = None) -> int:
    doctor = Doctor(cfg, now)
    findings = await doctor.run()
    for line in doctor.report():
        out(line)
    return 1 if any(f.status == "problem" for f in findings) else 0
