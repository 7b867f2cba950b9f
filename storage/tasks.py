"""Repository: the task list (任务清单), its owners, closing off (销号), and the counts other
features read (monthly report, performance review)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from storage.models import from_db, to_db


@dataclass(frozen=True)
class Task:
    id: int
    org_id: int
    title: str
    deadline: datetime
    created_by: int
    created_at: datetime
    closed_at: datetime | None
    closed_by: int | None
    note: str | None
    file_id: str | None
    file_kind: str | None
    owner_ids: tuple[int, ...]

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


def _task(row: sqlite3.Row, owners: tuple[int, ...]) -> Task:
    return Task(
        id=row["id"],
        org_id=row["org_id"],
        title=row["title"],
        deadline=from_db(row["deadline"]),
        created_by=row["created_by"],
        created_at=from_db(row["created_at"]),
        closed_at=from_db(row["closed_at"]) if row["closed_at"] else None,
        closed_by=row["closed_by"],
        note=row["note"],
        file_id=row["file_id"],
        file_kind=row["file_kind"],
        owner_ids=owners,
    )


async def _with_owners(conn: aiosqlite.Connection, rows: Iterable[sqlite3.Row]) -> list[Task]:
    rows = list(rows)
    if not rows:
        return []
    ids = [r["id"] for r in rows]
    marks = ",".join("?" * len(ids))
    cur = await conn.execute(
        f"SELECT task_id, member_id FROM task_owners WHERE task_id IN ({marks}) ORDER BY rowid", ids
    )
    owners: dict[int, list[int]] = {}
    for r in await cur.fetchall():
        owners.setdefault(r["task_id"], []).append(r["member_id"])
    return [_task(r, tuple(owners.get(r["id"], ()))) for r in rows]


async def add(
    conn: aiosqlite.Connection, org_id: int, title: str, deadline: datetime, owner_ids: Iterable[int],
    created_by: int, now: datetime,
) -> Task:
    cur = await conn.execute(
        "INSERT INTO tasks(org_id, title, deadline, created_by, created_at) VALUES (?, ?, ?, ?, ?)",
        (org_id, title, to_db(deadline), created_by, to_db(now)),
    )
    assert cur.lastrowid is not None
    task_id = cur.lastrowid
    owners = tuple(dict.fromkeys(owner_ids))
    await conn.executemany(
        "INSERT INTO task_owners(task_id, member_id) VALUES (?, ?)", [(task_id, m) for m in owners]
    )
    found = await get(conn, org_id, task_id)
    assert found is not None
    return found


async def recent_same(conn: aiosqlite.Connection, org_id: int, title: str, created_by: int,
                      since: datetime) -> int | None:
    """An open task with this title set by the same person since `since` (a retried /task_add)."""
    cur = await conn.execute(
        "SELECT id FROM tasks WHERE org_id = ? AND title = ? AND created_by = ? AND created_at >= ?"
        " AND closed_at IS NULL ORDER BY id DESC LIMIT 1", (org_id, title, created_by, to_db(since)))
    row = await cur.fetchone()
    return int(row[0]) if row else None


async def get(conn: aiosqlite.Connection, org_id: int, task_id: int) -> Task | None:
    cur = await conn.execute("SELECT * FROM tasks WHERE id = ? AND org_id = ?", (task_id, org_id))
    found = await _with_owners(conn, await cur.fetchall())
    return found[0] if found else None


async def open_tasks(conn: aiosqlite.Connection, org_id: int | None = None) -> list[Task]:
    """Open tasks, soonest deadline first; of one organisation, or of all when org_id is None."""
    if org_id is None:
        cur = await conn.execute("SELECT * FROM tasks WHERE closed_at IS NULL ORDER BY org_id, deadline, id")
    else:
        cur = await conn.execute(
            "SELECT * FROM tasks WHERE org_id = ? AND closed_at IS NULL ORDER BY deadline, id", (org_id,)
        )
    return await _with_owners(conn, await cur.fetchall())


async def any_open(conn: aiosqlite.Connection) -> bool:
    cur = await conn.execute("SELECT 1 FROM tasks WHERE closed_at IS NULL LIMIT 1")
    return await cur.fetchone() is not None


async def open_tasks_due(conn: aiosqlite.Connection, until: datetime, since: datetime | None) -> list[Task]:
    """Open tasks of every organisation with a deadline up to `until` (and after `since` unless None)."""
    sql, params = "SELECT * FROM tasks WHERE closed_at IS NULL AND deadline <= ?", [to_db(until)]
    if since is not None:
        sql, params = sql + " AND deadline > ?", [*params, to_db(since)]
    cur = await conn.execute(sql + " ORDER BY org_id, deadline, id", params)
    return await _with_owners(conn, await cur.fetchall())


async def closed_since(conn: aiosqlite.Connection, org_id: int, since: datetime) -> list[Task]:
    """Tasks closed at or after `since`, most recent first."""
    cur = await conn.execute(
        "SELECT * FROM tasks WHERE org_id = ? AND closed_at >= ? ORDER BY closed_at DESC, id DESC",
        (org_id, to_db(since)),
    )
    return await _with_owners(conn, await cur.fetchall())


async def close(
    conn: aiosqlite.Connection, task_id: int, closed_by: int, now: datetime, note: str | None,
    file_id: str | None, file_kind: str | None,
) -> bool:
    """Close an open task; False if it was already closed (a second /done)."""
    cur = await conn.execute(
        """UPDATE tasks SET closed_at = ?, closed_by = ?, note = ?, file_id = ?, file_kind = ?
           WHERE id = ? AND closed_at IS NULL""",
        (to_db(now), closed_by, note, file_id, file_kind, task_id),
    )
    return cur.rowcount == 1


async def person_name(conn: aiosqlite.Connection, org_id: int, user_id: int) -> str | None:
    """How the organisation knows a Telegram user: her roster name (latest row), else her Telegram name."""
    cur = await conn.execute(
        "SELECT display_name FROM members WHERE org_id = ? AND user_id = ? ORDER BY active DESC, id DESC LIMIT 1",
        (org_id, user_id),
    )
    row = await cur.fetchone()
    if row is not None:
        return str(row[0])
    cur = await conn.execute("SELECT first_name, last_name, username FROM users WHERE user_id = ?", (user_id,))
    row = await cur.fetchone()
    if row is None:
        return None
    return f"{row['first_name']} {row['last_name']}".strip() or row["username"] or None


# --- figures for other features ------------------------------------------------------------------


async def closed_on_time_counts(
    conn: aiosqlite.Connection, org_id: int, start: datetime, end: datetime
) -> dict[int, tuple[int, int]]:
    """Per owner member_id: (tasks closed on or before their deadline, tasks owned), counting the
    tasks whose deadline falls in [start, end)."""
    cur = await conn.execute(
        """SELECT o.member_id AS member_id,
                  SUM(CASE WHEN t.closed_at IS NOT NULL AND t.closed_at <= t.deadline THEN 1 ELSE 0 END) AS on_time,
                  COUNT(*) AS owned
           FROM tasks t JOIN task_owners o ON o.task_id = t.id
           WHERE t.org_id = ? AND t.deadline >= ? AND t.deadline < ?
           GROUP BY o.member_id""",
        (org_id, to_db(start), to_db(end)),
    )
    return {int(r["member_id"]): (int(r["on_time"]), int(r["owned"])) for r in await cur.fetchall()}


async def summary(
    conn: aiosqlite.Connection, org_id: int, start: datetime, end: datetime, now: datetime
) -> tuple[int, int, int]:
    """(tasks closed in [start, end), tasks open at `now`, of those the ones past their deadline)."""
    cur = await conn.execute(
        """SELECT
             SUM(CASE WHEN closed_at >= ? AND closed_at < ? THEN 1 ELSE 0 END),
             SUM(CASE WHEN created_at <= ? AND (closed_at IS NULL OR closed_at > ?) THEN 1 ELSE 0 END),
             SUM(CASE WHEN created_at <= ? AND (closed_at IS NULL OR closed_at > ?) AND deadline < ?
                      THEN 1 ELSE 0 END)
           FROM tasks WHERE org_id = ?""",
        (to_db(start), to_db(end), to_db(now), to_db(now), to_db(now), to_db(now), to_db(now), org_id),
    )
    row = await cur.fetchone()
    if row is None:
        return 0, 0, 0
    return int(row[0] or 0), int(row[1] or 0), int(row[2] or 0)
