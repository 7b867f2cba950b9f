"""Repository: the audit log of management actions (who, when, what)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import aiosqlite

from storage.models import AuditEntry, from_db, to_db


async def record(
    conn: aiosqlite.Connection, org_id: int | None, actor_id: int | None, action: str, now: datetime, **detail: Any
) -> None:
    await conn.execute(
        "INSERT INTO audit_log(org_id, actor_id, action, detail, at) VALUES (?, ?, ?, ?, ?)",
        (org_id, actor_id, action, json.dumps(detail, ensure_ascii=False, default=str), to_db(now)),
    )


async def for_org(conn: aiosqlite.Connection, org_id: int, limit: int = 100) -> list[AuditEntry]:
    cur = await conn.execute(
        "SELECT * FROM audit_log WHERE org_id = ? ORDER BY id DESC LIMIT ?", (org_id, limit)
    )
    return [
        AuditEntry(r["id"], r["org_id"], r["actor_id"], r["action"], r["detail"], from_db(r["at"]))
        for r in await cur.fetchall()
    ]
