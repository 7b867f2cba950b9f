"""The outbox of scheduled messages: its record (`Outgoing`, what a producer writes) and repository
(see services/outbox.py for how rows are produced and rendered)."""

from __future__ import annotations

import json
import json.encoder as json_encoder
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiosqlite

from storage.db import conn_bot
from storage.models import from_db, to_db

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
    bot_id: int | None = None  # the bot that sends it; None: the organisation's, else the process's

    def body(self) -> str:
        return encode_body(self.key, self.params, self.buttons)


# One encoder for every body, built once: `json.dumps(..., ensure_ascii=False, default=str)` builds
# one per call (the duty producer writes two bodies per organisation per tick). The same output:
# CPython's C encoder with dumps's defaults (separators ", " and ": ", no indent, keys unsorted,
# NaN allowed), without the check for circular references (a body is plain data built for it).
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)
_make = getattr(json_encoder, "c_make_encoder", None)
_C_ENCODE: Callable[[object, int], list[str]] | None = (
    _make(None, str, json_encoder.encode_basestring, None, ": ", ", ", False, False, True) if _make else None)


def encode_body(key: str, params: Mapping[str, Any], buttons: Buttons = ()) -> str:
    body = {"key": key, "params": dict(params),
            "buttons": [[list(b) for b in row] for row in buttons] if buttons else []}
    return "".join(_C_ENCODE(body, 0)) if _C_ENCODE is not None else _ENCODER.encode(body)


@dataclass(frozen=True)
class OutboxRow:
    id: int
    org_id: int | None
    chat_id: int
    fallback_chat_id: int | None
    lang: str | None
    body: str
    due_at: datetime
    attempts: int


async def enqueue(conn: aiosqlite.Connection, msgs: Iterable[Outgoing], now: datetime) -> int:
    """Add the messages (inside the caller's transaction); a known `dedupe` is skipped. Rows added.
    Each row's bot (who sends it, several tokens on one database): the message's own `bot_id`, else
    its organisation's bot, else the bot of this process (`storage.db.conn_bot`; None in tools and
    tests: any bot's sender takes it). Filled in by the INSERT itself (the organisation's by its key)."""
    created = to_db(now)
    process_bot = conn_bot(conn)
    due: dict[datetime, str] = {}  # a batch's rows mostly share a few due times
    rows = [(msg.org_id, msg.chat_id, msg.fallback_chat_id, msg.lang, msg.body(), msg.dedupe,
             (due.get(msg.due_at) or due.setdefault(msg.due_at, to_db(msg.due_at))) if msg.due_at else created,
             created, msg.bot_id, msg.org_id, process_bot) for msg in msgs]
    if not rows:
        return 0
    cur = await conn.executemany(
        "INSERT OR IGNORE INTO outbox(org_id, chat_id, fallback_chat_id, lang, body, dedupe, due_at, created_at,"
        " bot_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, coalesce(?, (SELECT bot_id FROM orgs WHERE id = ?), ?))", rows)
    return max(cur.rowcount, 0)


async def is_known(conn: aiosqlite.Connection, dedupe: str) -> bool:
    cur = await conn.execute("SELECT 1 FROM outbox WHERE dedupe = ?", (dedupe,))
    return await cur.fetchone() is not None


async def known(conn: aiosqlite.Connection, dedupes: list[str]) -> set[str]:
    """Which of these dedupe keys are already in the outbox."""
    found: set[str] = set()
    for i in range(0, len(dedupes), 500):
        chunk = dedupes[i:i + 500]
        cur = await conn.execute(f"SELECT dedupe FROM outbox WHERE dedupe IN ({','.join('?' * len(chunk))})", chunk)
        found.update(str(r[0]) for r in await cur.fetchall())
    return found


def _row(r: aiosqlite.Row) -> OutboxRow:
    return OutboxRow(r["id"], r["org_id"], r["chat_id"], r["fallback_chat_id"], r["lang"], r["body"],
                     from_db(r["due_at"]), r["attempts"])


def _for_bot(bot_id: int | None) -> tuple[str, tuple[int, ...]]:
    """The rows one bot's sender takes: its own and those of no bot (None: every row)."""
    return ("", ()) if bot_id is None else (" AND (bot_id IS NULL OR bot_id = ?)", (bot_id,))


async def pending(conn: aiosqlite.Connection, limit: int = 1000, after_id: int = 0,
                  bot_id: int | None = None) -> list[OutboxRow]:
    """Pending rows after `after_id`, in order; with `bot_id`, only that bot's and those of no bot."""
    mine, arg = _for_bot(bot_id)
    cur = await conn.execute(
        f"SELECT * FROM outbox WHERE status = 'pending' AND id > ?{mine} ORDER BY id LIMIT ?", (after_id, *arg, limit)
    )
    return [_row(r) for r in await cur.fetchall()]


async def lock_pending(conn: aiosqlite.Connection, row_id: int) -> bool:
    """PostgreSQL, in the sender's side transaction: take this row while it is sent, unless another
    worker holds it (SKIP LOCKED) or it is no longer pending. The lock goes with the transaction, or
    with the connection when the process dies, and the row is then anyone's again."""
    cur = await conn.execute(
        "SELECT id FROM outbox WHERE id = ? AND status = 'pending' FOR UPDATE SKIP LOCKED", (row_id,))
    return await cur.fetchone() is not None


