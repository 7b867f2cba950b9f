"""Clocks: the real one, and a simulated one the shell and tests move by hand."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current moment, timezone-aware (UTC)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SimClock:
    """A clock that stands still until `advance` moves it."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("SimClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("time only moves forward")
        self._now += delta
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment.astimezone(UTC)


def next_local(now: datetime, at: time, tz: tzinfo) -> datetime:
    """The first moment after `now` whose local time (in `tz`) is `at`."""
    day = now.astimezone(tz).date()
    moment = datetime.combine(day, at, tz)
    return moment if moment > now else datetime.combine(day + timedelta(days=1), at, tz)
