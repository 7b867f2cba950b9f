"""Repository: trainings (培训), sign-ups / leave, attendance, and the figures other features read
(attendance per member for the yearly review, the month's totals for the monthly report).

Who a training is "meant for": audience 'all' → every member of the organisation who was on the
roster at the training's start; 'new' → those of them flagged newly elected. Anyone who attended is
counted as meant for it too, so attended ≤ meant always holds.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import aiosqlite

from storage.models import from_db, to_db

Audience = Literal["all", "new"]
SignupStatus = Literal["signed", "leave"]


@dataclass(frozen=True)
class Training:
    id: int
    org_id: int
    starts_at: datetime
    ends_at: datetime
    place: str
    topic: str
    audience: Audience
    created_by: int
    created_at: datetime
    cancelled_at: datetime | None


@dataclass(frozen=True)
class Counts:
    signed: int = 0
    leave: int = 0
    attended: int = 0


@dataclass(frozen=True)
class Signup:
    member_id: int
    status: SignupStatus
    at: datetime


def _training(row: sqlite3.Row) -> Training:
    return Training(
        id=row["id"], org_id=row["org_id"], starts_at=from_db(row["starts_at"]), ends_at=from_db(row["ends_at"]),
        place=row["place"], topic=row["topic"], audience=row["audience"], created_by=row["created_by"],
        created_at=from_db(row["created_at"]),
        cancelled_at=from_db(row["cancelled_at"]) if row["cancelled_at"] else None,
    )


# --- trainings ---------------------------------------------------------------------------------


async def add(
    conn: aiosqlite.Connection, org_id: int, starts_at: datetime, ends_at: datetime, place: str, topic: str,
    audience: Audience, created_by: int, now: datetime,
) -> Training:
    cur = await conn.execute(
        """INSERT INTO trainings(org_id, starts_at, ends_at, place, topic, audience, created_by, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
        (org_id, to_db(starts_at), to_db(ends_at), place, topic, audience, created_by, to_db(now)),
    )
    assert cur.lastrowid is not None
    found = await get(conn, cur.lastrowid)
    assert found is not None
    return found


async def get(conn: aiosqlite.Connection, training_id: int) -> Training | None:
    cur = await conn.execute("SELECT * FROM trainings WHERE id = ?", (training_id,))
    row = await cur.fetchone()
    return _training(row) if row else None


async def cancel(conn: aiosqlite.Connection, training_id: int, now: datetime) -> bool:
    cur = await conn.execute(
        "UPDATE trainings SET cancelled_at = ? WHERE id = ? AND cancelled_at IS NULL", (to_db(now), training_id)
    )
    return cur.rowcount > 0


async def upcoming(conn: aiosqlite.Connection, org_id: int, now: datetime) -> list[Training]:
    """Not cancelled and not over yet, soonest first."""
    cur = await conn.execute(
        """SELECT * FROM trainings WHERE org_id = ? AND cancelled_at IS NULL AND ends_at > ?
           ORDER BY starts_at, id""",
        (org_id, to_db(now)),
    )
    return [_training(r) for r in await cur.fetchall()]


async def recent_past(conn: aiosqlite.Connection, org_id: int, now: datetime, limit: int) -> list[Training]:
    """Trainings that are over (not cancelled), the latest first."""
    cur = await conn.execute(
        """SELECT * FROM trainings WHERE org_id = ? AND cancelled_at IS NULL AND ends_at <= ?
           ORDER BY starts_at DESC, id DESC LIMIT ?""",
        (org_id, to_db(now), limit),
    )
    return [_training(r) for r in await cur.fetchall()]


async def open_windows(conn: aiosqlite.Connection, org_id: int, now: datetime,
                       lead: timedelta) -> list[Training]:
    """Not cancelled trainings whose check-in window [starts_at - lead, ends_at] contains now."""
    cur = await conn.execute(
        """SELECT * FROM trainings WHERE org_id = ? AND cancelled_at IS NULL AND starts_at <= ? AND ends_at >= ?
           ORDER BY starts_at, id""",
        (org_id, to_db(now + lead), to_db(now)),
    )
    return [_training(r) for r in await cur.fetchall()]


async def next_after(conn: aiosqlite.Connection, org_id: int, now: datetime) -> Training | None:
    cur = await conn.execute(
        """SELECT * FROM trainings WHERE org_id = ? AND cancelled_at IS NULL AND starts_at > ?
           ORDER BY starts_at, id LIMIT 1""",
        (org_id, to_db(now)),
    )
    row = await cur.fetchone()
    return _training(row) if row else None


async def starting_between(conn: aiosqlite.Connection, start: datetime, end: datetime,
                           limit: int = -1) -> list[Training]:
    """Not cancelled trainings of every organisation starting in (start, end] (the first `limit`)."""
    cur = await conn.execute(
        """SELECT * FROM trainings WHERE cancelled_at IS NULL AND starts_at > ? AND starts_at <= ?
           ORDER BY starts_at, id""" + (" LIMIT ?" if limit >= 0 else ""),
        (to_db(start), to_db(end), *([limit] if limit >= 0 else [])),
    )
    return [_training(r) for r in await cur.fetchall()]


# --- sign-ups and attendance -------------------------------------------------------------------


