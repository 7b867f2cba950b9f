"""The one owner of the SQLite connection: WAL, foreign keys, busy timeout, migrations, backup.

All access goes through `Database.read()` / `Database.transaction()`. Writes use one connection,
serialised by a lock so that concurrent handlers never interleave inside a transaction. Reads use
their own read-only connections (a small pool): WAL lets them run beside the writer, so a command's
read never waits for a write transaction, and each `read()` block sees one consistent snapshot.
A unit of work (`unit()`, one per command) gathers every write of its block into one transaction.
New databases use incremental auto-vacuum (`incremental_vacuum` after pruning; an older file is
switched once with `vacuum_incremental`, `python -m bot vacuum`).
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePath
from typing import Protocol

import aiosqlite

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def available_migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every shipped migration, in order."""
    found = []
    for entry in resources.files("storage.migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if versions != list(range(1, len(versions) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..n without gaps, found {versions}")
    return found


READERS = 2  # read-only connections beside the writer


class UnitHooks(Protocol):
    """What the owner of a unit of work adds to each of its transactions (see `Database.unit`)."""

    async def begun(self, conn: aiosqlite.Connection) -> None: ...  # right after BEGIN

    async def committing(self, conn: aiosqlite.Connection) -> None: ...  # right before COMMIT

    async def committed(self) -> None: ...  # after COMMIT, outside any transaction


@dataclass
class _Unit:
    db: Database
    owner: asyncio.Task[object] | None
    hooks: UnitHooks | None
    begun: bool = False  # a write transaction is open (BEGIN done, the writer lock held)
    suspended: bool = False  # while `committed` runs: the task's db calls behave as outside the unit
    savepoints: int = 0


# The unit of work of the current task (one command), if any.
_UNIT: ContextVar[_Unit | None] = ContextVar("unit", default=None)


