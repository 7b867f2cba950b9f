"""Several bot tokens on one database (issue #15): every organisation and outbox row records its bot,
each bot's sender takes only its own rows and those of no bot; legacy rows are adopted at start."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from handlers.sender import OutboxSender
from services.clock import SimClock
from services.outbox import Outgoing, bot_id_of, decode_body, run_as_bot
from services.reminders import ReminderService
from services.roster import RosterService
from services.timeparse import parse_when
from storage import orgs, outbox, updates
from storage.db import Database
from tests.pg_support import Databases

pytestmark = pytest.mark.unit

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 9, 29, 9, 0, tzinfo=TZ)
A, B = 111111, 222222


class TokenBot:
    """A bot stand-in with a token (its id is the number before the colon)."""

    def __init__(self, bot_id: int) -> None:
        self.token = f"{bot_id}:SECRET"
        self.sent: list[tuple[int, str]] = []

    async def send_message(self, chat_id: int, text: str, **kwargs: Any) -> None:
        self.sent.append((chat_id, text))


def row(chat_id: int, label: str, org_id: int | None = None, **kw: Any) -> Outgoing:
    return Outgoing(chat_id, "outbox.verbatim", {"text": {"$html": label}}, org_id=org_id, **kw)


async def bots_of_rows(db: Database) -> dict[str, int | None]:
    async with db.read() as conn:
        cur = await conn.execute("SELECT body, bot_id FROM outbox ORDER BY id")
        found = await cur.fetchall()
    return {decode_body(r[0]).params["text"]["$html"]: r[1] for r in found}


async def test_each_bots_sender_takes_its_own_rows_and_those_of_no_bot(dbs: Databases) -> None:
    location = await dbs("tokens.db")
    db_a, db_b, tool = [await Database.open(location) for _ in range(3)]
    try:
        assert tool.bot_id is None  # tools and tests run without a bot
        db_a.set_bot(A)
        db_b.set_bot(B)
        now = START.astimezone(UTC)
        async with db_a.transaction() as conn:
            org_a = await orgs.create(conn, "甲村妇联", 1, now)
        async with db_b.transaction() as conn:
            org_b = await orgs.create(conn, "乙村妇联", 2, now)
        async with db_a.read() as conn:
            assert (await orgs.bot_of(conn, org_a.id), await orgs.bot_of(conn, org_b.id)) == (A, B)
        # Whichever process enqueues it, an organisation's row carries the organisation's bot; a row
        # without one carries the enqueuing process's bot, or none from a tool.
        async with db_b.transaction() as conn:
            await outbox.enqueue(conn, [row(-1, "甲村通知", org_a.id), row(-2, "乙村通知", org_b.id),
                                        row(20, "乙私聊")], now)
        async with db_a.transaction() as conn:
            await outbox.enqueue(conn, [row(10, "甲私聊"), row(21, "指定乙", bot_id=B)], now)
        async with tool.transaction() as conn:
            await outbox.enqueue(conn, [row(30, "旧式")], now)
        assert await bots_of_rows(tool) == {"甲村通知": A, "乙村通知": B, "乙私聊": B, "甲私聊": A,
                                             "指定乙": B, "旧式": None}
        clock = SimClock(START)
        bot_a, bot_b = TokenBot(A), TokenBot(B)
        sender_a = OutboxSender(db_a, clock, RosterService(db_a, clock, frozenset()))
        sender_b = OutboxSender(db_b, clock, RosterService(db_b, clock, frozenset()))
        assert await sender_a.drain(bot_a) == 3  # type: ignore[arg-type]
        assert sorted(bot_a.sent) == [(-1, "甲村通知"), (10, "甲私聊"), (30, "旧式")]
        assert await sender_b.drain(bot_b) == 3  # type: ignore[arg-type]
        assert sorted(bot_b.sent) == [(-2, "乙村通知"), (20, "乙私聊"), (21, "指定乙")]
        async with tool.read() as conn:
            assert await outbox.count(conn, "pending") == 0
        # A command's own rows sent right away (deliver_now) follow the same rule.
        async with db_a.transaction() as conn:
            after = await outbox.last_id(conn)
            await outbox.enqueue(conn, [row(11, "甲回复"), row(-2, "乙村转告", org_b.id)], now)
            up_to = await outbox.last_id(conn)
        assert await sender_a.deliver_now(bot_a, after, up_to) == 1  # type: ignore[arg-type]
        assert bot_a.sent[-1] == (11, "甲回复")
        assert await sender_b.drain(bot_b) == 1  # type: ignore[arg-type]
        assert bot_b.sent[-1] == (-2, "乙村转告")
    finally:
        for db in (db_a, db_b, tool):
            await db.close()


async def test_a_private_reminder_is_sent_by_the_bot_it_was_set_through(dbs: Databases) -> None:
    """The tick may run in any worker: a reminder without an organisation keeps its own bot."""
    location = await dbs("remind.db")
    db_a, db_b = await Database.open(location), await Database.open(location)
    try:
        db_a.set_bot(A)
        db_b.set_bot(B)
        clock = SimClock(START)
        when, rest = parse_when("10分钟后 交材料", START)
        await ReminderService(db_a, clock, TZ, grace_hours=6).create(7, None, 7, when, rest)
        clock.advance(timedelta(minutes=10))
        await ReminderService(db_b, clock, TZ, grace_hours=6).produce(clock.now())  # B's worker ticks
        async with db_a.read() as conn:
            cur = await conn.execute("SELECT bot_id FROM outbox")
            assert [r[0] for r in await cur.fetchall()] == [A]
    finally:
        await db_a.close()
        await db_b.close()


async def test_legacy_organisations_and_rows_are_adopted_by_the_first_bot_to_start(
        dbs: Databases, caplog: pytest.LogCaptureFixture) -> None:
    location = await dbs("legacy.db")
    old = await Database.open(location, migrate=False)
    await old.migrate(up_to=18)  # before bots were recorded
    now = START.astimezone(UTC)
    async with old.transaction() as conn:
        legacy = await orgs.create(conn, "老村妇联", 1, now)
        await conn.execute("INSERT INTO outbox(org_id, chat_id, body, due_at, created_at) VALUES (?, -5, ?, ?, ?)",
                           (legacy.id, Outgoing(-5, "outbox.verbatim", {"text": {"$html": "旧行"}}).body(),
                            "2026-09-29T01:00:00+00:00", "2026-09-29T01:00:00+00:00"))
        await conn.execute("INSERT INTO processed_updates(update_id, at) VALUES (7, '2026-09-29T01:00:00+00:00')")
    await old.close()

    db_a, db_b = await Database.open(location), await Database.open(location)  # upgraded
    try:
        async with db_a.read() as conn:
            assert await orgs.bot_of(conn, legacy.id) is None
            assert [r.id for r in await outbox.pending(conn, bot_id=B)] != []  # no bot: anyone's, until adopted
        with caplog.at_level(logging.WARNING, logger="services.outbox"):
            await run_as_bot(db_a, A)
        assert "adopted 1 organisation(s), 1 pending outbox row(s)" in caplog.text
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="services.outbox"):
            await run_as_bot(db_b, B)  # the second bot finds nothing left to adopt
        assert "adopted" not in caplog.text
        async with db_b.read() as conn:
            assert await orgs.bot_of(conn, legacy.id) == A
            assert await outbox.pending(conn, bot_id=B) == []
            assert [r.chat_id for r in await outbox.pending(conn, bot_id=A)] == [-5]
        async with db_b.read() as conn:  # the journal of handled updates was the legacy bot's too
            assert await updates.seen(conn, 7, A) and not await updates.seen(conn, 7, B)
        async with db_b.transaction() as conn:  # B's worker writes for the legacy organisation: A sends it
            await outbox.enqueue(conn, [row(-5, "新行", legacy.id)], now)
        assert (await bots_of_rows(db_b))["新行"] == A
    finally:
        await db_a.close()
        await db_b.close()


def test_bot_id_of_a_token() -> None:
    assert bot_id_of("123456:ABC-def") == 123456
    assert bot_id_of("not-a-token") == 0


async def test_update_ids_are_journaled_per_bot(dbs: Databases) -> None:
    """Each bot counts its own update ids: one bot's handled update 42 is not another's."""
    from services.clock import SimClock as Clock
    from services.updates import UpdateJournal

    location = await dbs("updates.db")
    db_a, db_b = await Database.open(location), await Database.open(location)
    try:
        db_a.set_bot(A)
        db_b.set_bot(B)
        journal_a, journal_b = UpdateJournal(db_a, Clock(START)), UpdateJournal(db_b, Clock(START))
        await journal_a.mark(42)
        assert await journal_a.seen(42)
        assert not await journal_b.seen(42)
        await journal_b.mark(42)
        assert await journal_b.seen(42)
    finally:
        await db_a.close()
        await db_b.close()
