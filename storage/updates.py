"""Repository: the journal of Telegram updates already handled (see services/updates.py)."""

from __future__ import annotations

from datetime import datetime

import aiosqlite

from storage.models import to_db


async def seen(conn: aiosqlite.Connection, update_id: int) -> bool:
    cur = await conn.execute("SELECT 1 FROM processed_updates WHERE update_id = ?", (update_id,))
    return await cur.fetchone() is not None


async def mark(conn: aiosqlite.Connection, update_id: int, now: datetime) -> None:
    await conn.execute("INSERT OR IGNORE INTO processed_updates(update_id, at) VALUES (?, ?)", (update_id, to_db(now)))


async def prune(conn: aiosqlite.Connection, before: datetime) -> int:
    cur = await conn.execute("DELETE FROM processed_updates WHERE at < ?", (to_db(before),))
    return cur.rowcount
