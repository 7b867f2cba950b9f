"""User text cleaned at the door: line ends made "\n"; control characters (except newline and tab) and the invisible
direction / zero-width marks that disguise text are removed before anything is stored. Pure."""

from __future__ import annotations

import re
from functools import lru_cache

import opencc

_UNWANTED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def clean_text(text: str) -> str:
    """Without the unwanted characters, line ends as "\n" (a lone "\r" reads back from an xlsx as "\n")."""
    return _UNWANTED.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


_T2S = opencc.OpenCC("t2s")


@lru_cache(maxsize=4096)
def simplified(text: str) -> str:
    """The Simplified form of a word, for matching what a user typed in Traditional (走訪, 執委, 趙霞)
    against categories, role words and roster names; never stored in place of her text."""
    return str(_T2S.convert(text))
