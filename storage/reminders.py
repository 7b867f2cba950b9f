"""Repository: reminders (one-off and recurring)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from storage.db import conn_bot
from storage.models import from_db, to_db


@dataclass(frozen=True)
class Reminder:
    id: int
    org_id: int | None
    chat_id: int
    created_by: int
    text: str
    rule: str | None
    next_at: datetime | None
    status: str
    created_at: datetime
    bot_id: int | None = None  # the bot it was set through (sends it when it has no organisation)


def _row(r: aiosqlite.Row) -> Reminder:
    return Reminder(r["id"], r["org_id"], r["chat_id"], r["created_by"], r["text"], r["rule"],
                    from_db(r["next_at"]) if r["next_at"] else None, r["status"], from_db(r["created_at"]), r["bot_id"])


async def add(conn: aiosqlite.Connection, org_id: int | None, chat_id: int, created_by: int, text: str,
              rule: str | None, next_at: datetime, now: datetime) -> int:
    cur = await conn.execute(
        "INSERT INTO reminders(org_id, chat_id, created_by, text, rule, next_at, created_at, bot_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (org_id, chat_id, created_by, text, rule, to_db(next_at), to_db(now), conn_bot(conn)),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


async def get(conn: aiosqlite.Connection, reminder_id: int) -> Reminder | None:
    cur = await conn.execute("SELECT * FROM reminders WHERE id = ?", (reminder_id,))
    row = await cur.fetchone()
    return _row(row) if row else None


async def active_in_chat(conn: aiosqlite.Connection, chat_id: int) -> list[Reminder]:
    cur = await conn.execute(
        "SELECT * FROM reminders WHERE chat_id = ? AND status = 'active' ORDER BY next_at, id", (chat_id,)
    )
    return [_row(r) for r in await cur.fetchall()]


async def due(conn: aiosqlite.Connection, now: datetime) -> list[Reminder]:
    cur = await conn.execute(
        "SELECT * FROM reminders WHERE status = 'active' AND next_at IS NOT NULL AND next_at <= ? ORDER BY next_at, id",
        (to_db(now),),
    )
    return [_row(r) for r in await cur.fetchall()]


async def next_due_at(conn: aiosqlite.Connection) -> datetime | None:
    cur = await conn.execute("SELECT MIN(next_at) FROM reminders WHERE status = 'active' AND next_at IS NOT NULL")
    row = await cur.fetchone()
    return from_db(row[0]) if row and row[0] else None


async def reschedule(conn: aiosqlite.Connection, reminder_id: int, next_at: datetime | None, status: str) -> None:
    await conn.execute(
        "UPDATE reminders SET next_at = ?, status = ? WHERE id = ?",
        (to_db(next_at) if next_at else None, status, reminder_id),
    )


async def close(conn: aiosqlite.Connection, reminder_id: int, status: str, now: datetime) -> None:
    await conn.execute(
        "UPDATE reminders SET status = ?, next_at = NULL, closed_at = ? WHERE id = ?",
        (status, to_db(now), reminder_id),
    )
