"""Repository: rotation versions, overrides, local days off, swap requests, check-ins, ledger,
hand-over notes and the sent-notices journal."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sized
from dataclasses import dataclass
from datetime import date, datetime, time

import aiosqlite

from storage.models import from_db, to_db


@dataclass(frozen=True)
class VersionRow:
    member_ids: tuple[int, ...]
    period: str
    anchor: date
    handoff: time
    skip_non_working: bool
    effective_from: datetime


@dataclass(frozen=True)
class OverrideRow:
    id: int
    kind: str
    member_id: int
    first_day: date
    last_day: date
    replacement_id: int | None
    created_at: datetime


async def add_version(conn: aiosqlite.Connection, org_id: int, row: VersionRow, created_by: int | None,
                      now: datetime) -> None:
    await rotation_changed(conn, org_id)
    await conn.execute(
        """INSERT INTO rotation_versions(org_id, effective_from, member_ids, period, anchor, handoff,
               skip_non_working, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        (org_id, to_db(row.effective_from), json.dumps(list(row.member_ids)), row.period,
         row.anchor.isoformat(), row.handoff.strftime("%H:%M"), int(row.skip_non_working), created_by, to_db(now)),
    )


def _version(r: sqlite3.Row) -> VersionRow:
    hh, mm = r["handoff"].split(":")
    return VersionRow(tuple(json.loads(r["member_ids"])), r["period"], date.fromisoformat(r["anchor"]),
                      time(int(hh), int(mm)), bool(r["skip_non_working"]), from_db(r["effective_from"]))


async def versions(conn: aiosqlite.Connection, org_id: int) -> list[VersionRow]:
    cur = await conn.execute("SELECT * FROM rotation_versions WHERE org_id = ? ORDER BY id", (org_id,))
    return [_version(r) for r in await cur.fetchall()]


def _marks(values: Sized) -> str:
    return ",".join("?" * len(values))


@dataclass(frozen=True)
class RotationInputs:
    versions: list[VersionRow]
    overrides: list[OverrideRow]
    days_off: list[date]


async def rotation_inputs(conn: aiosqlite.Connection, org_ids: list[int]) -> dict[int, RotationInputs]:
    """Versions, overrides and days off of many organisations in three queries (those with a rotation)."""
    found: dict[int, RotationInputs] = {}
    rows = await conn.execute_fetchall(f"SELECT * FROM rotation_versions WHERE org_id IN ({_marks(org_ids)})"
                                       " ORDER BY org_id, id", org_ids)
    for r in rows:
        found.setdefault(r["org_id"], RotationInputs([], [], [])).versions.append(_version(r))
    rows = await conn.execute_fetchall(f"SELECT * FROM duty_overrides WHERE org_id IN ({_marks(org_ids)})"
                                       " ORDER BY org_id, created_at, id", org_ids)
    for r in rows:
        if r["org_id"] in found:
            found[r["org_id"]].overrides.append(_override(r))
    rows = await conn.execute_fetchall(f"SELECT org_id, day FROM local_days_off WHERE org_id IN ({_marks(org_ids)})"
                                       " ORDER BY org_id, day", org_ids)
    for r in rows:
        if r[0] in found:
            found[r[0]].days_off.append(date.fromisoformat(r[1]))
    return found


async def changes_of(conn: aiosqlite.Connection, org_ids: list[int]) -> dict[int, int]:
    """Each organisation's count of rotation changes (orgs.duty_changes)."""
    rows = await conn.execute_fetchall(f"SELECT id, duty_changes FROM orgs WHERE id IN ({_marks(org_ids)})", org_ids)
    return {int(r[0]): int(r[1]) for r in rows}


async def orgs_with_rotation(conn: aiosqlite.Connection) -> list[int]:
    cur = await conn.execute("SELECT DISTINCT org_id FROM rotation_versions ORDER BY org_id")
    return [int(r[0]) for r in await cur.fetchall()]


# --- the duty producer's next wake (orgs.duty_next_at, migration 0013) ----------------------------

