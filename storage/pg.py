"""PostgreSQL behind the repositories' aiosqlite surface (psycopg 3), chosen by `database.url`.

The repositories and services are written once, for SQLite: `conn.execute(sql, params)` with `?`
placeholders, cursors with fetchone/fetchall/rowcount/lastrowid, rows read by name or index.
`PgConnection` offers that surface on a psycopg connection: each statement is translated once
(`translate`: `?` → client-side bound values, `INSERT OR IGNORE` → `ON CONFLICT DO NOTHING`, `ifnull`
→ `coalesce`), an INSERT into a table with a generated `id` gets `RETURNING id` for `lastrowid`, and
an integrity error is raised as sqlite3.IntegrityError. Migrations are the same files, translated
(`translate_ddl`: INTEGER → BIGINT, `id INTEGER PRIMARY KEY` → an identity column, WITHOUT ROWID dropped).
Values are bound client-side, so a parameter is a literal whose type PostgreSQL infers from the
column, as SQLite's dynamic typing expects.

`PgDatabase` keeps `Database`'s model across processes: every write transaction takes one
transaction-level advisory lock first (writes are serialised across workers exactly as SQLite's
BEGIN IMMEDIATE serialises them in one file, so a producer that checks then writes does its work
once whichever worker runs it); reads run in REPEATABLE READ snapshots on their own connections and
never wait. The outbox sender claims each row with `SELECT … FOR UPDATE SKIP LOCKED` in a side
transaction held while it sends (`side_transaction`), and one process per bot token sends in the
background (`hold_sender_lock`, a session advisory lock: when that process dies the lock goes and
another worker takes over).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import zlib
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import aiosqlite
import psycopg
from psycopg.adapt import Dumper, Loader
from psycopg.rows import RowMaker
from psycopg.types import TypeInfo

from storage import pg_dump
from storage.backup import BackupError
from storage.db import READERS, Database, stamp_bot

WRITER_LOCK = (0x5A57, 1)  # pg_advisory_xact_lock(classid, objid): the one writer at a time
MIGRATE_LOCK = (0x5A57, 2)  # held while a process checks and applies migrations
SENDER_LOCK = 0x5A58  # pg_try_advisory_lock(SENDER_LOCK, hash of the bot id): the one sender per bot
BACKUP_LOCK = (0x5A57, 3)  # held while one worker runs the scheduled pg_dump
SIDE_CONNECTIONS = 8  # connections for the sender's row claims (sends in flight at once)


class Row(tuple[Any, ...]):
    """A result row like sqlite3.Row: by index, by column name, `keys()`, unpacking."""

    _names: dict[str, int]

    def __new__(cls, values: Sequence[Any], names: dict[str, int]) -> Row:
        row = super().__new__(cls, values)
        row._names = names
        return row

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


def _row_factory(cursor: Any) -> RowMaker[Row]:
    names: dict[str, int] = {}
    for i, column in enumerate(cursor.description or ()):
        names.setdefault(column.name, i)
    return lambda values: Row(values, names)


class _NumericLoader(Loader):
    """numeric (SUM, AVG of integers) as int or float, as SQLite returns them, not Decimal."""

    def load(self, data: Any) -> int | float:
        text = bytes(data).decode()
        try:
            return int(text)
        except ValueError:
            return float(text)


class _BoolDumper(Dumper):
    """True/False as 1/0: the schema keeps SQLite's integer flags."""

    oid = 20  # int8

    def dump(self, obj: Any) -> bytes:
        return b"1" if obj else b"0"

    def quote(self, obj: Any) -> bytes:
        return self.dump(obj)


