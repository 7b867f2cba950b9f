"""Repository: calendar subscription tokens (migration 0013)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from storage.models import to_db


@dataclass(frozen=True)
class CalendarToken:
    token: str
    member_id: int
    scope: str  # mine | all


async def find(conn: aiosqlite.Connection, member_id: int, scope: str) -> str | None:
    cur = await conn.execute("SELECT token FROM calendar_tokens WHERE member_id = ? AND scope = ?", (member_id, scope))
    row = await cur.fetchone()
    return str(row[0]) if row else None


async def put(conn: aiosqlite.Connection, member_id: int, scope: str, token: str, now: datetime) -> None:
    """Her token for `scope`, replacing the one she had (the old link stops working)."""
    await conn.execute("DELETE FROM calendar_tokens WHERE member_id = ? AND scope = ?", (member_id, scope))
    await conn.execute("INSERT INTO calendar_tokens(token, member_id, scope, created_at) VALUES (?, ?, ?, ?)",
                       (token, member_id, scope, to_db(now)))


async def lookup(conn: aiosqlite.Connection, token: str) -> CalendarToken | None:
    cur = await conn.execute("SELECT token, member_id, scope FROM calendar_tokens WHERE token = ?", (token,))
    row = await cur.fetchone()
    return CalendarToken(str(row[0]), int(row[1]), str(row[2])) if row else None
