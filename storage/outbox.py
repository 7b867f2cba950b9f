"""Repository: the outbox of scheduled messages (see services/outbox.py)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from services.outbox import Outgoing
from storage.models import from_db, to_db


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
    """Add the messages (inside the caller's transaction); a known `dedupe` is skipped. Rows added."""
    added = 0
    for msg in msgs:
        cur = await conn.execute(
            "INSERT OR IGNORE INTO outbox(org_id, chat_id, fallback_chat_id, lang, body, dedupe, due_at, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (msg.org_id, msg.chat_id, msg.fallback_chat_id, msg.lang, msg.body(), msg.dedupe,
             to_db(msg.due_at or now), to_db(now)),
        )
        added += cur.rowcount
    return added


async def is_known(conn: aiosqlite.Connection, dedupe: str) -> bool:
    cur = await conn.execute("SELECT 1 FROM outbox WHERE dedupe = ?", (dedupe,))
    return await cur.fetchone() is not None


def _row(r: aiosqlite.Row) -> OutboxRow:
    return OutboxRow(r["id"], r["org_id"], r["chat_id"], r["fallback_chat_id"], r["lang"], r["body"],
                     from_db(r["due_at"]), r["attempts"])


async def pending(conn: aiosqlite.Connection, limit: int = 1000, after_id: int = 0) -> list[OutboxRow]:
    cur = await conn.execute(
        "SELECT * FROM outbox WHERE status = 'pending' AND id > ? ORDER BY id LIMIT ?", (after_id, limit)
    )
    return [_row(r) for r in await cur.fetchall()]


async def mark_sent(conn: aiosqlite.Connection, row_id: int, now: datetime) -> None:
    await conn.execute(
        "UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1 WHERE id = ?", (to_db(now), row_id)
    )


async def mark_failed(conn: aiosqlite.Connection, row_id: int, error: str, now: datetime) -> None:
    await conn.execute(
        "UPDATE outbox SET status = 'failed', error = ?, sent_at = ?, attempts = attempts + 1 WHERE id = ?",
        (error[:500], to_db(now), row_id),
    )


async def count(conn: aiosqlite.Connection, status: str) -> int:
    cur = await conn.execute("SELECT COUNT(*) FROM outbox WHERE status = ?", (status,))
    row = await cur.fetchone()
    return int(row[0]) if row else 0
