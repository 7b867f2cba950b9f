"""Two `python -m bot run` workers on one PostgreSQL (issue #15): one is killed with -9 in the middle
of a burst of scheduled messages; the other takes the sender's lock over and sends the rest. Counted
at the HTTP stand-in for the Bot API: nothing lost, nothing sent twice beyond the message in flight.
Needs TEST_DATABASE_URL (.ci/run starts a server); skipped without it."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.outbox import Outgoing, verbatim
from storage import outbox
from storage.db import Database
from tests import pg_support
from tests.botapi_stub import BotApiStub
from tests.e2e_process import start_bot, stop_bot

pytestmark = [pytest.mark.e2e, pytest.mark.faults,
              pytest.mark.skipif(not pg_support.TEST_URL, reason=pg_support.NO_SERVER)]

TOKEN = "123456:E2E-PG-WORKERS"
BURST = 240  # one message to each of 240 private chats: about 8 s at 30 a second
KILL_AFTER = 80


@pytest.fixture
def stub() -> Iterator[BotApiStub]:
    with BotApiStub(TOKEN, enforce_limits=True) as server:
        yield server


@pytest.fixture
async def url() -> AsyncIterator[str]:
    found = await pg_support.create_database()
    yield found
    await pg_support.drop_database(found)


def burst_sends(stub: BotApiStub) -> Counter[tuple[int, str]]:
    return Counter((int(c.params["chat_id"]), str(c.params.get("text"))) for c in stub.calls
                   if c.method == "sendMessage" and c.status == 200
                   and str(c.params.get("text", "")).startswith("批量"))


async def sent_rows(url: str) -> set[tuple[int, str]]:
    """The burst's messages the outbox has marked sent."""
    db = await Database.open(url)
    async with db.read() as conn:
        cur = await conn.execute("SELECT chat_id FROM outbox WHERE status = 'sent'")
        chats = [int(r[0]) for r in await cur.fetchall()]
    await db.close()
    return {(chat, f"批量第{chat - 5000}条") for chat in chats}


def wait_sends(stub: BotApiStub, n: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(burst_sends(stub)) < n:
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {n} distinct messages, got {len(burst_sends(stub))}")
        time.sleep(0.05)


async def test_two_workers_one_killed_mid_burst_lose_nothing_and_repeat_at_most_the_one_in_flight(
        stub: BotApiStub, url: str, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[scheduler]\ntick_seconds = 1\n[backup]\ntime = \"\"\n", encoding="utf-8")
    db = await Database.open(url)
    async with db.transaction() as conn:
        await outbox.enqueue(conn, [Outgoing(5000 + i, "outbox.verbatim", verbatim(f"批量第{i}条"))
                                    for i in range(BURST)], datetime.now(UTC))
    await db.close()

    first = await asyncio.to_thread(start_bot, stub, url, TOKEN, config)
    try:
        await asyncio.to_thread(wait_sends, stub, 5, 30)  # the first worker holds the sender's lock
        second = await asyncio.to_thread(start_bot, stub, url, TOKEN, config)
    except BaseException:
        await asyncio.to_thread(stop_bot, first)
        raise
    try:
        await asyncio.to_thread(wait_sends, stub, KILL_AFTER, 60)
        first.kill()  # kill -9 in the middle of the burst
        await asyncio.to_thread(first.communicate, timeout=30)
        await asyncio.sleep(0.05)  # a request the stand-in was still answering is counted too
        accepted = set(burst_sends(stub))
        recorded = await sent_rows(url)  # before the second worker takes over (it waits for its tick)
        in_flight = accepted - recorded  # accepted by "Telegram", not yet marked sent when it died
        killed_at = len(accepted)
        assert killed_at < BURST  # it did die mid-burst
        await asyncio.to_thread(wait_sends, stub, BURST, 120)  # the second worker sends the rest
        await asyncio.sleep(3)  # a few more ticks of the second worker: nothing more goes out
    finally:
        await asyncio.to_thread(stop_bot, second)
    sends = burst_sends(stub)
    expected = {(5000 + i, f"批量第{i}条") for i in range(BURST)}
    lost = expected - set(sends)
    repeated = sum(n - 1 for n in sends.values())
    print(f"pg workers burst={BURST} killed_after={killed_at} in_flight={len(in_flight)} lost={len(lost)}"
          f" repeated={repeated}")
    assert not lost
    # Repeated: only what was in flight when the worker died (sent, its "sent" not yet written).
    assert {m for m, n in sends.items() if n > 1} <= in_flight
    assert repeated <= 1  # one send in flight at a time while Telegram answers fast (telegram.max_in_flight)
    assert stub.send_rate_violations() == 0
    db = await Database.open(url)
    async with db.read() as conn:
        assert await outbox.count(conn, "sent") == BURST
    await db.close()
