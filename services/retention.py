"""Retention: sent (and failed) outbox rows and the duty-notice journal (`sent_notices`) are deleted
once older than `[database] keep_sent_days`, once a day, in short batches; then the freed pages go
back to the file system (incremental vacuum). The ledger, tasks, reviews and the audit log are kept.

What the once-only checks need. Producers run on every tick and send a thing once because its
outbox `dedupe` key (or its duty-notice claim) is already there. A key may go only when its
producer can no longer produce it. How long after it was written each key can still come back
(`DEDUPE_PREFIXES`; tests/test_retention.py checks that every `dedupe=f"…` in the code is listed):

- duty notices (the claims in `sent_notices`, ref = the shift's start; the outbox's `duty:` keys
  only repeat them): while that shift runs (the nudge and the note to the chair), which days off
  and holidays can stretch. So a claim goes only once a later shift of its organisation has begun
  (a handoff claim made after it for another shift): past shifts never come back. The sent `duty:`
  rows themselves (most of the outbox: several a day per organisation) go after `CLAIMED_KEEP`,
  since the claims, not they, keep a notice from being sent twice;
- `holiday-gap:{year}` in December only; `monthly:`/`monthly-rollup:` within the grace period or 3
  days of the report day; `task:` from `max(tasks.remind_days_before)` days before the deadline
  to the deadline; `overdue:…:{day}`, `rem:…:{due}`, `rem-stale:…:{now}` name their day; `training:`
  until the training starts (a day); `handoff:`, `undeliverable:` and `task-assigned:` happen once,
  when a question is passed on, a row fails or a task is set; `ops:` names its moment;
- without a time bound: `faq-stale:{year}` (re-checked all year) and `review:` (the note to the
  chair is re-checked for as long as a cycle stays open after its deadline). Those rows are few (a
  few per person and year) and are never pruned (`KEPT_PREFIXES`).

So `keep_sent_days` must be at least `min_keep_days` (checked by the config)."""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from storage import retention
from storage.db import Database

log = logging.getLogger(__name__)

# dedupe prefix → does it recur without a time bound (True: never pruned)
DEDUPE_PREFIXES: dict[str, bool] = {
    "duty": False, "holiday-gap": False, "monthly": False, "monthly-rollup": False, "task": False,
    "overdue": False, "rem": False, "rem-stale": False, "training": False, "handoff": False,
    "undeliverable": False, "task-assigned": False, "ops": False, "faq-stale": True, "review": True,
}
KEPT_PREFIXES: tuple[str, ...] = tuple(p + ":" for p, kept in DEDUPE_PREFIXES.items() if kept)
PRUNE_AT = time(4, 0)  # local; after the 03:30 backup
BATCH = 2000  # rows per short write transaction
CLAIMED = "duty:"  # outbox keys that only repeat a duty-notice claim …
CLAIMED_KEEP = timedelta(days=2)  # … are pruned once sent this long ago
VACUUM_PAGES = 2000  # pages returned per incremental_vacuum step


def min_keep_days(task_days_before: tuple[int, ...], grace_hours: float) -> int:
    """The shortest retention the once-only checks allow (see the module docstring)."""
    longest = max([31, *(d + 1 for d in task_days_before)])  # December; a task's first reminder
    return longest + math.ceil(grace_hours / 24) + 2


@dataclass(frozen=True)
class Pruned:
    outbox: int
    notices: int
    pages_freed: int


class RetentionService:
    def __init__(self, db: Database, tz: ZoneInfo, keep_days: int, at: time = PRUNE_AT) -> None:
        self.db = db
        self.tz = tz
        self.keep_days = keep_days
        self.at = at
        self._done_on: str | None = None  # the local day pruned (a restart prunes once more: harmless)

    async def produce(self, now: datetime) -> None:
        """Once a day at `at` (local), or at the first tick after it."""
        local = now.astimezone(self.tz)
        day = local.date().isoformat()
        if self.keep_days <= 0 or self._done_on == day or local.time() < self.at:
            return
        self._done_on = day
        done = await self.prune(now)
        if done.outbox or done.notices:
            log.info("retention: %d outbox rows and %d duty-notice claims older than %d days deleted,"
                     " %d pages freed", done.outbox, done.notices, self.keep_days, done.pages_freed)

    async def next_due(self, now: datetime) -> datetime | None:
        """The next daily run (for the shell's :advance); None when nothing is ever pruned."""
        if self.keep_days <= 0:
            return None
        local = now.astimezone(self.tz)
        today = datetime.combine(local.date(), self.at, self.tz)
        return today if today > now and self._done_on != local.date() else today + timedelta(days=1)

    async def prune(self, now: datetime) -> Pruned:
        before = now - timedelta(days=self.keep_days)
        rows = notices = 0
        for older_than, kept, only in ((before, KEPT_PREFIXES, None), (now - CLAIMED_KEEP, (), CLAIMED)):
            while True:  # short transactions: a command waits for one batch at most
                async with self.db.transaction() as conn:
                    n = await retention.prune_outbox(conn, older_than, kept, BATCH, only)
                rows += n
                if n < BATCH:
                    break
                await asyncio.sleep(0)
        while True:
            async with self.db.transaction() as conn:
                n = await retention.prune_notices(conn, before, BATCH)
            notices += n
            if n < BATCH:
                break
            await asyncio.sleep(0)
        freed = await self.db.incremental_vacuum(VACUUM_PAGES) if rows or notices else 0
        return Pruned(rows, notices, freed)