async def set_signup(conn: aiosqlite.Connection, training_id: int, member_id: int, status: SignupStatus,
                     now: datetime) -> SignupStatus | None:
    """Record her choice; returns the previous one (None if she had not chosen). Pressing the same
    button again keeps the original time."""
    cur = await conn.execute(
        "SELECT status FROM training_signups WHERE training_id = ? AND member_id = ?", (training_id, member_id)
    )
    row = await cur.fetchone()
    previous: SignupStatus | None = row["status"] if row else None
    if previous != status:
        await conn.execute(
            """INSERT INTO training_signups(training_id, member_id, status, at) VALUES (?, ?, ?, ?)
               ON CONFLICT(training_id, member_id) DO UPDATE SET status = excluded.status, at = excluded.at""",
            (training_id, member_id, status, to_db(now)),
        )
    return previous


async def signups(conn: aiosqlite.Connection, training_id: int) -> list[Signup]:
    cur = await conn.execute(
        "SELECT member_id, status, at FROM training_signups WHERE training_id = ? ORDER BY at, member_id",
        (training_id,),
    )
    return [Signup(r["member_id"], r["status"], from_db(r["at"])) for r in await cur.fetchall()]


async def add_attendance(conn: aiosqlite.Connection, training_id: int, member_id: int, marked_by: int,
                         now: datetime) -> bool:
    """Mark her attended; False if she already was (the first mark is kept)."""
    cur = await conn.execute(
        """INSERT INTO training_attendance(training_id, member_id, at, marked_by) VALUES (?, ?, ?, ?)
           ON CONFLICT(training_id, member_id) DO NOTHING""",
        (training_id, member_id, to_db(now), marked_by),
    )
    return cur.rowcount > 0


async def attended_ids(conn: aiosqlite.Connection, training_id: int) -> set[int]:
    cur = await conn.execute("SELECT member_id FROM training_attendance WHERE training_id = ?", (training_id,))
    return {int(r[0]) for r in await cur.fetchall()}


async def counts(conn: aiosqlite.Connection, training_ids: Iterable[int]) -> dict[int, Counts]:
    ids = sorted(set(training_ids))
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    raw: dict[int, dict[str, int]] = {i: {"signed": 0, "leave": 0, "attended": 0} for i in ids}
    cur = await conn.execute(
        f"SELECT training_id, status, COUNT(*) FROM training_signups WHERE training_id IN ({marks}) "
        "GROUP BY training_id, status",
        ids,
    )
    for r in await cur.fetchall():
        raw[int(r[0])][str(r[1])] = int(r[2])
    cur = await conn.execute(
        f"SELECT training_id, COUNT(*) FROM training_attendance WHERE training_id IN ({marks}) GROUP BY training_id",
        ids,
    )
    for r in await cur.fetchall():
        raw[int(r[0])]["attended"] = int(r[1])
    return {i: Counts(**v) for i, v in raw.items()}


async def last_attended(conn: aiosqlite.Connection, org_id: int) -> dict[int, list[datetime]]:
    """Per member of the organisation: the start times of the (not cancelled) trainings she attended."""
    cur = await conn.execute(
        """SELECT a.member_id, t.starts_at FROM training_attendance a JOIN trainings t ON t.id = a.training_id
           WHERE t.org_id = ? AND t.cancelled_at IS NULL ORDER BY t.starts_at""",
        (org_id,),
    )
    found: dict[int, list[datetime]] = {}
    for r in await cur.fetchall():
        found.setdefault(int(r[0]), []).append(from_db(r[1]))
    return found


# --- figures for the review and the monthly report ---------------------------------------------


async def _held(conn: aiosqlite.Connection, org_id: int, start: datetime, end: datetime) -> list[Training]:
    cur = await conn.execute(
        """SELECT * FROM trainings WHERE org_id = ? AND cancelled_at IS NULL AND starts_at >= ? AND starts_at < ?
           ORDER BY starts_at, id""",
        (org_id, to_db(start), to_db(end)),
    )
    return [_training(r) for r in await cur.fetchall()]


async def _meant_and_attended(
    conn: aiosqlite.Connection, org_id: int, start: datetime, end: datetime
) -> list[tuple[Training, set[int], set[int]]]:
    """For each training held in [start, end): (training, meant-for member ids, attended member ids)."""
    held = await _held(conn, org_id, start, end)
    if not held:
        return []
    cur = await conn.execute(
        "SELECT id, newly_elected, added_at, removed_at FROM members WHERE org_id = ?", (org_id,)
    )
    roster = [(int(r["id"]), bool(r["newly_elected"]), from_db(r["added_at"]),
               from_db(r["removed_at"]) if r["removed_at"] else None) for r in await cur.fetchall()]
    found = []
    for training in held:
        at = training.starts_at
        meant = {
            member_id for member_id, new, added, removed in roster
            if added <= at and (removed is None or removed > at) and (training.audience == "all" or new)
        }
        came = await attended_ids(conn, training.id)
        found.append((training, meant | came, came))
    return found


async def attendance_counts(conn: aiosqlite.Connection, org_id: int, start: datetime,
                            end: datetime) -> dict[int, tuple[int, int]]:
    """Per member_id: (trainings attended, trainings she was meant for), over the trainings of
    `org_id` starting in [start, end) that were not cancelled. Members meant for none are absent."""
    result: dict[int, tuple[int, int]] = {}
    for _training_row, meant, came in await _meant_and_attended(conn, org_id, start, end):
        for member_id in meant:
            attended, total = result.get(member_id, (0, 0))
            result[member_id] = (attended + (member_id in came), total + 1)
    return result


async def month_summary(conn: aiosqlite.Connection, org_id: int, start: datetime,
                        end: datetime) -> tuple[int, int, int]:
    """(trainings held, attendances, expected attendances) for trainings starting in [start, end)."""
    rows = await _meant_and_attended(conn, org_id, start, end)
    return len(rows), sum(len(came) for _, _, came in rows), sum(len(meant) for _, meant, _ in rows)
