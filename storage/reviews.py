"""Repository: review cycles, participants, reports, chair scores, adjustments, anonymous ratings,
per-organisation rubric overrides and frozen results (migration 0007; privacy notes there)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiosqlite

from storage.members import _member
from storage.models import Member, from_db, to_db


@dataclass(frozen=True)
class Cycle:
    id: int
    org_id: int
    name: str
    period_start: datetime
    deadline: datetime
    status: str
    ballot_key: bytes | None
    rubric: str | None
    bot_username: str
    created_by: int
    created_at: datetime
    closed_at: datetime | None
    period_end: datetime | None = None  # None: the deadline, or the close if that comes first

    @property
    def is_open(self) -> bool:
        return self.status == "open"


@dataclass(frozen=True)
class Report:
    member_id: int
    content: str
    file_id: str | None
    file_name: str | None
    submitted_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Score:
    member_id: int
    score: str
    comment: str
    scored_by: int
    at: datetime


@dataclass(frozen=True)
class AdjustmentRow:
    id: int
    member_id: int
    delta: str
    reason: str
    created_by: int
    at: datetime


def _cycle(row: sqlite3.Row) -> Cycle:
    return Cycle(
        row["id"], row["org_id"], row["name"], from_db(row["period_start"]), from_db(row["deadline"]),
        row["status"], bytes(row["ballot_key"]) if row["ballot_key"] is not None else None, row["rubric"],
        row["bot_username"], row["created_by"], from_db(row["created_at"]),
        from_db(row["closed_at"]) if row["closed_at"] else None,
        from_db(row["period_end"]) if row["period_end"] else None,
    )


# --- cycles --------------------------------------------------------------------------------------


async def create_cycle(
    conn: aiosqlite.Connection, org_id: int, name: str, period_start: datetime, deadline: datetime,
    ballot_key: bytes, bot_username: str, created_by: int, now: datetime, period_end: datetime | None = None,
) -> int:
    cur = await conn.execute(
        """INSERT INTO review_cycles(org_id, name, period_start, deadline, ballot_key, bot_username,
               created_by, created_at, period_end) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        (org_id, name, to_db(period_start), to_db(deadline), ballot_key, bot_username, created_by, to_db(now),
         to_db(period_end) if period_end else None),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


async def set_period(conn: aiosqlite.Connection, cycle_id: int, start: datetime, end: datetime | None) -> None:
    await conn.execute("UPDATE review_cycles SET period_start = ?, period_end = ? WHERE id = ?",
                       (to_db(start), to_db(end) if end else None, cycle_id))


async def get_cycle(conn: aiosqlite.Connection, cycle_id: int) -> Cycle | None:
    cur = await conn.execute("SELECT * FROM review_cycles WHERE id = ?", (cycle_id,))
    row = await cur.fetchone()
    return _cycle(row) if row else None


async def open_cycle(conn: aiosqlite.Connection, org_id: int) -> Cycle | None:
    cur = await conn.execute("SELECT * FROM review_cycles WHERE org_id = ? AND status = 'open'", (org_id,))
    row = await cur.fetchone()
    return _cycle(row) if row else None


async def latest_cycle(conn: aiosqlite.Connection, org_id: int, status: str | None = None) -> Cycle | None:
    if status is None:
        cur = await conn.execute("SELECT * FROM review_cycles WHERE org_id = ? ORDER BY id DESC LIMIT 1", (org_id,))
    else:
        cur = await conn.execute(
            "SELECT * FROM review_cycles WHERE org_id = ? AND status = ? ORDER BY id DESC LIMIT 1", (org_id, status)
        )
    row = await cur.fetchone()
    return _cycle(row) if row else None


async def all_open(conn: aiosqlite.Connection) -> list[Cycle]:
    cur = await conn.execute("SELECT * FROM review_cycles WHERE status = 'open' ORDER BY id")
    return [_cycle(r) for r in await cur.fetchall()]


async def close_cycle(conn: aiosqlite.Connection, cycle_id: int, rubric: str, closed_by: int, now: datetime) -> bool:
    """Freeze the cycle and destroy its ballot key (overwritten first, then dropped); every rating
    gets a fresh random id, so a key copied earlier (a backup of the open cycle) finds none of the
    final ratings."""
    await conn.execute(
        "UPDATE review_cycles SET ballot_key = zeroblob(length(ballot_key)) WHERE id = ? AND status = 'open'",
        (cycle_id,),
    )
    await conn.execute("UPDATE review_ratings SET id = lower(hex(randomblob(32))) WHERE cycle_id = ?", (cycle_id,))
    cur = await conn.execute(
        """UPDATE review_cycles SET status = 'closed', ballot_key = NULL, rubric = ?, closed_by = ?, closed_at = ?
           WHERE id = ? AND status = 'open'""",
        (rubric, closed_by, to_db(now), cycle_id),
    )
    return cur.rowcount > 0


