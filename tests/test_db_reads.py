"""Reads never wait for writes (storage/db.py): read-only connections beside the writer (WAL)."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta

import pytest

from services import duty_notices
from storage.db import Database
from tests.harness import Harness
from tests.pg_support import Databases

pytestmark = pytest.mark.handler


async def _count(db: Database) -> int:
    async with db.read() as conn:
        cur = await conn.execute("SELECT COUNT(*) FROM chat_prefs")
        row = await cur.fetchone()
        return int(row[0]) if row else 0


async def test_a_read_completes_while_a_write_transaction_is_open(dbs: Databases) -> None:
    db = await Database.open(await dbs("r.db"))
    held, release = asyncio.Event(), asyncio.Event()

    async def writer() -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO chat_prefs(chat_id, lang) VALUES (1, 'zh_cn')")
            held.set()
            await release.wait()

    try:
        task = asyncio.create_task(writer())
        await held.wait()
        async with asyncio.timeout(2):  # it used to wait for the writer's lock
            assert await _count(db) == 0  # the last committed state, not the open transaction's
            assert await db.schema_version() > 0
        release.set()
        await task
        assert await _count(db) == 1  # a commit is seen by the next read
    finally:
        release.set()
        await db.close()


async def test_reads_cannot_write(dbs: Databases) -> None:
    db = await Database.open(await dbs("r.db"))
    try:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            async with db.read() as conn:
                await conn.execute("INSERT INTO chat_prefs(chat_id, lang) VALUES (1, 'zh_cn')")
        assert await _count(db) == 0
    finally:
        await db.close()


async def test_a_read_block_sees_one_snapshot(dbs: Databases) -> None:
    db = await Database.open(await dbs("r.db"))
    try:
        async with db.read() as conn:
            cur = await conn.execute("SELECT COUNT(*) FROM chat_prefs")
            assert (await cur.fetchone() or (None,))[0] == 0
            async with db.transaction() as w:
                await w.execute("INSERT INTO chat_prefs(chat_id, lang) VALUES (1, 'zh_cn')")
            cur = await conn.execute("SELECT COUNT(*) FROM chat_prefs")
            assert (await cur.fetchone() or (None,))[0] == 0
        assert await _count(db) == 1
    finally:
        await db.close()


async def test_a_quiet_duty_tick_needs_no_write_lock(h: Harness) -> None:
    """Nothing due: the duty producer only reads, so a write held open elsewhere does not stop it;
    with a notice due, it writes in its own short transaction once the writer is free."""
    await h.tick()
    held, release = asyncio.Event(), asyncio.Event()

    async def writer() -> None:
        async with h.db.transaction():
            held.set()
            await release.wait()

    task = asyncio.create_task(writer())
    try:
        await held.wait()
        async with asyncio.timeout(2):
            await duty_notices.produce(h.services.duty, h.clock.now() + timedelta(minutes=1))
        h.clock.advance(timedelta(days=1))  # the next hand-off is due: it waits for the writer
        pending = asyncio.create_task(duty_notices.produce(h.services.duty, h.clock.now()))
        await asyncio.sleep(0.2)
        assert not pending.done()
        release.set()
        async with asyncio.timeout(5):
            await pending
        async with h.db.read() as conn:
            cur = await conn.execute("SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND dedupe LIKE 'duty:%'")
            assert (await cur.fetchone() or (0,))[0] >= 1
    finally:
        release.set()
        await task