class Database:
    """Owns the writer connection and the readers. Open with `await Database.open(path)`."""

    backup_suffix = ".db"  # a backup file's name ends so (".dump" on PostgreSQL: storage.pg_dump)

    def __init__(self, conn: aiosqlite.Connection, path: str) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()
        self.path = path
        self._readers: asyncio.Queue[aiosqlite.Connection] | None = None  # None: reads use the writer
        self._all_readers: list[aiosqlite.Connection] = []
        self._blocking: sqlite3.Connection | None = None
        self.bot_id: int | None = None  # the bot of this process (set_bot); None in tools and tests

    def set_bot(self, bot_id: int | None) -> None:
        """The bot this process runs as (several tokens may share a PostgreSQL database): what it adds
        to the outbox without an organisation's bot is sent by it, organisations it sets up are its."""
        self.bot_id = bot_id
        stamp_bot(self._conn, bot_id)

    @classmethod
    async def open(cls, path: str | Path, migrate: bool = True, backup_dir: str | Path | None = None) -> Database:
        """Open (creating) the database and apply pending migrations. When an existing database
        has pending migrations, a checked copy `pre-migrate-vN-….db` goes to `backup_dir` (default:
        a `backups` folder next to the database) first; if that copy fails nothing is migrated.
        A `postgresql://` URL opens PostgreSQL instead (storage.pg: same migrations, same repositories)."""
        if is_url(path):
            from storage.pg import PgDatabase

            return await PgDatabase.open_url(str(path), migrate=migrate)
        conn = await aiosqlite.connect(str(path), isolation_level=None)
        conn.row_factory = sqlite3.Row
        # Takes effect on a new file (before any table); an older one keeps its mode until VACUUM.
        await conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.execute("PRAGMA foreign_keys=ON")
        await conn.execute("PRAGMA busy_timeout=5000")
        db = cls(conn, str(path))
        if migrate:
            try:
                await db._backup_before_migrating(backup_dir)
                await db.migrate()
            except BaseException:
                await conn.close()
                raise
        await db._open_readers()
        return db

    async def _open_readers(self) -> None:
        if self.path == ":memory:" or self.path.startswith("file:"):
            return  # a private in-memory database: the writer serves reads too
        uri = _read_only_uri(self.path)
        readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        try:
            for _ in range(READERS):
                reader = await aiosqlite.connect(uri, uri=True, isolation_level=None)
                self._all_readers.append(reader)
                reader.row_factory = sqlite3.Row
                await reader.execute("PRAGMA busy_timeout=5000")
                await reader.execute("PRAGMA foreign_keys=ON")  # the same settings as the writer
                readers.put_nowait(reader)
        except BaseException:
            for reader in self._all_readers:
                await reader.close()
            self._all_readers = []
            await self._conn.close()
            raise
        self._readers = readers

    async def pending_migrations(self) -> list[int]:
        current = await self.schema_version()
        return [v for v, _, _ in available_migrations() if v > current]

    async def _backup_before_migrating(self, backup_dir: str | Path | None) -> Path | None:
        current = await self.schema_version()
        if current == 0 or not await self.pending_migrations() or self.path == ":memory:":
            return None
        from datetime import datetime

        from storage import backup

        folder = Path(backup_dir) if backup_dir else backup.default_dir(self.path)
        target = folder / f"pre-migrate-v{current}-{backup.stamp(datetime.now().astimezone())}.db"
        await self.backup_verified(target)
        return target

    def blocking_reader(self) -> sqlite3.Connection | None:
        """A plain read-only connection for a short read that must not await (the FAQ index reading one
        organisation's entries when first asked; about a millisecond), or None for a private in-memory
        database. Opened on first use, closed with the database."""
        if self.path == ":memory:" or self.path.startswith("file:"):
            return None
        if self._blocking is None:
            self._blocking = sqlite3.connect(_read_only_uri(self.path), uri=True, check_same_thread=False)
            self._blocking.execute("PRAGMA busy_timeout=5000")
        return self._blocking

    async def close(self) -> None:
        if self._blocking is not None:
            self._blocking.close()
            self._blocking = None
        for reader in self._all_readers:
            await reader.close()
        self._all_readers = []
        self._readers = None
        async with self._lock:
            await self._conn.close()

    async def schema_version(self) -> int:
        async with self.read() as conn:
            cur = await conn.execute("PRAGMA user_version")
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def migrate(self, up_to: int | None = None) -> list[int]:
        """Apply every migration newer than the database (up to `up_to`), each in one transaction."""
        current = await self.schema_version()
        applied = []
        for version, _name, sql in available_migrations():
            if version <= current or (up_to is not None and version > up_to):
                continue
            async with self.transaction() as conn:
                for statement in _split_sql(sql):
                    await conn.execute(self._migration_statement(statement))
                await self._set_version(conn, version)
            applied.append(version)
        return applied

    # What differs between the engines (storage.pg.PgDatabase overrides these).
    def _migration_statement(self, statement: str) -> str:
        return statement

    async def _set_version(self, conn: aiosqlite.Connection, version: int) -> None:
        await conn.execute(f"PRAGMA user_version = {version}")

    async def _begin_write(self) -> None:
        """Start the writer's transaction (the writer lock is held)."""
        await self._conn.execute("BEGIN IMMEDIATE")

    async def _begin_read(self, reader: aiosqlite.Connection) -> None:
        await reader.execute("BEGIN")

    def _unit(self) -> _Unit | None:
        """The unit of work this task has open on this database (a task it started does not share it)."""
        unit = _UNIT.get()
        if unit is None or unit.db is not self or unit.suspended or unit.owner is not _current_task():
            return None
        return unit

    @asynccontextmanager
    async def unit(self, hooks: UnitHooks | None = None) -> AsyncIterator[None]:
        """One unit of work, e.g. a command: whatever the block writes through `transaction()` (any
        number of service calls) goes into ONE transaction, opened at the first write and committed when
        the block ends (rolled back, all of it, if the block raises). Inside it a `transaction()` is a
        savepoint and `read()` reads through the writer, so the block sees its own writes. `hooks` add
        to that transaction (the reply rows, the update's journal row) and run after the commit.
        Nothing slow may happen while the transaction is open (the writer is held): `commit_unit()`
        first. Reads before the first write use the readers as usual. A nested unit joins the outer one."""
        if self._unit() is not None:
            yield
            return
        unit = _Unit(self, _current_task(), hooks)
        token = _UNIT.set(unit)
        try:
            try:
                yield
            except BaseException:
                if unit.begun:
                    await self._end_unit(unit, commit=False)
                raise
            if unit.begun:
                await self._end_unit(unit, commit=True)
        finally:
            _UNIT.reset(token)

    async def commit_unit(self) -> None:
        """Commit what this task's unit has written so far (before something slow, e.g. a network call);
        a later write in the unit opens the next transaction."""
        unit = self._unit()
        if unit is not None and unit.begun:
            await self._end_unit(unit, commit=True)

    def writing(self) -> bool:
        """Whether this task holds the unit's open write transaction (a reply now goes into it)."""
        unit = self._unit()
        return unit is not None and unit.begun

    async def _begin_unit(self, unit: _Unit) -> None:
        await self._lock.acquire()
        try:
            await self._begin_write()
            unit.begun = True
            if unit.hooks is not None:
                await unit.hooks.begun(self._conn)
        except BaseException:
            if unit.begun:
                await self._conn.execute("ROLLBACK")
                unit.begun = False
            self._lock.release()
            raise

    async def _end_unit(self, unit: _Unit, commit: bool) -> None:
        try:
            if commit:
                try:
                    if unit.hooks is not None:
                        await unit.hooks.committing(self._conn)
                    await self._conn.execute("COMMIT")
                except BaseException:
                    await self._conn.execute("ROLLBACK")
                    raise
                _count_commit()
            else:
                await self._conn.execute("ROLLBACK")
        finally:
            unit.begun = False
            self._lock.release()
        if commit and unit.hooks is not None:
            unit.suspended = True
            try:
                await unit.hooks.committed()
            finally:
                unit.suspended = False

    def _refuse_in_unit(self, what: str) -> None:
        if self.writing():
            raise RuntimeError(f"{what} inside an open unit of work: commit_unit() first")

    @asynccontextmanager
    async def read(self) -> AsyncIterator[aiosqlite.Connection]:
        """A read-only connection in a read transaction (one snapshot) that never waits for the writer."""
        if self.writing():  # inside a unit that has written: see its own writes
            yield self._conn
            return
        readers = self._readers
        if readers is None:
            async with self._lock:
                yield self._conn
            return
        reader = await readers.get()
        try:
            await self._begin_read(reader)
            try:
                yield reader
            finally:
                await reader.execute("COMMIT")  # a read transaction: nothing to undo
        finally:
            readers.put_nowait(reader)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE … COMMIT, or ROLLBACK if the block raises: all or nothing. Inside this
        task's unit of work (`unit`): a savepoint of the unit's one transaction."""
        unit = self._unit()
        if unit is not None:
            if not unit.begun:
                await self._begin_unit(unit)
            unit.savepoints += 1
            name = f"unit_sp{unit.savepoints}"
            await self._conn.execute(f"SAVEPOINT {name}")
            try:
                yield self._conn
            except BaseException:
                await self._conn.execute(f"ROLLBACK TO {name}")
                await self._conn.execute(f"RELEASE {name}")
                raise
            await self._conn.execute(f"RELEASE {name}")
            return
        async with self._lock:
            await self._begin_write()
            try:
                yield self._conn
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise
            await self._conn.execute("COMMIT")
            _count_commit()

    @asynccontextmanager
    async def erasing(self) -> AsyncIterator[None]:
        """Around a transaction that must leave no trace: deleted bytes are zeroed in the file
        (secure_delete) and the WAL is checkpointed and truncated afterwards, while the bot runs.
        Inside a unit of work that has not written yet, the block runs outside it (its own transaction)."""
        self._refuse_in_unit("erasing")
        unit = self._unit()
        if unit is not None:
            unit.suspended = True
        try:
            async with self._lock:
                await self._secure_delete(True)
            try:
                yield
            finally:
                async with self._lock:
                    await self._secure_delete(False)
        finally:
            if unit is not None:
                unit.suspended = False

    async def _secure_delete(self, on: bool) -> None:
        await self._conn.execute(f"PRAGMA secure_delete = {'ON' if on else 'OFF'}")
        if not on:
            await self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    @asynccontextmanager
    async def side_transaction(self) -> AsyncIterator[aiosqlite.Connection | None]:
        """A transaction of its own beside the writer, for row locks held across a slow step (the
        outbox sender's claim while it sends; storage.pg). None on SQLite: one process sends, and
        the caller writes through `transaction()`."""
        yield None

    async def hold_sender_lock(self, bot_id: int) -> bool:
        """Whether this process is (now) the one sender for this bot: always on SQLite (one process);
        on PostgreSQL a session advisory lock, kept until the process ends (storage.pg)."""
        return True

    async def incremental_vacuum(self, step: int = 2000) -> int:
        """Give free pages back to the file system, `step` pages per short hold of the writer.
        Pages freed (0 unless the file uses incremental auto-vacuum)."""
        self._refuse_in_unit("a vacuum")
        freed = 0
        while True:
            async with self._lock:
                cur = await self._conn.execute("PRAGMA auto_vacuum")
                mode = await cur.fetchone()
                cur = await self._conn.execute("PRAGMA freelist_count")
                free = await cur.fetchone()
                if not mode or int(mode[0]) != 2 or not free or int(free[0]) == 0:
                    return freed
                cur = await self._conn.execute(f"PRAGMA incremental_vacuum({int(step)})")
                await cur.fetchall()
                freed += min(int(free[0]), step)
            await asyncio.sleep(0)

    async def vacuum_incremental(self) -> None:
        """Switch an older file to incremental auto-vacuum: a full VACUUM (rewrites the file; needs
        as much free disk again and exclusive use, so the bot must be stopped)."""
        async with self._lock:
            await self._conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
            await self._conn.execute("VACUUM")

    async def backup(self, target: str | Path) -> None:
        """Copy the live database to `target` with SQLite's online backup API."""
        self._refuse_in_unit("a backup")
        async with self._lock:
            dest = await aiosqlite.connect(str(target))
            try:
                await self._conn.backup(dest)
                await dest.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal
            finally:
                await dest.close()

    async def backup_verified(self, target: str | Path) -> None:
        """An online backup written as `target.partial`, checked with PRAGMA integrity_check, then
        renamed to `target` (storage.backup.BackupError when the check fails: nothing is left)."""
        from storage import backup

        final = Path(target)
        partial = final.with_name(final.name + ".partial")
        await asyncio.to_thread(final.parent.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(partial.unlink, missing_ok=True)
        await self.backup(partial)
        await asyncio.to_thread(backup.finish, partial, final)


def on_postgres(conn: aiosqlite.Connection) -> bool:
    """Whether a connection from `read()`/`transaction()` is PostgreSQL's (storage.pg), for the few
    queries that read the catalogue."""
    return getattr(conn, "dialect", "sqlite") == "postgresql"


_BOT_ATTR = "zhiwei_bot_id"


def stamp_bot(conn: object, bot_id: int | None) -> None:
    """Mark a writing connection with the process's bot (read by `conn_bot`)."""
    setattr(conn, _BOT_ATTR, bot_id)


def conn_bot(conn: object) -> int | None:
    """The bot of the process a connection from `transaction()` belongs to (None: not set)."""
    bot = getattr(conn, _BOT_ATTR, None)
    return bot if isinstance(bot, int) else None


def is_url(target: str | Path) -> bool:
    """Whether `database.url` / a CLI argument names a PostgreSQL server rather than a SQLite file."""
    return str(target).startswith(("postgresql://", "postgres://"))


def _read_only_uri(path: str) -> str:
    return PurePath(os.path.abspath(path)).as_uri() + "?mode=ro"


# Commits made while handling the current update (`track_commits` starts a fresh count): the error
# handler tells "saved, but the reply failed" apart from "nothing was done".
_COMMITTED: ContextVar[list[int] | None] = ContextVar("committed", default=None)


def _count_commit() -> None:
    changes = _COMMITTED.get()
    if changes is not None:
        changes.append(1)


def _current_task() -> asyncio.Task[object] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None


def writing_now() -> bool:
    """Whether the current task holds a unit of work's open write transaction (on any database):
    a network call now would hold every other writer up (tests/harness checks it never happens)."""
    unit = _UNIT.get()
    return unit is not None and unit.begun and not unit.suspended and unit.owner is _current_task()


def track_commits() -> None:
    """From now on (in this task), count the commits: call at the start of a command."""
    _COMMITTED.set([])


def commits_since_tracking() -> int:
    changes = _COMMITTED.get()
    return len(changes) if changes is not None else 0


def _split_sql(script: str) -> list[str]:
    """Split a migration script into statements. SQLite's own tokenizer (complete_statement)
    decides where one ends, so a ';' inside a comment or a string does not split."""
    statements: list[str] = []
    current = ""
    for line in script.splitlines():
        if not current and (not line.strip() or line.strip().startswith("--")):
            continue
        current += line + "\n"
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements
