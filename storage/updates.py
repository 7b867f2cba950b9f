"""Repository: the journal of Telegram updates already handled (see services/updates.py)."""

from __future__ import annotations

from datetime import datetime

import aiosqlite

from storage.models import to_db

# Update ids are counted per bot: the journal is kept per bot (0: a process without one, e.g. tests).


async def seen(conn: aiosqlite.Connection, update_id: int, bot_id: int | None) -> bool:
    cur = await conn.execute("SELECT 1 FROM processed_updates WHERE bot_id = ? AND update_id = ?",
                             (bot_id or 0, update_id))
    return await cur.fetchone() is not None


async def mark(conn: aiosqlite.Connection, update_id: int, now: datetime, bot_id: int | None) -> None:
    await conn.execute("INSERT OR IGNORE INTO processed_updates(bot_id, update_id, at) VALUES (?, ?, ?)",
                       (bot_id or 0, update_id, to_db(now)))


async def prune(conn: aiosqlite.Connection, before: datetime) -> int:
    cur = await conn.execute("DELETE FROM processed_updates WHERE at < ?", (to_db(before),))
    return cur.rowcount
