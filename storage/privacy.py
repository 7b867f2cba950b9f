"""Repository: everything held about one person, for the export and the erasure of /forget
(个人信息保护法). All the SQL of services/privacy.py lives here; the rules (what is deleted, what is
kept anonymised) are there and in ARCHITECTURE.md, "Personal data".

A person is her Telegram user id (when known) plus her roster rows in any organisation
(`member_ids`, active or removed). Telegram-id columns that must stay NOT NULL are set to 0
("a person no longer on record"); nullable ones to NULL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiosqlite

from storage.db import on_postgres
from storage.models import to_db


@dataclass(frozen=True)
class Subject:
    user_id: int | None
    member_ids: tuple[int, ...]


def _marks(ids: Sequence[int]) -> str:
    return ",".join("?" * len(ids)) or "NULL"


def _dicts(rows: Sequence[sqlite3.Row]) -> list[dict[str, Any]]:
    return [{k: r[k] for k in r.keys()} for r in rows]  # noqa: SIM118 (sqlite3.Row has no items())


async def _all(conn: aiosqlite.Connection, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
    cur = await conn.execute(sql, tuple(params))
    return _dicts(list(await cur.fetchall()))


# --- finding the person --------------------------------------------------------------------------


async def user_ids_by_username(conn: aiosqlite.Connection, username: str) -> list[int]:
    cur = await conn.execute("SELECT user_id FROM users WHERE lower(username) = lower(?)", (username,))
    return [int(r[0]) for r in await cur.fetchall()]


async def user_row(conn: aiosqlite.Connection, user_id: int) -> dict[str, Any] | None:
    found = await _all(conn, "SELECT * FROM users WHERE user_id = ?", (user_id,))
    return found[0] if found else None


async def member_rows(
    conn: aiosqlite.Connection, *, user_id: int | None = None, username: str | None = None,
    display_name: str | None = None, active_only: bool = False,
) -> list[dict[str, Any]]:
    """Roster rows (any organisation) with this Telegram id, or this @username, or this name."""
    arg: Any
    if user_id is not None:
        where, arg = "m.user_id = ?", user_id
    elif username:
        where, arg = "lower(m.username) = lower(?)", username
    elif display_name:
        where, arg = "m.display_name = ?", display_name
    else:
        return []
    if active_only:
        where += " AND m.active = 1"
    return await _all(
        conn,
        f"SELECT m.*, o.name AS org_name FROM members m JOIN orgs o ON o.id = m.org_id WHERE {where} ORDER BY m.id",
        (arg,),
    )


async def members_by_ids(conn: aiosqlite.Connection, ids: Sequence[int]) -> list[dict[str, Any]]:
    return await _all(
        conn,
        f"SELECT m.*, o.name AS org_name FROM members m JOIN orgs o ON o.id = m.org_id WHERE m.id IN ({_marks(ids)})"
        " ORDER BY m.id",
        ids,
    )


async def active_chairs(conn: aiosqlite.Connection, org_id: int) -> int:
    cur = await conn.execute(
        "SELECT count(*) FROM members WHERE org_id = ? AND active = 1 AND role = 'chair'", (org_id,)
    )
    row = await cur.fetchone()
    return int(row[0]) if row else 0


# --- the export ----------------------------------------------------------------------------------


async def collect(conn: aiosqlite.Connection, s: Subject) -> dict[str, list[dict[str, Any]]]:
    """Every row about her, by kind (the keys are stable: the export and the counts use them)."""
    u = s.user_id if s.user_id is not None else -(2**62)  # matches nothing when her id is unknown
    m = list(s.member_ids)
    mk = _marks(m)
    q: dict[str, tuple[str, Sequence[Any]]] = {
        "user": ("SELECT * FROM users WHERE user_id = ?", [u]),
        "members": (f"SELECT m.*, o.name AS org_name FROM members m JOIN orgs o ON o.id = m.org_id "
                    f"WHERE m.id IN ({mk}) ORDER BY m.id", m),
        "chat_prefs": ("SELECT * FROM chat_prefs WHERE chat_id = ?", [u]),
        "join_requests": ("SELECT * FROM join_requests WHERE user_id = ? ORDER BY id", [u]),
        "ledger_entries": (f"SELECT * FROM ledger_entries WHERE member_id IN ({mk}) ORDER BY id", m),
        "handover_notes": (f"SELECT * FROM handover_notes WHERE member_id IN ({mk}) ORDER BY id", m),
        "checkins": (f"SELECT * FROM checkins WHERE member_id IN ({mk}) ORDER BY at", m),
        "duty_overrides": (f"SELECT * FROM duty_overrides WHERE member_id IN ({mk}) OR replacement_id IN ({mk})"
                           " OR created_by = ? ORDER BY id", [*m, *m, u]),
        "swap_requests": (f"SELECT * FROM swap_requests WHERE requester_id IN ({mk}) OR target_id IN ({mk})"
                          " ORDER BY id", [*m, *m]),
        "faq_asked": ("SELECT * FROM faq_asked WHERE user_id = ? OR chat_id = ? ORDER BY id", [u, u]),
        "faq_votes": ("SELECT * FROM faq_votes WHERE user_id = ? ORDER BY at", [u]),
        "faq_unanswered": ("SELECT * FROM faq_unanswered WHERE user_id = ? OR chat_id = ? OR taken_by = ?"
                           " ORDER BY id", [u, u, u]),
        "faq_answering": ("SELECT * FROM faq_answering WHERE user_id = ? OR chat_id = ?", [u, u]),
        "rota_flows": ("SELECT * FROM rota_flows WHERE user_id = ? OR chat_id = ?", [u, u]),
        "village_asked": ("SELECT * FROM village_asked WHERE user_id = ?", [u]),
        "faq_import_pending": ("SELECT * FROM faq_import_pending WHERE user_id = ?", [u]),
        "reminders": ("SELECT * FROM reminders WHERE created_by = ? OR chat_id = ? ORDER BY id", [u, u]),
        "outbox": ("SELECT id, org_id, chat_id, body, due_at, status, sent_at FROM outbox WHERE chat_id = ?"
                   " ORDER BY id", [u]),
        "training_signups": (f"SELECT s.*, t.topic, t.starts_at FROM training_signups s JOIN trainings t"
                             f" ON t.id = s.training_id WHERE s.member_id IN ({mk}) ORDER BY t.starts_at", m),
        "training_attendance": (f"SELECT a.*, t.topic, t.starts_at FROM training_attendance a JOIN trainings t"
                                f" ON t.id = a.training_id WHERE a.member_id IN ({mk}) ORDER BY t.starts_at", m),
        "tasks": (f"SELECT t.* FROM tasks t WHERE t.id IN (SELECT task_id FROM task_owners WHERE member_id IN ({mk}))"
                  " OR t.closed_by = ? ORDER BY t.id", [*m, u]),
        "review_reports": (f"SELECT * FROM review_reports WHERE member_id IN ({mk}) ORDER BY cycle_id", m),
        "review_scores": (f"SELECT * FROM review_scores WHERE member_id IN ({mk}) ORDER BY cycle_id", m),
        "review_adjustments": (f"SELECT * FROM review_adjustments WHERE member_id IN ({mk}) ORDER BY id", m),
        "review_results": (f"SELECT * FROM review_results WHERE member_id IN ({mk}) ORDER BY cycle_id", m),
        "audit_log": ("SELECT * FROM audit_log WHERE actor_id = ? ORDER BY id", [u]),
    }
    return {kind: await _all(conn, sql, params) for kind, (sql, params) in q.items()}


# --- the erasure ---------------------------------------------------------------------------------


async def erase(conn: aiosqlite.Connection, s: Subject, labels: dict[int, str], now: datetime) -> None:
    """Delete her own rows and anonymise the organisation's records that point at her (inside the
    caller's transaction). `labels` maps each of her member ids to its anonymised display name."""
    u = s.user_id if s.user_id is not None else -(2**62)
    m = list(s.member_ids)
    mk = _marks(m)
    run = conn.execute
    # Her own data: gone.
    await run("DELETE FROM users WHERE user_id = ?", (u,))
    await run("DELETE FROM chat_prefs WHERE chat_id = ?", (u,))
    await run("DELETE FROM join_requests WHERE user_id = ?", (u,))
    await run("DELETE FROM reminders WHERE created_by = ? OR chat_id = ?", (u, u))
    await run("DELETE FROM outbox WHERE chat_id = ?", (u,))
    await run("DELETE FROM faq_votes WHERE user_id = ?", (u,))
    await run("DELETE FROM faq_asked WHERE user_id = ? OR chat_id = ?", (u, u))  # cascades to its votes
    await run("DELETE FROM faq_unanswered WHERE user_id = ? OR chat_id = ?", (u, u))
    await run("DELETE FROM faq_answering WHERE user_id = ? OR chat_id = ?", (u, u))
    await run("DELETE FROM rota_flows WHERE user_id = ? OR chat_id = ?", (u, u))
    await run("DELETE FROM village_asked WHERE user_id = ?", (u,))
    await run("DELETE FROM faq_import_pending WHERE user_id = ?", (u,))
    await run("DELETE FROM link_codes WHERE created_by = ?", (u,))
    await run(f"DELETE FROM handover_notes WHERE member_id IN ({mk})", m)
    await run(f"DELETE FROM calendar_tokens WHERE member_id IN ({mk})", m)  # her subscription links die
    await run(f"DELETE FROM review_reports WHERE member_id IN ({mk})", m)
    await run(f"UPDATE duty_overrides SET note = '' WHERE member_id IN ({mk}) AND kind = 'leave'", m)
    # Where she acted for the organisation: the record stays, her Telegram id goes.
    for table, column, blank in (
        ("join_requests", "decided_by", None), ("rotation_versions", "created_by", None),
        ("duty_overrides", "created_by", None), ("faq_entries", "created_by", None),
        ("faq_unanswered", "taken_by", None), ("audit_log", "actor_id", None),
        ("review_cycles", "closed_by", None), ("orgs", "created_by", 0), ("trainings", "created_by", 0),
        ("training_attendance", "marked_by", 0), ("tasks", "created_by", 0), ("tasks", "closed_by", 0),
        ("review_cycles", "created_by", 0), ("review_scores", "scored_by", 0),
        ("review_adjustments", "created_by", 0), ("review_rubrics", "updated_by", 0),
    ):
        await run(f"UPDATE {table} SET {column} = ? WHERE {column} = ?", (blank, u))
    # Her roster rows: kept (ledger entries, check-ins, results point at them), anonymised.
    for member_id, label in labels.items():
        await run(
            """UPDATE members SET display_name = ?, username = NULL, user_id = NULL, elected_on = NULL,
                   newly_elected = 0, active = 0, removed_at = coalesce(removed_at, ?) WHERE id = ?""",
            (label, to_db(now), member_id),
        )


