"""Configuration: a TOML file, validated on load, with environment overrides.

Every key is optional (defaults below, documented in config.example.toml). An unknown key or a
value of the wrong type is a `ConfigError` that names the key.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class ConfigError(ValueError):
    """A configuration problem, with a message that names the key."""


@dataclass(frozen=True)
class TelegramConfig:
    token: str = ""
    base_url: str = ""
    webhook_url: str = ""


@dataclass(frozen=True)
class DatabaseConfig:
    path: str = "zhiwei.db"


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
        return _parse_hhmm(self.handoff_time)

    @property
    def notice(self) -> time:
        return _parse_hhmm(self.notice_time)


@dataclass(frozen=True)
class SchedulerConfig:
    misfire_grace_hours: float = 6.0
    tick_seconds: float = 20.0


@dataclass(frozen=True)
class TrainingConfig:
    window_years: int = 2


@dataclass(frozen=True)
class TasksConfig:
    remind_days_before: tuple[int, ...] = (3, 1)


@dataclass(frozen=True)
class ReviewConfig:
    subsidy_base: float = 1200.0
    weights: dict[str, float] = field(
        default_factory=lambda: {"chair": 0.4, "peer": 0.3, "duty": 0.2, "training": 0.1}
    )


@dataclass(frozen=True)
class Config:
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    bot: BotConfig = field(default_factory=BotConfig)
    admins: AdminsConfig = field(default_factory=AdminsConfig)
    faq: FaqConfig = field(default_factory=FaqConfig)
    duty: DutyConfig = field(default_factory=DutyConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    tasks: TasksConfig = field(default_factory=TasksConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    review: ReviewConfig = field(default_factory=ReviewConfig)

    @property
    def tz(self) -> ZoneInfo:
        return self.bot.tz


_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_SECTIONS: dict[str, type[Any]] = {
    "telegram": TelegramConfig,
    "database": DatabaseConfig,
    "bot": BotConfig,
    "admins": AdminsConfig,
    "faq": FaqConfig,
    "duty": DutyConfig,
    "scheduler": SchedulerConfig,
    "tasks": TasksConfig,
    "training": TrainingConfig,
    "review": ReviewConfig,
}
# The expected type of every key (tuple/dict contents are checked separately).
_TYPES: dict[str, dict[str, type[Any] | tuple[type[Any], ...]]] = {
    "telegram": {"token": str, "base_url": str, "webhook_url": str},
    "database": {"path": str},
    "bot": {"timezone": str, "locale": str},
    "admins": {"super_admins": list},
    "faq": {"auto_answer": str},
    "duty": {
        "handoff_time": str,
        "notice_time": str,
        "checkin_nudge_hours": (int, float),
        "chair_alert_hours": (int, float),
    },
    "scheduler": {"misfire_grace_hours": (int, float), "tick_seconds": (int, float)},
    "tasks": {"remind_days_before": list},
    "training": {"window_years": int},
    "review": {"subsidy_base": (int, float), "weights": dict},
}
_LOCALES = ("zh_cn", "zh_tw")
_AUTO_ANSWER = ("question", "mention", "off")
_WEIGHT_KEYS = ("chair", "peer", "duty", "training")


def _parse_hhmm(value: str) -> time:
    match = _HHMM.match(value)
    if not match:
        raise ValueError(value)
    return time(int(match.group(1)), int(match.group(2)))


def _type_name(expected: type[Any] | tuple[type[Any], ...]) -> str:
    names = {str: "字符串 string", list: "列表 list", dict: "表 table", int: "整数 integer", float: "数字 number"}
    if isinstance(expected, tuple):
        return "数字 number"
    return names.get(expected, expected.__name__)


def _check_section(name: str, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ConfigError(f"[{name}] must be a table")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in _TYPES[name]:
            raise ConfigError(f"unknown key {name}.{key}")
        expected = _TYPES[name][key]
        if isinstance(value, bool) or not isinstance(value, expected):
            raise ConfigError(f"{name}.{key} must be a {_type_name(expected)}, got {value!r}")
        values[key] = value
    return values


def _validate(cfg: Config) -> None:
    try:
        ZoneInfo(cfg.bot.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"bot.timezone: unknown time zone {cfg.bot.timezone!r}") from exc
    if cfg.bot.locale not in _LOCALES:
        raise ConfigError(f"bot.locale must be one of {', '.join(_LOCALES)}, got {cfg.bot.locale!r}")
    if cfg.faq.auto_answer not in _AUTO_ANSWER:
        raise ConfigError(f"faq.auto_answer must be one of {', '.join(_AUTO_ANSWER)}")
    for key in ("handoff_time", "notice_time"):
        value = getattr(cfg.duty, key)
        if not _HHMM.match(value):
            raise ConfigError(f"duty.{key} must look like 08:00, got {value!r}")
    if cfg.duty.checkin_nudge_hours <= 0 or cfg.duty.chair_alert_hours <= 0:
        raise ConfigError("duty.checkin_nudge_hours and duty.chair_alert_hours must be positive")
    if cfg.scheduler.misfire_grace_hours < 0 or cfg.scheduler.tick_seconds <= 0:
        raise ConfigError("scheduler.misfire_grace_hours must be ≥ 0 and scheduler.tick_seconds > 0")
    if not 1 <= cfg.training.window_years <= 20:
        raise ConfigError(f"training.window_years must be 1–20 years, got {cfg.training.window_years!r}")
    for days in cfg.tasks.remind_days_before:
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 60:
            raise ConfigError(f"tasks.remind_days_before must be a list of whole days 1–60, got {days!r}")
    if cfg.review.subsidy_base < 0:
        raise ConfigError("review.subsidy_base must be ≥ 0")
    for key, weight in cfg.review.weights.items():
        if key not in _WEIGHT_KEYS:
            raise ConfigError(f"unknown key review.weights.{key}")
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
            raise ConfigError(f"review.weights.{key} must be a number ≥ 0")
    for admin in cfg.admins.super_admins:
        if isinstance(admin, bool) or not isinstance(admin, int):
            raise ConfigError(f"admins.super_admins must be a list of Telegram user ids, got {admin!r}")
    if cfg.telegram.base_url and not re.match(r"^https?://", cfg.telegram.base_url):
        raise ConfigError("telegram.base_url must start with http:// or https://")


def from_mapping(data: dict[str, Any], env: dict[str, str] | None = None) -> Config:
    """Build a validated Config from parsed TOML and environment overrides."""
    sections: dict[str, Any] = {}
    for name, raw in data.items():
        if name not in _SECTIONS:
            raise ConfigError(f"unknown section [{name}]")
        sections[name] = _check_section(name, raw)
    env = dict(os.environ) if env is None else env
    overrides = {
        "TELEGRAM_TOKEN": ("telegram", "token"),
        "TELEGRAM_BASE_URL": ("telegram", "base_url"),
        "BOT_DB": ("database", "path"),
        "BOT_TZ": ("bot", "timezone"),
    }
    for var, (section, key) in overrides.items():
        if env.get(var):
            sections.setdefault(section, {})[key] = env[var]
    if "admins" in sections and "super_admins" in sections["admins"]:
        sections["admins"]["super_admins"] = tuple(sections["admins"]["super_admins"])
    if "tasks" in sections and "remind_days_before" in sections["tasks"]:
        sections["tasks"]["remind_days_before"] = tuple(sections["tasks"]["remind_days_before"])
    if "review" in sections and "weights" in sections["review"]:
        sections["review"]["weights"] = {**ReviewConfig().weights, **sections["review"]["weights"]}
    cfg = Config(**{name: _SECTIONS[name](**values) for name, values in sections.items()})
    _validate(cfg)
    return cfg


def load(path: str | Path | None = None, env: dict[str, str] | None = None) -> Config:
    """Load config from `path` (if given) and the environment; raise ConfigError on any problem."""
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}")
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{p}: not valid TOML: {exc}") from exc
    return from_mapping(data, env)
