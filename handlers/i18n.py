"""Locale strings: every user-facing text lives in handlers/locale/<lang>/*.toml.

Simplified Chinese (zh_cn) is written by hand; Traditional (zh_tw) is produced from it with OpenCC
(s2tw: Taiwan character forms, 群 not 羣) once at start, unless a zh_tw file spells a string out.
Parameters are HTML-escaped when the text is formatted, so user input is always shown literally
(wrap trusted markup in `Raw`); a parameter may also be a nested text (services.outbox.text) or a
list of them, rendered in the same language.
"""

from __future__ import annotations

import html
import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

DEFAULT_LANG = "zh_cn"
LANGS = ("zh_cn", "zh_tw")


class Raw(str):
    """A parameter that is already safe HTML and must not be escaped again."""


def _flatten(prefix: str, table: Mapping[str, Any], out: dict[str, str]) -> None:
    for key, value in table.items():
        full = f"{prefix}.{key}" if prefix else key
        if isinstance(value, Mapping):
            _flatten(full, value, out)
        elif isinstance(value, str):
            if full in out:
                raise ValueError(f"locale key {full} is defined twice")
            out[full] = value
        else:
            raise ValueError(f"locale key {full} must be a string")


def _load_dir(lang: str) -> dict[str, str]:
    strings: dict[str, str] = {}
    folder = resources.files("handlers").joinpath("locale", lang)
    if not folder.is_dir():
        return strings
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            _flatten("", tomllib.loads(entry.read_text(encoding="utf-8")), strings)
    return strings


@cache
def _to_traditional() -> Any:
    import opencc

    return opencc.OpenCC("s2tw")


def in_script(lang: str | None, text: str) -> str:
    """Content written in Simplified (a knowledge-base answer, an entry's question) in the reader's
    script: Traditional under zh_tw, as is otherwise."""
    if normalise_lang(lang) == "zh_tw" and text:
        return str(_to_traditional().convert(text))
    return text


@cache
def catalog(lang: str) -> dict[str, str]:
    base = _load_dir(DEFAULT_LANG)
    if lang == DEFAULT_LANG:
        return base
    import opencc

    converter = opencc.OpenCC("s2tw")
    converted = {key: converter.convert(text) for key, text in base.items()}
    converted.update(_load_dir(lang))
    return converted


def normalise_lang(lang: str | None) -> str:
    return lang if lang in LANGS else DEFAULT_LANG


def t(lang: str | None, key: str, **params: Any) -> str:
    """The text for `key` in `lang`, with parameters escaped for Telegram HTML."""
    strings = catalog(normalise_lang(lang))
    text = strings.get(key)
    if text is None:
        raise KeyError(f"missing locale key {key}")
    if not params:
        return text
    return text.format(**{k: render_value(lang, v) for k, v in params.items()})


def render_value(lang: str | None, value: Any) -> Raw:
    """One parameter as safe HTML: a nested text (services.outbox.text: {"$t": key, "params": {...}})
    rendered in `lang`, a list of values joined by newlines, `Raw` as is, anything else escaped."""
    if isinstance(value, Raw):
        return value
    if isinstance(value, dict) and "$t" in value:
        return Raw(t(lang, str(value["$t"]), **dict(value.get("params", {}))))
    if isinstance(value, dict) and "$html" in value:  # text the bot already rendered (services.outbox.verbatim)
        return Raw(str(value["$html"]))
    if isinstance(value, list):
        return Raw("\n".join(render_value(lang, v) for v in value))
    return Raw(html.escape(str(value), quote=False))


def has(key: str) -> bool:
    return key in catalog(DEFAULT_LANG)