# --- free text that mentions her -----------------------------------------------------------------


async def text_columns(conn: aiosqlite.Connection) -> dict[str, list[str]]:
    """table → its TEXT columns, read from sqlite_master (so new tables are covered)."""
    if on_postgres(conn):
        cur = await conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()"
            " AND data_type = 'text' AND table_name != 'schema_version' ORDER BY table_name, ordinal_position")
        columns: dict[str, list[str]] = {}
        for table, column in await cur.fetchall():
            columns.setdefault(str(table), []).append(str(column))
        return columns
    cur = await conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    found: dict[str, list[str]] = {}
    for (table,) in await cur.fetchall():
        info = await conn.execute(f"PRAGMA table_info({table})")
        cols = [r["name"] for r in await info.fetchall() if "TEXT" in str(r["type"]).upper() or not r["type"]]
        if cols:
            found[str(table)] = cols
    return found


async def _key_columns(conn: aiosqlite.Connection, table: str) -> list[str]:
    if on_postgres(conn):
        cur = await conn.execute(
            "SELECT k.column_name FROM information_schema.table_constraints c"
            " JOIN information_schema.key_column_usage k"
            " ON k.constraint_name = c.constraint_name AND k.table_schema = c.table_schema"
            " WHERE c.table_schema = current_schema() AND c.table_name = ? AND c.constraint_type = 'PRIMARY KEY'"
            " ORDER BY k.ordinal_position", (table,))
        return [str(r[0]) for r in await cur.fetchall()] or ["ctid"]
    info = await conn.execute(f"PRAGMA table_info({table})")
    pk = sorted((r["pk"], r["name"]) for r in await info.fetchall() if r["pk"])
    if pk:
        return [name for _, name in pk]
    return ["rowid"]


