"""Configuration: a TOML file, validated on load, with environment overrides.

Every key is optional (defaults below, documented in config.example.toml). An unknown key or a
value of the wrong type is a `ConfigError` that names the key.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.config import (  # the records live with the services that use them
    HHMM,
    AdminsConfig,
    BackupConfig,
    BotConfig,
    Config,
    ConfigError,
    DatabaseConfig,
    DutyConfig,
    FaqConfig,
    LogConfig,
    OpsConfig,
    ReviewConfig,
    SchedulerConfig,
    TasksConfig,
    TelegramConfig,
    TrainingConfig,
    WebConfig,
)

__all__ = [
    "AdminsConfig",
    "BackupConfig",
    "BotConfig",
    "Config",
    "ConfigError",
    "DatabaseConfig",
    "DutyConfig",
    "FaqConfig",
    "LogConfig",
    "OpsConfig",
    "ReviewConfig",
    "SchedulerConfig",
    "TasksConfig",
    "TelegramConfig",
    "TrainingConfig",
    "WebConfig",
]


_HHMM = HHMM
_SECTIONS: dict[str, type[Any]] = {
    "telegram": TelegramConfig,
    "database": DatabaseConfig,
    "backup": BackupConfig,
    "bot": BotConfig,
    "admins": AdminsConfig,
    "faq": FaqConfig,
    "duty": DutyConfig,
    "scheduler": SchedulerConfig,
    "tasks": TasksConfig,
    "training": TrainingConfig,
    "review": ReviewConfig,
    "log": LogConfig,
    "web": WebConfig,
    "ops": OpsConfig,
}
# The expected type of every key (tuple/dict contents are checked separately).
_TYPES: dict[str, dict[str, type[Any] | tuple[type[Any], ...]]] = {
    "telegram": {"token": str, "base_url": str, "webhook_url": str, "webhook_listen": str, "webhook_port": int,
                 "webhook_secret": str, "max_in_flight": int},
    "database": {"path": str, "keep_sent_days": int, "url": str},
    "backup": {"time": str, "dir": str, "keep_daily": int, "keep_weekly": int, "keep_monthly": int},
    "bot": {"timezone": str, "locale": str},
    "admins": {"super_admins": list},
    "faq": {"auto_answer": str},
    "duty": {
        "handoff_time": str,
        "notice_time": str,
        "checkin_nudge_hours": (int, float),
        "chair_alert_hours": (int, float),
    },
    "scheduler": {"misfire_grace_hours": (int, float), "tick_seconds": (int, float), "monthly_report_day": int,
                  "monthly_report_time": str},
    "tasks": {"remind_days_before": list},
    "training": {"window_years": int},
    "review": {"subsidy_base": (int, float), "weights": dict, "grades": list, "ratings": list,
               "min_peer_ratings": int, "reminder_days": list, "report_max_chars": int},
    "log": {"level": str, "format": str},
    "web": {"listen": str, "public_url": str},
    "ops": {"operator_chat_id": int, "alert_interval_minutes": int, "outbox_stuck_minutes": int},
}
_LOCALES = ("zh_cn", "zh_tw")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_LOG_FORMATS = ("plain", "json")
_LISTEN = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]*):(\d{1,5})$")
_AUTO_ANSWER = ("question", "mention", "off")
_WEIGHT_KEYS = ("chair", "peer", "duty", "training")


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
    if cfg.backup.time and not _HHMM.match(cfg.backup.time):
        raise ConfigError(f"backup.time must look like 03:30 (\"\": no scheduled backups), got {cfg.backup.time!r}")
    for key in ("keep_daily", "keep_weekly", "keep_monthly"):
        if not 0 <= getattr(cfg.backup, key) <= 1000:
            raise ConfigError(f"backup.{key} must be 0–1000, got {getattr(cfg.backup, key)!r}")
    if cfg.backup.keep_daily + cfg.backup.keep_weekly + cfg.backup.keep_monthly < 1:
        raise ConfigError("backup: keep_daily, keep_weekly and keep_monthly cannot all be 0")
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
    if not 1 <= cfg.scheduler.monthly_report_day <= 28:
        raise ConfigError(f"scheduler.monthly_report_day must be 1–28, got {cfg.scheduler.monthly_report_day!r}")
    if not _HHMM.match(cfg.scheduler.monthly_report_time):
        raise ConfigError(
            f"scheduler.monthly_report_time must look like 09:00, got {cfg.scheduler.monthly_report_time!r}"
        )
    for days in cfg.tasks.remind_days_before:
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 60:
            raise ConfigError(f"tasks.remind_days_before must be a list of whole days 1–60, got {days!r}")
    from services.retention import min_keep_days

    floor = min_keep_days(cfg.tasks.remind_days_before, cfg.scheduler.misfire_grace_hours)
    if cfg.database.keep_sent_days != 0 and not floor <= cfg.database.keep_sent_days <= 100000:
        raise ConfigError(f"database.keep_sent_days must be 0 (keep for ever) or at least {floor} days (what the"
                          f" scheduler's once-only checks need), got {cfg.database.keep_sent_days!r}")
    if cfg.database.url and not cfg.database.url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(f"database.url must be a postgresql:// URL (or empty for the SQLite file), got"
                          f" {cfg.database.url.split('@')[-1]!r}")
    if not 1 <= cfg.training.window_years <= 20:
        raise ConfigError(f"training.window_years must be 1–20 years, got {cfg.training.window_years!r}")
    if cfg.review.subsidy_base < 0:
        raise ConfigError("review.subsidy_base must be ≥ 0")
    for key, weight in cfg.review.weights.items():
        if key not in _WEIGHT_KEYS:
            raise ConfigError(f"unknown key review.weights.{key}")
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
            raise ConfigError(f"review.weights.{key} must be a number ≥ 0")
    _validate_review(cfg.review)
    _validate_ops(cfg)
    for admin in cfg.admins.super_admins:
        if isinstance(admin, bool) or not isinstance(admin, int):
            raise ConfigError(f"admins.super_admins must be a list of Telegram user ids, got {admin!r}")
    if cfg.telegram.base_url and not re.match(r"^https?://", cfg.telegram.base_url):
        raise ConfigError("telegram.base_url must start with http:// or https://")
    if cfg.telegram.webhook_url and not re.match(r"^https?://[^/]+", cfg.telegram.webhook_url):
        raise ConfigError("telegram.webhook_url must be a full URL such as https://bot.example.org/telegram")
    if not 0 <= cfg.telegram.max_in_flight <= 32:
        raise ConfigError(f"telegram.max_in_flight must be 0 (auto) to 32, got {cfg.telegram.max_in_flight!r}")
    if not 1 <= cfg.telegram.webhook_port <= 65535:
        raise ConfigError(f"telegram.webhook_port must be 1–65535, got {cfg.telegram.webhook_port!r}")
    if cfg.telegram.webhook_secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", cfg.telegram.webhook_secret):
        raise ConfigError("telegram.webhook_secret may hold only A–Z, a–z, 0–9, _ and - (1–256 characters)")


def _validate_ops(cfg: Config) -> None:
    if cfg.log.level.upper() not in _LOG_LEVELS:
        raise ConfigError(f"log.level must be one of {', '.join(_LOG_LEVELS)}, got {cfg.log.level!r}")
    if cfg.log.format not in _LOG_FORMATS:
        raise ConfigError(f"log.format must be one of {', '.join(_LOG_FORMATS)}, got {cfg.log.format!r}")
    if cfg.web.listen:
        match = _LISTEN.match(cfg.web.listen)
        if not match or not 1 <= int(match.group(2)) <= 65535:
            raise ConfigError(f"web.listen must look like 127.0.0.1:8080, got {cfg.web.listen!r}")
    address = cfg.web.address
    if address is not None and cfg.telegram.webhook_url and address[1] == cfg.telegram.webhook_port:
        raise ConfigError("web.listen must use another port than telegram.webhook_port")
    if cfg.web.public_url and not re.match(r"^https?://[^/]+", cfg.web.public_url):
        raise ConfigError("web.public_url must be a full URL such as https://bot.example.org")
    if cfg.web.public_url and not cfg.web.listen:
        raise ConfigError("web.public_url needs web.listen (the bot's web server)")
    if not 1 <= cfg.ops.alert_interval_minutes <= 1440:
        raise ConfigError(f"ops.alert_interval_minutes must be 1–1440, got {cfg.ops.alert_interval_minutes!r}")
    if not 1 <= cfg.ops.outbox_stuck_minutes <= 1440:
        raise ConfigError(f"ops.outbox_stuck_minutes must be 1–1440, got {cfg.ops.outbox_stuck_minutes!r}")


def _validate_review(review: ReviewConfig) -> None:
    shapes: tuple[tuple[str, dict[str, type[Any] | tuple[type[Any], ...]]], ...] = (
        ("grades", {"label": str, "min": (int, float), "coefficient": (int, float)}),
        ("ratings", {"label": str, "value": (int, float)}),
    )
    for name, keys in shapes:
        for i, item in enumerate(getattr(review, name), 1):
            if not isinstance(item, dict):
                raise ConfigError(f"review.{name}[{i}] must be a table like {{ label = \"优秀\", ... }}")
            for key in item:
                if key not in keys:
                    raise ConfigError(f"unknown key review.{name}[{i}].{key}")
            for key, expected in keys.items():
                value = item.get(key)
                if value is None:
                    raise ConfigError(f"review.{name}[{i}] needs {key}")
                if isinstance(value, bool) or not isinstance(value, expected):
                    raise ConfigError(f"review.{name}[{i}].{key} must be a {_type_name(expected)}, got {value!r}")
    if review.min_peer_ratings < 1:
        raise ConfigError("review.min_peer_ratings must be ≥ 1")
    for days in review.reminder_days:
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 60:
            raise ConfigError(f"review.reminder_days must be a list of whole days 1–60, got {days!r}")
    if not 100 <= review.report_max_chars <= 100000:
        raise ConfigError("review.report_max_chars must be 100–100000")
    from services.review.scoring import RubricError

    try:
        review.rubric()
    except RubricError as exc:
        problems = {
            "weight_sum": "review.weights must add up to 1",
            "weight_range": "review.weights must each be between 0 and 1",
            "grades_order": "review.grades must be listed highest first with strictly descending min",
            "grades_last_zero": "review.grades: the last grade must have min = 0",
            "grades_labels": "review.grades labels must be non-empty and different",
            "grades_few": "review.grades needs at least two grades",
            "grades_min_range": "review.grades min must be 0–100",
            "grades_coefficient": "review.grades coefficient must be 0–10",
            "ratings_labels": "review.ratings labels must be non-empty and different",
            "ratings_few": "review.ratings needs at least two options",
            "ratings_range": "review.ratings value must be 0–100",
        }
        raise ConfigError(problems.get(exc.code, f"review: invalid rubric ({exc.code})")) from exc


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
        "BOT_DATABASE_URL": ("database", "url"),
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
    for key in ("grades", "ratings", "reminder_days"):
        if key in sections.get("review", {}):
            sections["review"][key] = tuple(sections["review"][key])
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
