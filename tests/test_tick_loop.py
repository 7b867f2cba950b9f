"""`run`'s scheduler loop (handlers/scheduling.TickLoop): it ticks at the producers' next due time
(at most the interval apart), and an update that writes something due sooner wakes it."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import from_mapping
from bot.demo import load_world
from handlers.scheduling import TICK_LOOP, TickLoop
from storage.models import to_db
from tests.harness import WORK, Harness, make_harness

pytestmark = pytest.mark.handler


def _loop(h: Harness, seconds: float) -> TickLoop:
    async def tick() -> None:
        await h.tick()

    loop = TickLoop(h.services, tick, timedelta(seconds=seconds))
    h.app.bot_data[TICK_LOOP] = loop  # what `run` does: every update pokes it
    return loop


def _reminder_sent(h: Harness, what: str, after: int) -> bool:
    return any(c.method == "sendMessage" and what in str(c.params.get("text", "")) for c in h.api.calls[after:])


async def _run_by_hand(h: Harness, loop: TickLoop, deadline: datetime, what: str, ticks: int = 20) -> datetime:
    """What run_forever does, on the simulated clock: sleep to the deadline, tick. When `what` was sent."""
    for _ in range(ticks):
        h.clock.advance(max(deadline - h.clock.now(), timedelta(0)))
        mark = len(h.api.calls)
        deadline = await loop.tick()
        if _reminder_sent(h, what, mark):
            return h.clock.now()
    raise AssertionError(f"{what} not sent in {ticks} ticks")


async def test_a_reminder_goes_out_at_its_time_not_at_the_next_20_second_mark(h: Harness) -> None:
    loop = _loop(h, 20)
    deadline = await loop.tick()
    assert deadline == h.clock.now() + timedelta(seconds=20)  # nothing due sooner: the interval
    h.clock.advance(timedelta(seconds=13))
    assert "提醒编号" in await h.say(WORK, "王芳", "/remind 1分钟后 交材料")
    due = h.clock.now() + timedelta(minutes=1)
    assert await loop.wait(0)  # the update poked the loop
    assert await loop.poked() == deadline  # not sooner than the tick already planned
    sent = await _run_by_hand(h, loop, deadline, "交材料")
    assert sent == due  # a 20-second tick would have sent it 7 s late (at +80 s)


async def test_an_update_that_writes_something_due_sooner_wakes_the_loop(tmp_path: Path) -> None:
    world = load_world()
    cfg = from_mapping({"admins": {"super_admins": world.super_admins}, "scheduler": {"tick_seconds": 600}}, env={})
    h = await make_harness(tmp_path, config=cfg)
    try:
        loop = _loop(h, 600)
        await loop.tick()
        h.clock.advance(timedelta(minutes=30))
        await loop.tick()  # 09:30: nothing due before the nudge at 10:00 …
        assert loop.deadline == h.clock.now() + timedelta(minutes=10)  # … so the interval
        h.clock.advance(timedelta(seconds=5))
        assert "提醒编号" in await h.say(WORK, "王芳", "/remind 1分钟后 交材料")
        assert await loop.wait(0)
        deadline = await loop.poked()
        assert deadline == h.clock.now() + timedelta(minutes=1)  # the reminder's time
        assert await _run_by_hand(h, loop, deadline, "交材料", ticks=1) == deadline
    finally:
        await h.app.shutdown()
        await h.db.close()


async def test_a_producer_that_cannot_tell_gets_the_interval(h: Harness) -> None:
    """A wake-up answering the tick's own time (e.g. the stuck-outbox watch) does not spin the loop."""
    loop = _loop(h, 20)

    async def cannot_tell(now: datetime) -> datetime:
        return now

    h.services.wakeups[0] = cannot_tell
    assert await loop.tick() == h.clock.now() + timedelta(seconds=20)


async def test_the_real_loop_sends_a_reminder_within_a_second_of_its_time(h: Harness) -> None:
    """run_forever on real time (the simulated clock follows the wall clock): the tick interval is
    20 s, the reminder is due 1.5 s after the poke and goes out on time."""
    base, started = h.clock.now(), time.monotonic()
    h.clock.now = lambda: base + timedelta(seconds=time.monotonic() - started)  # type: ignore[method-assign]
    loop = _loop(h, 20)
    task = asyncio.create_task(loop.run_forever())
    try:
        await asyncio.sleep(0.3)  # the first tick
        assert "提醒编号" in await h.say(WORK, "王芳", "/remind 1分钟后 交材料")  # pokes the loop
        due = (h.clock.now() + timedelta(seconds=2)).replace(microsecond=0)
        async with h.db.transaction() as conn:
            await conn.execute("UPDATE reminders SET next_at = ? WHERE text = '交材料'", (to_db(due),))
        loop.poke()  # as the update that wrote it would
        mark = len(h.api.calls)
        while not _reminder_sent(h, "交材料", mark):
            assert h.clock.now() < due + timedelta(seconds=5), "not sent"
            await asyncio.sleep(0.05)
        late = h.clock.now() - due
        assert timedelta(0) <= late < timedelta(seconds=1)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert loop.last is not None and loop.last.astimezone(UTC) >= due