async def rewrite_mentions(
    conn: aiosqlite.Connection, needles: Sequence[str], fix: Callable[[str], str],
    skip: frozenset[tuple[str, str]] = frozenset(),
) -> int:
    """In every TEXT column of every table, rows containing any needle (case-insensitive) get
    `fix(value)` written back. Returns how many values changed."""
    needles = [n.lower() for n in needles if n]
    if not needles:
        return 0
    changed = 0
    for table, cols in (await text_columns(conn)).items():
        keys = await _key_columns(conn, table)
        for col in cols:
            if (table, col) in skip or col in keys:
                continue
            cond = " OR ".join(f"instr(lower({col}), ?) > 0" for _ in needles)
            cur = await conn.execute(f"SELECT {', '.join(keys)}, {col} AS value FROM {table} WHERE {cond}", needles)
            for row in await cur.fetchall():
                old = row["value"]
                new = fix(old)
                if new != old:
                    where = " AND ".join(f"{k} = ?" for k in keys)
                    await conn.execute(f"UPDATE {table} SET {col} = ? WHERE {where}",
                                       (new, *[row[k] for k in keys]))
                    changed += 1
    return changed


async def names_containing(conn: aiosqlite.Connection, name: str, exclude_member_ids: Sequence[int]) -> list[str]:
    """Other people's names that contain `name` (protected when her name is replaced in text)."""
    cur = await conn.execute(
        f"""SELECT display_name FROM members WHERE instr(display_name, ?) > 0 AND display_name != ?
               AND id NOT IN ({_marks(exclude_member_ids)})
            UNION SELECT trim(first_name || ' ' || last_name) FROM users
               WHERE instr(first_name || ' ' || last_name, ?) > 0""",
        (name, name, *exclude_member_ids, name),
    )
    return [str(r[0]) for r in await cur.fetchall() if r[0] and str(r[0]) != name]


