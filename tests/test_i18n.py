from __future__ import annotations

import re
from pathlib import Path

import pytest

from handlers.i18n import Raw, catalog, t

pytestmark = pytest.mark.unit


def test_params_are_escaped_and_raw_is_kept() -> None:
    text = t("zh_cn", "addmember.done", name="<i>a&b</i>", role=Raw("<b>执委</b>"))
    assert "&lt;i&gt;a&amp;b&lt;/i&gt;" in text and "<b>执委</b>" in text


def test_traditional_is_produced_for_every_key() -> None:
    simplified, traditional = catalog("zh_cn"), catalog("zh_tw")
    assert simplified.keys() == traditional.keys()
    assert traditional["roles.member"] == "執委"
    assert "執委名冊" in traditional["roster.list_header"]


def test_unknown_lang_falls_back_to_simplified() -> None:
    assert t("fr", "roles.chair") == "主席"


def test_every_locale_key_used_in_code_exists() -> None:
    root = Path(__file__).resolve().parent.parent
    keys = catalog("zh_cn")
    pattern = re.compile(r"""\bt\(\s*(?:[a-z_.]+,\s*)?["']([a-z_]+\.[a-z_.]+)["']""")
    used = set()
    for folder in ("handlers", "bot", "services"):
        for path in (root / folder).rglob("*.py"):
            used.update(pattern.findall(path.read_text(encoding="utf-8")))
    assert used, "the pattern found no keys"
    missing = sorted(k for k in used if k not in keys)
    assert missing == []
