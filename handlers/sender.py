"""The one outgoing queue for scheduled traffic: drains the outbox within Telegram's limits.

Every row is rendered from the locale at send time, sent, and marked sent only after Telegram
accepted it (a crash in between repeats that one message on the next start; none is lost).

Pacing (`Pacer`): about 30 messages a second in all (an even spacing plus a sliding window of the
last 30 sends, judged from their completion, so no one-second window at the server ever holds more
than 30 whatever the network jitter), 20 a minute into one group and one a second into one private
chat. Chats are served concurrently (each chat's messages in order).
A 429 RetryAfter pauses all sending for the time Telegram asks and the message is retried; network
errors and timeouts are retried with backoff; permanent errors (blocked, chat not found, kicked) try
the row's fallback chat, else mark the row failed, log it and tell the organisation's chair.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut

from handlers.common import split_text
from handlers.i18n import t
from services.clock import Clock
from services.outbox import Body, Outgoing, decode_body
from services.roster import RosterService
from storage import outbox
from storage.db import Database
from storage.outbox import OutboxRow

log = logging.getLogger(__name__)

GLOBAL_PER_SECOND = 30
GROUP_PER_MINUTE = 20
PRIVATE_INTERVAL = 1.0
WINDOW_MARGIN = 0.02  # seconds added to each sliding window, against clock jitter at the server
MAX_ATTEMPTS = 8
MAX_BACKOFF = 60.0
LANES = 32  # chats served at the same time


class _Window:
    """At most `limit` sends in any `width` seconds, judged safely without seeing the server's
    clock: a new send starts only once the send `limit` places back has COMPLETED and `width` has
    passed since (its arrival lies before its completion, ours after our start)."""

    def __init__(self, limit: int, width: float) -> None:
        self.limit = limit
        self.width = width
        self.slots: deque[asyncio.Future[float]] = deque()

    async def wait_turn(self, pacer: Pacer) -> None:
        while len(self.slots) >= self.limit:
            oldest = self.slots[0]
            done_at = await asyncio.shield(oldest)
            await pacer._wait_until(done_at + self.width + WINDOW_MARGIN)
            if self.slots and self.slots[0] is oldest:
                self.slots.popleft()

    def take(self) -> asyncio.Future[float]:
        slot: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.slots.append(slot)
        return slot


@dataclass
class Pacer:
    """Waits before each send so the limits hold: an even spacing of 1/30 s plus sliding windows
    (30 a second overall, 20 a minute per group, 1 a second per private chat). Use
    `async with pacer.slot(chat_id): <send>`. `now`/`sleep` are injectable for tests."""

    per_second: int = GLOBAL_PER_SECOND
    group_per_minute: int = GROUP_PER_MINUTE
    private_interval: float = PRIVATE_INTERVAL
    enabled: bool = True
    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep
    _next_slot: float = 0.0
    _paused_until: float = 0.0
    _global: _Window | None = None
    _chats: dict[int, _Window] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def _wait_until(self, moment: float) -> None:
        delay = moment - self.now()
        if delay > 0:
            await self.sleep(delay)

    def pause(self, seconds: float) -> None:
        """After a 429: nobody sends for `seconds`."""
        self._paused_until = max(self._paused_until, self.now() + seconds)

    def _chat_window(self, chat_id: int) -> _Window:
        window = self._chats.get(chat_id)
        if window is None:
            window = _Window(self.group_per_minute, 60.0) if chat_id < 0 else _Window(1, self.private_interval)
            self._chats[chat_id] = window
        return window

    @contextlib.asynccontextmanager
    async def slot(self, chat_id: int) -> AsyncIterator[None]:
        if not self.enabled:
            yield
            return
        chat = self._chat_window(chat_id)
        await chat.wait_turn(self)  # outside the global lock: a busy group does not hold up others
        chat_slot = chat.take()
        try:
            async with self._lock:
                if self._global is None:
                    self._global = _Window(self.per_second, 1.0)
                await self._wait_until(max(self._paused_until, self._next_slot))
                await self._global.wait_turn(self)
                await self._wait_until(self._paused_until)
                global_slot = self._global.take()
                self._next_slot = max(self._next_slot, self.now()) + 1.0 / self.per_second
        except BaseException:
            chat_slot.set_result(self.now())
            raise
        try:
            yield
        finally:
            done = self.now()
            chat_slot.set_result(done)
            global_slot.set_result(done)
        if len(self._chats) > 10_000:
            self._forget_idle_chats()

    def _forget_idle_chats(self) -> None:
        now = self.now()
        for key, window in list(self._chats.items()):
            if all(f.done() and now - f.result() > window.width for f in window.slots):
                del self._chats[key]


def render(row_lang: str | None, body: Body) -> tuple[str, InlineKeyboardMarkup | None]:
    text = t(row_lang, body.key, **body.params)  # nested texts in params are rendered by t()
    keyboard = None
    if body.buttons:
        keyboard = InlineKeyboardMarkup(
            [[InlineKeyboardButton(t(row_lang, label), callback_data=data) for label, data in row]
             for row in body.buttons]
        )
    return text, keyboard


class OutboxSender:
    def __init__(self, db: Database, clock: Clock, roster: RosterService, pacer: Pacer | None = None) -> None:
        self.db = db
        self.clock = clock
        self.roster = roster
        self.pacer = pacer or Pacer(enabled=False)
        self.background = False
        self._wake = asyncio.Event()
        self._draining = asyncio.Lock()
        self.sent_count = 0
        self.max_attempts = MAX_ATTEMPTS
        self.first_backoff = 1.0

    def wake(self) -> None:
        self._wake.set()

    async def run_forever(self, bot: Bot, idle: float) -> None:
        """The background loop of `run`: drain, then sleep until woken or `idle` seconds pass."""
        self.background = True
        while True:
            try:
                await self.drain(bot)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox drain failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=idle)

    async def drain(self, bot: Bot) -> int:
        """Send every pending row (rows added meanwhile too); returns how many were sent."""
        async with self._draining:
            total = 0
            last_id = 0
            while True:
                async with self.db.read() as conn:
                    rows = await outbox.pending(conn, limit=5000, after_id=last_id)
                if not rows:
                    return total
                last_id = rows[-1].id
                lanes: dict[int, list[OutboxRow]] = {}
                for row in rows:
                    lanes.setdefault(row.chat_id, []).append(row)
                gate = asyncio.Semaphore(LANES)
                results = await asyncio.gather(*(self._lane(bot, gate, lane) for lane in lanes.values()))
                total += sum(results)

    async def _lane(self, bot: Bot, gate: asyncio.Semaphore, rows: list[OutboxRow]) -> int:
        """One chat's rows, in order. A row that must wait (network trouble) holds back the rest of
        its chat until the next drain, so a chat never sees its messages out of order."""
        async with gate:
            sent = 0
            for row in rows:
                outcome = await self._deliver(bot, row)
                if outcome == "sent":
                    sent += 1
                elif outcome == "retry":
                    break
            return sent

    async def _lang(self, chat_id: int, row_lang: str | None) -> str | None:
        if row_lang:
            return row_lang
        return await self.roster.lang_for(chat_id, chat_id if chat_id > 0 else None, chat_id > 0)

    async def _deliver(self, bot: Bot, row: OutboxRow) -> str:
        """'sent', 'failed' (given up: marked, chair told) or 'retry' (left pending for later)."""
        body = decode_body(row.body)
        targets = [row.chat_id] + ([row.fallback_chat_id] if row.fallback_chat_id else [])
        error = ""
        for chat_id in targets:
            try:
                lang = await self._lang(chat_id, row.lang)
                text, keyboard = render(lang, body)
            except (KeyError, ValueError, IndexError) as exc:  # a bad row must not block the queue
                log.error("outbox row %s cannot be rendered: %r", row.id, exc)
                await self._finish(row, f"render: {exc!r}")
                return "failed"
            outcome = await self._send_with_retry(bot, chat_id, text, keyboard)
            if outcome == "sent":
                async with self.db.transaction() as conn:
                    await outbox.mark_sent(conn, row.id, self.clock.now())
                self.sent_count += 1
                return "sent"
            if outcome == "retry_later":
                return "retry"
            error = outcome
        await self._finish(row, error)
        await self._tell_chair(row, error)
        return "failed"

    async def _finish(self, row: OutboxRow, error: str) -> None:
        log.warning("outbox row %s to %s given up: %s", row.id, row.chat_id, error)
        async with self.db.transaction() as conn:
            await outbox.mark_failed(conn, row.id, error, self.clock.now())

    async def _tell_chair(self, row: OutboxRow, error: str) -> None:
        if row.org_id is None or decode_body(row.body).key == "outbox.undeliverable":
            return
        chairs = [m for m in await self.roster.org_members(row.org_id) if m.role == "chair" and m.user_id]
        work = await self.roster.work_chat(row.org_id)
        note = [Outgoing(c.user_id, "outbox.undeliverable", {"chat": str(row.chat_id)}, org_id=row.org_id,
                         fallback_chat_id=work, dedupe=f"undeliverable:{row.id}:{c.user_id}")
                for c in chairs if c.user_id is not None and c.user_id != row.chat_id]
        if not note and work is not None and work != row.chat_id:
            note = [Outgoing(work, "outbox.undeliverable", {"chat": str(row.chat_id)}, org_id=row.org_id,
                             dedupe=f"undeliverable:{row.id}:work")]
        if note:
            async with self.db.transaction() as conn:
                await outbox.enqueue(conn, note, self.clock.now())

    async def _send_with_retry(self, bot: Bot, chat_id: int, text: str,
                               keyboard: InlineKeyboardMarkup | None) -> str:
        """'sent', 'retry_later' (transient trouble outlasted the attempts), or a permanent error."""
        parts = split_text(text)
        done = 0
        backoff = self.first_backoff
        attempts = 0
        while done < len(parts):
            try:
                async with self.pacer.slot(chat_id):
                    await bot.send_message(
                        chat_id, parts[done], parse_mode=ParseMode.HTML,
                        reply_markup=keyboard if done == len(parts) - 1 else None,
                    )
                done += 1
                attempts = 0
                backoff = self.first_backoff
            except RetryAfter as exc:
                wait = exc.retry_after.total_seconds() if hasattr(exc.retry_after, "total_seconds") \
                    else float(exc.retry_after)
                log.info("429 from Telegram for %s: waiting %.1f s", chat_id, wait)
                self.pacer.pause(wait)
                if not self.pacer.enabled:
                    await asyncio.sleep(min(wait, 1.0))
            except ChatMigrated as exc:
                chat_id = exc.new_chat_id
            except Forbidden as exc:
                return f"forbidden: {exc.message}"
            except BadRequest as exc:
                return f"bad request: {exc.message}"
            except (TimedOut, NetworkError) as exc:
                attempts += 1
                if attempts >= self.max_attempts:
                    log.warning("giving up for now on %s after %d attempts: %s", chat_id, attempts, exc)
                    return "retry_later"
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
        return "sent"
