"""The duty producer looks only at organisations whose next wake (orgs.duty_next_at) has come
(demo org: daily rotation, hand-off 08:00, eve notice 20:00, nudge +2 h, note to the chair +4 h)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services import duty_notices
from services.duty import DutyService
from storage.models import from_db
from tests.harness import WORK, Harness

pytestmark = pytest.mark.handler

SH = ZoneInfo("Asia/Shanghai")


class Looks:
    """Counts the organisations the duty producer works out."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.orgs: list[int] = []
        original = DutyService.situation

        def counting(service: DutyService, org_id: int, current: Any, now: datetime) -> Any:
            self.orgs.append(org_id)
            return original(service, org_id, current, now)

        monkeypatch.setattr(DutyService, "situation", counting)

    def take(self) -> list[int]:
        found, self.orgs = self.orgs, []
        return found


async def _wake(h: Harness) -> datetime | None:
    async with h.db.read() as conn:
        cur = await conn.execute("SELECT duty_next_at FROM orgs")
        row = await cur.fetchone()
    return from_db(row[0]) if row and row[0] else None


async def test_a_quiet_tick_looks_at_no_organisation(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    looks = Looks(monkeypatch)
    await h.tick()  # Monday 09:00: the first tick works every organisation out
    assert looks.take() == [1]
    assert await _wake(h) == datetime(2026, 11, 23, 10, 0, tzinfo=SH)  # the nudge (+2 h)
    h.clock.advance(timedelta(minutes=20))
    await h.tick()
    assert looks.take() == []  # nothing due until 10:00
    await h.advance_to(datetime(2026, 11, 23, 10, 0, tzinfo=SH), step=timedelta(minutes=20))
    assert looks.take() == [1]
    assert await _wake(h) == datetime(2026, 11, 23, 12, 0, tzinfo=SH)  # the note to the chair
    await h.advance_to(datetime(2026, 11, 23, 12, 0, tzinfo=SH), step=timedelta(minutes=20))
    assert await _wake(h) == datetime(2026, 11, 23, 20, 0, tzinfo=SH)  # the eve notice
    await h.advance_to(datetime(2026, 11, 23, 20, 0, tzinfo=SH), step=timedelta(minutes=20))
    assert await _wake(h) == datetime(2026, 11, 24, 8, 0, tzinfo=SH)  # the hand-off


async def test_a_change_wakes_its_organisation_at_once(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    await h.tick()
    looks = Looks(monkeypatch)
    h.clock.advance(timedelta(minutes=20))
    await h.tick()
    assert looks.take() == []
    assert "已" in await h.say(WORK, "王芳", "/dayoff 2026-11-24")
    assert await _wake(h) is None
    await h.tick()
    assert looks.take() == [1]


async def test_a_holiday_change_wakes_every_organisation(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    from storage import holidays

    await h.tick()
    assert await _wake(h) is not None
    async with h.db.transaction() as conn:
        await holidays.put(conn, holidays.HolidayDay(date(2027, 1, 4), False, "测试"), 1, h.clock.now())
    assert await _wake(h) is None


async def test_a_wake_computed_before_a_change_does_not_hide_it(h: Harness) -> None:
    """The tick read the organisation, then /dayoff changed it before the tick stored the wake."""
    await h.tick()
    async with h.db.transaction() as conn:
        await conn.execute("UPDATE orgs SET duty_next_at = NULL")
    service = h.services.duty
    service.kept_rotations.clear()  # read afresh, as on the first tick
    original = service.rotations

    async def rotation_then_change(conn: Any, org_ids: list[int]) -> Any:
        found = await original(conn, org_ids)
        await h.say(WORK, "王芳", "/dayoff 2026-11-25")  # while the tick is between its read and its write
        return found

    service.rotations = rotation_then_change
    try:
        await duty_notices.produce(service, h.clock.now() + timedelta(minutes=1))
    finally:
        service.rotations = original
    assert await _wake(h) is None  # still to be worked out


async def test_a_kept_rotation_is_read_again_after_a_change(h: Harness) -> None:
    """The producer keeps each rotation between ticks under its change count: a change reads it again."""
    await h.tick()
    service = h.services.duty
    count, kept = service.kept_rotations[1]
    assert kept is not None and not kept.overrides
    assert "已" in await h.say(WORK, "王芳", "/dayoff 2026-11-25")
    await h.tick()
    count_after, kept_after = service.kept_rotations[1]
    assert count_after == count + 1 and kept_after is not None
    assert date(2026, 11, 25) in kept_after.calendar.local_days_off


async def test_the_task_producer_reads_only_tasks_near_or_past_their_deadline(
        h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """Demo tasks fall due within days; one due next year is not read until its reminder days come,
    and a quiet tick writes nothing."""
    from services.tasks import TaskService

    assert "已" in await h.say(WORK, "王芳", "/task_add 2027年6月30日前 全年总结 @liumin")
    read: list[str] = []
    original = TaskService._org_messages

    async def counting(service: TaskService, conn: Any, org_id: int, org_tasks: list[Any], now: datetime) -> Any:
        read.extend(t.title for t in org_tasks)
        return await original(service, conn, org_id, org_tasks, now)

    monkeypatch.setattr(TaskService, "_org_messages", counting)
    before = datetime(2026, 11, 23, 8, 0, tzinfo=SH)  # before the digest time: overdue ones not read either
    await h.services.tasks.produce(before)
    assert "全年总结" not in read
    await h.services.tasks.produce(datetime(2027, 6, 28, 9, 0, tzinfo=SH))
    assert "全年总结" in read


async def test_the_producers_shifts_are_the_engines_at_every_moment(h: Harness) -> None:
    """DutyService.situation reuses shifts worked out earlier for the same rotation: at every moment
    they are what the engine says (weekly and daily rotations, a leave, an assignment, days off)."""
    service = h.services.duty
    assert "已" in await h.say(WORK, "王芳", "/assign 11月26日 @liumin")
    assert "已" in await h.say(WORK, "王芳", "/dayoff 2026-12-01")
    for period in ("日", "周"):
        assert "已设置" in await h.say(WORK, "王芳", f"/rota_set {period} 2026-11-24 @liumin 陈静 @lixiuying")
        if period == "日":
            assert "请假" in await h.say(WORK, "陈静", "/leave 11月28日-11月30日 家里有事")
        async with h.db.read() as conn:
            current = (await service.rotations(conn, [1]))[1]
        moment = h.clock.now()
        for _ in range(24 * 12):  # 24 days in steps of 2 hours
            moment += timedelta(hours=2, minutes=7)
            s = service.situation(1, current, moment)
            shift, upcoming = current.at_and_next(moment, 2)
            assert (s.shift, s.upcoming) == (shift, upcoming)
            assert s.shift_ref == (shift.start.isoformat() if shift else None)
            assert s.upcoming_refs == tuple(x.start.isoformat() for x in upcoming)
