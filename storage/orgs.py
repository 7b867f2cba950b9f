"""Repository: organisations, group bindings, one-time link codes, per-chat language."""

from __future__ import annotations

import sqlite3
from datetime import datetime

import aiosqlite

from storage.db import conn_bot
from storage.models import ChatBinding, ChatKind, Org, from_db, to_db


def _org(row: sqlite3.Row) -> Org:
    return Org(row["id"], row["name"], from_db(row["created_at"]), row["created_by"])


def _binding(row: sqlite3.Row) -> ChatBinding:
    return ChatBinding(row["chat_id"], row["org_id"], row["kind"], row["title"])


async def create(conn: aiosqlite.Connection, name: str, created_by: int, now: datetime) -> Org:
    """A new organisation, belonging to the bot of this process (set up through it)."""
    bot = conn_bot(conn)
    if bot is None:  # no bot in this process (tools, tests): the column keeps its default
        cur = await conn.execute(
            "INSERT INTO orgs(name, created_at, created_by) VALUES (?, ?, ?)", (name, to_db(now), created_by))
    else:
        cur = await conn.execute("INSERT INTO orgs(name, created_at, created_by, bot_id) VALUES (?, ?, ?, ?)",
                                 (name, to_db(now), created_by, bot))
    assert cur.lastrowid is not None
    return Org(cur.lastrowid, name, now, created_by)


async def get(conn: aiosqlite.Connection, org_id: int) -> Org | None:
    cur = await conn.execute("SELECT * FROM orgs WHERE id = ?", (org_id,))
    row = await cur.fetchone()
    return _org(row) if row else None


async def by_name(conn: aiosqlite.Connection, name: str) -> Org | None:
    cur = await conn.execute("SELECT * FROM orgs WHERE name = ?", (name,))
    row = await cur.fetchone()
    return _org(row) if row else None


async def all_orgs(conn: aiosqlite.Connection) -> list[Org]:
    cur = await conn.execute("SELECT * FROM orgs ORDER BY id")
    return [_org(r) for r in await cur.fetchall()]


async def bind_chat(
    conn: aiosqlite.Connection, chat_id: int, org_id: int, kind: ChatKind, title: str, now: datetime
) -> None:
    await conn.execute(
        "INSERT INTO chats(chat_id, org_id, kind, title, bound_at) VALUES (?, ?, ?, ?, ?)",
        (chat_id, org_id, kind, title, to_db(now)),
    )


async def binding(conn: aiosqlite.Connection, chat_id: int) -> ChatBinding | None:
    cur = await conn.execute("SELECT * FROM chats WHERE chat_id = ?", (chat_id,))
    row = await cur.fetchone()
    return _binding(row) if row else None


async def chat_of(conn: aiosqlite.Connection, org_id: int, kind: ChatKind) -> ChatBinding | None:
    cur = await conn.execute("SELECT * FROM chats WHERE org_id = ? AND kind = ?", (org_id, kind))
    row = await cur.fetchone()
    return _binding(row) if row else None


async def chats_of(conn: aiosqlite.Connection, org_ids: list[int]) -> dict[tuple[int, str], int]:
    """(org id, kind) → chat id of these organisations' bound groups."""
    if not org_ids:
        return {}
    marks = ",".join("?" * len(org_ids))
    rows = await conn.execute_fetchall(f"SELECT org_id, kind, chat_id FROM chats WHERE org_id IN ({marks})", org_ids)
    return {(int(r[0]), str(r[1])): int(r[2]) for r in rows}


async def move_chat(conn: aiosqlite.Connection, old_chat_id: int, new_chat_id: int) -> bool:
    """Follow a group → supergroup migration. True when a binding moved."""
    cur = await conn.execute("UPDATE chats SET chat_id = ? WHERE chat_id = ?", (new_chat_id, old_chat_id))
    await conn.execute(  # unless the new chat has its own already (both engines: no UPDATE OR IGNORE)
        "UPDATE chat_prefs SET chat_id = ? WHERE chat_id = ? AND NOT EXISTS"
        " (SELECT 1 FROM chat_prefs WHERE chat_id = ?)", (new_chat_id, old_chat_id, new_chat_id)
    )
    return cur.rowcount > 0


async def add_link_code(
    conn: aiosqlite.Connection, code: str, org_id: int, created_by: int, now: datetime, expires: datetime
) -> None:
    await conn.execute(
        "INSERT INTO link_codes(code, org_id, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
        (code, org_id, created_by, to_db(now), to_db(expires)),
    )


async def take_link_code(conn: aiosqlite.Connection, code: str, now: datetime) -> int | None:
    """Mark an unused, unexpired code used and return its org id; None if it is not valid."""
    cur = await conn.execute(
        "SELECT org_id FROM link_codes WHERE code = ? AND used_at IS NULL AND expires_at > ?",
        (code, to_db(now)),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    await conn.execute("UPDATE link_codes SET used_at = ? WHERE code = ?", (to_db(now), code))
    return int(row["org_id"])


async def peek_link_code(conn: aiosqlite.Connection, code: str, now: datetime) -> int | None:
    cur = await conn.execute(
        "SELECT org_id FROM link_codes WHERE code = ? AND used_at IS NULL AND expires_at > ?",
        (code, to_db(now)),
    )
    row = await cur.fetchone()
    return int(row["org_id"]) if row else None


async def chat_lang(conn: aiosqlite.Connection, chat_id: int) -> str | None:
    cur = await conn.execute("SELECT lang FROM chat_prefs WHERE chat_id = ?", (chat_id,))
    row = await cur.fetchone()
    return str(row["lang"]) if row else None


async def set_chat_lang(conn: aiosqlite.Connection, chat_id: int, lang: str) -> None:
    await conn.execute(
        "INSERT INTO chat_prefs(chat_id, lang) VALUES (?, ?) ON CONFLICT(chat_id) DO UPDATE SET lang = excluded.lang",
        (chat_id, lang),
    )


async def bot_of(conn: aiosqlite.Connection, org_id: int) -> int | None:
    """The bot an organisation belongs to (None: not recorded, set up before several tokens)."""
    cur = await conn.execute("SELECT bot_id FROM orgs WHERE id = ?", (org_id,))
    row = await cur.fetchone()
    return int(row[0]) if row and row[0] is not None else None


async def adopt_unowned(conn: aiosqlite.Connection, bot_id: int) -> tuple[int, int, int]:
    """Give `bot_id` every organisation, pending outbox row and active reminder that has no bot yet
    (made before bots were recorded), and the journal of updates handled. (organisations, rows,
    reminders) adopted."""
    cur = await conn.execute("UPDATE orgs SET bot_id = ? WHERE bot_id IS NULL", (bot_id,))
    found_orgs = max(cur.rowcount, 0)
    cur = await conn.execute("UPDATE outbox SET bot_id = ? WHERE bot_id IS NULL AND status = 'pending'", (bot_id,))
    found_rows = max(cur.rowcount, 0)
    cur = await conn.execute("UPDATE reminders SET bot_id = ? WHERE bot_id IS NULL AND status = 'active'", (bot_id,))
    found_reminders = max(cur.rowcount, 0)
    await conn.execute("UPDATE processed_updates SET bot_id = ? WHERE bot_id = 0", (bot_id,))  # not counted
    return found_orgs, found_rows, found_reminders
