from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, from_mapping, load

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent


def test_defaults() -> None:
    cfg = from_mapping({}, env={})
    assert cfg.bot.timezone == "Asia/Shanghai"
    assert cfg.database.path == "zhiwei.db"
    assert cfg.duty.handoff.hour == 8
    assert cfg.review.weights == {"chair": 0.4, "peer": 0.3, "duty": 0.2, "training": 0.1}
    assert cfg.faq.auto_answer == "question"


def test_env_overrides() -> None:
    env = {"TELEGRAM_TOKEN": "1:abc", "TELEGRAM_BASE_URL": "http://127.0.0.1:8081", "BOT_DB": "/tmp/x.db",
           "BOT_TZ": "Asia/Urumqi"}
    cfg = from_mapping({"telegram": {"token": "from-file"}}, env=env)
    assert cfg.telegram.token == "1:abc"
    assert cfg.telegram.base_url == "http://127.0.0.1:8081"
    assert cfg.database.path == "/tmp/x.db"
    assert cfg.bot.timezone == "Asia/Urumqi"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"telegram": {"tokne": "x"}}, "unknown key telegram.tokne"),
        ({"robot": {}}, "unknown section [robot]"),
        ({"duty": {"checkin_nudge_hours": "two"}}, "duty.checkin_nudge_hours must be a 数字"),
        ({"admins": {"super_admins": 5}}, "admins.super_admins must be a 列表"),
        ({"admins": {"super_admins": ["abc"]}}, "admins.super_admins must be a list of Telegram user ids"),
        ({"bot": {"timezone": "Mars/Base"}}, "bot.timezone: unknown time zone"),
        ({"bot": {"locale": "en"}}, "bot.locale must be one of"),
        ({"duty": {"handoff_time": "8点"}}, "duty.handoff_time must look like 08:00"),
        ({"faq": {"auto_answer": "always"}}, "faq.auto_answer must be one of"),
        ({"review": {"weights": {"beauty": 1}}}, "unknown key review.weights.beauty"),
        ({"telegram": {"base_url": "127.0.0.1:8081"}}, "telegram.base_url must start with http"),
        ({"scheduler": {"tick_seconds": True}}, "scheduler.tick_seconds must be a 数字"),
    ],
)
def test_bad_config_names_the_key(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        from_mapping(data, env={})
    assert message in str(err.value)


def test_example_config_is_valid_and_documents_every_key() -> None:
    example = ROOT / "config.example.toml"
    cfg = load(example, env={})
    assert cfg.bot.timezone == "Asia/Shanghai"
    text = example.read_text(encoding="utf-8")
    from bot.config import _TYPES

    for section, keys in _TYPES.items():
        assert f"[{section}]" in text
        for key in keys:
            assert f"\n{key} =" in text or f"\n# {key} =" in text, f"{section}.{key} undocumented"


@pytest.mark.e2e
def test_check_config_cli(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('[bot]\ntimezone = "Asia/Shanghai"\n', encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text('[bot]\ntimezone = 8\n', encoding="utf-8")
    ok = subprocess.run([sys.executable, "-m", "bot", "check-config", "--config", str(good)],
                        capture_output=True, text=True, cwd=ROOT, env={"PATH": "/usr/bin:/bin"})
    assert ok.returncode == 0 and "配置检查通过" in ok.stdout
    fail = subprocess.run([sys.executable, "-m", "bot", "check-config", "--config", str(bad)],
                          capture_output=True, text=True, cwd=ROOT, env={"PATH": "/usr/bin:/bin"})
    assert fail.returncode == 2 and "bot.timezone" in fail.stderr and "Traceback" not in fail.stderr


@pytest.mark.e2e
def test_run_without_token_is_a_clear_error(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "bot", "run"], capture_output=True, text=True, cwd=tmp_path,
                            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert result.returncode == 2
    assert "TELEGRAM_TOKEN" in result.stderr and "Traceback" not in result.stderr


def test_database_url_selects_postgresql() -> None:
    assert from_mapping({}, env={}).database.location == "zhiwei.db"
    cfg = from_mapping({}, env={"BOT_DATABASE_URL": "postgresql://zw:pw@db:5432/zhiwei"})
    assert cfg.database.location == "postgresql://zw:pw@db:5432/zhiwei" and cfg.database.shared
    with pytest.raises(ConfigError, match=r"database\.url must be a postgresql:// URL") as err:
        from_mapping({"database": {"url": "mysql://root:pw@db/zhiwei"}}, env={})
    assert "pw" not in str(err.value)  # the password is not echoed
