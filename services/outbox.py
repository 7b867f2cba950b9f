"""Scheduled messages as data: what a producer puts in the outbox, rendered at send time.

A producer (a reminder coming due, a training tomorrow, an overdue task) writes `Outgoing` rows in
the same transaction that makes them due (storage.outbox.enqueue); the paced sender
(handlers/sender.py) renders each row from the locale, sends it, and marks it sent only after
Telegram accepted it. `dedupe` makes producers idempotent: they may run on every tick.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

# The outbox's record lives with its repository (storage.outbox); re-exported for the producers.
from storage import orgs
from storage.db import Database
from storage.outbox import UNCERTAIN_OUTCOMES, Buttons, Outgoing, encode_body

log = logging.getLogger(__name__)

__all__ = ["UNCERTAIN_OUTCOMES", "Body", "Buttons", "Lateness", "Outgoing", "bot_id_of", "decode_body",
           "encode_body", "lateness", "run_as_bot", "text", "verbatim"]

ON_TIME_SLACK = timedelta(minutes=5)


def text(key: str, **params: Any) -> dict[str, Any]:
    """A nested text, rendered with its own locale key (usable as a parameter value)."""
    return {"$t": key, "params": params}


def verbatim(html: str) -> dict[str, Any]:
    """Params of a row carrying text the bot already rendered and escaped (a reply sent later)."""
    return {"text": {"$html": html}}


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


def bot_id_of(token: str) -> int:
    """A bot's id, the number before the colon of its token (not a secret; 0 when it has none),
    as the sender takes its rows (handlers.sender._bot_id)."""
    head = token.split(":", 1)[0]
    return int(head) if head.isdigit() else 0


async def run_as_bot(db: Database, bot_id: int) -> None:
    """At start: this process runs as `bot_id` (several tokens may share one PostgreSQL database).
    Organisations, pending rows and active reminders from before bots were recorded (no bot) are
    adopted by the first bot that starts (logged): until then one database served one token, so they
    are that bot's."""
    db.set_bot(bot_id)
    async with db.transaction() as conn:
        found = await orgs.adopt_unowned(conn, bot_id)
    if any(found):
        log.warning("bot %s adopted %d organisation(s), %d pending outbox row(s) and %d reminder(s) that "
                    "had no bot (set up before bots were recorded)", bot_id, *found)
