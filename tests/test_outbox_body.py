"""An outbox body is the JSON `json.dumps(..., ensure_ascii=False, default=str)` writes, character for
character (storage/outbox.py encodes with a C encoder built once)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest

from services.outbox import decode_body, encode_body, text

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("key", "params", "buttons"), [
    ("notice.eve", {"name": "王芳", "range": text("duty.range_one", first=text("fmt.month_day", month=3, day=2))}, ()),
    ("outbox.lines", {"lines": [text("notice.handoff", label=text("periods.day_label"), name='李"娜\\'),
                                text("notice.handoff_late")], "late_marked": True}, ()),
    ("x", {"n": 1.5, "big": 10**20, "none": None, "nan": float("nan"), "tab\tkey": "a\u2028b\x00🙂"},
     ((("btn.ok", "cb:1"), ("btn.no", "cb:2")), (("btn.more", "cb:3"),))),
    ("x", {"when": datetime(2026, 3, 2, 8, tzinfo=UTC), "day": date(2026, 3, 2), "nested": [[{}], []]}, ()),
])
def test_a_body_is_what_json_dumps_writes(key: str, params: dict[str, Any], buttons: Any) -> None:
    expected = json.dumps({"key": key, "params": dict(params), "buttons": [[list(b) for b in row] for row in buttons]},
                          ensure_ascii=False, default=str)
    assert encode_body(key, params, buttons) == expected
    assert decode_body(expected).key == key