async def audit_by_actor(conn: aiosqlite.Connection, user_id: int) -> list[tuple[int, str]]:
    cur = await conn.execute("SELECT id, detail FROM audit_log WHERE actor_id = ?", (user_id,))
    return [(int(r[0]), str(r[1])) for r in await cur.fetchall()]


async def audit_rows_with_number(conn: aiosqlite.Connection, number: int) -> list[tuple[int, str]]:
    cur = await conn.execute("SELECT id, detail FROM audit_log WHERE instr(detail, ?) > 0", (str(number),))
    return [(int(r[0]), str(r[1])) for r in await cur.fetchall()]


async def set_audit_detail(conn: aiosqlite.Connection, audit_id: int, detail: str) -> None:
    await conn.execute("UPDATE audit_log SET detail = ? WHERE id = ?", (detail, audit_id))


async def outbox_rows_with_number(conn: aiosqlite.Connection, number: int) -> list[tuple[int, str]]:
    cur = await conn.execute("SELECT id, body FROM outbox WHERE instr(body, ?) > 0", (str(number),))
    return [(int(r[0]), str(r[1])) for r in await cur.fetchall()]


async def set_outbox_body(conn: aiosqlite.Connection, row_id: int, body: str) -> None:
    await conn.execute("UPDATE outbox SET body = ? WHERE id = ?", (body, row_id))