NO_WAKE = "9999"  # no rotation: nothing to do until one is set


async def rotation_changed(conn: aiosqlite.Connection, org_id: int | None = None) -> None:
    """Inside the transaction that changes a rotation's inputs (None: every organisation's)."""
    where, params = ("WHERE id = ?", (org_id,)) if org_id is not None else ("", ())
    await conn.execute(f"UPDATE orgs SET duty_next_at = NULL, duty_changes = duty_changes + 1 {where}", params)


async def orgs_duty_due(conn: aiosqlite.Connection, now: datetime) -> list[tuple[int, int]]:
    """(org id, change count) of the organisations whose duty notices may be due: two index look-ups."""
    rows = await conn.execute_fetchall(
        "SELECT id, duty_changes FROM orgs WHERE duty_next_at IS NULL"
        " UNION ALL SELECT id, duty_changes FROM orgs WHERE duty_next_at <= ? ORDER BY 1",
        (to_db(now),),
    )
    return [(int(r[0]), int(r[1])) for r in rows]


async def set_duty_wakes(conn: aiosqlite.Connection, wakes: list[tuple[int, int, datetime | None]]) -> None:
    """(org id, change count read before, next wake or None for no rotation); an organisation changed
    since keeps its NULL."""
    stored: dict[datetime | None, str] = {None: NO_WAKE}  # a batch's wakes share a few moments
    await conn.executemany(
        "UPDATE orgs SET duty_next_at = ? WHERE id = ? AND duty_changes = ?",
        [(stored[at] if at in stored else stored.setdefault(at, to_db(at)), org_id, changes)  # type: ignore[arg-type]
         for org_id, changes, at in wakes],
    )


async def next_duty_wake(conn: aiosqlite.Connection, now: datetime) -> datetime | None:
    """The earliest stored wake; `now` while an organisation's is still to be worked out (NULL);
    None when no organisation has a rotation."""
    cur = await conn.execute("SELECT 1 FROM orgs WHERE duty_next_at IS NULL LIMIT 1")
    if await cur.fetchone() is not None:
        return now
    cur = await conn.execute("SELECT MIN(duty_next_at) FROM orgs WHERE duty_next_at < ?", (NO_WAKE,))
    row = await cur.fetchone()
    return from_db(row[0]) if row and row[0] else None


