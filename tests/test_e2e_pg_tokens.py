"""Two bots (two tokens) on one PostgreSQL (issue #15): each `python -m bot run` sends only its own
organisations' rows (and rows of no bot), through its own Bot API stand-in. Needs TEST_DATABASE_URL
(.ci/run starts a server); skipped without it."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.outbox import Outgoing, verbatim
from storage import orgs, outbox
from storage.db import Database
from tests import pg_support
from tests.botapi_stub import BotApiStub
from tests.e2e_process import start_bot, stop_bot

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(not pg_support.TEST_URL, reason=pg_support.NO_SERVER)]

A, B = 111111, 222222
TOKEN_A, TOKEN_B = f"{A}:E2E-TOKEN-A", f"{B}:E2E-TOKEN-B"
EACH = 20


@pytest.fixture
def stubs() -> Iterator[tuple[BotApiStub, BotApiStub]]:
    with BotApiStub(TOKEN_A, bot_id=A, bot_username="bot_a") as a, \
            BotApiStub(TOKEN_B, bot_id=B, bot_username="bot_b") as b:
        yield a, b


@pytest.fixture
async def url() -> AsyncIterator[str]:
    found = await pg_support.create_database()
    yield found
    await pg_support.drop_database(found)


def sends(stub: BotApiStub) -> Counter[tuple[int, str]]:
    return Counter((int(c.params["chat_id"]), str(c.params.get("text"))) for c in stub.calls
                   if c.method == "sendMessage" and c.status == 200 and str(c.params.get("text", "")).startswith("村"))


def wait_for(stubs: tuple[BotApiStub, BotApiStub], n: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while sum(len(sends(s)) for s in stubs) < n:
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {n} messages, got {[len(sends(s)) for s in stubs]}")
        time.sleep(0.05)


async def test_each_bot_sends_its_own_organisations_rows(stubs: tuple[BotApiStub, BotApiStub], url: str,
                                                         tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[scheduler]\ntick_seconds = 1\n[backup]\ntime = \"\"\n", encoding="utf-8")
    now = datetime.now(UTC)
    rows: list[Outgoing] = []
    db = await Database.open(url)
    for bot, name, base in ((A, "甲村妇联", 6000), (B, "乙村妇联", 7000)):
        db.set_bot(bot)  # as if set up through that bot
        async with db.transaction() as conn:
            org = await orgs.create(conn, name, 1, now)
        rows += [Outgoing(base + i, "outbox.verbatim", verbatim(f"村{bot}第{i}条"), org_id=org.id) for i in range(EACH)]
    db.set_bot(None)
    async with db.transaction() as conn:  # written by a tool: no bot, the first bot to start adopts it
        await outbox.enqueue(conn, [*rows, Outgoing(8000, "outbox.verbatim", verbatim("村无主"))], now)
    await db.close()

    stub_a, stub_b = stubs
    first = await asyncio.to_thread(start_bot, stub_a, url, TOKEN_A, config)
    try:
        second = await asyncio.to_thread(start_bot, stub_b, url, TOKEN_B, config)
        try:
            await asyncio.to_thread(wait_for, stubs, 2 * EACH + 1, 60)
            await asyncio.sleep(2)  # a few more ticks: nothing more goes out
        finally:
            await asyncio.to_thread(stop_bot, second)
    finally:
        await asyncio.to_thread(stop_bot, first)
    assert set(sends(stub_a)) == {(6000 + i, f"村{A}第{i}条") for i in range(EACH)} | {(8000, "村无主")}
    assert set(sends(stub_b)) == {(7000 + i, f"村{B}第{i}条") for i in range(EACH)}
    assert all(n == 1 for s in stubs for n in sends(s).values())
    assert not [c for s in stubs for c in s.calls if not c.token_ok]
