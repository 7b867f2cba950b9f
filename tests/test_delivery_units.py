"""A command is one unit of work (issue #11): its change, its confirmation (an outbox row) and the
journal row of its update are written in ONE transaction; the confirmation is sent right after the
commit and retried from the outbox. Unit tests of `Database.unit`, then handler tests."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_application, register_update_journal
from bot.fake_api import FakeBotApi
from handlers.common import _UnitOfWork
from services.clock import SimClock
from services.outbox import Outgoing
from services.updates import UpdateJournal
from storage import outbox
from storage.db import Database, commits_since_tracking, track_commits, writing_now
from tests.harness import START, WORK, Harness, restarted

pytestmark = pytest.mark.handler


class _Hooks:
    def __init__(self) -> None:
        self.seen: list[str] = []

    async def begun(self, conn: Any) -> None:
        self.seen.append("begun")

    async def committing(self, conn: Any) -> None:
        self.seen.append("committing")

    async def committed(self) -> None:
        self.seen.append("committed")


async def _db(tmp_path: Path) -> Database:
    db = await Database.open(tmp_path / "u.db")
    async with db.transaction() as conn:
        await conn.execute("CREATE TABLE t (v TEXT)")
    return db


async def _values(db: Database) -> list[str]:
    async with db.read() as conn:
        cur = await conn.execute("SELECT v FROM t ORDER BY rowid")
        return [str(r[0]) for r in await cur.fetchall()]


@pytest.mark.unit
async def test_a_unit_commits_every_write_of_the_block_at_once(tmp_path: Path) -> None:
    db = await _db(tmp_path)
    hooks = _Hooks()
    track_commits()
    async with db.unit(hooks):
        assert not db.writing()
        async with db.transaction() as conn:  # a service's transaction: a savepoint of the unit's
            await conn.execute("INSERT INTO t VALUES ('a')")
        assert db.writing() and writing_now() and hooks.seen == ["begun"]
        async with db.read() as conn:  # the block sees its own writes
            cur = await conn.execute("SELECT COUNT(*) FROM t")
            row = await cur.fetchone()
            assert row is not None and row[0] == 1
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO t VALUES ('b')")
        # Not committed yet: another task (a reader, or a writer that waits) does not see it.
        other = asyncio.create_task(_values(db))
        assert await other == []
    assert hooks.seen == ["begun", "committing", "committed"]
    assert await _values(db) == ["a", "b"] and commits_since_tracking() == 1 and not writing_now()
    await db.close()


@pytest.mark.unit
async def test_a_unit_that_raises_stores_nothing_and_a_failed_savepoint_only_its_part(tmp_path: Path) -> None:
    db = await _db(tmp_path)
    with pytest.raises(RuntimeError):
        async with db.unit(_Hooks()):
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO t VALUES ('a')")
            raise RuntimeError("after the write")
    assert await _values(db) == []
    async with db.unit(None):
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO t VALUES ('kept')")
        with pytest.raises(ValueError):
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO t VALUES ('undone')")
                raise ValueError("refused")
    assert await _values(db) == ["kept"]
    await db.close()


@pytest.mark.unit
async def test_a_unit_that_only_reads_never_takes_the_writer_and_commit_unit_splits_it(tmp_path: Path) -> None:
    db = await _db(tmp_path)
    hooks = _Hooks()
    async with db.unit(hooks):
        await _values(db)
        assert not db.writing()
    assert hooks.seen == []
    async with db.unit(hooks):
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO t VALUES ('first')")
        await db.commit_unit()  # before a slow call: stored, the writer free
        assert not db.writing() and await asyncio.create_task(_values(db)) == ["first"]
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO t VALUES ('second')")
    assert hooks.seen == ["begun", "committing", "committed"] * 2
    # A task started inside the unit does not share its transaction: it waits for the commit.
    async with db.unit(None):
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO t VALUES ('third')")
        later = asyncio.create_task(_insert(db, "fourth"))
        await asyncio.sleep(0.05)
        assert not later.done()
    await later
    assert await _values(db) == ["first", "second", "third", "fourth"]
    await db.close()


async def _insert(db: Database, value: str) -> None:
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO t VALUES (?)", (value,))


async def _count(h: Harness, sql: str, *params: Any) -> int:
    async with h.db.read() as conn:
        cur = await conn.execute(sql, params)
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def _confirmations(h: Harness, text: str, status: str | None = None) -> int:
    sql = "SELECT COUNT(*) FROM outbox WHERE body LIKE '%outbox.verbatim%' AND body LIKE ?"
    if status is None:
        return await _count(h, sql, f"%{text}%")
    return await _count(h, sql + " AND status = ?", f"%{text}%", status)


async def test_a_confirmation_is_an_outbox_row_sent_right_after_the_commit(h: Harness) -> None:
    calls = await h.send(WORK, "赵霞", "/log 走访 看望3组独居老人")
    assert next(c.text for c in calls if c.method == "sendMessage").startswith("📒 已记入台账")
    assert await _confirmations(h, "已记入台账", "sent") == 1
    # A question that only reads is answered directly, not through the outbox.
    before = await _count(h, "SELECT COUNT(*) FROM outbox")
    assert "值班" in await h.say(WORK, "赵霞", "/duty")
    assert await _count(h, "SELECT COUNT(*) FROM outbox") == before


async def test_a_command_that_fails_inside_its_transaction_stores_nothing_and_confirms_nothing(
        h: Harness) -> None:
    before = await _count(h, "SELECT COUNT(*) FROM ledger_entries")
    original = h.services.duty.log

    async def add_then_fail(*args: Any, **kwargs: Any) -> Any:
        await original(*args, **kwargs)
        raise RuntimeError("after the service's write, before the commit")

    h.services.duty.log = add_then_fail
    calls = await h.send(WORK, "赵霞", "/log 走访 看望3组独居老人")
    assert any("没有办成" in c.text for c in calls)  # honest: nothing was written
    assert await _count(h, "SELECT COUNT(*) FROM ledger_entries") == before
    assert await _confirmations(h, "已记入台账") == 0


async def test_a_commit_that_fails_stores_neither_the_record_nor_its_confirmation(
        h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    before = await _count(h, "SELECT COUNT(*) FROM reminders")

    async def broken(self: _UnitOfWork, conn: Any) -> None:
        raise OSError("disk I/O error at the commit")

    monkeypatch.setattr(_UnitOfWork, "committing", broken)
    calls = await h.send(WORK, "刘敏", "/remind 明天9点 交材料")
    assert any("没有办成" in c.text for c in calls) and not any("好的" in c.text for c in calls)
    assert await _count(h, "SELECT COUNT(*) FROM reminders") == before
    assert await _confirmations(h, "交材料") == 0


class _Killed(BaseException):
    """kill -9 right after the commit: nothing after it runs (PTB does not catch a BaseException)."""


async def test_an_update_sent_again_after_a_crash_right_after_the_commit_makes_one_record_and_one_reply(
        h: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    register_update_journal(h.app, UpdateJournal(h.db, h.clock))
    before = await _count(h, "SELECT COUNT(*) FROM reminders")
    update = h.factory.message(WORK, h.person("刘敏"), "/remind 明天9点 交妇女议事会记录")
    original = _UnitOfWork.committed

    async def die(self: _UnitOfWork) -> None:
        raise _Killed

    monkeypatch.setattr(_UnitOfWork, "committed", die)
    first = len(h.api.calls)
    with pytest.raises(_Killed):
        await h.app.process_update(update)
    assert h.api.calls[first:] == []  # died before sending anything
    # Committed together: the reminder, its confirmation (pending) and the update's journal row.
    assert await _count(h, "SELECT COUNT(*) FROM reminders") == before + 1
    assert await _confirmations(h, "交妇女议事会记录", "pending") == 1
    assert await _count(h, "SELECT COUNT(*) FROM processed_updates WHERE update_id = ?", update.update_id) == 1
    monkeypatch.setattr(_UnitOfWork, "committed", original)

    # The restart: Telegram sends the unacknowledged update again; the first tick drains the outbox.
    new = await restarted(h, tmp_path)
    try:
        register_update_journal(new.app, UpdateJournal(new.db, new.clock))
        again = update.to_dict()
        from telegram import Update

        calls = []
        start = len(new.api.calls)
        await new.app.process_update(Update.de_json(again, new.app.bot))
        calls += new.api.calls[start:]
        calls += await new.tick()
        confirmations = [c for c in calls if c.chat_id == WORK and "交妇女议事会记录" in c.text]
        assert len(confirmations) == 1 and "好的" in confirmations[0].text
        assert await _count(new, "SELECT COUNT(*) FROM reminders") == before + 1
        assert await _confirmations(new, "交妇女议事会记录", "sent") == 1
    finally:
        await new.app.shutdown()


async def test_a_command_and_the_background_sender_never_send_the_same_row_twice(tmp_path: Path) -> None:
    from bot.app import build_services
    from bot.config import from_mapping

    clock = SimClock(START)
    db = await Database.open(tmp_path / "s.db")
    services = build_services(from_mapping({}, env={}), db, clock)
    api = FakeBotApi(clock)
    app = build_application(services, token="123456:TEST", request=api)
    await app.initialize()
    try:
        sender = services.sender
        async with db.transaction() as conn:
            first = await outbox.last_id(conn)
            await outbox.enqueue(conn, [Outgoing(1000 + i % 3, "outbox.lines", {"lines": [f"第{i}条"]})
                                        for i in range(12)], clock.now())
            last = await outbox.last_id(conn)
        sender.background = True  # as in `run`: the command delivers its own rows, the loop the rest
        await asyncio.gather(sender.deliver_now(app.bot, first, last), sender.drain(app.bot),
                             sender.deliver_now(app.bot, first, last))
        texts = [c.text for c in api.calls if c.method == "sendMessage"]
        assert sorted(texts) == sorted(f"第{i}条" for i in range(12))
        for chat in (1000, 1001, 1002):  # each chat's rows in order
            mine = [int(c.text[1:-1]) for c in api.calls if c.chat_id == chat]
            assert mine == sorted(mine)
        assert await sender.drain(app.bot) == 0
    finally:
        await app.shutdown()
        await db.close()


async def test_an_answer_that_only_reads_is_sent_directly_and_repeated_after_5xx(tmp_path: Path) -> None:
    # `run` has the PacingLimiter: a 502 to a direct answer is repeated with backoff.
    from bot.app import build_services
    from bot.config import from_mapping
    from bot.demo import load_world, seed
    from handlers.sender import PacingLimiter
    from tests.harness import Harness as H

    world = load_world()
    cfg = from_mapping({"admins": {"super_admins": world.super_admins}}, env={})
    clock = SimClock(START)
    db = await Database.open(tmp_path / "r.db")
    await seed(db, world, clock, cfg.tz, cfg.duty.handoff)
    api = FakeBotApi(clock)
    services = build_services(cfg, db, clock)
    app = build_application(services, token="123456:TEST", request=api, rate_limit=True)
    limiter = app.bot.rate_limiter
    assert isinstance(limiter, PacingLimiter)
    limiter.first_backoff = 0.01
    await app.initialize()
    try:
        h2 = H(app, api, clock, db, world)
        api.failing_sends = 2
        calls = await h2.send(WORK, "赵霞", "/duty")
        answers = [c for c in calls if c.method == "sendMessage" and c.chat_id == WORK]
        assert [c.result == "502" for c in answers] == [True, True, False]
        assert await _count(h2, "SELECT COUNT(*) FROM outbox") == 0
    finally:
        await app.shutdown()
        await db.close()