async def add_override(
    conn: aiosqlite.Connection, org_id: int, override: OverrideRow, note: str, created_by: int | None
) -> int:
    await rotation_changed(conn, org_id)
    cur = await conn.execute(
        """INSERT INTO duty_overrides(org_id, kind, member_id, first_day, last_day, replacement_id, note,
               created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        (org_id, override.kind, override.member_id, override.first_day.isoformat(), override.last_day.isoformat(),
         override.replacement_id, note, created_by, to_db(override.created_at)),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


async def overrides(conn: aiosqlite.Connection, org_id: int) -> list[OverrideRow]:
    cur = await conn.execute("SELECT * FROM duty_overrides WHERE org_id = ? ORDER BY created_at, id", (org_id,))
    return [_override(r) for r in await cur.fetchall()]


def _override(r: sqlite3.Row) -> OverrideRow:
    return OverrideRow(r["id"], r["kind"], r["member_id"], date.fromisoformat(r["first_day"]),
                       date.fromisoformat(r["last_day"]), r["replacement_id"], from_db(r["created_at"]))


async def days_off(conn: aiosqlite.Connection, org_id: int) -> list[date]:
    cur = await conn.execute("SELECT day FROM local_days_off WHERE org_id = ? ORDER BY day", (org_id,))
    return [date.fromisoformat(r[0]) for r in await cur.fetchall()]


async def add_day_off(conn: aiosqlite.Connection, org_id: int, day: date) -> None:
    await rotation_changed(conn, org_id)
    await conn.execute("INSERT OR IGNORE INTO local_days_off(org_id, day) VALUES (?, ?)", (org_id, day.isoformat()))


# --- swaps ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SwapRequest:
    id: int
    org_id: int
    requester_id: int
    target_id: int
    day: date
    expires_at: datetime
    status: str


def _swap(row: sqlite3.Row) -> SwapRequest:
    return SwapRequest(row["id"], row["org_id"], row["requester_id"], row["target_id"],
                       date.fromisoformat(row["day"]), from_db(row["expires_at"]), row["status"])


async def add_swap(
    conn: aiosqlite.Connection, org_id: int, requester_id: int, target_id: int, day: date, expires: datetime,
    now: datetime,
) -> SwapRequest:
    cur = await conn.execute(
        """INSERT INTO swap_requests(org_id, requester_id, target_id, day, expires_at, created_at)
           VALUES (?, ?, ?, ?, ?, ?)""",
        (org_id, requester_id, target_id, day.isoformat(), to_db(expires), to_db(now)),
    )
    assert cur.lastrowid is not None
    return SwapRequest(cur.lastrowid, org_id, requester_id, target_id, day, expires, "pending")


async def pending_swap_for_shift(conn: aiosqlite.Connection, org_id: int, requester_id: int, expires: datetime,
                                 now: datetime) -> int | None:
    """The id of her still-open request for the shift starting at `expires`, if any."""
    cur = await conn.execute(
        """SELECT id FROM swap_requests WHERE org_id = ? AND requester_id = ? AND expires_at = ?
           AND status = 'pending' AND expires_at > ?""",
        (org_id, requester_id, to_db(expires), to_db(now)),
    )
    row = await cur.fetchone()
    return int(row[0]) if row else None


async def get_swap(conn: aiosqlite.Connection, swap_id: int) -> SwapRequest | None:
    cur = await conn.execute("SELECT * FROM swap_requests WHERE id = ?", (swap_id,))
    row = await cur.fetchone()
    return _swap(row) if row else None


async def decide_swap(conn: aiosqlite.Connection, swap_id: int, status: str, now: datetime) -> bool:
    cur = await conn.execute(
        "UPDATE swap_requests SET status = ?, decided_at = ? WHERE id = ? AND status = 'pending'",
        (status, to_db(now), swap_id),
    )
    return cur.rowcount > 0


async def notice_unclaimed(conn: aiosqlite.Connection, org_id: int, kind: str, ref: str) -> bool:
    """True while nobody has claimed the notice (a read: `claim_notice` does it in a transaction)."""
    cur = await conn.execute("SELECT 1 FROM sent_notices WHERE org_id = ? AND kind = ? AND ref = ?",
                             (org_id, kind, ref))
    return await cur.fetchone() is None


async def claims_among(conn: aiosqlite.Connection, org_ids: list[int], refs: set[str]) -> set[tuple[int, str, str]]:
    """(org id, kind, ref) of the notices claimed for these organisations with these refs."""
    if not org_ids or not refs:
        return set()
    rows = await conn.execute_fetchall(
        f"SELECT org_id, kind, ref FROM sent_notices WHERE org_id IN ({_marks(org_ids)}) AND ref IN ({_marks(refs)})",
        [*org_ids, *refs])
    return {(int(r[0]), str(r[1]), str(r[2])) for r in rows}


async def claim_notices(conn: aiosqlite.Connection, claims: list[tuple[int, str, str]], now: datetime) -> None:
    """Journal these notices (org id, kind, ref) as being sent (inside the caller's transaction)."""
    at = to_db(now)
    await conn.executemany("INSERT OR IGNORE INTO sent_notices(org_id, kind, ref, sent_at) VALUES (?, ?, ?, ?)",
                           [(org_id, kind, ref, at) for org_id, kind, ref in claims])


# --- check-ins, ledger, hand-over ----------------------------------------------------------------


async def checkin(conn: aiosqlite.Connection, org_id: int, shift_start: datetime, member_id: int,
                  now: datetime) -> bool:
    cur = await conn.execute(
        "INSERT OR IGNORE INTO checkins(org_id, shift_start, member_id, at) VALUES (?, ?, ?, ?)",
        (org_id, to_db(shift_start), member_id, to_db(now)),
    )
    return cur.rowcount > 0


async def checked_in(conn: aiosqlite.Connection, org_id: int, shift_start: datetime) -> bool:
    cur = await conn.execute(
        "SELECT 1 FROM checkins WHERE org_id = ? AND shift_start = ?", (org_id, to_db(shift_start))
    )
    return await cur.fetchone() is not None


async def checked_in_among(conn: aiosqlite.Connection, org_ids: list[int],
                           starts: set[datetime]) -> set[tuple[int, str]]:
    """(org id, stored shift start) of the check-ins of these organisations' shifts starting at these times."""
    if not org_ids or not starts:
        return set()
    keys = [to_db(s) for s in starts]
    rows = await conn.execute_fetchall(f"SELECT org_id, shift_start FROM checkins WHERE org_id IN ({_marks(org_ids)})"
                                       f" AND shift_start IN ({_marks(keys)})", [*org_ids, *keys])
    return {(int(r[0]), str(r[1])) for r in rows}


async def checkins_between(conn: aiosqlite.Connection, org_id: int, start: datetime, end: datetime) -> dict[str, int]:
    cur = await conn.execute(
        "SELECT shift_start, member_id FROM checkins WHERE org_id = ? AND shift_start >= ? AND shift_start < ?",
        (org_id, to_db(start), to_db(end)),
    )
    return {r["shift_start"]: int(r["member_id"]) for r in await cur.fetchall()}


@dataclass(frozen=True)
class LedgerEntry:
    id: int
    member_id: int
    member_name: str
    category: str
    content: str
    file_id: str | None
    file_kind: str | None
    at: datetime


async def recent_same_ledger(conn: aiosqlite.Connection, member_id: int, category: str, content: str,
                             since: datetime) -> int | None:
    """The id of her entry with the same category and content written since `since`, if any."""
    cur = await conn.execute(
        "SELECT id FROM ledger_entries WHERE member_id = ? AND category = ? AND content = ? AND at >= ?"
        " ORDER BY id DESC LIMIT 1", (member_id, category, content, to_db(since)))
    row = await cur.fetchone()
    return int(row[0]) if row else None


async def ledger_entry(conn: aiosqlite.Connection, entry_id: int) -> tuple[int, int, str, str] | None:
    """(org_id, member_id, category, content) of a ledger entry."""
    cur = await conn.execute("SELECT org_id, member_id, category, content FROM ledger_entries WHERE id = ?",
                             (entry_id,))
    row = await cur.fetchone()
    return (int(row[0]), int(row[1]), str(row[2]), str(row[3])) if row else None


async def add_ledger(
    conn: aiosqlite.Connection, org_id: int, member_id: int, category: str, content: str,
    file_id: str | None, file_kind: str | None, now: datetime,
) -> int:
    cur = await conn.execute(
        """INSERT INTO ledger_entries(org_id, member_id, category, content, file_id, file_kind, at)
           VALUES (?, ?, ?, ?, ?, ?, ?)""",
        (org_id, member_id, category, content, file_id, file_kind, to_db(now)),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


async def ledger_between(conn: aiosqlite.Connection, org_id: int, start: datetime, end: datetime) -> list[LedgerEntry]:
    cur = await conn.execute(
        """SELECT l.*, m.display_name FROM ledger_entries l JOIN members m ON m.id = l.member_id
           WHERE l.org_id = ? AND l.at >= ? AND l.at < ? ORDER BY l.at, l.id""",
        (org_id, to_db(start), to_db(end)),
    )
    return [
        LedgerEntry(r["id"], r["member_id"], r["display_name"], r["category"], r["content"], r["file_id"],
                    r["file_kind"], from_db(r["at"]))
        for r in await cur.fetchall()
    ]


async def add_handover(conn: aiosqlite.Connection, org_id: int, member_id: int, content: str, now: datetime) -> None:
    await conn.execute(
        "INSERT INTO handover_notes(org_id, member_id, content, at) VALUES (?, ?, ?, ?)",
        (org_id, member_id, content, to_db(now)),
    )


async def take_handovers(conn: aiosqlite.Connection, org_id: int, now: datetime) -> list[tuple[int, str]]:
    """Undelivered hand-over notes (member id, text), marked delivered."""
    cur = await conn.execute(
        "SELECT id, member_id, content FROM handover_notes WHERE org_id = ? AND delivered_at IS NULL ORDER BY id",
        (org_id,),
    )
    rows = await cur.fetchall()
    if rows:
        await conn.execute(
            "UPDATE handover_notes SET delivered_at = ? WHERE org_id = ? AND delivered_at IS NULL",
            (to_db(now), org_id),
        )
    return [(int(r["member_id"]), str(r["content"])) for r in rows]


async def take_handovers_of(conn: aiosqlite.Connection, org_ids: list[int],
                            now: datetime) -> dict[int, list[tuple[int, str]]]:
    """`take_handovers` for many organisations at once."""
    if not org_ids:
        return {}
    rows = await conn.execute_fetchall(
        f"SELECT id, org_id, member_id, content FROM handover_notes WHERE org_id IN ({_marks(org_ids)})"
        " AND delivered_at IS NULL ORDER BY id", org_ids)
    found: dict[int, list[tuple[int, str]]] = {}
    ids = []
    for r in rows:
        found.setdefault(int(r["org_id"]), []).append((int(r["member_id"]), str(r["content"])))
        ids.append(r["id"])
    if ids:
        await conn.execute(f"UPDATE handover_notes SET delivered_at = ? WHERE id IN ({_marks(ids)})",
                           [to_db(now), *ids])
    return found


# --- the sent-notices journal --------------------------------------------------------------------


async def claim_notice(conn: aiosqlite.Connection, org_id: int, kind: str, ref: str, now: datetime) -> bool:
    """Record that a notice is being sent; False if it was already (never send twice)."""
    cur = await conn.execute(
        "INSERT OR IGNORE INTO sent_notices(org_id, kind, ref, sent_at) VALUES (?, ?, ?, ?)",
        (org_id, kind, ref, to_db(now)),
    )
    return cur.rowcount > 0


# --- the /rota_set wizard in progress ------------------------------------------------------------


@dataclass(frozen=True)
class RotaFlow:
    chat_id: int
    user_id: int  # who started it (only she drives it)
    org_id: int
    period: str | None = None
    start: date | None = None
    member_ids: tuple[int, ...] = ()
    updated_at: datetime | None = None


async def save_flow(conn: aiosqlite.Connection, flow: RotaFlow, now: datetime) -> None:
    await conn.execute(
        """INSERT INTO rota_flows(chat_id, user_id, org_id, period, start, member_ids, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(chat_id, user_id) DO UPDATE SET org_id = excluded.org_id,
           period = excluded.period, start = excluded.start, member_ids = excluded.member_ids,
           updated_at = excluded.updated_at""",
        (flow.chat_id, flow.user_id, flow.org_id, flow.period, flow.start.isoformat() if flow.start else None,
         json.dumps(list(flow.member_ids)), to_db(now)),
    )


async def flows_in_chat(conn: aiosqlite.Connection, chat_id: int, since: datetime) -> list[RotaFlow]:
    """The wizards in progress in a chat, changed at or after `since`."""
    cur = await conn.execute("SELECT * FROM rota_flows WHERE chat_id = ? AND updated_at >= ? ORDER BY user_id",
                             (chat_id, to_db(since)))
    return [RotaFlow(r["chat_id"], r["user_id"], r["org_id"], r["period"],
                     date.fromisoformat(r["start"]) if r["start"] else None,
                     tuple(int(m) for m in json.loads(r["member_ids"])), from_db(r["updated_at"]))
            for r in await cur.fetchall()]


async def end_flow(conn: aiosqlite.Connection, chat_id: int, user_id: int) -> None:
    await conn.execute("DELETE FROM rota_flows WHERE chat_id = ? AND user_id = ?", (chat_id, user_id))
