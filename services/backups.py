"""Scheduled online backups: once a day at [backup] time (local), checked, then old ones pruned.

Run as a producer of the scheduler tick in `python -m bot run` (bot/runner.py). A day's backup
is done when the folder holds a scheduled backup named with that day at or after the set time, so
a restart neither repeats it nor loses it (started after the time without one: it runs at once).
A failed backup is logged, reported to the operator (`on_failure`, services.ops_alerts) and retried
an hour later; `python -m bot doctor`, GET /health and /status report its age.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from services.clock import next_local
from storage import backup
from storage.db import Database

log = logging.getLogger(__name__)
RETRY_AFTER = timedelta(hours=1)


class BackupService:
    def __init__(self, db: Database, tz: ZoneInfo, folder: Path, at: time | None,
                 keep: tuple[int, int, int] = (7, 4, 6),
                 on_failure: Callable[[Path, str], Awaitable[None]] | None = None) -> None:
        self.db = db
        self.on_failure = on_failure
        self.tz = tz
        self.folder = folder
        self.at = at
        self.keep = keep  # daily, weekly, monthly
        self._failed_at: datetime | None = None

    @property
    def failed_at(self) -> datetime | None:
        """When the last attempt failed (None once one succeeds)."""
        return self._failed_at

    @property
    def last_ok(self) -> datetime | None:
        """The newest scheduled backup in the folder (the local time in its name)."""
        found = backup.backups_in(self.folder, backup.SCHEDULED)
        return found[-1][0].replace(tzinfo=self.tz) if found else None

    def due(self, now: datetime) -> bool:
        at = self.at
        if at is None:
            return False
        local = now.astimezone(self.tz).replace(tzinfo=None)
        start = datetime.combine(local.date(), at)
        if local < start:
            return False
        if self._failed_at is not None and now - self._failed_at < RETRY_AFTER:
            return False
        done = backup.backups_in(self.folder, backup.SCHEDULED)
        return not any(start <= when for when, _ in done)

    async def next_due(self, now: datetime) -> datetime | None:
        """The next daily time, `now` while today's is due, or the retry after a failure."""
        if self.at is None:
            return None
        following = next_local(now, self.at, self.tz)
        if self._failed_at is not None and now - self._failed_at < RETRY_AFTER:
            return min(self._failed_at + RETRY_AFTER, following)
        return now if self.due(now) else following

    async def produce(self, now: datetime) -> None:
        if self.due(now):
            await self.backup_now(now)

    async def backup_now(self, now: datetime) -> Path | None:
        target = self.folder / backup.scheduled_name(now.astimezone(self.tz), self.db.backup_suffix)
        try:
            await self.db.backup_verified(target)
            deleted = await asyncio.to_thread(backup.prune, self.folder, *self.keep)
        except backup.BackupError as exc:
            if exc.code != "busy":
                await self._failed(now, target, exc)
                return None
            log.info("scheduled backup: another worker is writing one now")  # its file makes today's done
            return None
        except Exception as exc:
            await self._failed(now, target, exc)
            return None
        self._failed_at = None
        log.info("backup written and checked: %s (%d old ones pruned)", target, len(deleted))
        return target

    async def _failed(self, now: datetime, target: Path, exc: Exception) -> None:
        """Logged, reported to the operator, retried an hour later."""
        self._failed_at = now
        log.error("scheduled backup to %s failed", target, exc_info=exc)
        if self.on_failure is not None:
            try:
                await self.on_failure(target, f"{type(exc).__name__}: {exc}")
            except Exception:
                log.exception("could not report the failed backup")

