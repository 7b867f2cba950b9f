"""The outbox, the paced sender and the reminder producer, with a fake clock and a temp database."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from handlers.sender import Pacer, render
from services.clock import SimClock
from services.errors import Refusal
from services.outbox import Outgoing, decode_body, lateness, text
from services.reminders import ReminderService
from services.timeparse import parse_when
from storage import outbox
from storage.db import Database
from tests.pg_support import Databases

pytestmark = pytest.mark.unit

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 9, 29, 9, 0, tzinfo=TZ)  # Tuesday before National Day


class FakeTime:
    def __init__(self) -> None:
        self.t = 1000.0

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += max(seconds, 0.0)


async def sends(pacer: Pacer, clock: FakeTime, chats: list[int]) -> list[tuple[float, int]]:
    out = []
    for chat in chats:
        async with pacer.slot(chat):
            out.append((clock.t, chat))
            clock.t += 0.005  # the request's round trip
    return out


def max_in_window(times: list[float], width: float) -> int:
    return max(sum(1 for u in times if t <= u < t + width) for t in times)


async def test_pacer_keeps_30_a_second_overall() -> None:
    clock = FakeTime()
    pacer = Pacer(now=clock.now, sleep=clock.sleep)
    done = await sends(pacer, clock, [-(i + 1) for i in range(300)])  # 300 different groups
    times = [t for t, _ in done]
    assert max_in_window(times, 1.0) <= 30
    elapsed = times[-1] - times[0]
    assert 299 / 30 <= elapsed <= 299 / 30 * 1.1  # near the floor that 30/s sets


async def test_pacer_keeps_20_a_minute_per_group_and_1_a_second_per_private_chat() -> None:
    clock = FakeTime()
    pacer = Pacer(now=clock.now, sleep=clock.sleep)
    group = [t for t, _ in await sends(pacer, clock, [-5] * 45)]
    assert max_in_window(group, 60.0) <= 20
    assert group[-1] - group[0] >= 120  # the 41st waits for the third minute
    private = [t for t, _ in await sends(pacer, clock, [42] * 5)]
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(private))


async def test_pacer_pause_after_429_holds_everyone() -> None:
    clock = FakeTime()
    pacer = Pacer(now=clock.now, sleep=clock.sleep)
    async with pacer.slot(-1):
        pass
    pacer.pause(5)
    before = clock.t
    async with pacer.slot(-2):
        assert clock.t - before >= 5


def test_render_escapes_user_text_and_nests_locale_texts() -> None:
    body = decode_body(Outgoing(1, "reminders.fire", {
        "text": "<b>交</b> & 材料", "late": text("reminders.late_marker", at="12月01日 09:00"),
        "repeat_line": ""}, buttons=((("reminders.button_done", "rm:d:1"),),)).body())
    rendered, keyboard = render("zh_cn", body)
    assert "&lt;b&gt;交&lt;/b&gt; &amp; 材料" in rendered
    assert "本应在 12月01日 09:00 提醒" in rendered
    assert keyboard is not None and keyboard.inline_keyboard[0][0].callback_data == "rm:d:1"
    traditional, _ = render("zh_tw", body)
    assert "提醒" in traditional and "補發" in traditional


def test_lateness_classes() -> None:
    due = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
    grace = timedelta(hours=6)
    assert lateness(due, due + timedelta(minutes=4), grace) == "on_time"
    assert lateness(due, due + timedelta(hours=2), grace) == "late"
    assert lateness(due, due + timedelta(hours=7), grace) == "stale"


@pytest.fixture
async def db(dbs: Databases):
    database = await Database.open(await dbs("sched.db"))
    yield database
    await database.close()


async def pending_bodies(db: Database) -> list[tuple[int, dict[str, Any]]]:
    async with db.read() as conn:
        rows = await outbox.pending(conn)
    return [(r.chat_id, {"key": decode_body(r.body).key, **decode_body(r.body).params}) for r in rows]


async def test_enqueue_is_idempotent_by_dedupe(db: Database) -> None:
    now = START.astimezone(UTC)
    msg = Outgoing(5, "reminders.none", dedupe="x:1")
    async with db.transaction() as conn:
        assert await outbox.enqueue(conn, [msg, msg], now) == 1
    async with db.transaction() as conn:
        assert await outbox.enqueue(conn, [msg], now) == 0
    assert len(await pending_bodies(db)) == 1


async def test_one_off_reminder_is_produced_once_even_after_a_restart(db: Database) -> None:
    clock = SimClock(START)
    svc = ReminderService(db, clock, TZ, grace_hours=6)
    when, rest = parse_when("10分钟后 交材料", START)
    await svc.create(7, None, -100, when, rest)
    await svc.produce(clock.now())
    assert await pending_bodies(db) == []
    clock.advance(timedelta(minutes=10))
    await svc.produce(clock.now())
    restarted = ReminderService(db, clock, TZ, grace_hours=6)  # a new process on the same database
    await restarted.produce(clock.now())
    clock.advance(timedelta(days=1))
    await restarted.produce(clock.now())
    found = await pending_bodies(db)
    assert [(chat, b["key"], b["text"], b["late"]) for chat, b in found] == [(-100, "reminders.fire", "交材料", "")]


async def test_workday_reminder_skips_national_day_and_keeps_the_make_up_saturday(db: Database) -> None:
    clock = SimClock(START)
    svc = ReminderService(db, clock, TZ, grace_hours=6)
    when, rest = parse_when("每个工作日8点半 看留言", START)
    created = await svc.create(7, None, -100, when, rest)
    fired: list[datetime] = []
    assert created.reminder.next_at is not None
    for _ in range(6):
        async with db.read() as conn:
            from storage import reminders as repo
            current = await repo.get(conn, created.reminder.id)
        assert current is not None and current.next_at is not None
        fired.append(current.next_at.astimezone(TZ))
        clock.set(current.next_at)
        await svc.produce(clock.now())
    days = [d.date().isoformat() for d in fired]
    assert days == ["2026-09-30", "2026-10-08", "2026-10-09", "2026-10-10", "2026-10-12", "2026-10-13"]
    assert all((d.hour, d.minute) == (8, 30) for d in fired)
    assert len(await pending_bodies(db)) == 6


async def test_missed_occurrences_coalesce_late_within_grace_summary_beyond(db: Database) -> None:
    clock = SimClock(START)
    svc = ReminderService(db, clock, TZ, grace_hours=6)
    daily, rest = parse_when("每天10点 开晨会", START)
    await svc.create(7, None, -100, daily, rest)
    old, rest2 = parse_when("30分钟后 旧的事", START)
    await svc.create(7, None, -100, old, rest2)
    # The bot is down for 3 days and back at 13:00: the daily 10:00 missed three times comes once,
    # marked late (today's is within the 6 h grace); the one-off of three days ago is past the
    # grace and goes into the summary instead.
    clock.set(START + timedelta(days=3, hours=4))
    await svc.produce(clock.now())
    found = await pending_bodies(db)
    fires = [b for _, b in found if b["key"] == "reminders.fire"]
    summaries = [b for _, b in found if b["key"] == "reminders.stale_summary"]
    assert [b["text"] for b in fires] == ["开晨会"]  # daily: one late message, not three
    assert fires[0]["late"]["$t"] == "reminders.late_marker"
    assert len(summaries) == 1 and summaries[0]["count"] == 1
    assert "旧的事" in summaries[0]["lines"][0]["params"]["text"]
    async with db.read() as conn:
        from storage import reminders as repo
        active = await repo.active_in_chat(conn, -100)
    assert len(active) == 1 and active[0].next_at == datetime(2026, 10, 3, 10, 0, tzinfo=TZ).astimezone(UTC)


async def test_cancel_and_refusals(db: Database) -> None:
    clock = SimClock(START)
    svc = ReminderService(db, clock, TZ, grace_hours=6)
    when, rest = parse_when("明天 开会", START)
    created = await svc.create(7, None, -100, when, rest)
    assert created.reminder.next_at == datetime(2026, 9, 30, 9, 0, tzinfo=TZ).astimezone(UTC)
    with pytest.raises(Refusal) as refused:
        await svc.cancel(8, -100, created.reminder.id)
    assert refused.value.key == "reminders.not_yours"
    with pytest.raises(Refusal) as refused:
        await svc.cancel(7, -999, created.reminder.id)
    assert refused.value.key == "reminders.unknown_id"
    await svc.cancel(7, -100, created.reminder.id)
    assert await svc.in_chat(-100) == []
    with pytest.raises(Refusal) as refused:
        await svc.create(7, None, -100, when, "   ")
    assert refused.value.key == "reminders.no_text"
    with pytest.raises(Refusal) as refused:
        await svc.create(7, None, -100, when, "字" * 1001)
    assert refused.value.key == "reminders.too_long"


async def test_deadline_reminds_in_the_morning_of_its_day(db: Database) -> None:
    clock = SimClock(START)
    svc = ReminderService(db, clock, TZ, grace_hours=6)
    when, rest = parse_when("10月20日前 交表", START)
    created = await svc.create(7, None, -100, when, rest)
    assert created.reminder.next_at == datetime(2026, 10, 20, 9, 0, tzinfo=TZ).astimezone(UTC)


class RecordingBot:
    def __init__(self) -> None:
        self.sent: list[tuple[int, str]] = []

    async def send_message(self, chat_id: int, text: str, **kwargs: Any) -> None:
        self.sent.append((chat_id, text))


async def test_a_crash_between_claim_and_send_loses_nothing(dbs: Databases) -> None:
    from handlers.sender import OutboxSender
    from services.roster import RosterService

    clock = SimClock(START)
    first = await Database.open(await dbs("crash.db"))
    svc = ReminderService(first, clock, TZ, grace_hours=6)
    when, rest = parse_when("10分钟后 交材料", START)
    await svc.create(7, None, -100, when, rest)
    clock.advance(timedelta(minutes=10))
    await svc.produce(clock.now())  # claimed and queued … and the process dies before sending
    await first.close()

    second = await Database.open(await dbs("crash.db"))  # the restart
    await ReminderService(second, clock, TZ, grace_hours=6).produce(clock.now())  # claims nothing new
    bot = RecordingBot()
    sender = OutboxSender(second, clock, RosterService(second, clock, frozenset()))
    assert await sender.drain(bot) == 1  # type: ignore[arg-type]
    assert await sender.drain(bot) == 0  # type: ignore[arg-type]
    assert bot.sent == [(-100, "⏰ 提醒：交材料")]
    await second.close()


class FlakyBot(RecordingBot):
    """Fails with a network error while `down` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.down = True

    async def send_message(self, chat_id: int, text: str, **kwargs: Any) -> None:
        from telegram.error import NetworkError

        if self.down:
            raise NetworkError("connection reset")
        await super().send_message(chat_id, text, **kwargs)


