"""The one outgoing queue for scheduled traffic: drains the outbox within Telegram's limits.

Every row is rendered from the locale at send time, sent, and marked sent only after Telegram
accepted it (a crash in between repeats that one message on the next start; none is lost).

Pacing (`Pacer`, the Application's rate limiter `PacingLimiter` in production, so replies and
scheduled sends share it): about 30 messages a second in all, 20 a minute into one group and one a
second into one private chat, counted from when each send starts; the group windows survive a restart
(`storage.send_journal`). Chats are served concurrently (each chat's messages in order).
A 429 RetryAfter pauses all sending for the time Telegram asks and the message is retried; network
errors and timeouts are retried with backoff; permanent errors (blocked, chat not found, kicked) try
the row's fallback chat, else mark the row failed, log it and tell the organisation's chair.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections import Counter, OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import httpx
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram._utils.types import JSONDict, ODVInput
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.ext import BaseRateLimiter
from telegram.request import BaseRequest, HTTPXRequest, RequestData

from handlers.common import split_text
from handlers.i18n import has, t
from services import fmt
from services.clock import Clock
from services.outbox import ON_TIME_SLACK, UNCERTAIN_OUTCOMES, Body, Outgoing, decode_body, text
from services.roster import RosterService
from storage import outbox
from storage.db import Database, writing_now
from storage.outbox import OutboxRow
from storage.send_journal import SendJournal

log = logging.getLogger(__name__)

GLOBAL_PER_SECOND = 30
GROUP_PER_MINUTE = 20
PRIVATE_INTERVAL = 1.0
WINDOW_MARGIN = 0.02  # seconds added to the one-second windows, against clock jitter at the server
# Seconds added to a group's minute: Telegram counts a send when it arrives, and arrivals are not
# spaced like starts (a cold first connection or a busy machine delays one arrival more than another:
# in CI a restarted bot's 21st reply into a group, started 60.02 s after the 1st, was answered 429).
# 1 s of 60 costs under 2% of a busy group's throughput.
GROUP_WINDOW_MARGIN = 1.0
MAX_ATTEMPTS = 8
MAX_BACKOFF = 60.0
LANES = 32  # chats served at the same time
FINISHED_KEPT = 10_000  # ids of rows lately sent or given up, remembered against a stale read


class _Window:
    """At most `limit` sends started in any `width` seconds (plus `margin` against jitter between a
    send's start and its arrival): the start times of the last `limit` sends."""

    def __init__(self, limit: int, width: float, margin: float = WINDOW_MARGIN) -> None:
        self.limit = limit
        self.width = width
        self.margin = margin
        self.starts: deque[float] = deque()

    def ready_at(self) -> float:
        if len(self.starts) < self.limit:
            return float("-inf")
        return self.starts[-self.limit] + self.width + self.margin

    def take(self, at: float) -> None:
        self.starts.append(at)
        while len(self.starts) > self.limit:
            self.starts.popleft()


class InFlight:
    """How many outbox sends may be in flight at once: started, and their "sent" not yet written.
    Each is a message a worker killed at that moment would send again, so there are only as many as
    needed: `fixed` (> 0) pins the number; 0 (auto) keeps Telegram's `per_second` at the measured
    time from a send's start to its record (round trip and commit), with some headroom: 1 while
    that is under about 20 ms."""

    SMOOTHING = 0.3
    HEADROOM = 1.5  # against jitter: one more in flight once a send's hold nears 1/30 s

    def __init__(self, fixed: int = 0, per_second: int = GLOBAL_PER_SECOND, ceiling: int = LANES,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.fixed = fixed
        self.per_second = per_second
        self.ceiling = ceiling
        self.now = now
        self.busy = 0
        self.most_busy = 0  # the most ever in flight at once (tests, benchmarks)
        self.hold = 0.0  # smoothed seconds from a send's start to its record
        self._waiting: list[asyncio.Future[None]] = []

    @property
    def limit(self) -> int:
        if self.fixed > 0:
            return self.fixed
        return max(1, min(self.ceiling, math.ceil(self.hold * self.per_second * self.HEADROOM)))

    async def acquire(self) -> None:
        while self.busy >= self.limit:
            turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting.append(turn)
            try:
                await turn
            finally:
                if turn in self._waiting:
                    self._waiting.remove(turn)
        self.busy += 1
        self.most_busy = max(self.most_busy, self.busy)

    def release(self, started: float | None) -> None:
        self.busy -= 1
        if started is not None:
            held = max(0.0, self.now() - started)
            self.hold = held if self.hold == 0.0 else self.hold + self.SMOOTHING * (held - self.hold)
        waiting, self._waiting = self._waiting, []
        for turn in waiting:  # all look again: the limit may have changed too
            if not turn.done():
                turn.set_result(None)


@dataclass
class InFlightTicket:
    """One outbox row's place among the sends in flight, taken by the pacer right before the send
    starts (not while it waits for a chat's window) and given back once the row's outcome is written,
    or as soon as an attempt certainly failed (nothing arrived, nothing can repeat)."""

    gate: InFlight
    started: float | None = None
    held: bool = False

    async def take(self) -> None:
        if not self.held:
            await self.gate.acquire()
            self.held = True

    def release(self) -> None:
        if self.held:
            self.held = False
            self.gate.release(self.started)
            self.started = None


# The ticket of the outbox row being sent in this task (set by OutboxSender._deliver; the pacer takes
# it right before the send starts).
IN_FLIGHT: ContextVar[InFlightTicket | None] = ContextVar("in_flight", default=None)


@dataclass
class Pacer:
    """Waits before each send so Telegram's limits hold, counted from when each send starts: an even
    spacing of 1/30 s and sliding windows (30 a second overall, 20 a minute per group, 1 a second per
    private chat); after a 429 nobody sends until its retry_after has passed. Use
    `async with pacer.slot(chat_id): <send>`. With a `journal`, every group send is written down before
    it starts and `preload` rebuilds the windows after a restart. `now`/`sleep` are injectable."""

    per_second: int = GLOBAL_PER_SECOND
    group_per_minute: int = GROUP_PER_MINUTE
    private_interval: float = PRIVATE_INTERVAL
    enabled: bool = True
    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep
    wall: Callable[[], float] = time.time
    journal: SendJournal | None = None
    _next_slot: float = float("-inf")
    _paused_until: float = float("-inf")
    _global: _Window = field(init=False)
    _chats: dict[int, _Window] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self._global = _Window(self.per_second, 1.0)

    async def _wait_until(self, moment: float) -> None:
        delay = moment - self.now()
        if delay > 0:
            await self.sleep(delay)

    def pause(self, seconds: float) -> None:
        """After a 429: nobody starts a send for `seconds`."""
        self._paused_until = max(self._paused_until, self.now() + seconds)

    @property
    def paused_until(self) -> float:
        return self._paused_until

    def preload(self, sends: list[tuple[int, float]]) -> None:
        """Windows as they were: (chat id, wall-clock start) of recent sends, e.g. from the journal."""
        offset = self.now() - self.wall()
        for chat_id, at in sorted(sends, key=lambda s: s[1]):
            self._chat_window(chat_id).take(at + offset)

    def _chat_window(self, chat_id: int) -> _Window:
        window = self._chats.get(chat_id)
        if window is None:
            window = (_Window(self.group_per_minute, 60.0, GROUP_WINDOW_MARGIN) if chat_id < 0
                      else _Window(1, self.private_interval))
            self._chats[chat_id] = window
        return window

    @contextlib.asynccontextmanager
    async def slot(self, chat_id: int) -> AsyncIterator[None]:
        ticket = IN_FLIGHT.get()
        if not self.enabled:
            if ticket is not None:
                await ticket.take()
                ticket.started = ticket.started or self.now()
            with _give_back_on_failure(ticket):
                yield
            return
        chat = self._chat_window(chat_id)
        while True:
            await self._wait_until(chat.ready_at())  # outside the lock: a busy group holds up nobody
            if ticket is not None:
                await ticket.take()  # outside the lock too: the sends in flight finish without it
            async with self._lock:
                if chat.ready_at() > self.now():
                    continue  # another send into this chat took the turn meanwhile
                while (moment := max(self._paused_until, self._next_slot, self._global.ready_at())) > self.now():
                    await self._wait_until(moment)  # a 429 may extend the pause meanwhile: look again
                started = self.now()
                self._global.take(started)
                chat.take(started)
                self._next_slot = started + 1.0 / self.per_second
                if self.journal is not None and chat_id < 0:
                    self.journal.record(chat_id, self.wall())
                if ticket is not None and ticket.started is None:
                    ticket.started = started
                break
        with _give_back_on_failure(ticket):
            yield
        if len(self._chats) > 10_000:
            self._forget_idle_chats()

    def _forget_idle_chats(self) -> None:
        now = self.now()
        for key, window in list(self._chats.items()):
            if not window.starts or now - window.starts[-1] > window.width + window.margin:
                del self._chats[key]


@contextlib.contextmanager
def _give_back_on_failure(ticket: InFlightTicket | None) -> Iterator[None]:
    """An attempt that certainly failed (an error answer, refused) leaves nothing to repeat: its row
    gives its place back while it waits to try again. No answer at all keeps the place."""
    try:
        yield
    except Exception as exc:
        if ticket is not None and classify(exc) not in UNCERTAIN_OUTCOMES:
            ticket.release()
        raise


# The outcomes of the attempts of the send under way (set by the outbox around one send; the rate
# limiter appends one outcome per attempt it makes, so the row records every attempt).
ATTEMPT_LOG: ContextVar[list[str] | None] = ContextVar("attempt_log", default=None)


def classify(exc: BaseException | None) -> str:
    """One attempt's outcome (see services.outbox.UNCERTAIN_OUTCOMES): 'timeout' and 'cut' mean the
    request went out and no answer came back, so Telegram may have delivered it."""
    if exc is None:
        return "ok"
    if isinstance(exc, RetryAfter):
        return "429"
    if isinstance(exc, Forbidden):
        return "forbidden"
    if isinstance(exc, ChatMigrated):
        return "migrated"
    if isinstance(exc, BadRequest):
        return "bad_request"
    if isinstance(exc, InvalidToken):
        return "invalid_token"
    cause = exc.__cause__
    if isinstance(cause, httpx.PoolTimeout | httpx.ConnectTimeout | httpx.ConnectError):
        return "refused"  # never left this machine (or never reached Telegram)
    if isinstance(exc, TimedOut):
        return "timeout"
    if isinstance(exc, NetworkError):
        return "cut" if isinstance(cause, httpx.HTTPError) else "5xx"
    return "error"


def _note_attempt(outcome: str) -> None:
    attempts = ATTEMPT_LOG.get()
    if attempts is not None:
        attempts.append(outcome)


# Endpoints that put something into a chat and count against Telegram's limits.
PACED_PREFIXES = ("send", "edit", "copy", "forward", "pin", "unpin", "delete", "set_message_reaction")
LIMITER_RETRIES = 4
LIMITER_FIRST_BACKOFF = 0.5


def _chat_key(chat: Any) -> int:
    try:
        return int(chat)
    except (TypeError, ValueError):
        return -abs(hash(str(chat))) - 1  # @channelusername: paced like a group


def _seconds(retry_after: Any) -> float:
    return float(retry_after.total_seconds()) if hasattr(retry_after, "total_seconds") else float(retry_after)


class PacingLimiter(BaseRateLimiter[None]):
    """The Application's rate limiter: every request that puts something into a chat (replies,
    the outbox's notices, files, edits) goes through the one `Pacer`. A 429 pauses all sending for its
    retry_after (Telegram does not say which limit was hit) and the request is repeated; 5xx and
    network errors are repeated with backoff and jitter (a timed-out send may have been delivered:
    logged as a possible duplicate). Other requests (getUpdates, answerCallbackQuery …) pass through."""

    def __init__(self, pacer: Pacer, retries: int = LIMITER_RETRIES,
                 first_backoff: float = LIMITER_FIRST_BACKOFF) -> None:
        self.pacer = pacer
        self.retries = retries
        self.first_backoff = first_backoff
        self.possible_duplicates = 0
        self.outage_started: float | None = None  # monotonic time of the first failure in a row
        self.outage_failures = 0
        self.outcomes: Counter[str] = Counter()  # every paced attempt, by outcome
        self.listener: Callable[[str], None] | None = None  # told every outcome (services.health)

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        if self.pacer.journal is not None:
            self.pacer.journal.close()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | JSONDict | list[JSONDict]:
        if writing_now():  # the tests refuse this (bot/fake_api.py); in production it is only slow
            log.warning("%s called while a command's unit of work holds the database writer", endpoint)
        chat = data.get("chat_id")
        paced = chat is not None and endpoint.lower().startswith(PACED_PREFIXES)
        if not paced:  # polls for updates never come here (PTB sends them around the limiter)
            return await callback(*args, **kwargs)
        attempt = 0
        while True:
            try:
                async with self.pacer.slot(_chat_key(chat)):
                    result = await callback(*args, **kwargs)
                self._count("ok")
                self._reachable()
                return result
            except RetryAfter as exc:
                self._count("429")
                wait = _seconds(exc.retry_after)
                log.warning("429 on %s to %s: all sending paused for %.1f s", endpoint, chat, wait)
                self.pacer.pause(wait)
                if attempt >= self.retries:
                    raise
            except (BadRequest, Forbidden, ChatMigrated, InvalidToken) as exc:
                self._count(classify(exc))
                raise
            except (TimedOut, NetworkError) as exc:
                outcome = classify(exc)
                self._count(outcome)
                if outcome in UNCERTAIN_OUTCOMES:
                    self.possible_duplicates += 1
                    log.warning("%s to %s got no answer (%s): it may have been delivered, a repeat may "
                                "double it", endpoint, chat, outcome)
                if attempt >= self.retries:
                    raise
                self._outage(exc)
                delay = self.first_backoff * (2**attempt) * random.uniform(0.5, 1.5)
                await asyncio.sleep(delay)
            attempt += 1

    def _count(self, outcome: str) -> None:
        self.outcomes[outcome] += 1
        _note_attempt(outcome)
        if self.listener is not None:
            self.listener(outcome)

    def note_failure(self, exc: Exception) -> None:
        """A request outside the pacer failed to reach Telegram (a poll for updates)."""
        self._outage(exc)

    def note_success(self) -> None:
        """A request outside the pacer got Telegram's answer."""
        self._reachable()

    def _outage(self, exc: Exception) -> None:
        """Telegram unreachable: logged once when it starts (then only counted), once when it ends."""
        self.outage_failures += 1
        if self.outage_started is None:
            self.outage_started = time.monotonic()
            log.warning("Telegram unreachable (%s); further failures are counted until it answers again", exc)

    def _reachable(self) -> None:
        if self.outage_started is not None:
            log.warning("Telegram reachable again after %.0f s and %d failed requests",
                        time.monotonic() - self.outage_started, self.outage_failures)
            self.outage_started, self.outage_failures = None, 0


class PollingRequest(HTTPXRequest):
    """The request object for getUpdates (which PTB sends around the rate limiter): tells the limiter
    whether Telegram answered, so an outage is logged once when it starts and once when it ends
    instead of a traceback per failed poll."""

    def __init__(self, limiter: PacingLimiter, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.limiter = limiter

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
                         write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
                         connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
                         pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE) -> tuple[int, bytes]:
        try:
            code, payload = await super().do_request(url, method, request_data, read_timeout, write_timeout,
                                                     connect_timeout, pool_timeout)
        except NetworkError as exc:  # TimedOut included
            self.limiter.note_failure(exc)
            raise
        if code >= 500:
            self.limiter.note_failure(NetworkError(f"HTTP {code}"))
        else:
            self.limiter.note_success()
        return code, payload


def mark_late(body: Body, due_at: datetime, now: datetime, tz: tzinfo) -> Body:
    """Late is decided when the row is sent, against when it was due: more than ON_TIME_SLACK behind,
    the message says so (in its own "late" slot when it has one; else a line at the end), unless
    its producer already did."""
    if now - due_at <= ON_TIME_SLACK or body.params.get("late_marked"):
        return body
    at = due_at.astimezone(tz).strftime("%m-%d %H:%M")
    if "late" in body.params:
        if body.params["late"]:
            return body
        return Body(body.key, {**body.params, "late": text("outbox.late_slot", at=at)}, body.buttons)
    return Body("outbox.late_wrap", {"body": text(body.key, **body.params), "at": at}, body.buttons)


def render(row_lang: str | None, body: Body) -> tuple[str, InlineKeyboardMarkup | None]:
    text = t(row_lang, body.key, **body.params)  # nested texts in params are rendered by t()
    keyboard = None
    if body.buttons:
        keyboard = InlineKeyboardMarkup(
            [[InlineKeyboardButton(t(row_lang, label) if has(label) else label, callback_data=data)
              for label, data in row]
             for row in body.buttons]
        )
    return text, keyboard


def _bot_id(bot: Bot) -> int:
    """The bot's id, the number before the colon of its token (not a secret; 0 for a stand-in without one)."""
    head = str(getattr(bot, "token", "")).split(":", 1)[0]
    return int(head) if head.isdigit() else 0


class OutboxSender:
    def __init__(self, db: Database, clock: Clock, roster: RosterService, pacer: Pacer | None = None,
                 tz: tzinfo = UTC, stale_after: timedelta | None = None, max_in_flight: int = 0) -> None:
        self.tz = tz
        self.db = db
        self.clock = clock
        self.roster = roster
        self.pacer = pacer or Pacer(enabled=False)
        self.in_flight = InFlight(max_in_flight)
        self.background = False
        self._wake = asyncio.Event()
        self._draining = asyncio.Lock()
        self.sent_count = 0
        # A reminder still unsent this long after it was due (an outage) is not sent on its own: it is
        # listed in one summary to the chair (the producers' rule, applied when it is sent).
        self.stale_after = stale_after
        self.max_attempts = MAX_ATTEMPTS
        self.first_backoff = 1.0
        self.listener: Callable[[str], None] | None = None  # told outcomes no rate limiter counted
        # Rows being sent (by a lane or by a command delivering its own rows) and rows this process
        # finished lately: a row read as pending just before someone else sent it is not sent twice.
        self._claimed: set[int] = set()
        self._finished: OrderedDict[int, int | None] = OrderedDict()  # row id → the chat it went to

    def wake(self) -> None:
        self._wake.set()

    def _claim(self, row_id: int) -> bool:
        if row_id in self._claimed or row_id in self._finished:
            return False
        self._claimed.add(row_id)
        return True

    def delivered_to(self, row_id: int) -> int | None:
        """The chat a row this process sent lately went to (its own or its fallback), else None."""
        return self._finished.get(row_id)

    def _release(self, row_id: int, finished: bool, chat_id: int | None = None) -> None:
        self._claimed.discard(row_id)
        if finished:
            self._finished[row_id] = chat_id
            while len(self._finished) > FINISHED_KEPT:
                self._finished.popitem(last=False)

    async def deliver_now(self, bot: Bot, after_id: int, up_to: int, first_chat: int | None = None) -> int:
        """A command's own rows (its confirmation, its notes to others: after_id < id <= up_to), right
        after the commit that wrote them: sent now by the command, in order (in `first_chat`, where the
        command was given, its reply first; then that chat's other rows; then the other chats), so she
        waits no longer than for a direct reply. A row that cannot go
        now stays pending for the sender (woken in `run`, drained after the update otherwise), which
        retries it with backoff; a chat whose row must wait gets nothing after it. Returns rows sent."""
        async with self.db.read() as conn:
            rows = await outbox.pending_between(conn, after_id, up_to, _bot_id(bot))
        # The reply first, then the rest of her chat's rows, then the other chats (each in order).
        rows.sort(key=lambda row: (row.chat_id != first_chat, decode_body(row.body).key != "outbox.verbatim"))
        sent = 0
        waiting: set[int] = set()
        for row in rows:
            if row.chat_id in waiting:
                continue
            outcome = await self._deliver(bot, row, patient=False)
            if outcome == "sent":
                sent += 1
            elif outcome in ("retry", "skipped"):  # skipped: the loop is sending this chat's rows, in order
                waiting.add(row.chat_id)
        if waiting and self.background:
            self.wake()
        return sent

    async def run_forever(self, bot: Bot, idle: float) -> None:
        """The background loop of `run`: drain, then sleep until woken or `idle` seconds pass."""
        self.background = True
        while True:
            self._wake.clear()  # before draining: a wake during the drain brings another drain
            try:
                if await self.db.hold_sender_lock(_bot_id(bot)):  # on PostgreSQL one worker per bot sends
                    await self.drain(bot)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox drain failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=idle)

    async def has_pending(self) -> bool:
        """Whether a row is still waiting (e.g. left for later after a failed send)."""
        async with self.db.read() as conn:
            return bool(await outbox.pending(conn, limit=1))

    async def drain(self, bot: Bot) -> int:
        """Send every pending row (rows added meanwhile too); returns how many were sent."""
        async with self._draining:
            total = 0
            last_id = 0
            while True:
                async with self.db.read() as conn:
                    rows = await outbox.pending(conn, limit=5000, after_id=last_id, bot_id=_bot_id(bot))
                if not rows:
                    return total
                last_id = rows[-1].id
                rows = await self._divert_stale(rows)
                lanes: dict[int, list[OutboxRow]] = {}
                for row in rows:
                    lanes.setdefault(row.chat_id, []).append(row)
                gate = asyncio.Semaphore(LANES)
                results = await asyncio.gather(*(self._lane(bot, gate, lane) for lane in lanes.values()))
                total += sum(results)

    async def _divert_stale(self, rows: list[OutboxRow]) -> list[OutboxRow]:
        """Reminders past the grace period become one summary per chat (to the chair when the chat
        belongs to an organisation); the rest are returned to be sent."""
        if self.stale_after is None:
            return rows
        now = self.clock.now()
        keep: list[OutboxRow] = []
        stale: dict[tuple[int | None, int], list[tuple[OutboxRow, Body]]] = {}
        for row in rows:
            body = decode_body(row.body)
            if body.key == "reminders.fire" and now - row.due_at > self.stale_after:
                stale.setdefault((row.org_id, row.chat_id), []).append((row, body))
            else:
                keep.append(row)
        for (org_id, chat_id), missed in stale.items():
            target, fallback = chat_id, None
            if org_id is not None:
                chairs = [m for m in await self.roster.org_members(org_id) if m.role == "chair" and m.user_id]
                if chairs and chairs[0].user_id is not None:
                    target, fallback = chairs[0].user_id, await self.roster.work_chat(org_id)
            lines = [text("reminders.stale_line", at=fmt.day_time(row.due_at, self.tz),
                          text=body.params.get("text", "")) for row, body in missed]
            ids = ",".join(str(row.id) for row, _ in missed)
            summary = Outgoing(target, "reminders.stale_summary", {"count": len(missed), "lines": lines},
                               org_id=org_id, fallback_chat_id=fallback, dedupe=f"rem-stale:{ids}:outbox")
            async with self.db.transaction() as conn:
                for row, _ in missed:
                    await outbox.mark_failed(conn, row.id, "stale: past the misfire grace, listed in a summary",
                                             now, ["stale"])
                await outbox.enqueue(conn, [summary], now)
            log.warning("%d reminder(s) to %s past the grace period: listed in one summary instead", len(missed),
                        chat_id)
        return keep

    async def _lane(self, bot: Bot, gate: asyncio.Semaphore, rows: list[OutboxRow]) -> int:
        """One chat's rows, in order. A row that must wait (network trouble) holds back the rest of
        its chat until the next drain, so a chat never sees its messages out of order."""
        async with gate:
            sent = 0
            for row in rows:
                outcome = await self._deliver(bot, row)
                if outcome == "sent":
                    sent += 1
                elif outcome in ("retry", "skipped"):  # skipped: a command is sending this chat's rows
                    break
            return sent

    async def _deliver(self, bot: Bot, row: OutboxRow, patient: bool = True) -> str:
        """'sent', 'failed', 'retry', or 'skipped' (someone else is sending it or has just sent it).
        On PostgreSQL the row is also locked in a side transaction while it is sent (another worker
        skips it) and its outcome is written in that transaction (storage.pg)."""
        if not self._claim(row.id):
            return "skipped"
        outcome, chat_id, tell = "retry", None, None
        ticket = InFlightTicket(self.in_flight)  # taken by the pacer right before the send starts
        token = IN_FLIGHT.set(ticket)
        try:
            async with self.db.side_transaction() as side:
                if side is not None and not await outbox.lock_pending(side, row.id):
                    outcome = "elsewhere"  # another worker is sending it, or has sent it
                else:
                    outcome, chat_id, tell = await self._deliver_claimed(bot, row, patient, side)
        finally:
            IN_FLIGHT.reset(token)
            ticket.release()  # its outcome is written (the side transaction has committed)
            self._release(row.id, outcome not in ("retry", "elsewhere"), chat_id)
        if tell is not None:  # after the row's transaction: it holds no lock while others write
            await self._tell_chair(row, tell)
        return "skipped" if outcome == "elsewhere" else outcome

    @contextlib.asynccontextmanager
    async def _writing(self, side: Any) -> AsyncIterator[Any]:
        """Where a row's outcome is written: the side transaction that holds it, else a transaction."""
        if side is not None:
            yield side
            return
        async with self.db.transaction() as conn:
            yield conn

    async def _lang(self, chat_id: int, row_lang: str | None) -> str | None:
        if row_lang:
            return row_lang
        return await self.roster.lang_for(chat_id, chat_id if chat_id > 0 else None, chat_id > 0)

    async def _deliver_claimed(self, bot: Bot, row: OutboxRow, patient: bool,
                               side: Any = None) -> tuple[str, int | None, str | None]:
        """'sent' (and where to), 'failed' (given up: marked; the error to tell the chair) or 'retry'
        (left pending). Not `patient`: one try here (the rate limiter has retried already), then left for later."""
        body = mark_late(decode_body(row.body), row.due_at, self.clock.now(), self.tz)
        targets = [row.chat_id] + ([row.fallback_chat_id] if row.fallback_chat_id else [])
        error = ""
        attempts: list[str] = []  # every attempt's outcome, recorded with the row
        for chat_id in targets:
            try:
                lang = await self._lang(chat_id, row.lang)
                text, keyboard = render(lang, body)
            except (KeyError, ValueError, IndexError) as exc:  # a bad row must not block the queue
                log.error("outbox row %s cannot be rendered: %r", row.id, exc)
                await self._finish(row, f"render: {exc!r}", side=side)
                return "failed", None, None
            outcome = await self._send_with_retry(bot, chat_id, text, keyboard, attempts,
                                                  self.max_attempts if patient else 1)
            if outcome == "sent":
                async with self._writing(side) as conn:
                    await outbox.mark_sent(conn, row.id, self.clock.now(), attempts)
                self.sent_count += 1
                self._log_uncertain(row, attempts)
                return "sent", chat_id, None
            if outcome == "retry_later":
                async with self._writing(side) as conn:
                    await outbox.record_attempts(conn, row.id, attempts)
                self._log_uncertain(row, attempts)
                return "retry", None, None
            error = outcome
        await self._finish(row, error, attempts, side)
        return "failed", None, error

    @staticmethod
    def _log_uncertain(row: OutboxRow, attempts: list[str]) -> None:
        uncertain = sum(1 for a in attempts if a in UNCERTAIN_OUTCOMES)
        if uncertain and len(attempts) > 1:
            log.warning("outbox row %s to %s: %d attempt(s) got no answer and were repeated, so it may "
                        "have arrived more than once (%s)", row.id, row.chat_id, uncertain, ",".join(attempts))

    async def _finish(self, row: OutboxRow, error: str, attempts: list[str] | None = None, side: Any = None) -> None:
        log.warning("outbox row %s to %s given up: %s", row.id, row.chat_id, error)
        async with self._writing(side) as conn:
            await outbox.mark_failed(conn, row.id, error, self.clock.now(), attempts)

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

    def _slot(self, bot: Bot, chat_id: int) -> contextlib.AbstractAsyncContextManager[None]:
        """Where a send waits its turn: the bot's own pacing limiter when it has one (as in `run`: it
        paces every request and takes the row's place in flight), else this sender's pacer."""
        if not self.pacer.enabled and isinstance(getattr(bot, "rate_limiter", None), PacingLimiter):
            return contextlib.nullcontext()
        return self.pacer.slot(chat_id)

    async def _send_with_retry(self, bot: Bot, chat_id: int, text: str,
                               keyboard: InlineKeyboardMarkup | None, attempts: list[str],
                               max_attempts: int | None = None) -> str:
        """'sent', 'retry_later' (transient trouble outlasted the attempts), or a permanent error.
        Every attempt's outcome is appended to `attempts` (by the rate limiter when there is one)."""
        parts = split_text(text)
        done = 0
        backoff = self.first_backoff
        tries = 0
        while done < len(parts):
            mark = len(attempts)
            token = ATTEMPT_LOG.set(attempts)
            failure: Exception | None = None
            try:
                async with self._slot(bot, chat_id):
                    await bot.send_message(
                        chat_id, parts[done], parse_mode=ParseMode.HTML,
                        reply_markup=keyboard if done == len(parts) - 1 else None,
                    )
            except (RetryAfter, ChatMigrated, Forbidden, BadRequest, TimedOut, NetworkError) as exc:
                failure = exc
            finally:
                ATTEMPT_LOG.reset(token)
            if len(attempts) == mark:  # no rate limiter counted it: count it here
                attempts.append(classify(failure))
                if self.listener is not None:
                    self.listener(attempts[-1])
            if failure is None:
                done += 1
                tries = 0
                backoff = self.first_backoff
            elif isinstance(failure, RetryAfter):
                wait = _seconds(failure.retry_after)
                log.info("429 from Telegram for %s: waiting %.1f s", chat_id, wait)
                self.pacer.pause(wait)
                if max_attempts == 1:
                    return "retry_later"  # the background loop waits it out
                if not self.pacer.enabled:
                    await asyncio.sleep(min(wait, 1.0))
            elif isinstance(failure, ChatMigrated):
                chat_id = failure.new_chat_id
            elif isinstance(failure, Forbidden):
                return f"forbidden: {failure.message}"
            elif isinstance(failure, BadRequest):
                return f"bad request: {failure.message}"
            else:
                tries += 1
                if tries >= (max_attempts or self.max_attempts):
                    log.warning("giving up for now on %s after %d attempts: %s", chat_id, tries, failure)
                    return "retry_later"
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
        return "sent"