# --- participants --------------------------------------------------------------------------------


async def add_participants(conn: aiosqlite.Connection, cycle_id: int, member_ids: Iterable[int]) -> None:
    await conn.executemany(
        "INSERT OR IGNORE INTO review_participants(cycle_id, member_id) VALUES (?, ?)",
        [(cycle_id, m) for m in member_ids],
    )


async def participants(conn: aiosqlite.Connection, cycle_id: int) -> list[Member]:
    """Everyone who took part, removed members included (check `active`), chair first."""
    cur = await conn.execute(
        """SELECT m.* FROM review_participants p JOIN members m ON m.id = p.member_id WHERE p.cycle_id = ?
           ORDER BY CASE m.role WHEN 'chair' THEN 0 WHEN 'vice_chair' THEN 1 ELSE 2 END, m.id""",
        (cycle_id,),
    )
    return [_member(r) for r in await cur.fetchall()]


# --- reports -------------------------------------------------------------------------------------


def _report(row: sqlite3.Row) -> Report:
    return Report(row["member_id"], row["content"], row["file_id"], row["file_name"], from_db(row["submitted_at"]),
                  from_db(row["updated_at"]))


async def get_report(conn: aiosqlite.Connection, cycle_id: int, member_id: int) -> Report | None:
    cur = await conn.execute(
        "SELECT * FROM review_reports WHERE cycle_id = ? AND member_id = ?", (cycle_id, member_id)
    )
    row = await cur.fetchone()
    return _report(row) if row else None


