"""Backup files: verify, name, prune, restore (synchronous; callers run these off the event loop).

Kinds of files in the backup folder, told apart by name:
  zhiwei-YYYYMMDD-HHMMSS.db        scheduled or `python -m bot backup` — pruned by the retention rule
  pre-migrate-vN-YYYYMMDD-HHMMSS.db  taken before migrations ran on an existing database — kept
  pre-restore-YYYYMMDD-HHMMSS.db   the database a restore replaced — kept
On PostgreSQL the same names end in `.dump` (pg_dump's custom format, storage/pg_dump.py).
A backup is written as `<name>.partial` and renamed only after PRAGMA integrity_check said ok (on
PostgreSQL: pg_restore read the whole archive), so a file with a backup's name is always a complete,
checked copy.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

SCHEDULED = re.compile(r"^zhiwei-(\d{8})-(\d{6})\.(?:db|dump)$")
ANY_BACKUP = re.compile(r"^(?:zhiwei|pre-migrate-v\d+|pre-restore)-(\d{8})-(\d{6})\.(?:db|dump)$")


class BackupError(Exception):
    """A backup or restore that did not happen; `code` names the reason (a locale key suffix)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class FileCheck:
    ok: bool
    problem: str  # "" when ok; else integrity_check's first lines or the open error
    version: int  # PRAGMA user_version (0 when unreadable)
    tables: int


def default_dir(db_path: str | Path) -> Path:
    """The backup folder when none is configured: `backups` next to the database."""
    return Path(db_path).resolve().parent / "backups"


def stamp(now: datetime) -> str:
    return now.strftime("%Y%m%d-%H%M%S")


def scheduled_name(now: datetime, suffix: str = ".db") -> str:
    """A scheduled backup's name (`suffix` ".dump" for a PostgreSQL archive)."""
    return f"zhiwei-{stamp(now)}{suffix}"


def check_file(path: Path) -> FileCheck:
    """Open read-only and run PRAGMA integrity_check; nothing is written."""
    if not path.is_file():
        return FileCheck(False, "not a file", 0, 0)
    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            rows = [str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall()]
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            tables = int(conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        return FileCheck(False, str(exc), 0, 0)
    if rows != ["ok"]:
        return FileCheck(False, "; ".join(rows[:3]), version, tables)
    return FileCheck(True, "", version, tables)


def finish(partial: Path, target: Path) -> None:
    """Check a freshly written `partial` copy and give it its real name; a bad copy is deleted."""
    found = check_file(partial)
    if not found.ok:
        partial.unlink(missing_ok=True)
        raise BackupError("verify_failed", found.problem)
    os.replace(partial, target)


def copy_verified(source: Path, target: Path) -> None:
    """An online copy of the database file `source` (SQLite backup API), checked, renamed into place."""
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(str(source))) as src, \
            contextlib.closing(sqlite3.connect(str(partial))) as dst:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal
    finish(partial, target)


def backups_in(folder: Path, pattern: re.Pattern[str] = ANY_BACKUP) -> list[tuple[datetime, Path]]:
    """(time in the name, path) of the backups in `folder`, oldest first."""
    if not folder.is_dir():
        return []
    found = []
    for entry in folder.iterdir():
        match = pattern.match(entry.name)
        if match and entry.is_file():
            try:
                # the name carries the local wall time of the backup
                when = datetime.strptime(match.group(1) + match.group(2), "%Y%m%d%H%M%S")  # noqa: DTZ007
            except ValueError:
                continue
            found.append((when, entry))
    found.sort()
    return found


def to_keep(stamps: Iterable[datetime], keep_daily: int, keep_weekly: int, keep_monthly: int) -> set[datetime]:
    """The retention rule (pure): the newest backup of each of the `keep_daily` newest days that have
    one, likewise per ISO week and per month; the newest backup of all is always kept."""
    ordered = sorted(set(stamps), reverse=True)
    keep: set[datetime] = set(ordered[:1])

    def newest_per(bucket: object, count: int) -> None:
        seen: list[object] = []
        for when in ordered:
            key = bucket(when)  # type: ignore[operator]
            if key in seen:
                continue
            if len(seen) >= count:
                break
            seen.append(key)
            keep.add(when)

    newest_per(lambda d: d.date(), keep_daily)
    newest_per(lambda d: tuple(d.isocalendar())[:2], keep_weekly)
    newest_per(lambda d: (d.year, d.month), keep_monthly)
    return keep


def prune(folder: Path, keep_daily: int, keep_weekly: int, keep_monthly: int) -> list[Path]:
    """Delete scheduled backups the retention rule does not keep; returns the deleted paths.
    pre-migrate/pre-restore copies and other files are never touched."""
    found = backups_in(folder, SCHEDULED)
    keep = to_keep((w for w, _ in found), keep_daily, keep_weekly, keep_monthly)
    deleted = []
    for when, path in found:
        if when not in keep:
            path.unlink(missing_ok=True)
            deleted.append(path)
    return deleted


def latest(folder: Path) -> tuple[datetime, Path] | None:
    found = backups_in(folder)
    return found[-1] if found else None


@contextlib.contextmanager
def run_lock(db_path: str | Path) -> Iterator[None]:
    """Held by `python -m bot run` for its whole life (`<db>.lock`, flock): `restore` refuses while
    it is held, so a database is never replaced under a running bot."""
    lock_path = Path(f"{db_path}.lock")
    handle = open(lock_path, "a+")  # noqa: SIM115
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BackupError("in_use", str(lock_path)) from exc
        yield
    finally:
        handle.close()


def restore(source: Path, db_path: Path, safety_dir: Path, latest_version: int, now: datetime) -> Path | None:
    """Replace the database at `db_path` with the backup `source`.

    Refuses (BackupError) when `source` is not a sound SQLite database of this bot, when it comes
    from a newer version of the bot, or while the bot runs. The current database is first copied
    (checked) to `safety_dir/pre-restore-….db`, returned (None when there was no database). The
    copy goes through SQLite's backup API into the existing file, so its WAL stays consistent."""
    found = check_file(source)
    if not found.ok:
        raise BackupError("bad_file", found.problem)
    if found.version < 1:
        raise BackupError("not_ours")
    if found.version > latest_version:
        raise BackupError("too_new", str(found.version))
    with run_lock(db_path):
        safety: Path | None = None
        if db_path.exists():
            safety = safety_dir / f"pre-restore-{stamp(now)}.db"
            copy_verified(db_path, safety)
        with contextlib.closing(sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)) as src, \
                contextlib.closing(sqlite3.connect(str(db_path))) as dst:
            src.backup(dst)
        after = check_file(db_path)
        if not after.ok:  # cannot happen with a checked source; say so rather than hide it
            raise BackupError("verify_failed", after.problem)
    return safety

