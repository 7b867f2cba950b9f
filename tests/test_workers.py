"""Two workers on one database (issue #15): every producer of the tick runs in both at the same
moments, and the outbox ends up with exactly what one worker alone produces. On SQLite in the plain
run; on PostgreSQL when the harness is (`TEST_HARNESS_ENGINE=postgresql`, as .ci/run does)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import build_services, start_services
from bot.config import from_mapping
from handlers.common import Services
from storage.db import Database
from tests.harness import Harness, make_harness

pytestmark = pytest.mark.handler

STEP = timedelta(minutes=20)
STEPS = 3 * 24 * 3  # three days


async def outbox_rows(db: Database) -> Counter[tuple[int, str]]:
    async with db.read() as conn:
        cur = await conn.execute("SELECT chat_id, body FROM outbox")
        return Counter((int(r[0]), str(r[1])) for r in await cur.fetchall())


async def walk(h: Harness, workers: list[Services]) -> None:
    """Three days in 20-minute steps; at each, every worker's producers at once."""
    for _ in range(STEPS):
        h.clock.advance(STEP)
        now = h.clock.now()
        await asyncio.gather(*(produce(now) for services in workers for produce in services.producers))


async def test_two_workers_ticking_together_produce_what_one_worker_does(h: Harness, tmp_path: Path) -> None:
    world = h.world
    cfg = from_mapping({"admins": {"super_admins": world.super_admins}}, env={})
    second_db = await Database.open(h.db.path)  # the same database, another process's connections
    second = build_services(cfg, second_db, h.clock)
    await start_services(second)
    before = await outbox_rows(h.db)
    await walk(h, [h.services, second])
    together = await outbox_rows(h.db) - before
    await second_db.close()

    (tmp_path / "alone").mkdir()
    alone = await make_harness(tmp_path / "alone")
    try:
        before = await outbox_rows(alone.db)
        await walk(alone, [alone.services])
        reference = await outbox_rows(alone.db) - before
    finally:
        await alone.app.shutdown()
        await alone.db.close()
    assert reference  # the demo organisation has duty notices, reminders … in three days
    assert together == reference  # nothing doubled, nothing missing
