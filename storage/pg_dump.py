"""Backups of a PostgreSQL database with the server's own tools (synchronous; callers run these off
the event loop): `pg_dump -Fc` into `<name>.partial`, read back whole by `pg_restore --list`, then
renamed, as SQLite's backups are (storage.backup); restore with `pg_restore --clean`. The password
never goes on a command line (PGPASSWORD in the tool's environment). Without the tools on PATH a
BackupError("no_tool") carries the exact command to run instead."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from storage.backup import BackupError, stamp

SUFFIX = ".dump"  # pg_dump's custom format
TIMEOUT = 6 * 3600


def _connection(url: str) -> tuple[str, dict[str, str]]:
    """The URL without its password, and the environment that gives the password to the tool."""
    parts = urlsplit(url)
    env = dict(os.environ)
    if parts.password is None:
        return url, env
    env["PGPASSWORD"] = parts.password
    netloc = parts.netloc.replace(f":{parts.password}@", "@")
    return urlunsplit(parts._replace(netloc=netloc)), env


def dump_command(url: str, target: Path) -> list[str]:
    return ["pg_dump", "-Fc", "--no-owner", "-f", str(target), "-d", _connection(url)[0]]


def restore_command(url: str, source: Path) -> list[str]:
    return ["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction", "-d",
            _connection(url)[0], str(source)]


def shown(command: list[str]) -> str:
    """A command as an operator types it (the password left out: PGPASSWORD or ~/.pgpass supplies it)."""
    return shlex.join(command)


def _run(command: list[str], url: str, failure: str) -> str:
    exe = shutil.which(command[0])
    if exe is None:
        raise BackupError("no_tool", shown(command))
    done = subprocess.run([exe, *command[1:]], env=_connection(url)[1], capture_output=True, text=True,
                          timeout=TIMEOUT, check=False)
    if done.returncode != 0:
        raise BackupError(failure, (done.stderr or done.stdout).strip()[-500:])
    return done.stdout


def check_archive(path: Path) -> str:
    """pg_restore reads the whole archive's table of contents (a truncated file fails); the listing."""
    if not path.is_file():
        raise BackupError("bad_file", "not a file")
    return _run(["pg_restore", "--list", str(path)], "", "bad_file")


def dump(url: str, target: Path) -> None:
    """A checked dump of the database at `url` into `target` (nothing is left when it fails)."""
    if shutil.which("pg_dump") is None:
        raise BackupError("no_tool", shown(dump_command(url, target)))
    partial = target.with_name(target.name + ".partial")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial.unlink(missing_ok=True)
    try:
        _run(dump_command(url, partial), url, "dump_failed")
        try:
            check_archive(partial)
        except BackupError as exc:
            raise BackupError("verify_failed", exc.detail) from exc
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def restore(url: str, source: Path, safety_dir: Path, now: datetime) -> Path:
    """Replace the database's contents with the dump `source` (one transaction: all or nothing),
    after a checked dump of what is there now (`safety_dir/pre-restore-….dump`, returned).
    Refuses (BackupError) a file that is not a whole archive of this bot's database."""
    if shutil.which("pg_restore") is None:
        raise BackupError("no_tool", shown(restore_command(url, source)))
    listing = check_archive(source)
    if " schema_version " not in listing:
        raise BackupError("not_ours")
    safety = safety_dir / f"pre-restore-{stamp(now)}{SUFFIX}"
    dump(url, safety)
    _run(restore_command(url, source), url, "restore_failed")
    return safety
