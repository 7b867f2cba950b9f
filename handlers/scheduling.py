"""The scheduler tick: run every producer (reminders, trainings, tasks, reviews, reports), then
hand the outbox to the sender. In `run` the sender is a background loop that this wakes; in the
shell and the handler tests the outbox is drained right here, so `:advance` shows what fell due."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

log = logging.getLogger(__name__)
TICK_LOOP = "tick_loop"  # bot_data key of `run`'s TickLoop


async def scheduler_tick(app: Any) -> None:
    services = app.bot_data["services"]
    now = services.clock.now()
    services.health.ticked(now)
    for produce in services.producers:
        try:
            await produce(now)
        except Exception as exc:  # one broken producer must not stop the others
            log.exception("producer %r failed", produce)
            await services.alerts.error(exc, f"producer {_name(produce)}")
    if services.sender.background:
        services.sender.wake()
    else:
        await services.sender.drain(app.bot)


async def flush_after_update(update: object, context: Any) -> None:
    """After every update: what a handler put in the outbox (review requests, notes to the chair)
    goes out now instead of at the next tick."""
    services = context.application.bot_data["services"]
    loop = context.application.bot_data.get(TICK_LOOP)
    if loop is not None:
        loop.poke()
    if services.sender.background:
        services.sender.wake()
    else:
        await services.sender.drain(context.bot)


def _name(produce: Any) -> str:
    inner = getattr(produce, "func", produce)  # functools.partial
    owner = getattr(inner, "__self__", None)
    name = getattr(inner, "__name__", repr(inner))
    return f"{type(owner).__name__}.{name}" if owner is not None else name


async def next_due(services: Any, now: datetime, outbox: bool = True) -> datetime | None:
    """No later than the first moment after `now` at which a tick may do anything, given that one ran
    at `now`; `now` itself when that cannot be told (a producer without a wake-up, a row still in the
    outbox unless `outbox` is False: in `run` the sender is a loop of its own); None when nothing is
    ahead."""
    if len(services.wakeups) != len(services.producers) or (outbox and await services.sender.has_pending()):
        return now
    found = [moment for wakeup in services.wakeups if (moment := await wakeup(now)) is not None]
    return min(found, default=None)


class TickLoop:
    """`run`'s scheduler: a tick, then sleep until the producers' earliest next due time (never longer
    than `interval`, the old fixed tick), woken early by `poke` (after every update: a command may
    have written something due sooner, e.g. `/remind 1分钟后`). Due work is picked up on time, not on
    the next 20-second mark. A producer that cannot tell (`next_due` answers the tick's own time)
    gets the normal interval; ticks are at least `MIN_GAP` apart."""

    MIN_GAP = timedelta(seconds=1)

    def __init__(self, services: Any, tick: Callable[[], Awaitable[None]], interval: timedelta) -> None:
        self.services = services
        self.clock = services.clock
        self._tick = tick
        self.interval = interval
        self._poked = asyncio.Event()
        self.last: datetime | None = None  # when the last tick began
        self.deadline: datetime | None = None  # when the next one is to begin

    def poke(self) -> None:
        self._poked.set()

    async def tick(self) -> datetime:
        """Tick now; returns when the next one is due."""
        self._poked.clear()  # what was written before this tick is seen by it
        self.last = now = self.clock.now()
        try:
            await self._tick()
        finally:
            self.deadline = now + self.interval
        due = await self._due(now)
        if due is not None and due > now:
            self.deadline = max(min(due, self.deadline), now + self.MIN_GAP)
        return self.deadline

    async def poked(self) -> datetime:
        """Something was written: tick sooner if it falls due before the next tick."""
        assert self.last is not None and self.deadline is not None
        due = await self._due(self.last)
        if due is not None and due < self.deadline:
            self.deadline = max(due, self.last + self.MIN_GAP)
        return self.deadline

    async def _due(self, after: datetime) -> datetime | None:
        try:
            return await next_due(self.services, after, outbox=False)
        except Exception:
            log.exception("next due time not known: the normal interval")
            return None

    async def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True when poked meanwhile."""
        if not self._poked.is_set():
            try:
                await asyncio.wait_for(self._poked.wait(), timeout=seconds)
            except TimeoutError:
                return False
        self._poked.clear()
        return True

    async def run_forever(self) -> None:
        while True:
            try:
                deadline = await self.tick()
            except Exception:  # the tickers log their own failures; this keeps the loop alive
                log.exception("tick failed")
                deadline = self.clock.now() + self.interval
            while (left := (deadline - self.clock.now()).total_seconds()) > 0:
                if await self.wait(left):
                    deadline = await self.poked()
