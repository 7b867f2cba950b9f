"""The one pacer for everything sent (issue #11): the Application's rate limiter paces replies and
the outbox alike, a 429 holds every chat, 5xx are repeated, and a restart keeps the group windows."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut

from handlers.sender import GROUP_WINDOW_MARGIN, Pacer, PacingLimiter
from services.outbox import Outgoing
from storage import outbox
from storage.send_journal import SendJournal
from tests.harness import WORK, Harness

pytestmark = pytest.mark.handler


class FakeTime:
    def __init__(self) -> None:
        self.t = 1000.0

    def now(self) -> float:
        return self.t

    def wall(self) -> float:
        return 1_800_000_000.0 + self.t

    async def sleep(self, seconds: float) -> None:
        self.t += max(seconds, 0.0)
        await asyncio.sleep(0)


def make(clock: FakeTime, journal: SendJournal | None = None) -> PacingLimiter:
    return PacingLimiter(Pacer(now=clock.now, sleep=clock.sleep, wall=clock.wall, journal=journal), first_backoff=0)


async def call(limiter: PacingLimiter, chat: int, action: Any, endpoint: str = "sendMessage") -> Any:
    return await limiter.process_request(action, (), {}, endpoint, {"chat_id": chat, "text": "x"}, None)


@pytest.mark.unit
async def test_a_429_holds_every_chat_for_its_retry_after() -> None:
    clock = FakeTime()
    limiter = make(clock)
    started: list[tuple[float, int]] = []
    failed_once = False

    def sender(chat: int) -> Any:
        async def send() -> dict[str, Any]:
            nonlocal failed_once
            started.append((clock.t, chat))
            if chat == -1 and not failed_once:
                failed_once = True
                raise RetryAfter(timedelta(seconds=7))
            clock.t += 0.01
            return {"ok": True}
        return send

    await call(limiter, -1, sender(-1))  # 429, paused, repeated
    pause_began = started[0][0]
    await asyncio.gather(*(call(limiter, chat, sender(chat)) for chat in (-2, -3, 42)))
    assert [c for _, c in started].count(-1) == 2
    assert all(at >= pause_began + 7 for at, _ in started[1:])  # nobody sent during the retry_after


@pytest.mark.unit
async def test_server_errors_are_repeated_and_bad_requests_are_not() -> None:
    clock = FakeTime()
    limiter = make(clock)
    attempts = 0

    async def flaky() -> dict[str, Any]:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise NetworkError("Bad Gateway")
        return {"ok": True}

    assert await call(limiter, 42, flaky) == {"ok": True} and attempts == 3

    async def bad() -> dict[str, Any]:
        nonlocal attempts
        attempts += 1
        raise BadRequest("message is too long")

    attempts = 0
    with pytest.raises(BadRequest):
        await call(limiter, 42, bad)
    assert attempts == 1

    async def timing_out() -> dict[str, Any]:
        raise TimedOut()

    with pytest.raises(TimedOut):
        await call(limiter, 42, timing_out)
    assert limiter.possible_duplicates == limiter.retries + 1  # each may have been delivered: counted


@pytest.mark.unit
async def test_requests_that_send_nothing_are_not_paced() -> None:
    clock = FakeTime()
    limiter = make(clock)
    limiter.pacer.pause(60)

    async def updates() -> list[Any]:
        return []

    before = clock.t
    await limiter.process_request(updates, (), {}, "getUpdates", {"timeout": 10}, None)
    assert clock.t == before


@pytest.mark.unit
async def test_group_windows_survive_a_restart(tmp_path: Path) -> None:
    clock = FakeTime()
    path = tmp_path / "bot.sends"
    journal = SendJournal(path, now=clock.wall())
    limiter = make(clock, journal)

    async def send() -> dict[str, Any]:
        return {"ok": True}

    first = clock.t
    for _ in range(20):
        await call(limiter, -5, send)
    journal.close()
    # kill -9 and a quick restart: a new process, a new pacer, the same journal file
    clock.t += 5
    journal = SendJournal(path, now=clock.wall())
    assert len(journal.recent()) == 20
    restarted = make(clock, journal)
    restarted.pacer.preload(journal.recent())
    await call(restarted, -5, send)
    # the 21st in a minute waits for the window, across the restart, and a margin: Telegram counts
    # arrivals, and the 1st send may have arrived later after its start than the 21st will
    assert clock.t >= first + 60 + GROUP_WINDOW_MARGIN
    await call(restarted, -6, send)  # another group is not held up
    journal.close()


# --- late is decided when a row is sent ------------------------------------------------------------


async def test_a_row_sent_more_than_5_minutes_after_it_was_due_says_so(h: Harness) -> None:
    now = h.clock.now()
    async with h.db.transaction() as conn:
        await outbox.enqueue(conn, [
            Outgoing(WORK, "outbox.lines", {"lines": ["准时的通知"]}, dedupe="t:on-time"),
            Outgoing(WORK, "reminders.fire", {"text": "交材料", "late": "", "repeat_line": ""}, dedupe="t:slot"),
        ], now)
    h.clock.advance(timedelta(minutes=7))  # the API was down: nothing went out meanwhile
    calls = [c for c in await h.tick() if c.chat_id == WORK]
    plain = next(c for c in calls if "准时的通知" in c.text)
    assert "现在补发" in plain.text and "本应在" in plain.text
    slot = next(c for c in calls if "交材料" in c.text)
    assert slot.text.count("现在补发") == 1
    async with h.db.transaction() as conn:
        await outbox.enqueue(conn, [Outgoing(WORK, "outbox.lines", {"lines": ["刚写的通知"]}, dedupe="t:fresh")],
                             h.clock.now())
    fresh = next(c for c in await h.tick() if "刚写的通知" in c.text)
    assert "补发" not in fresh.text


# --- honest outcomes when sending fails ----------------------------------------------------------


async def _count(h: Harness, table: str) -> int:
    async with h.db.read() as conn:
        cur = await conn.execute(f"SELECT COUNT(*) FROM {table}")
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def test_a_reply_that_fails_is_delivered_later_and_the_record_is_stored_once(h: Harness) -> None:
    before = await _count(h, "ledger_entries")
    h.api.failing_sends = 1  # Telegram answers 502 to the reply
    calls = await h.send(WORK, "赵霞", "/log 走访 看望3组独居老人")
    delivered = [c for c in calls if c.chat_id == WORK and c.result != "502"]
    assert any("已记入台账" in c.text for c in delivered)  # from the outbox, right after
    assert not any("没有办成" in c.text for c in calls)
    assert await _count(h, "ledger_entries") == before + 1


async def test_a_task_is_stored_once_and_everyone_is_told_when_sends_fail(h: Harness) -> None:
    # The task is stored; the chair's confirmation and the owner's 📌 note go through the outbox, so
    # failing sends delay them but lose nothing, and nobody is told "没有办成" (she would add it again).
    before = await _count(h, "tasks")
    h.services.sender.first_backoff = 0.001
    h.api.failing_sends = 5
    calls = await h.send(WORK, "王芳", "/task_add 12月10日前 上报妇女议事会记录 @liumin")
    texts = [c.text for c in calls if c.result != "502"]
    assert not any("没有办成" in t for t in texts)
    assert await _count(h, "tasks") == before + 1
    h.api.failing_sends = 0
    texts += [c.text for c in await h.tick()]
    assert any("已布置任务" in t for t in texts)
    assert any("上报妇女议事会记录" in c.text for c in h.api.sent(1004) if c.result != "502")  # 刘敏's note


async def test_the_error_message_says_saved_when_the_change_was_saved(h: Harness) -> None:
    # A command that committed its change and then failed for another reason: "saved", not "没有办成".
    # (A failure before the commit rolls everything back: tests/test_delivery_units.py.)
    before = await _count(h, "ledger_entries")
    original = h.services.sender.deliver_now
    failures = [RuntimeError("after the commit")]

    async def fail_once(*args: Any, **kwargs: Any) -> Any:
        if failures:
            raise failures.pop()
        return await original(*args, **kwargs)

    h.services.sender.deliver_now = fail_once  # sending the confirmation fails
    calls = await h.send(WORK, "赵霞", "/log 走访 看望3组独居老人")
    texts = [c.text for c in calls]
    assert any("已经保存了" in t for t in texts) and not any("没有办成" in t for t in texts)
    assert any("已记入台账" in t for t in texts)  # the confirmation is still delivered, from the outbox
    assert await _count(h, "ledger_entries") == before + 1
    h.services.sender.deliver_now = original
    calls = await h.send(WORK, "赵霞", "/nosuchthing_but_fine")
    assert not any("已经保存了" in c.text for c in calls)  # a new update starts a new count


async def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeTime()
    limiter = make(clock)
    # what PollingRequest reports for each poll: 50 failures, then an answer
    with caplog.at_level("WARNING", logger="handlers.sender"):
        for _ in range(50):
            limiter.note_failure(NetworkError("Connection refused"))
        limiter.note_success()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and "unreachable" in lines[0] and "50 failed requests" in lines[1]
    assert all(r.exc_info is None for r in caplog.records)  # no traceback per failed poll


# --- every attempt counted with its outcome --------------------------------------------------------


def _chained(exc: Exception, cause: Exception) -> Exception:
    exc.__cause__ = cause
    return exc


@pytest.mark.unit
def test_each_failure_is_classified_by_whether_it_may_have_been_delivered() -> None:
    import httpx

    from handlers.sender import classify

    assert classify(None) == "ok"
    assert classify(RetryAfter(timedelta(seconds=3))) == "429"
    assert classify(BadRequest("chat not found")) == "bad_request"
    assert classify(NetworkError("Bad Gateway")) == "5xx"  # Telegram answered: not delivered
    assert classify(_chained(NetworkError("httpx.ConnectError"), httpx.ConnectError("refused"))) == "refused"
    assert classify(_chained(TimedOut(), httpx.ConnectTimeout("slow connect"))) == "refused"
    assert classify(_chained(TimedOut(), httpx.ReadTimeout("no answer"))) == "timeout"
    cut = _chained(NetworkError("httpx.RemoteProtocolError"), httpx.RemoteProtocolError("closed"))
    assert classify(cut) == "cut"


class LimitedBot:
    """A bot whose sends go through the PacingLimiter, failing as `script` says (None: accepted)."""

    def __init__(self, limiter: PacingLimiter, script: list[Exception | None]) -> None:
        self.limiter = limiter
        self.script = script
        self.delivered: list[tuple[int, str]] = []

    async def send_message(self, chat_id: int, text: str, **kwargs: Any) -> dict[str, Any]:
        async def attempt() -> dict[str, Any]:
            failure = self.script.pop(0) if self.script else None
            if failure is not None:
                raise failure
            self.delivered.append((chat_id, text))
            return {"ok": True}

        result = await self.limiter.process_request(
            attempt, (), {}, "sendMessage", {"chat_id": chat_id, "text": text}, None)
        assert isinstance(result, dict)
        return result


async def _outbox_row(h: Harness, dedupe: str) -> Any:
    async with h.db.read() as conn:
        cur = await conn.execute("SELECT status, attempts, outcomes, uncertain FROM outbox WHERE dedupe = ?",
                                 (dedupe,))
        return await cur.fetchone()


async def test_the_outbox_records_every_attempt_and_the_ones_that_may_have_doubled(
        h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    import httpx

    limiter = make(FakeTime())
    bot = LimitedBot(limiter, [NetworkError("Bad Gateway"),
                               _chained(TimedOut(), httpx.ReadTimeout("no answer")), None])
    async with h.db.transaction() as conn:
        await outbox.enqueue(conn, [Outgoing(WORK, "outbox.lines", {"lines": ["三次才送到"]}, dedupe="t:tries")],
                             h.clock.now())
    with caplog.at_level("WARNING", logger="handlers.sender"):
        assert await h.services.sender.drain(bot) >= 1
    status, attempts, outcomes, uncertain = await _outbox_row(h, "t:tries")
    assert (status, attempts, outcomes, uncertain) == ("sent", 3, "5xx,timeout,ok", 1)
    assert (limiter.outcomes["5xx"], limiter.outcomes["timeout"], limiter.possible_duplicates) == (1, 1, 1)
    assert any("more than once" in r.getMessage() for r in caplog.records)  # a possible duplicate, logged


async def test_attempts_of_a_row_left_for_later_are_counted_too(h: Harness) -> None:
    h.services.sender.first_backoff = 0.0
    h.services.sender.max_attempts = 2
    down: list[Exception | None] = [NetworkError("Bad Gateway")] * 40
    bot = LimitedBot(PacingLimiter(Pacer(enabled=False), retries=0, first_backoff=0), down)
    async with h.db.transaction() as conn:
        await outbox.enqueue(conn, [Outgoing(WORK, "outbox.lines", {"lines": ["稍后再发"]}, dedupe="t:later")],
                             h.clock.now())
    await h.services.sender.drain(bot)
    status, attempts, outcomes, uncertain = await _outbox_row(h, "t:later")
    assert (status, attempts, outcomes, uncertain) == ("pending", 2, "5xx,5xx", 0)
    bot.script.clear()
    await h.services.sender.drain(bot)
    status, attempts, outcomes, _ = await _outbox_row(h, "t:later")
    assert (status, attempts, outcomes) == ("sent", 3, "5xx,5xx,ok")


async def test_notes_to_other_people_are_written_with_the_change_itself(h: Harness) -> None:
    # No handler runs here (as if the process died right after the service returned): the note to
    # the replacement, the assigned member and the task owner is already in the outbox.
    from datetime import date

    from services.roster import Actor

    org = (await h.services.roster.chat_context(WORK, 0)).org
    assert org is not None
    org_id = org.id
    people = {m.display_name: m for m in (await h.services.roster.org_members(org_id))}
    await h.services.duty.leave(people["黄丽娟"], date(2026, 11, 24), date(2026, 11, 24), "")
    chair = Actor(people["王芳"].user_id or 0, False)
    await h.services.duty.assign(chair, org_id, date(2026, 11, 25), people["刘敏"])
    await h.services.tasks.add(chair, org_id, h.clock.now() + timedelta(days=5), "上报材料", [people["陈静"].id])
    async with h.db.read() as conn:
        cur = await conn.execute("SELECT chat_id, body FROM outbox WHERE status = 'pending'")
        rows = [(r[0], r[1]) for r in await cur.fetchall()]
    keys = {(chat, body.split('"key": "')[1].split('"')[0]) for chat, body in rows}
    assert (people["刘敏"].user_id, "assign.notify") in keys
    assert (people["陈静"].user_id, "tasks.assigned") in keys
    assert any(key == "leave.notify_replacement" for _, key in keys)


async def test_a_reminder_sent_past_the_grace_period_goes_to_the_chairs_summary(h: Harness) -> None:
    # Written in time, then Telegram was down for 7 hours: the reminder is not sent to the group on
    # its own (the producers' rule, applied when it is sent) but listed in one summary to the chair.
    async with h.db.transaction() as conn:
        await outbox.enqueue(conn, [
            Outgoing(WORK, "reminders.fire", {"text": "交材料", "late": "", "repeat_line": ""}, org_id=1,
                     dedupe="t:stale"),
            Outgoing(WORK, "outbox.lines", {"lines": ["回复确认"]}, org_id=1, dedupe="t:reply"),
        ], h.clock.now())
    h.clock.advance(timedelta(hours=7))
    calls = await h.tick()
    assert not any("⏰ 提醒：交材料" in c.text for c in calls if c.chat_id == WORK)
    chair = h.person("王芳").user_id
    summary = [c.text for c in calls if c.chat_id == chair and "过了时间没有发出去" in c.text]
    assert len(summary) == 1 and "交材料" in summary[0]
    assert any("回复确认" in c.text and "补发" in c.text for c in calls if c.chat_id == WORK)  # others: late
    status, _, outcomes, _ = await _outbox_row(h, "t:stale")
    assert (status, outcomes) == ("failed", "stale")


async def test_the_same_update_sent_again_after_a_crash_is_handled_once(h: Harness) -> None:
    # `run` registers the journal: Telegram re-sends updates the bot fetched but had not acknowledged
    # when it was killed; one already handled is skipped, so its record is not made twice.
    from bot.app import register_update_journal
    from services.updates import UpdateJournal

    register_update_journal(h.app, UpdateJournal(h.db, h.clock))
    before = await _count(h, "ledger_entries")
    update = h.factory.message(WORK, h.person("赵霞"), "/log 走访 重启前记的一条")
    first = len(h.api.calls)
    await h.app.process_update(update)
    assert any("已记入台账" in c.text for c in h.api.calls[first:])
    again = len(h.api.calls)
    await h.app.process_update(update)  # the same update_id, after a restart
    assert h.api.calls[again:] == [] and await _count(h, "ledger_entries") == before + 1
    fresh = h.factory.message(WORK, h.person("赵霞"), "/duty")  # a new update is handled as usual
    await h.app.process_update(fresh)
    assert len(h.api.calls) > again


# --- sends in flight: what a worker killed mid-send would repeat (issue #15) -------------------------


class SlowBot:
    """Accepts every send after `round_trip` seconds; counts how many are answered at once."""

    def __init__(self, round_trip: float) -> None:
        self.round_trip = round_trip
        self.open = 0
        self.most_open = 0
        self.sent: list[int] = []

    async def send_message(self, chat_id: int, text: str, **kwargs: Any) -> None:
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        try:
            await asyncio.sleep(self.round_trip)
            self.sent.append(chat_id)
        finally:
            self.open -= 1


async def _queue_private_rows(h: Harness, n: int, tag: str) -> list[int]:
    chats = [7_000_000 + i for i in range(n)]
    async with h.db.transaction() as conn:
        await outbox.enqueue(conn, [Outgoing(c, "outbox.lines", {"lines": [f"{tag}{c}"]}, dedupe=f"{tag}:{c}")
                                    for c in chats], h.clock.now())
    return chats


async def test_a_fixed_limit_of_one_keeps_one_send_in_flight_however_many_chats_wait(h: Harness) -> None:
    from handlers.sender import InFlight

    h.services.sender.in_flight = InFlight(fixed=1)
    chats = await _queue_private_rows(h, 12, "一次一条")
    bot = SlowBot(0.01)
    await h.services.sender.drain(bot)
    assert sorted(c for c in bot.sent if c in chats) == chats  # nothing lost
    assert bot.most_open == 1 and h.services.sender.in_flight.most_busy == 1
    assert h.services.sender.in_flight.busy == 0  # every place given back


async def test_auto_sends_one_at_a_time_when_telegram_answers_fast_and_more_when_it_is_far(h: Harness) -> None:
    from handlers.sender import InFlight

    clock = FakeTime()
    near = InFlight(now=clock.now)
    for _ in range(20):  # sends answered and recorded 5 ms after they started
        await near.acquire()
        started = clock.now()
        clock.t += 0.005
        near.release(started)
    assert near.limit == 1 and near.most_busy == 1
    for _ in range(20):  # now 100 ms each: one at a time would be 10 a second
        await near.acquire()
        started = clock.now()
        clock.t += 0.1
        near.release(started)
    assert near.limit == 5  # ceil(0.1 s × 30 a second × 1.5)

    far_gate = InFlight()
    h.services.sender.in_flight = far_gate
    chats = await _queue_private_rows(h, 24, "远")
    far = SlowBot(0.2)  # 200 ms away: one at a time would be 5 a second, not 30
    await h.services.sender.drain(far)
    assert sorted(c for c in far.sent if c in chats) == chats
    assert far_gate.limit >= 6  # ceil(0.2 s × 30 a second)
    assert 1 < far.most_open <= far_gate.ceiling


async def test_a_send_that_certainly_failed_gives_its_place_back_and_one_without_answer_keeps_it() -> None:
    from handlers.sender import IN_FLIGHT, InFlight, InFlightTicket

    gate = InFlight(fixed=1)
    pacer = Pacer(enabled=False)

    async def attempt(failure: Exception) -> InFlightTicket:
        ticket = InFlightTicket(gate)
        token = IN_FLIGHT.set(ticket)
        try:
            with pytest.raises(type(failure)):
                async with pacer.slot(5):
                    raise failure
        finally:
            IN_FLIGHT.reset(token)
        return ticket

    refused = await attempt(BadRequest("chat not found"))
    assert gate.busy == 0 and not refused.held  # nothing arrived: nothing to repeat
    unanswered = await attempt(TimedOut())
    assert gate.busy == 1 and unanswered.held  # it may have arrived: it keeps its place
    waiting = asyncio.ensure_future(gate.acquire())
    await asyncio.sleep(0.01)
    assert not waiting.done()  # the next send waits for it
    unanswered.release()
    await asyncio.wait_for(waiting, 1)
    assert gate.busy == 1


def test_on_postgresql_auto_keeps_one_send_in_flight_and_a_number_set_is_kept() -> None:
    from bot.app import in_flight_limit
    from bot.config import from_mapping

    assert in_flight_limit(from_mapping({}, env={})) == 0  # SQLite: auto, by the round trip
    shared = {"database": {"url": "postgresql://bot@127.0.0.1/zhiwei"}}
    assert in_flight_limit(from_mapping(shared, env={})) == 1  # several workers: one in flight
    assert in_flight_limit(from_mapping({**shared, "telegram": {"max_in_flight": 4}}, env={})) == 4
