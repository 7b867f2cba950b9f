"""Scheduled messages as data: what a producer puts in the outbox, rendered at send time.

A producer (a reminder coming due, a training tomorrow, an overdue task) writes `Outgoing` rows in
the same transaction that makes them due (storage.outbox.enqueue); the paced sender
(handlers/sender.py) renders each row from the locale, sends it, and marks it sent only after
Telegram accepted it. `dedupe` makes producers idempotent: they may run on every tick.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

ON_TIME_SLACK = timedelta(minutes=5)

# Outcomes of one send attempt (recorded per outbox row, counted by the rate limiter):
# ok; 429 (asked to wait); 5xx (Telegram's server failed: not delivered); refused (could not
# connect: not delivered); timeout / cut (no answer came back: it may have been delivered);
# bad_request, forbidden (permanent).
UNCERTAIN_OUTCOMES = frozenset({"timeout", "cut"})

Buttons = tuple[tuple[tuple[str, str], ...], ...]  # rows of (locale key of the label, callback_data)


@dataclass(frozen=True)
class Outgoing:
    chat_id: int
    key: str
    params: Mapping[str, Any] = field(default_factory=dict)
    buttons: Buttons = ()
    lang: str | None = None
    org_id: int | None = None
    dedupe: str | None = None
    fallback_chat_id: int | None = None
    due_at: datetime | None = None

    def body(self) -> str:
        return encode_body(self.key, self.params, self.buttons)


def text(key: str, **params: Any) -> dict[str, Any]:
    """A nested text, rendered with its own locale key (usable as a parameter value)."""
    return {"$t": key, "params": params}


def verbatim(html: str) -> dict[str, Any]:
    """Params of a row carrying text the bot already rendered and escaped (a reply sent later)."""
    return {"text": {"$html": html}}


def encode_body(key: str, params: Mapping[str, Any], buttons: Buttons = ()) -> str:
    return json.dumps(
        {"key": key, "params": dict(params), "buttons": [[list(b) for b in row] for row in buttons]},
        ensure_ascii=False, default=str,
    )


@dataclass(frozen=True)
class Body:
    key: str
    params: dict[str, Any]
    buttons: Buttons


def decode_body(raw: str) -> Body:
    data = json.loads(raw)
    buttons = tuple(tuple((str(b[0]), str(b[1])) for b in row) for row in data.get("buttons", []))
    return Body(str(data["key"]), dict(data.get("params", {})), buttons)


Lateness = Literal["on_time", "late", "stale"]


def lateness(due_at: datetime, now: datetime, grace: timedelta) -> Lateness:
    """on_time: at most 5 minutes late; late: within the misfire grace; stale: older than the grace."""
    behind = now - due_at
    if behind <= ON_TIME_SLACK:
        return "on_time"
    return "late" if behind <= grace else "stale"
