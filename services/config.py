"""The deployment's settings as typed records (defaults included), at the bottom of the layers so
that services can type what they are given. Reading them from TOML and the environment, and
validating them, is bot/config.py's job."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from services.review.scoring import Grade, RatingOption, Rubric, dec

HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def parse_hhmm(value: str) -> time:
    match = HHMM.match(value)
    if not match:
        raise ValueError(value)
    return time(int(match.group(1)), int(match.group(2)))


class ConfigError(ValueError):
    """A configuration problem, with a message that names the key."""


@dataclass(frozen=True)
class TelegramConfig:
    token: str = ""
    base_url: str = ""
    webhook_url: str = ""
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443
    webhook_secret: str = ""
    # Scheduled messages sent at once and not yet recorded as sent (0 = auto: as few as keep ~30 a
    # second at the measured round trip). A worker killed mid-send sends at most these again.
    max_in_flight: int = 0


@dataclass(frozen=True)
class DatabaseConfig:
    path: str = "zhiwei.db"
    keep_sent_days: int = 60  # sent/failed outbox rows and the duty-notice journal; 0 = keep for ever
    url: str = ""  # postgresql://… : PostgreSQL instead of the SQLite file (several workers may share it)

    @property
    def location(self) -> str:
        """What `Database.open` is given: the PostgreSQL URL when set, else the SQLite file."""
        return self.url or self.path

    @property
    def shared(self) -> bool:
        """On PostgreSQL: several processes may use the database (no file lock, no file backups)."""
        return bool(self.url)


_Time = time  # BackupConfig has a field named `time`


@dataclass(frozen=True)
class BackupConfig:
    time: str = "03:30"
    dir: str = ""
    keep_daily: int = 7
    keep_weekly: int = 4
    keep_monthly: int = 6

    @property
    def at(self) -> _Time | None:
        """Local time of the daily backup; None when scheduled backups are off (time = "")."""
        return parse_hhmm(self.time) if self.time else None

    def directory(self, db_path: str) -> Path:
        """Where backups go: `dir`, or a `backups` folder next to the database."""
        from storage.backup import default_dir

        return Path(self.dir) if self.dir else default_dir(db_path)


@dataclass(frozen=True)
class LogConfig:
    level: str = "INFO"
    format: str = "plain"  # plain | json (one JSON object per line)


@dataclass(frozen=True)
class WebConfig:
    listen: str = ""  # host:port of the small web server (health, calendar feeds); "" = none
    public_url: str = ""  # how phones reach it, e.g. https://bot.example.org (for calendar links)

    @property
    def address(self) -> tuple[str, int] | None:
        if not self.listen:
            return None
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]") or "127.0.0.1", int(port)


@dataclass(frozen=True)
class OpsConfig:
    operator_chat_id: int = 0  # a chat (or a person) that gets errors, a stuck outbox, failed backups
    alert_interval_minutes: int = 10  # at most one alert of a kind in this many minutes
    outbox_stuck_minutes: int = 30  # the oldest unsent message older than this: the outbox is stuck


@dataclass(frozen=True)
class BotConfig:
    timezone: str = "Asia/Shanghai"
    locale: str = "zh_cn"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class AdminsConfig:
    super_admins: tuple[int, ...] = ()


@dataclass(frozen=True)
class FaqConfig:
    auto_answer: str = "question"


@dataclass(frozen=True)
class DutyConfig:
    handoff_time: str = "08:00"
    notice_time: str = "20:00"
    checkin_nudge_hours: float = 2.0
    chair_alert_hours: float = 4.0

    @property
    def handoff(self) -> time:
        return parse_hhmm(self.handoff_time)

    @property
    def notice(self) -> time:
        return parse_hhmm(self.notice_time)


@dataclass(frozen=True)
class SchedulerConfig:
    misfire_grace_hours: float = 6.0
    tick_seconds: float = 20.0
    monthly_report_day: int = 1
    monthly_report_time: str = "09:00"

    @property
    def monthly_report_at(self) -> time:
        return parse_hhmm(self.monthly_report_time)


@dataclass(frozen=True)
class TasksConfig:
    remind_days_before: tuple[int, ...] = (3, 1)


@dataclass(frozen=True)
class TrainingConfig:
    window_years: int = 2


@dataclass(frozen=True)
class ReviewConfig:
    subsidy_base: float = 1200.0
    weights: dict[str, float] = field(
        default_factory=lambda: {"chair": 0.4, "peer": 0.3, "duty": 0.2, "training": 0.1}
    )
    grades: tuple[dict[str, Any], ...] = (
        {"label": "优秀", "min": 90, "coefficient": 1.0},
        {"label": "称职", "min": 75, "coefficient": 0.8},
        {"label": "基本称职", "min": 60, "coefficient": 0.5},
        {"label": "不称职", "min": 0, "coefficient": 0.0},
    )
    ratings: tuple[dict[str, Any], ...] = (
        {"label": "优秀", "value": 100},
        {"label": "称职", "value": 80},
        {"label": "基本称职", "value": 60},
        {"label": "不称职", "value": 40},
    )
    min_peer_ratings: int = 3
    reminder_days: tuple[int, ...] = (3, 1)
    report_max_chars: int = 20000

    def rubric(self) -> Any:
        """The deployment's default rubric (services.review.scoring.Rubric); raises RubricError."""
        return Rubric(
            weights={k: dec(v) for k, v in self.weights.items()},
            grades=tuple(Grade(str(g["label"]), dec(g["min"]), dec(g["coefficient"])) for g in self.grades),
            ratings=tuple(RatingOption(str(r["label"]), dec(r["value"])) for r in self.ratings),
            subsidy_base=dec(self.subsidy_base),
            min_peer_ratings=self.min_peer_ratings,
        ).validate()


@dataclass(frozen=True)
class Config:
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    backup: BackupConfig = field(default_factory=BackupConfig)
    bot: BotConfig = field(default_factory=BotConfig)
    admins: AdminsConfig = field(default_factory=AdminsConfig)
    faq: FaqConfig = field(default_factory=FaqConfig)
    duty: DutyConfig = field(default_factory=DutyConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    tasks: TasksConfig = field(default_factory=TasksConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    review: ReviewConfig = field(default_factory=ReviewConfig)
    log: LogConfig = field(default_factory=LogConfig)
    web: WebConfig = field(default_factory=WebConfig)
    ops: OpsConfig = field(default_factory=OpsConfig)

    @property
    def tz(self) -> ZoneInfo:
        return self.bot.tz
