"""Repository: deleting old sent messages and duty-notice claims; table sizes (services/retention.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from storage.db import on_postgres
from storage.models import to_db


def _like(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def prune_outbox(conn: aiosqlite.Connection, before: datetime, kept_prefixes: tuple[str, ...],
                       limit: int, only: str | None = None) -> int:
    """Delete up to `limit` sent/failed rows finished before `before`, except those whose dedupe key
    starts with one of `kept_prefixes` (with `only`: just the rows whose key starts with it). Rows deleted."""
    keep = "".join(" AND dedupe NOT LIKE ? ESCAPE '\\'" for _ in kept_prefixes)
    patterns = [_like(p) for p in kept_prefixes]
    which = f"(dedupe IS NULL OR (1 = 1{keep}))"
    if only is not None:
        which, patterns = "dedupe LIKE ? ESCAPE '\\'", [_like(only)]
    cur = await conn.execute(
        "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE status IN ('sent', 'failed')"
        f" AND sent_at < ? AND {which} ORDER BY id LIMIT ?)",
        (to_db(before), *patterns, limit),
    )
    return cur.rowcount


async def prune_notices(conn: aiosqlite.Connection, before: datetime, limit: int) -> int:
    """Delete up to `limit` duty-notice claims made before `before` whose shift is over: a later
    shift of the same organisation has begun since (its handoff claim is newer)."""
    cur = await conn.execute(
        "DELETE FROM sent_notices WHERE (org_id, kind, ref) IN (SELECT s.org_id, s.kind, s.ref FROM sent_notices s"
        " WHERE s.sent_at < ? AND EXISTS (SELECT 1 FROM sent_notices h WHERE h.org_id = s.org_id"
        " AND h.kind = 'handoff' AND h.ref != s.ref AND h.sent_at > s.sent_at) LIMIT ?)",
        (to_db(before), limit),
    )
    return cur.rowcount


@dataclass(frozen=True)
class TableSize:
    name: str
    rows: int
    bytes: int | None  # table and its indexes (dbstat); None when SQLite lacks dbstat


async def table_sizes(conn: aiosqlite.Connection, estimate: bool = False) -> list[TableSize]:
    """Every table with its row count and, where SQLite has the dbstat table, its bytes on disk.
    On PostgreSQL its bytes with indexes and TOAST (pg_total_relation_size); with `estimate` the
    planner's row count (pg_class.reltuples, kept by autovacuum/ANALYZE: no scan of a big table),
    counted only for a table never analysed."""
    sizes: dict[str, int] | None
    if on_postgres(conn) and estimate:
        cur = await conn.execute(
            "SELECT c.relname, c.reltuples, pg_total_relation_size(c.oid) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema()"
            " AND c.relkind IN ('r', 'p') ORDER BY c.relname")
        estimated = []
        for name, rows, total in await cur.fetchall():
            if rows is None or float(rows) < 0:  # never vacuumed nor analysed: count it
                count = await (await conn.execute(f'SELECT COUNT(*) FROM "{name}"')).fetchone()
                rows = count[0] if count else 0
            estimated.append(TableSize(str(name), int(float(rows)), int(total)))
        return sorted(estimated, key=lambda s: (-(s.bytes or 0), -s.rows, s.name))
    if on_postgres(conn):
        cur = await conn.execute(
            "SELECT table_name, pg_total_relation_size(quote_ident(table_name)) FROM information_schema.tables"
            " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name")
        pg_sizes = {str(r[0]): int(r[1]) for r in await cur.fetchall()}
        names, sizes = list(pg_sizes), pg_sizes
    else:
        names, sizes = await _sqlite_sizes(conn)
    found = []
    for name in names:
        cur = await conn.execute(f'SELECT COUNT(*) FROM "{name}"')
        row = await cur.fetchone()
        found.append(TableSize(name, int(row[0]) if row else 0, sizes.get(name, 0) if sizes is not None else None))
    return sorted(found, key=lambda s: (-(s.bytes or 0), -s.rows, s.name))


async def _sqlite_sizes(conn: aiosqlite.Connection) -> tuple[list[str], dict[str, int] | None]:
    cur = await conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    )
    names = [str(r[0]) for r in await cur.fetchall()]
    sizes: dict[str, int] | None = None
    try:
        cur = await conn.execute(
            "SELECT coalesce(m.tbl_name, s.name), SUM(s.pgsize) FROM dbstat s"
            " LEFT JOIN sqlite_master m ON m.name = s.name GROUP BY 1"
        )
        sizes = {str(r[0]): int(r[1]) for r in await cur.fetchall()}
    except aiosqlite.OperationalError:
        sizes = None  # no dbstat in this build of SQLite
    return names, sizes


@dataclass(frozen=True)
class FileInfo:
    page_size: int
    pages: int
    free_pages: int
    auto_vacuum: str  # none, full, incremental


async def file_info(conn: aiosqlite.Connection) -> FileInfo:
    if on_postgres(conn):  # PostgreSQL's 8 KiB pages; autovacuum reuses the free space
        cur = await conn.execute("SELECT current_setting('block_size')::bigint, pg_database_size(current_database())")
        size, total = await cur.fetchone() or (8192, 0)
        return FileInfo(int(size), int(total) // int(size), 0, "autovacuum")
    values = []
    for pragma in ("page_size", "page_count", "freelist_count", "auto_vacuum"):
        cur = await conn.execute(f"PRAGMA {pragma}")
        row = await cur.fetchone()
        values.append(int(row[0]) if row else 0)
    mode = {0: "none", 1: "full", 2: "incremental"}.get(values[3], str(values[3]))
    return FileInfo(values[0], values[1], values[2], mode)