async def last_id(conn: aiosqlite.Connection) -> int:
    """The newest row's id (0 when empty): inside a write transaction, the rows it adds come after it."""
    cur = await conn.execute("SELECT COALESCE(MAX(id), 0) FROM outbox")
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def pending_between(conn: aiosqlite.Connection, after_id: int, up_to: int,
                          bot_id: int | None = None) -> list[OutboxRow]:
    """The pending rows with after_id < id <= up_to, in order (with `bot_id`: as `pending`)."""
    mine, arg = _for_bot(bot_id)
    cur = await conn.execute(
        f"SELECT * FROM outbox WHERE status = 'pending' AND id > ? AND id <= ?{mine} ORDER BY id",
        (after_id, up_to, *arg)
    )
    return [_row(r) for r in await cur.fetchall()]


OUTCOMES_KEPT = 300  # characters of the outcome history kept per row (most recent)


def _attempts_sql(outcomes: list[str]) -> tuple[str, tuple[int, str, int]]:
    """SET clause adding one send's attempts (at least one) and their outcomes to a row."""
    joined = ",".join(outcomes) or "ok"
    uncertain = sum(1 for o in outcomes if o in UNCERTAIN_OUTCOMES)
    clause = ("attempts = attempts + ?, uncertain = uncertain + ?,"
              f" outcomes = substr(CASE WHEN outcomes = '' THEN ? ELSE outcomes || ',' || ? END, -{OUTCOMES_KEPT})")
    return clause, (max(len(outcomes), 1), joined, uncertain)


async def record_attempts(conn: aiosqlite.Connection, row_id: int, outcomes: list[str]) -> None:
    """A row left pending after failed attempts: count them (and what happened) all the same."""
    if not outcomes:
        return
    clause, (n, joined, uncertain) = _attempts_sql(outcomes)
    await conn.execute(f"UPDATE outbox SET {clause} WHERE id = ?", (n, uncertain, joined, joined, row_id))


async def mark_sent(conn: aiosqlite.Connection, row_id: int, now: datetime, outcomes: list[str] | None = None) -> None:
    clause, (n, joined, uncertain) = _attempts_sql(outcomes or ["ok"])
    await conn.execute(
        f"UPDATE outbox SET status = 'sent', sent_at = ?, {clause} WHERE id = ?",
        (to_db(now), n, uncertain, joined, joined, row_id),
    )


async def mark_failed(conn: aiosqlite.Connection, row_id: int, error: str, now: datetime,
                      outcomes: list[str] | None = None) -> None:
    clause, (n, joined, uncertain) = _attempts_sql(outcomes or ["refused"])
    await conn.execute(
        f"UPDATE outbox SET status = 'failed', error = ?, sent_at = ?, {clause} WHERE id = ?",
        (error[:500], to_db(now), n, uncertain, joined, joined, row_id),
    )


@dataclass(frozen=True)
class DeliveryStats:
    """What the outbox has seen: rows by status, attempts by outcome, sends that may have doubled."""

    pending: int
    sent: int
    failed: int
    attempts: int
    uncertain: int
    outcomes: dict[str, int]


async def delivery_stats(conn: aiosqlite.Connection) -> DeliveryStats:
    cur = await conn.execute(
        "SELECT status, COUNT(*), COALESCE(SUM(attempts), 0), COALESCE(SUM(uncertain), 0)"
        " FROM outbox GROUP BY status"
    )
    by_status = {r[0]: (int(r[1]), int(r[2]), int(r[3])) for r in await cur.fetchall()}
    cur = await conn.execute("SELECT outcomes FROM outbox WHERE outcomes != ''")
    counts: dict[str, int] = {}
    for (history,) in await cur.fetchall():
        for outcome in str(history).split(","):
            if outcome:
                counts[outcome] = counts.get(outcome, 0) + 1
    return DeliveryStats(
        pending=by_status.get("pending", (0, 0, 0))[0],
        sent=by_status.get("sent", (0, 0, 0))[0],
        failed=by_status.get("failed", (0, 0, 0))[0],
        attempts=sum(v[1] for v in by_status.values()),
        uncertain=sum(v[2] for v in by_status.values()),
        outcomes=counts,
    )


async def count(conn: aiosqlite.Connection, status: str) -> int:
    cur = await conn.execute("SELECT COUNT(*) FROM outbox WHERE status = ?", (status,))
    row = await cur.fetchone()
    return int(row[0]) if row else 0


@dataclass(frozen=True)
class Backlog:
    """Rows still to send: how many, and the oldest one (its id and when it entered the outbox)."""

    pending: int
    oldest_id: int | None
    oldest_at: datetime | None


async def backlog(conn: aiosqlite.Connection) -> Backlog:
    cur = await conn.execute("SELECT COUNT(*) FROM outbox WHERE status = 'pending'")
    row = await cur.fetchone()
    total = int(row[0]) if row else 0
    cur = await conn.execute("SELECT id, created_at FROM outbox WHERE status = 'pending' ORDER BY id LIMIT 1")
    first = await cur.fetchone()
    if first is None:
        return Backlog(total, None, None)
    return Backlog(total, int(first["id"]), from_db(first["created_at"]))


async def failed_since(conn: aiosqlite.Connection, since: datetime) -> int:
    """Rows given up (marked failed) since `since`."""
    cur = await conn.execute("SELECT COUNT(*) FROM outbox WHERE status = 'failed' AND sent_at >= ?", (to_db(since),))
    row = await cur.fetchone()
    return int(row[0]) if row else 0
