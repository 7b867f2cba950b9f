"""What a member did during a review period, from the other features' records: duty shifts and
check-ins (the rotation engine + `checkins`), ledger entries, trainings attended, tasks closed on time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import aiosqlite

from services import rotation
from services.calendar_cn import WorkdayCalendar
from storage import duty, holidays, reviews
from storage import tasks as task_store
from storage import trainings as training_store
from storage.models import to_db
from storage.reviews import Cycle


@dataclass(frozen=True)
class Activity:
    shifts: int = 0
    checked: int = 0
    ledger: int = 0
    trainings: tuple[int, int] | None = None  # (attended, meant for)
    tasks: tuple[int, int] | None = None  # (closed on time, owned)


def period_end(cycle: Cycle, now: datetime) -> datetime:
    """The period counts up to its set end (else the deadline), or the close if that came first."""
    return min(cycle.period_end or cycle.deadline, cycle.closed_at or now)


async def _shifts(conn: aiosqlite.Connection, org_id: int, tz: ZoneInfo, start: datetime,
                  end: datetime) -> tuple[dict[int, int], dict[int, int]]:
    """Per member: shifts in the period, and how many of them she checked in."""
    shifts: dict[int, int] = {}
    checked: dict[int, int] = {}
    versions = await duty.versions(conn, org_id)
    if not versions or end <= start:
        return shifts, checked
    rv = [rotation.RotationVersion(v.effective_from, v.member_ids, v.period, v.anchor, tz,  # type: ignore[arg-type]
                                   v.handoff, v.skip_non_working) for v in versions]
    ov = [rotation.Override(o.id, o.kind, o.member_id, o.first_day, o.last_day, o.replacement_id,  # type: ignore[arg-type]
                            o.created_at) for o in await duty.overrides(conn, org_id)]
    calendar = WorkdayCalendar.with_days_off(await duty.days_off(conn, org_id), await holidays.overrides(conn))
    found = rotation.shifts_between(rv, ov, start, end, calendar)
    done = await duty.checkins_between(conn, org_id, start - timedelta(days=400), end)
    for s in found:
        is_done = to_db(s.start) in done
        # A shift still running at the end of the period counts only once checked in.
        if s.end > end and not is_done:
            continue
        shifts[s.member_id] = shifts.get(s.member_id, 0) + 1
        checked[s.member_id] = checked.get(s.member_id, 0) + int(is_done)
    return shifts, checked


async def activity(conn: aiosqlite.Connection, org_id: int, tz: ZoneInfo, start: datetime,
                   end: datetime) -> dict[int, Activity]:
    """Per member with any activity in the period."""
    shifts, checked = await _shifts(conn, org_id, tz, start, end)
    ledger = await reviews.ledger_counts(conn, org_id, start, end)
    trainings = await training_store.attendance_counts(conn, org_id, start, end)
    tasks = await task_store.closed_on_time_counts(conn, org_id, start, end)
    ids = set(shifts) | set(ledger) | set(trainings) | set(tasks)
    return {
        i: Activity(shifts.get(i, 0), checked.get(i, 0), ledger.get(i, 0),
                    trainings.get(i) if trainings.get(i, (0, 0))[1] > 0 else None,
                    tasks.get(i) if tasks.get(i, (0, 0))[1] > 0 else None)
        for i in ids
    }
