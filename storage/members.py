"""Repository: people the bot has seen, roster members, join requests."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime
from typing import NamedTuple

import aiosqlite

from storage.models import JoinRequest, Member, Role, User, date_from_db, to_db


def _member(row: sqlite3.Row) -> Member:
    return Member(
        id=row["id"],
        org_id=row["org_id"],
        user_id=row["user_id"],
        username=row["username"],
        display_name=row["display_name"],
        role=row["role"],
        newly_elected=bool(row["newly_elected"]),
        elected_on=date_from_db(row["elected_on"]),
        active=bool(row["active"]),
    )


def _user(row: sqlite3.Row) -> User:
    return User(
        row["user_id"], row["username"], row["first_name"], row["last_name"], row["lang"], row["last_org_id"]
    )


# --- users ---------------------------------------------------------------------------------------


async def upsert_user(
    conn: aiosqlite.Connection,
    user_id: int,
    username: str | None,
    first_name: str,
    last_name: str,
    now: datetime,
) -> None:
    """Remember a Telegram user, and attach any roster row that was added by @username only."""
    await conn.execute(
        """INSERT INTO users(user_id, username, first_name, last_name, seen_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT(user_id) DO UPDATE SET username = excluded.username,
               first_name = excluded.first_name, last_name = excluded.last_name, seen_at = excluded.seen_at""",
        (user_id, username, first_name, last_name, to_db(now)),
    )
    if username:
        await conn.execute(
            """UPDATE members SET user_id = ? WHERE user_id IS NULL AND active = 1
               AND lower(username) = lower(?)
               AND org_id NOT IN (SELECT org_id FROM members WHERE user_id = ? AND active = 1)""",
            (user_id, username, user_id),
        )


async def get_user(conn: aiosqlite.Connection, user_id: int) -> User | None:
    cur = await conn.execute("SELECT * FROM users WHERE user_id = ?", (user_id,))
    row = await cur.fetchone()
    return _user(row) if row else None


async def user_by_username(conn: aiosqlite.Connection, username: str) -> User | None:
    cur = await conn.execute(
        "SELECT * FROM users WHERE lower(username) = lower(?) ORDER BY seen_at DESC LIMIT 1", (username,)
    )
    row = await cur.fetchone()
    return _user(row) if row else None


async def set_user_lang(conn: aiosqlite.Connection, user_id: int, lang: str) -> None:
    await conn.execute("UPDATE users SET lang = ? WHERE user_id = ?", (lang, user_id))


async def set_last_org(conn: aiosqlite.Connection, user_id: int, org_id: int) -> None:
    await conn.execute("UPDATE users SET last_org_id = ? WHERE user_id = ?", (org_id, user_id))


# --- roster --------------------------------------------------------------------------------------


async def add(
    conn: aiosqlite.Connection,
    org_id: int,
    user_id: int | None,
    username: str | None,
    display_name: str,
    role: Role,
    now: datetime,
) -> Member:
    cur = await conn.execute(
        """INSERT INTO members(org_id, user_id, username, display_name, role, added_at)
           VALUES (?, ?, ?, ?, ?, ?)""",
        (org_id, user_id, username, display_name, role, to_db(now)),
    )
    assert cur.lastrowid is not None
    return Member(cur.lastrowid, org_id, user_id, username, display_name, role, False, None, True)


async def get(conn: aiosqlite.Connection, member_id: int) -> Member | None:
    cur = await conn.execute("SELECT * FROM members WHERE id = ?", (member_id,))
    row = await cur.fetchone()
    return _member(row) if row else None


async def by_ids(conn: aiosqlite.Connection, member_ids: set[int]) -> dict[int, Member]:
    """The roster rows with these ids (active or not); unknown ids are left out."""
    if not member_ids:
        return {}
    marks = ",".join("?" * len(member_ids))
    cur = await conn.execute(f"SELECT * FROM members WHERE id IN ({marks})", tuple(member_ids))
    return {m.id: m for m in map(_member, await cur.fetchall())}


class Named(NamedTuple):
    """A roster row's name and account, all a message needs to name someone."""

    id: int
    display_name: str
    user_id: int | None


async def names_of(conn: aiosqlite.Connection, member_ids: set[int]) -> dict[int, Named]:
    """`by_ids`, the names only (the duty producer names thousands of people per tick)."""
    if not member_ids:
        return {}
    marks = ",".join("?" * len(member_ids))
    rows = await conn.execute_fetchall(f"SELECT id, display_name, user_id FROM members WHERE id IN ({marks})",
                                       tuple(member_ids))
    return {r[0]: Named(r[0], r[1], r[2]) for r in rows}


async def chairs_of(conn: aiosqlite.Connection, org_ids: list[int]) -> dict[int, list[Member]]:
    """The active chairs of these organisations (in `active_in_org`'s order)."""
    if not org_ids:
        return {}
    cur = await conn.execute(f"SELECT * FROM members WHERE org_id IN ({','.join('?' * len(org_ids))})"
                             " AND active = 1 AND role = 'chair' ORDER BY id", org_ids)
    found: dict[int, list[Member]] = {}
    for m in map(_member, await cur.fetchall()):
        found.setdefault(m.org_id, []).append(m)
    return found


async def active_in_org(conn: aiosqlite.Connection, org_id: int) -> list[Member]:
    cur = await conn.execute(
        """SELECT * FROM members WHERE org_id = ? AND active = 1
           ORDER BY CASE role WHEN 'chair' THEN 0 WHEN 'vice_chair' THEN 1 ELSE 2 END, id""",
        (org_id,),
    )
    return [_member(r) for r in await cur.fetchall()]


async def find_active(
    conn: aiosqlite.Connection,
    org_id: int,
    *,
    user_id: int | None = None,
    username: str | None = None,
    display_name: str | None = None,
) -> Member | None:
    """The active member of `org_id` matching the first given key."""
    if user_id is not None:
        sql, arg = "user_id = ?", str(user_id)
    elif username:
        sql, arg = "lower(username) = lower(?)", username
    elif display_name:
        sql, arg = "display_name = ?", display_name
    else:
        return None
    cur = await conn.execute(f"SELECT * FROM members WHERE org_id = ? AND active = 1 AND {sql}", (org_id, arg))
    row = await cur.fetchone()
    return _member(row) if row else None


async def count_active_named(conn: aiosqlite.Connection, org_id: int, display_name: str) -> int:
    """How many active members of `org_id` carry this display name (names need not be unique)."""
    cur = await conn.execute(
        "SELECT count(*) FROM members WHERE org_id = ? AND active = 1 AND display_name = ?", (org_id, display_name)
    )
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def memberships(conn: aiosqlite.Connection, user_id: int) -> list[Member]:
    cur = await conn.execute("SELECT * FROM members WHERE user_id = ? AND active = 1 ORDER BY org_id", (user_id,))
    return [_member(r) for r in await cur.fetchall()]


async def set_role(conn: aiosqlite.Connection, member_id: int, role: Role) -> None:
    await conn.execute("UPDATE members SET role = ? WHERE id = ?", (role, member_id))


async def set_elected(conn: aiosqlite.Connection, member_id: int, newly_elected: bool, on: date | None) -> None:
    await conn.execute(
        "UPDATE members SET newly_elected = ?, elected_on = ? WHERE id = ?",
        (int(newly_elected), on.isoformat() if on else None, member_id),
    )


async def set_display_name(conn: aiosqlite.Connection, member_id: int, name: str) -> None:
    await conn.execute("UPDATE members SET display_name = ? WHERE id = ?", (name, member_id))


async def deactivate(conn: aiosqlite.Connection, member_id: int, now: datetime) -> None:
    await conn.execute("UPDATE members SET active = 0, removed_at = ? WHERE id = ?", (to_db(now), member_id))


# --- join requests -------------------------------------------------------------------------------


async def add_join_request(
    conn: aiosqlite.Connection, org_id: int, user_id: int, display_name: str, now: datetime
) -> JoinRequest:
    cur = await conn.execute(
        "INSERT INTO join_requests(org_id, user_id, display_name, created_at) VALUES (?, ?, ?, ?)",
        (org_id, user_id, display_name, to_db(now)),
    )
    assert cur.lastrowid is not None
    return JoinRequest(cur.lastrowid, org_id, user_id, display_name, "pending")


async def pending_join_request(conn: aiosqlite.Connection, org_id: int, user_id: int) -> JoinRequest | None:
    cur = await conn.execute(
        "SELECT * FROM join_requests WHERE org_id = ? AND user_id = ? AND status = 'pending'", (org_id, user_id)
    )
    row = await cur.fetchone()
    return JoinRequest(row["id"], row["org_id"], row["user_id"], row["display_name"], row["status"]) if row else None


async def get_join_request(conn: aiosqlite.Connection, request_id: int) -> JoinRequest | None:
    cur = await conn.execute("SELECT * FROM join_requests WHERE id = ?", (request_id,))
    row = await cur.fetchone()
    return JoinRequest(row["id"], row["org_id"], row["user_id"], row["display_name"], row["status"]) if row else None


async def decide_join_request(
    conn: aiosqlite.Connection, request_id: int, status: str, decided_by: int, now: datetime
) -> bool:
    """Decide a pending request; False if it was already decided (a double press)."""
    cur = await conn.execute(
        """UPDATE join_requests SET status = ?, decided_by = ?, decided_at = ?
           WHERE id = ? AND status = 'pending'""",
        (status, decided_by, to_db(now), request_id),
    )
    return cur.rowcount > 0
