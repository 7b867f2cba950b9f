"""The scheduler tick: run every producer (reminders, trainings, tasks, reviews, reports), then
hand the outbox to the sender. In `run` the sender is a background loop that this wakes; in the
shell and the handler tests the outbox is drained right here, so `:advance` shows what fell due."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

log = logging.getLogger(__name__)


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
    if services.sender.background:
        services.sender.wake()
    else:
        await services.sender.drain(context.bot)


def _name(produce: Any) -> str:
    inner = getattr(produce, "func", produce)  # functools.partial
    owner = getattr(inner, "__self__", None)
    name = getattr(inner, "__name__", repr(inner))
    return f"{type(owner).__name__}.{name}" if owner is not None else name


async def next_due(services: Any, now: datetime) -> datetime | None:
    """No later than the first moment after `now` at which a tick may do anything, given that one ran
    at `now`; `now` itself when that cannot be told (a producer without a wake-up, a row still in the
    outbox); None when nothing is ahead."""
    if len(services.wakeups) != len(services.producers) or await services.sender.has_pending():
        return now
    found = [moment for wakeup in services.wakeups if (moment := await wakeup(now)) is not None]
    return min(found, default=None)
