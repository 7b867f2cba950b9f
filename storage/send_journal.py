"""When the bot last sent into each group: an append-only file next to the database, so the pacing
window survives a restart (kill -9 included: a write() reaches the kernel before the send starts, and
the kernel keeps it when the process dies). Only the last minute matters; older lines are dropped
when the file is read at start and whenever it grows past MAX_BYTES."""

from __future__ import annotations

import os
import time
from pathlib import Path

KEEP_SECONDS = 65.0  # a group's window is 60 s
MAX_BYTES = 1_000_000


class SendJournal:
    def __init__(self, path: Path, now: float | None = None) -> None:
        self.path = path
        self._recent = self._read(now if now is not None else time.time())
        self._rewrite()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def recent(self) -> list[tuple[int, float]]:
        """(chat id, wall-clock time) of the sends of the last minute before start."""
        return list(self._recent)

    def record(self, chat_id: int, at: float) -> None:
        if self._fd < 0:
            return  # closed: the bot is stopping
        os.write(self._fd, f"{chat_id} {at:.3f}\n".encode())
        if os.fstat(self._fd).st_size > MAX_BYTES:
            self._recent = self._read(at)
            os.close(self._fd)
            self._rewrite()
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _read(self, now: float) -> list[tuple[int, float]]:
        try:
            lines = self.path.read_text(encoding="ascii", errors="ignore").splitlines()
        except FileNotFoundError:
            return []
        found = []
        for line in lines:
            parts = line.split()
            try:
                chat_id, at = int(parts[0]), float(parts[1])
            except (IndexError, ValueError):
                continue  # a line cut by a crash
            if now - KEEP_SECONDS <= at <= now + 1:
                found.append((chat_id, at))
        return found

    def _rewrite(self) -> None:
        temporary = self.path.with_suffix(self.path.suffix + ".tmp")
        temporary.write_text("".join(f"{c} {a:.3f}\n" for c, a in self._recent), encoding="ascii")
        os.replace(temporary, self.path)