async def test_network_trouble_keeps_a_chats_messages_in_order(db: Database) -> None:
    from handlers.sender import OutboxSender
    from services.roster import RosterService

    clock = SimClock(START)
    now = clock.now()
    async with db.transaction() as conn:
        await outbox.enqueue(conn, [Outgoing(-100, "reminders.fire", {"text": t, "late": "", "repeat_line": ""})
                                    for t in ("第一条", "第二条")], now)
        other = Outgoing(-200, "reminders.fire", {"text": "别的群", "late": "", "repeat_line": ""})
        await outbox.enqueue(conn, [other], now)
    bot = FlakyBot()
    sender = OutboxSender(db, clock, RosterService(db, clock, frozenset()))
    sender.first_backoff = 0.0
    sender.max_attempts = 3
    assert await sender.drain(bot) == 0  # type: ignore[arg-type]
    assert bot.sent == [] and len(await pending_bodies(db)) == 3  # nothing lost, nothing skipped
    bot.down = False
    assert await sender.drain(bot) == 3  # type: ignore[arg-type]
    assert [t for c, t in bot.sent if c == -100] == ["⏰ 提醒：第一条", "⏰ 提醒：第二条"]


# --- several workers on one database (PostgreSQL: issue #15; SQLite: two processes on one file) ----------


