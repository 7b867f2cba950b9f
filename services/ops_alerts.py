"""The operator's chat ([ops] operator_chat_id): unexpected errors (a short traceback summary), a
stuck outbox (and when it moves again) and failed scheduled backups, sent through the outbox like
every other message and rate-limited: at most one alert of a kind per [ops] alert_interval_minutes;
the next one says how many were held back. Without an operator chat alerts are only logged."""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from services.clock import Clock
from services.health import HealthService
from services.outbox import Outgoing, text
from storage import outbox
from storage.db import Database

log = logging.getLogger(__name__)

MAX_MESSAGE = 300
MAX_FRAMES = 4


@dataclass(frozen=True)
class ErrorSummary:
    kind: str  # the exception type and where it was raised: one rate-limit bucket
    error: str  # "TypeError: ..." (shortened)
    frames: tuple[str, ...]  # "handlers/duty.py:123 rota", innermost last


def _project_path(filename: str) -> str | None:
    """A path inside this project (bot/, handlers/, services/, storage/), else None."""
    parts = Path(filename).parts
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] in ("bot", "handlers", "services", "storage") and "site-packages" not in parts[:i]:
            return "/".join(parts[i:])
    return None


def summarize(exc: BaseException) -> ErrorSummary:
    """The traceback in a few lines: the project's own frames (innermost last), or the last frame."""
    frames = traceback.extract_tb(exc.__traceback__)
    own = [(p, f) for f in frames if (p := _project_path(f.filename)) is not None]
    if not own and frames:
        last = frames[-1]
        own = [(Path(last.filename).name, last)]
    lines = tuple(f"{path}:{f.lineno} {f.name}" for path, f in own[-MAX_FRAMES:])
    message = " ".join(str(exc).split())
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 1] + "…"
    error = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    where = lines[-1].split(" ")[0] if lines else "?"
    return ErrorSummary(f"{type(exc).__name__}@{where}", error, lines)


class OperatorAlerts:
    def __init__(self, db: Database, clock: Clock, chat_id: int, interval: timedelta,
                 health: HealthService | None = None) -> None:
        self.db = db
        self.clock = clock
        self.chat_id = chat_id
        self.interval = interval
        self.health = health
        self._last: dict[str, datetime] = {}
        self._held: dict[str, int] = {}
        self._stuck_on: int | None = None  # the oldest unsent row when the outbox was reported stuck

    @property
    def enabled(self) -> bool:
        return self.chat_id != 0

    async def alert(self, kind: str, key: str, **params: Any) -> bool:
        """Queue one alert (locale `key`), unless one of this `kind` went out within the interval:
        then it is only counted, and the next alert of the kind says so. True when queued."""
        if not self.enabled:
            return False
        now = self.clock.now()
        last = self._last.get(kind)
        if last is not None and now - last < self.interval:
            self._held[kind] = self._held.get(kind, 0) + 1
            return False
        held = self._held.pop(kind, 0)
        self._last[kind] = now
        body = {"body": text(key, **params),
                "held": text("ops_alert.held", count=held, minutes=int(self.interval.total_seconds() // 60))
                if held else ""}
        msg = Outgoing(self.chat_id, "ops_alert.wrap", body, dedupe=f"ops:{kind}:{now.isoformat()}")
        try:
            async with self.db.transaction() as conn:
                await outbox.enqueue(conn, [msg], now)
        except Exception:  # an alert must never raise where it is called (the error handler …)
            log.exception("could not queue an operator alert (%s)", kind)
            return False
        return True

    async def error(self, exc: BaseException, where: str) -> bool:
        """An unexpected exception: `where` says what was running (a command, a producer)."""
        summary = summarize(exc)
        return await self.alert(f"error:{summary.kind}", "ops_alert.error", where=where, error=summary.error,
                                frames="\n".join(summary.frames) or "?")

    async def backup_failed(self, target: Path, error: str) -> None:
        await self.alert("backup", "ops_alert.backup_failed", file=str(target), error=error[:MAX_MESSAGE])

    async def next_due(self, now: datetime) -> datetime | None:
        """For the shell's :advance: only a pending outbox (which the tick already watches) or a stuck
        one that may come unstuck gives this producer something to do."""
        return now if self.enabled and self._stuck_on is not None else None

    async def produce(self, now: datetime) -> None:
        """Scheduler producer: the outbox stuck (once per stuck row) and moving again."""
        if not self.enabled or self.health is None:
            return
        status = await self.health.status()
        age = status.oldest_unsent_age
        if status.stuck and age is not None:
            oldest = status.oldest_unsent_id
            if oldest != self._stuck_on:
                self._stuck_on = oldest
                await self.alert("outbox_stuck", "ops_alert.outbox_stuck", pending=status.pending,
                                 minutes=int(age.total_seconds() // 60), errors=status.error_total)
        elif self._stuck_on is not None and not status.stuck:
            self._stuck_on = None
            self._last.pop("outbox_ok", None)
            await self.alert("outbox_ok", "ops_alert.outbox_ok", pending=status.pending)
