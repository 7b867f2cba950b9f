"""Holiday overrides (table holiday_days): a super admin's corrections to the official calendar."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import aiosqlite

from storage.models import to_db


@dataclass(frozen=True)
class HolidayDay:
    day: date
    workday: bool
    name: str


async def overrides(conn: aiosqlite.Connection) -> dict[date, bool]:
    """Every override: date → is it a working day."""
    cur = await conn.execute("SELECT day, workday FROM holiday_days")
    return {date.fromisoformat(r[0]): bool(r[1]) for r in await cur.fetchall()}


async def of_year(conn: aiosqlite.Connection, year: int) -> list[HolidayDay]:
    cur = await conn.execute(
        "SELECT day, workday, name FROM holiday_days WHERE day >= ? AND day < ? ORDER BY day",
        (f"{year:04d}-01-01", f"{year + 1:04d}-01-01"),
    )
    return [HolidayDay(date.fromisoformat(r[0]), bool(r[1]), str(r[2])) for r in await cur.fetchall()]


async def get(conn: aiosqlite.Connection, day: date) -> HolidayDay | None:
    cur = await conn.execute("SELECT day, workday, name FROM holiday_days WHERE day = ?", (day.isoformat(),))
    row = await cur.fetchone()
    return HolidayDay(date.fromisoformat(row[0]), bool(row[1]), str(row[2])) if row else None


async def put(conn: aiosqlite.Connection, entry: HolidayDay, by: int, now: datetime) -> None:
    await _calendar_changed(conn)
    await conn.execute(
        "INSERT INTO holiday_days(day, workday, name, set_by, set_at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT(day) DO UPDATE SET workday = excluded.workday, name = excluded.name, "
        "set_by = excluded.set_by, set_at = excluded.set_at",
        (entry.day.isoformat(), int(entry.workday), entry.name, by, to_db(now)),
    )


async def delete(conn: aiosqlite.Connection, day: date) -> bool:
    await _calendar_changed(conn)
    cur = await conn.execute("DELETE FROM holiday_days WHERE day = ?", (day.isoformat(),))
    return cur.rowcount > 0


async def count_in_year(conn: aiosqlite.Connection, year: int) -> int:
    cur = await conn.execute("SELECT COUNT(*) FROM holiday_days WHERE day >= ? AND day < ?",
                             (f"{year:04d}-01-01", f"{year + 1:04d}-01-01"))
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def _calendar_changed(conn: aiosqlite.Connection) -> None:
    """Every rotation's shifts may move: the duty producer works each one out again."""
    await conn.execute("UPDATE orgs SET duty_next_at = NULL, duty_changes = duty_changes + 1")
