"""Each Telegram update is handled once, also across a crash: after a kill -9, Telegram sends again
the updates the bot had fetched but not yet acknowledged. One already marked is skipped. A command
marks its update in the same transaction as its change and its confirmation (`mark_in`, from the
command's unit of work, handlers/common.py), so there is no instant in which the change is stored and
the update is not: Telegram's re-send is skipped and the confirmation still comes from the outbox.
Updates that change nothing are marked when their handling has finished (`mark`)."""

from __future__ import annotations

from contextvars import ContextVar
from datetime import datetime, timedelta

import aiosqlite

from services.clock import Clock
from storage import updates
from storage.db import Database, conn_bot

# The update being handled, when `run` journals updates (set before any handler runs).
_CURRENT: ContextVar[int | None] = ContextVar("journaled_update", default=None)


def handling(update_id: int | None) -> None:
    """From now on (in this task) the handlers serve this journaled update."""
    _CURRENT.set(update_id)


async def mark_in(conn: aiosqlite.Connection, now: datetime) -> None:
    """Inside the caller's transaction: the journaled update being handled (if any) is done."""
    update_id = _CURRENT.get()
    if update_id is not None:
        await updates.mark(conn, update_id, now, conn_bot(conn))

KEPT = timedelta(days=2)  # Telegram keeps an unacknowledged update at most 24 hours
PRUNE_EVERY = 500  # marks between deleting the old ones


class UpdateJournal:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self._marks = 0

    async def seen(self, update_id: int) -> bool:
        async with self.db.read() as conn:
            return await updates.seen(conn, update_id, self.db.bot_id)

    async def mark(self, update_id: int) -> None:
        now = self.clock.now()
        self._marks += 1
        async with self.db.transaction() as conn:
            await updates.mark(conn, update_id, now, self.db.bot_id)
            if self._marks % PRUNE_EVERY == 1:
                await updates.prune(conn, now - KEPT)