async def save_report(
    conn: aiosqlite.Connection, cycle_id: int, member_id: int, content: str, file_id: str | None,
    file_name: str | None, now: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO review_reports(cycle_id, member_id, content, file_id, file_name, submitted_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT(cycle_id, member_id) DO UPDATE SET content = excluded.content, file_id = excluded.file_id,
               file_name = excluded.file_name, updated_at = excluded.updated_at""",
        (cycle_id, member_id, content, file_id, file_name, to_db(now), to_db(now)),
    )


async def reports(conn: aiosqlite.Connection, cycle_id: int) -> dict[int, Report]:
    cur = await conn.execute("SELECT * FROM review_reports WHERE cycle_id = ?", (cycle_id,))
    return {int(r["member_id"]): _report(r) for r in await cur.fetchall()}


# --- chair scores and adjustments ----------------------------------------------------------------


async def set_score(conn: aiosqlite.Connection, cycle_id: int, member_id: int, score: str, comment: str,
                    scored_by: int, now: datetime) -> None:
    await conn.execute(
        """INSERT INTO review_scores(cycle_id, member_id, score, comment, scored_by, at) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT(cycle_id, member_id) DO UPDATE SET score = excluded.score, comment = excluded.comment,
               scored_by = excluded.scored_by, at = excluded.at""",
        (cycle_id, member_id, score, comment, scored_by, to_db(now)),
    )


async def scores(conn: aiosqlite.Connection, cycle_id: int) -> dict[int, Score]:
    cur = await conn.execute("SELECT * FROM review_scores WHERE cycle_id = ?", (cycle_id,))
    return {
        int(r["member_id"]): Score(r["member_id"], r["score"], r["comment"], r["scored_by"], from_db(r["at"]))
        for r in await cur.fetchall()
    }


async def add_adjustment(conn: aiosqlite.Connection, cycle_id: int, member_id: int, delta: str, reason: str,
                         created_by: int, now: datetime) -> int:
    cur = await conn.execute(
        "INSERT INTO review_adjustments(cycle_id, member_id, delta, reason, created_by, at) VALUES (?, ?, ?, ?, ?, ?)",
        (cycle_id, member_id, delta, reason, created_by, to_db(now)),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


async def adjustments(conn: aiosqlite.Connection, cycle_id: int) -> dict[int, list[AdjustmentRow]]:
    cur = await conn.execute("SELECT * FROM review_adjustments WHERE cycle_id = ? ORDER BY id", (cycle_id,))
    found: dict[int, list[AdjustmentRow]] = {}
    for r in await cur.fetchall():
        found.setdefault(int(r["member_id"]), []).append(
            AdjustmentRow(r["id"], r["member_id"], r["delta"], r["reason"], r["created_by"], from_db(r["at"]))
        )
    return found


# --- anonymous ratings ---------------------------------------------------------------------------


async def put_rating(conn: aiosqlite.Connection, rating_id: str, cycle_id: int, ratee_id: int,
                     choice: int) -> bool:
    """Insert or change the rating with this id; True if it was new."""
    cur = await conn.execute(
        "UPDATE review_ratings SET choice = ? WHERE id = ? AND cycle_id = ?", (choice, rating_id, cycle_id)
    )
    if cur.rowcount > 0:
        return False
    await conn.execute(
        "INSERT INTO review_ratings(id, cycle_id, ratee_id, choice) VALUES (?, ?, ?, ?)",
        (rating_id, cycle_id, ratee_id, choice),
    )
    return True


async def ratings_by_id(conn: aiosqlite.Connection, cycle_id: int, rating_ids: Iterable[str]) -> dict[str, int]:
    """The choices stored under these ids (the ones that exist)."""
    ids = list(rating_ids)
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    cur = await conn.execute(
        f"SELECT id, choice FROM review_ratings WHERE cycle_id = ? AND id IN ({marks})", (cycle_id, *ids)
    )
    return {str(r["id"]): int(r["choice"]) for r in await cur.fetchall()}


async def ratings_for(conn: aiosqlite.Connection, cycle_id: int) -> dict[int, list[int]]:
    """Per ratee: the choices she received (in id order, which carries no meaning)."""
    cur = await conn.execute(
        "SELECT ratee_id, choice FROM review_ratings WHERE cycle_id = ? ORDER BY id", (cycle_id,)
    )
    found: dict[int, list[int]] = {}
    for r in await cur.fetchall():
        found.setdefault(int(r["ratee_id"]), []).append(int(r["choice"]))
    return found


async def rating_total(conn: aiosqlite.Connection, cycle_id: int) -> int:
    cur = await conn.execute("SELECT COUNT(*) FROM review_ratings WHERE cycle_id = ?", (cycle_id,))
    row = await cur.fetchone()
    return int(row[0]) if row else 0


# --- rubric overrides ----------------------------------------------------------------------------


async def rubric_override(conn: aiosqlite.Connection, org_id: int) -> dict[str, Any]:
    cur = await conn.execute("SELECT rubric FROM review_rubrics WHERE org_id = ?", (org_id,))
    row = await cur.fetchone()
    if row is None:
        return {}
    found = json.loads(row["rubric"])
    return found if isinstance(found, dict) else {}


async def set_rubric_override(conn: aiosqlite.Connection, org_id: int, rubric: dict[str, Any], by: int,
                              now: datetime) -> None:
    await conn.execute(
        """INSERT INTO review_rubrics(org_id, rubric, updated_by, updated_at) VALUES (?, ?, ?, ?)
           ON CONFLICT(org_id) DO UPDATE SET rubric = excluded.rubric, updated_by = excluded.updated_by,
               updated_at = excluded.updated_at""",
        (org_id, json.dumps(rubric, ensure_ascii=False), by, to_db(now)),
    )


# --- results -------------------------------------------------------------------------------------


async def save_results(conn: aiosqlite.Connection, cycle_id: int, rows: list[tuple[int, dict[str, Any]]]) -> None:
    await conn.executemany(
        "INSERT INTO review_results(cycle_id, member_id, position, data) VALUES (?, ?, ?, ?)",
        [(cycle_id, member_id, i, json.dumps(data, ensure_ascii=False)) for i, (member_id, data) in enumerate(rows)],
    )


async def results(conn: aiosqlite.Connection, cycle_id: int) -> list[tuple[int, dict[str, Any]]]:
    cur = await conn.execute(
        "SELECT member_id, data FROM review_results WHERE cycle_id = ? ORDER BY position", (cycle_id,)
    )
    return [(int(r["member_id"]), json.loads(r["data"])) for r in await cur.fetchall()]


# --- activity figures from other features' tables ------------------------------------------------


async def ledger_counts(conn: aiosqlite.Connection, org_id: int, start: datetime, end: datetime) -> dict[int, int]:
    cur = await conn.execute(
        """SELECT member_id, COUNT(*) AS n FROM ledger_entries WHERE org_id = ? AND at >= ? AND at < ?
           GROUP BY member_id""",
        (org_id, to_db(start), to_db(end)),
    )
    return {int(r["member_id"]): int(r["n"]) for r in await cur.fetchall()}
