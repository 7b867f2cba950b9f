"""How the running bot is doing, for GET /health, /status and the operator's alerts: uptime, the
last scheduler tick, the outbox backlog and its oldest unsent message, send errors in the last hour
(every failed attempt, counted by the rate limiter or the outbox sender), rows given up, and the
scheduled backup."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from services.clock import Clock
from storage import outbox
from storage.db import Database

ERROR_WINDOW = timedelta(hours=1)
MAX_REMEMBERED = 100_000  # failed attempts kept in memory (a long outage must not grow without bound)

State = Literal["ok", "stuck", "no_tick"]


class BackupState(Protocol):
    """What the health report reads from the scheduled backup (services.backups.BackupService)."""

    @property
    def last_ok(self) -> datetime | None: ...

    @property
    def failed_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class Status:
    now: datetime
    started_at: datetime
    last_tick: datetime | None
    pending: int
    oldest_unsent_at: datetime | None
    errors: dict[str, int]  # failed send attempts in the last hour, by outcome
    given_up: int  # outbox rows marked failed in the last hour
    stuck_after: timedelta
    tick_every: timedelta
    backup_ok_at: datetime | None = None
    backup_failed_at: datetime | None = None
    backups_on: bool = False
    oldest_unsent_id: int | None = None

    @property
    def uptime(self) -> timedelta:
        return self.now - self.started_at

    @property
    def oldest_unsent_age(self) -> timedelta | None:
        return None if self.oldest_unsent_at is None else max(self.now - self.oldest_unsent_at, timedelta(0))

    @property
    def error_total(self) -> int:
        return sum(self.errors.values())

    @property
    def stuck(self) -> bool:
        age = self.oldest_unsent_age
        return age is not None and age > self.stuck_after

    @property
    def ticking(self) -> bool:
        """A tick within three intervals (at least 2 minutes); right after the start there is grace."""
        allowed = max(3 * self.tick_every, timedelta(minutes=2))
        since = self.last_tick or self.started_at
        return self.now - since <= allowed

    @property
    def state(self) -> State:
        if not self.ticking:
            return "no_tick"
        return "stuck" if self.stuck else "ok"

    def as_json(self) -> dict[str, Any]:
        def iso(moment: datetime | None) -> str | None:
            return None if moment is None else moment.isoformat(timespec="seconds")

        age = self.oldest_unsent_age
        tick_ago = None if self.last_tick is None else int((self.now - self.last_tick).total_seconds())
        return {
            "status": self.state,
            "now": iso(self.now),
            "started_at": iso(self.started_at),
            "uptime_seconds": int(self.uptime.total_seconds()),
            "last_tick": iso(self.last_tick),
            "last_tick_seconds_ago": tick_ago,
            "outbox": {
                "pending": self.pending,
                "oldest_unsent_at": iso(self.oldest_unsent_at),
                "oldest_unsent_seconds": None if age is None else int(age.total_seconds()),
                "stuck": self.stuck,
                "given_up_last_hour": self.given_up,
            },
            "send_errors_last_hour": {"total": self.error_total, "by_outcome": dict(sorted(self.errors.items()))},
            "backup": {"scheduled": self.backups_on, "last_ok": iso(self.backup_ok_at),
                       "failing_since": iso(self.backup_failed_at)},
        }


@dataclass
class HealthService:
    db: Database
    clock: Clock
    tick_every: timedelta
    stuck_after: timedelta
    started_at: datetime = field(init=False)
    last_tick: datetime | None = None
    backups: BackupState | None = None
    _failures: deque[tuple[datetime, str]] = field(default_factory=lambda: deque(maxlen=MAX_REMEMBERED))

    def __post_init__(self) -> None:
        self.started_at = self.clock.now()

    def ticked(self, now: datetime) -> None:
        self.last_tick = now

    def note_outcome(self, outcome: str) -> None:
        """One send attempt's outcome (handlers.sender.classify): the failures are remembered an hour."""
        if outcome != "ok":
            self._failures.append((self.clock.now(), outcome))

    def errors_last_hour(self, now: datetime) -> dict[str, int]:
        since = now - ERROR_WINDOW
        while self._failures and self._failures[0][0] < since:
            self._failures.popleft()
        return dict(Counter(outcome for at, outcome in self._failures if at <= now))

    async def status(self) -> Status:
        now = self.clock.now()
        async with self.db.read() as conn:
            queue = await outbox.backlog(conn)
            given_up = await outbox.failed_since(conn, now - ERROR_WINDOW)
        backups = self.backups
        return Status(
            now=now, started_at=self.started_at, last_tick=self.last_tick, pending=queue.pending,
            oldest_unsent_at=queue.oldest_at, errors=self.errors_last_hour(now), given_up=given_up,
            stuck_after=self.stuck_after, tick_every=self.tick_every,
            backup_ok_at=backups.last_ok if backups else None,
            backup_failed_at=backups.failed_at if backups else None, backups_on=backups is not None,
            oldest_unsent_id=queue.oldest_id,
        )