async def test_two_workers_ticking_at_once_produce_each_reminder_once(dbs: Databases) -> None:
    clock = SimClock(START)
    first = await Database.open(await dbs("workers.db"))
    second = await Database.open(await dbs("workers.db"))
    svc = ReminderService(first, clock, TZ, grace_hours=6)
    for i in range(20):
        when, rest = parse_when(f"10分钟后 第{i}件事", START)
        await svc.create(7, None, -100 - i, when, rest)
    clock.advance(timedelta(minutes=10))
    workers = [ReminderService(db, clock, TZ, grace_hours=6) for db in (first, second)]
    for _ in range(3):  # both ticks at the same moment, again and again
        await asyncio.gather(*(w.produce(clock.now()) for w in workers))
    found = await pending_bodies(first)
    assert sorted(b["text"] for _, b in found) == sorted(f"第{i}件事" for i in range(20))
    await first.close()
    await second.close()


class SlowBot(RecordingBot):
    async def send_message(self, chat_id: int, text: str, **kwargs: Any) -> None:
        await asyncio.sleep(0.01)
        await super().send_message(chat_id, text, **kwargs)


async def test_two_senders_on_postgres_never_send_a_row_twice(dbs: Databases) -> None:
    """Each row is locked (FOR UPDATE SKIP LOCKED) while it is sent: two workers draining the same
    outbox at once send every row exactly once between them."""
    if not dbs.pg:
        pytest.skip("SQLite: one process sends (the file lock of `run`)")
    from handlers.sender import OutboxSender
    from services.roster import RosterService

    clock = SimClock(START)
    first = await Database.open(await dbs("senders.db"))
    second = await Database.open(await dbs("senders.db"))
    async with first.transaction() as conn:
        await outbox.enqueue(conn, [Outgoing(1000 + i, "outbox.verbatim", {"text": {"$html": f"第{i}条"}})
                                    for i in range(60)], clock.now())
    bots = [SlowBot(), SlowBot()]
    senders = [OutboxSender(db, clock, RosterService(db, clock, frozenset())) for db in (first, second)]
    await asyncio.gather(*(s.drain(b) for s, b in zip(senders, bots, strict=True)))  # type: ignore[arg-type]
    sent = bots[0].sent + bots[1].sent
    assert sorted(sent) == sorted((1000 + i, f"第{i}条") for i in range(60))
    assert bots[0].sent and bots[1].sent  # both took part
    async with first.read() as conn:
        assert await outbox.count(conn, "sent") == 60
    await first.close()
    await second.close()