_INSERT_OR = re.compile(r"^\s*INSERT\s+OR\s+(IGNORE|REPLACE)\s+INTO\b", re.IGNORECASE)
_INSERT_INTO = re.compile(r"^\s*INSERT\s+INTO\s+([A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE)
_RETURNING = re.compile(r"\bRETURNING\b", re.IGNORECASE)
_IFNULL = re.compile(r"\bifnull\s*\(", re.IGNORECASE)
# SQLite's insertion order of a table without its own id; ctid keeps it for rows never updated
# (the one user, task_owners, inserts and deletes only) until VACUUM reuses space.
_ROWID = re.compile(r"\bORDER\s+BY\s+rowid\b", re.IGNORECASE)


def _outside_quotes(sql: str) -> list[tuple[bool, str]]:
    """The statement cut into (is code, text) pieces: quoted strings and identifiers are not code;
    `--` comments are left out."""
    pieces: list[tuple[bool, str]] = []
    start, i, quote = 0, 0, ""
    while i < len(sql):
        ch = sql[i]
        if not quote and sql.startswith("--", i):
            pieces.append((True, sql[start:i]))
            end = sql.find("\n", i)
            i = start = len(sql) if end < 0 else end
            continue
        if quote:
            if ch == quote:
                if i + 1 < len(sql) and sql[i + 1] == quote:  # '' inside a string
                    i += 2
                    continue
                pieces.append((False, sql[start:i + 1]))
                start, quote = i + 1, ""
        elif ch in ("'", '"'):
            pieces.append((True, sql[start:i]))
            start, quote = i, ch
        i += 1
    pieces.append((not quote, sql[start:]))
    return pieces


@lru_cache(maxsize=4096)
def translate(sql: str) -> str:
    """One statement in SQLite's dialect (as the repositories write it) for psycopg on PostgreSQL."""
    statement = sql.strip().rstrip(";")
    ignore = False
    match = _INSERT_OR.match(statement)
    if match:
        if match.group(1).upper() == "REPLACE":
            raise ValueError("INSERT OR REPLACE has no PostgreSQL form: write ON CONFLICT (…) DO UPDATE")
        statement = "INSERT INTO" + statement[match.end():]
        ignore = True
    out = []
    for code, piece in _outside_quotes(statement):
        if code:
            piece = _IFNULL.sub("coalesce(", piece.replace("%", "%%").replace("?", "%s"))
            piece = _ROWID.sub("ORDER BY ctid", piece)
        else:
            piece = piece.replace("%", "%%")
        out.append(piece)
    statement = "".join(out)
    if ignore:
        returning = list(_RETURNING.finditer(statement))
        if returning:
            at = returning[-1].start()
            statement = statement[:at] + "ON CONFLICT DO NOTHING " + statement[at:]
        else:
            statement += " ON CONFLICT DO NOTHING"
    return statement


_IDENTITY = re.compile(r"\bid\s+INTEGER\s+PRIMARY\s+KEY(\s+AUTOINCREMENT)?", re.IGNORECASE)
_TYPES = ((re.compile(r"\bINTEGER\b", re.IGNORECASE), "BIGINT"), (re.compile(r"\bREAL\b", re.IGNORECASE),
          "DOUBLE PRECISION"), (re.compile(r"\bBLOB\b", re.IGNORECASE), "BYTEA"))
_WITHOUT_ROWID = re.compile(r"\)\s*WITHOUT\s+ROWID\s*$", re.IGNORECASE)


def translate_ddl(statement: str) -> str:
    """A migration statement for PostgreSQL (before `translate`): 64-bit integers (Telegram ids do not
    fit 32 bits), `id INTEGER PRIMARY KEY` as an identity column (SQLite's rowid alias), no WITHOUT ROWID."""
    statement = _IDENTITY.sub("id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", statement)
    for pattern, name in _TYPES:
        statement = pattern.sub(name, statement)
    return _WITHOUT_ROWID.sub(")", statement.strip().rstrip(";"))


class PgCursor:
    """What a statement left: its rows (all fetched), rowcount and the generated id of an INSERT."""

    def __init__(self, rows: list[Row], rowcount: int, lastrowid: int | None = None) -> None:
        self._rows = rows
        self._next = 0
        self.rowcount = rowcount
        self.lastrowid = lastrowid

    async def fetchone(self) -> Row | None:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    async def fetchall(self) -> list[Row]:
        rows = self._rows[self._next:]
        self._next = len(self._rows)
        return rows


def _as_sqlite_error(exc: psycopg.Error) -> Exception:
    """The sqlite3 exception the callers already handle: a broken constraint, a write in a read."""
    if isinstance(exc, psycopg.IntegrityError):
        return sqlite3.IntegrityError(str(exc))
    if isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
        return sqlite3.OperationalError(f"attempt to write a readonly database: {exc}")
    return exc


class PgConnection:
    """One psycopg connection (autocommit: BEGIN/COMMIT are sent as statements, as with aiosqlite's
    isolation_level=None) with the part of aiosqlite.Connection the repositories use."""

    dialect = "postgresql"

    def __init__(self, conn: psycopg.AsyncConnection[Row], identity_tables: set[str]) -> None:
        self.raw = conn
        self.identity_tables = identity_tables  # tables whose `id` is generated (for lastrowid)
        self.row_factory: object = None  # set by callers used to sqlite3; rows are always `Row`

    @classmethod
    async def connect(cls, url: str, identity_tables: set[str] | None = None) -> PgConnection:
        conn = await psycopg.AsyncConnection.connect(
            url, autocommit=True, row_factory=_row_factory, cursor_factory=psycopg.AsyncClientCursor)
        conn.adapters.register_dumper(bool, _BoolDumper)
        info = await TypeInfo.fetch(conn, "numeric")
        if info is not None:
            conn.adapters.register_loader(info.oid, _NumericLoader)
        return cls(conn, identity_tables if identity_tables is not None else set())

    async def execute(self, sql: str, parameters: Iterable[Any] = ()) -> PgCursor:
        statement = translate(sql)
        generated = False
        insert = _INSERT_INTO.match(statement)
        if insert and insert.group(1).lower() in self.identity_tables and not _RETURNING.search(statement):
            statement += " RETURNING id"
            generated = True
        try:
            cur = await self.raw.execute(statement, list(parameters))
            rows = await cur.fetchall() if cur.description is not None else []
        except psycopg.Error as exc:
            exc.add_note(f"statement: {statement}")
            raise _as_sqlite_error(exc) from exc
        if generated:
            return PgCursor([], cur.rowcount, int(rows[0][0]) if rows else None)
        return PgCursor(rows, cur.rowcount)

    async def execute_fetchall(self, sql: str, parameters: Iterable[Any] = ()) -> list[Row]:
        """aiosqlite's one-round-trip read: the statement's rows."""
        return await (await self.execute(sql, parameters)).fetchall()

    async def executemany(self, sql: str, seq_of_parameters: Iterable[Iterable[Any]]) -> PgCursor:
        statement = translate(sql)
        try:
            async with self.raw.cursor() as cur:
                # psycopg sends the rows in pipeline mode: one round trip for the batch, not one a row
                await cur.executemany(statement, [list(parameters) for parameters in seq_of_parameters])
                total = max(cur.rowcount, 0)  # summed over the rows
        except psycopg.Error as exc:
            raise _as_sqlite_error(exc) from exc
        return PgCursor([], total)

    async def close(self) -> None:
        await self.raw.close()

    @property
    def closed(self) -> bool:
        return self.raw.closed


def redacted(url: str) -> str:
    """The URL without its password (for logs, `Database.path`)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def _as_sqlite(conn: PgConnection) -> aiosqlite.Connection:
    # The repositories are typed for aiosqlite; PgConnection offers the part of it they use.
    return cast(aiosqlite.Connection, conn)


# SQLite's scalar functions the repositories use that PostgreSQL spells differently, defined once per database.
SHIMS = (
    "CREATE OR REPLACE FUNCTION instr(haystack text, needle text) RETURNS integer"
    " LANGUAGE sql IMMUTABLE AS $$ SELECT strpos(haystack, needle) $$",
    "CREATE OR REPLACE FUNCTION zeroblob(n integer) RETURNS bytea"
    " LANGUAGE sql IMMUTABLE AS $$ SELECT decode(repeat('00', n), 'hex') $$",
    "CREATE OR REPLACE FUNCTION hex(b bytea) RETURNS text"
    " LANGUAGE sql IMMUTABLE AS $$ SELECT upper(encode(b, 'hex')) $$",
    # n random bytes from gen_random_uuid (the server's strong random source, built in since PostgreSQL 13)
    "CREATE OR REPLACE FUNCTION randomblob(n integer) RETURNS bytea LANGUAGE sql VOLATILE AS $$"
    " SELECT substring(decode(string_agg(md5(gen_random_uuid()::text), ''), 'hex') FROM 1 FOR n)"
    " FROM generate_series(1, (n + 15) / 16) $$",
)


class PgDatabase(Database):
    """`Database` on a PostgreSQL server: the same unit of work, reads and migrations (see the module doc)."""

    def __init__(self, conn: PgConnection, url: str) -> None:
        super().__init__(_as_sqlite(conn), redacted(url))
        self.url = url
        self._pg = conn
        self._pg_readers: list[PgConnection] = []
        self._side: asyncio.Queue[PgConnection] | None = None
        self._side_all: list[PgConnection] = []
        self._side_lock = asyncio.Lock()
        self._sender: PgConnection | None = None
        self._sender_key: int | None = None

    @classmethod
    async def open_url(cls, url: str, migrate: bool = True) -> PgDatabase:
        conn = await PgConnection.connect(url)
        db = cls(conn, url)
        try:
            await conn.execute("SELECT pg_advisory_lock(?, ?)", MIGRATE_LOCK)
            try:
                await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
                for shim in SHIMS:
                    await conn.execute(shim)
                if migrate:
                    await db.migrate()
            finally:
                await conn.execute("SELECT pg_advisory_unlock(?, ?)", MIGRATE_LOCK)
            conn.identity_tables.update(await db._identity_tables())
            await db._open_readers()
        except BaseException:
            await conn.close()
            raise
        return db

    async def _identity_tables(self) -> set[str]:
        cur = await self._pg.execute(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = current_schema()"
            " AND column_name = 'id' AND is_identity = 'YES'")
        return {str(r[0]) for r in await cur.fetchall()}

    async def _open_readers(self) -> None:
        readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        for _ in range(READERS):
            reader = await PgConnection.connect(self.url, self._pg.identity_tables)
            self._pg_readers.append(reader)
            readers.put_nowait(_as_sqlite(reader))
        self._readers = readers

    async def schema_version(self) -> int:
        cur = await self._pg.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def migrate(self, up_to: int | None = None) -> list[int]:
        applied = await super().migrate(up_to)
        self._pg.identity_tables.update(await self._identity_tables())  # shared by every connection
        return applied

    def _migration_statement(self, statement: str) -> str:
        return translate_ddl(statement)

    async def _set_version(self, conn: aiosqlite.Connection, version: int) -> None:
        await conn.execute("DELETE FROM schema_version")
        await conn.execute("INSERT INTO schema_version(version) VALUES (?)", (version,))

    async def _backup_before_migrating(self, backup_dir: str | Path | None) -> Path | None:
        return None  # PostgreSQL is backed up by its own tools (pg_dump), see docs/operations.md

    async def _begin_write(self) -> None:
        await self._pg.execute("BEGIN")
        await self._pg.execute("SELECT pg_advisory_xact_lock(?, ?)", WRITER_LOCK)

    async def _begin_read(self, reader: aiosqlite.Connection) -> None:
        await reader.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def blocking_reader(self) -> sqlite3.Connection | None:
        return None

    async def _secure_delete(self, on: bool) -> None:
        return None  # deleted rows are gone from queries at once; autovacuum reclaims their space

    async def incremental_vacuum(self, step: int = 2000) -> int:
        return 0  # autovacuum gives space back on PostgreSQL

    async def vacuum_incremental(self) -> None:
        """`python -m bot vacuum`: VACUUM (ANALYZE) every table now (autovacuum does it anyway; this
        marks the space of pruned rows reusable at once and refreshes the planner's row counts).
        Safe while the bot runs (no table is locked against reads or writes)."""
        async with self._lock:
            await self._pg.execute("VACUUM (ANALYZE)")

    backup_suffix = pg_dump.SUFFIX

    async def backup(self, target: str | Path) -> None:
        await self.backup_verified(target)

    async def backup_verified(self, target: str | Path) -> None:
        """A checked `pg_dump -Fc` into `target` (storage.pg_dump; BackupError "no_tool" without
        pg_dump on PATH, "busy" while another worker runs one: the scheduled backup runs once)."""
        self._refuse_in_unit("a backup")
        conn = await PgConnection.connect(self.url)  # the lock's own session: gone if this process dies
        try:
            cur = await conn.execute("SELECT pg_try_advisory_lock(?, ?)", BACKUP_LOCK)
            row = await cur.fetchone()
            if row is None or not row[0]:
                raise BackupError("busy", "another worker is writing a backup")
            await asyncio.to_thread(pg_dump.dump, self.url, Path(target))
        finally:
            with contextlib.suppress(psycopg.Error):  # at once, not when the server notices the session ended
                await conn.execute("SELECT pg_advisory_unlock_all()")
            await conn.close()

    async def senders_running(self) -> int:
        """How many bot processes hold a sender's lock on this database (a running bot has one)."""
        cur = await self._pg.execute(
            "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = ? AND database ="
            " (SELECT oid FROM pg_database WHERE datname = current_database())", (SENDER_LOCK,))
        row = await cur.fetchone()
        return int(row[0]) if row else 0

    @asynccontextmanager
    async def side_transaction(self) -> AsyncIterator[aiosqlite.Connection | None]:
        async with self._side_lock:
            if self._side is None:
                self._side = asyncio.Queue()
                for _ in range(SIDE_CONNECTIONS):
                    side = await PgConnection.connect(self.url, self._pg.identity_tables)
                    stamp_bot(side, self.bot_id)
                    self._side_all.append(side)
                    self._side.put_nowait(side)
        queue = self._side
        conn = await queue.get()
        try:
            await conn.execute("BEGIN")
            try:
                yield _as_sqlite(conn)
            except BaseException:
                await conn.execute("ROLLBACK")
                raise
            await conn.execute("COMMIT")
        finally:
            queue.put_nowait(conn)

    async def hold_sender_lock(self, bot_id: int) -> bool:
        key = zlib.crc32(str(bot_id).encode()) & 0x7FFFFFFF
        if self._sender is not None and not self._sender.closed and self._sender_key == key:
            try:  # a session lock lasts as long as its connection: is it still there?
                await self._sender.execute("SELECT 1")
                return True
            except psycopg.Error:
                pass
        if self._sender is not None:
            with contextlib.suppress(psycopg.Error):
                await self._sender.close()
            self._sender = None
        conn = await PgConnection.connect(self.url)
        cur = await conn.execute("SELECT pg_try_advisory_lock(?, ?)", (SENDER_LOCK, key))
        row = await cur.fetchone()
        if row is None or not row[0]:
            await conn.close()
            return False
        self._sender, self._sender_key = conn, key
        return True

    async def close(self) -> None:
        if self._sender is not None and not self._sender.closed:
            # Released here, not when the server notices the session is gone (that is asynchronous:
            # the next sender could otherwise be refused for a moment after a clean stop).
            with contextlib.suppress(psycopg.Error):
                await self._sender.execute("SELECT pg_advisory_unlock_all()")
        for conn in [*self._pg_readers, *self._side_all, *([self._sender] if self._sender else [])]:
            await conn.close()
        self._pg_readers, self._side_all, self._side, self._sender = [], [], None, None
        self._readers = None
        async with self._lock:
            await self._pg.close()
