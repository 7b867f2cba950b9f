"""Each Telegram update is handled once, also across a crash: after a kill -9, Telegram sends again
the updates the bot had fetched but not yet acknowledged. An update is marked when its handling has
finished, and one already marked is skipped; a command that creates a record therefore creates it
once (a crash in the instant between its commit and the mark is the only way to see it twice)."""

from __future__ import annotations

from datetime import timedelta

from services.clock import Clock
from storage import updates
from storage.db import Database

KEPT = timedelta(days=2)  # Telegram keeps an unacknowledged update at most 24 hours
PRUNE_EVERY = 500  # marks between deleting the old ones


class UpdateJournal:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self._marks = 0

    async def seen(self, update_id: int) -> bool:
        async with self.db.read() as conn:
            return await updates.seen(conn, update_id)

    async def mark(self, update_id: int) -> None:
        now = self.clock.now()
        self._marks += 1
        async with self.db.transaction() as conn:
            await updates.mark(conn, update_id, now)
            if self._marks % PRUNE_EVERY == 1:
                await updates.prune(conn, now - KEPT)