async def test_one_sender_per_bot_and_the_next_takes_over_when_it_dies(dbs: Databases) -> None:
    first = await Database.open(await dbs("lock.db"))
    second = await Database.open(await dbs("lock.db"))
    assert await first.hold_sender_lock(123456)
    assert await first.hold_sender_lock(123456)  # kept
    assert await second.hold_sender_lock(123456) is (not dbs.pg)  # SQLite: one process, always its own
    assert await second.hold_sender_lock(654321)  # another bot: its own sender
    await first.close()  # a clean stop gives the lock back at once
    assert await second.hold_sender_lock(123456)
    if dbs.pg:  # a process that dies without a word: the server drops its session, and the lock, soon after
        third = await Database.open(await dbs("lock.db"))
        await second.close()
        assert await third.hold_sender_lock(123456)
        fourth = await Database.open(await dbs("lock.db"))
        assert not await fourth.hold_sender_lock(123456)
        sender = third._sender  # type: ignore[attr-defined]
        assert sender is not None
        await sender.close()  # the connection goes, nothing unlocked
        for _ in range(100):
            if await fourth.hold_sender_lock(123456):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the lock of a dead session was never released")
        third._sender = None  # type: ignore[attr-defined]
        await third.close()
        await fourth.close()
    else:
        await second.close()
