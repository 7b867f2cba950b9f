"""Duty rotation engine: base cycles, holidays/调休, versions, overrides, time zones.

Calendar facts used below (chinese_calendar 2026 data):
- 国庆: 2026-10-01..10-07 off; 10-08 (Thu), 10-09 (Fri) and the 调休 Saturday 10-10 are working days.
- 2026-09-20 (Sun) is a 调休 working day; 2026-09-25 (Fri, 中秋) is off.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.calendar_cn import WorkdayCalendar
from services.rotation import (
    Override,
    OverrideKind,
    Period,
    RotationVersion,
    Shift,
    next_shifts,
    shift_at,
    shift_covering_day,
    shifts_between,
)

pytestmark = pytest.mark.unit

SH = ZoneInfo("Asia/Shanghai")
CAL = WorkdayCalendar()
A, B, C, D = 1, 2, 3, 4
SETUP = datetime(2026, 1, 1, tzinfo=UTC)


def ver(
    members: tuple[int, ...],
    period: Period,
    anchor: date,
    *,
    eff: datetime = SETUP,
    skip: bool = False,
    handoff: time = time(8, 0),
) -> RotationVersion:
    return RotationVersion(
        effective_from=eff,
        member_ids=members,
        period=period,
        anchor=anchor,
        tz=SH,
        handoff=handoff,
        skip_non_working=skip,
    )


def at(y: int, m: int, d: int, h: int = 12, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=SH)


def ov(
    oid: int,
    kind: OverrideKind,
    member: int,
    first: date,
    last: date | None = None,
    repl: int | None = None,
) -> Override:
    # created_at follows the id, so the id also gives the application order
    return Override(
        id=oid,
        kind=kind,
        member_id=member,
        first_day=first,
        last_day=last or first,
        replacement_id=repl,
        created_at=SETUP + timedelta(minutes=oid),
    )


def brief(s: Shift) -> tuple[date, date, int]:
    return (s.first_day, s.last_day, s.member_id)


# --- base cycles ---------------------------------------------------------------------------


def test_weekly_rotation_across_year_boundary() -> None:
    v = ver((A, B, C), "week", date(2026, 11, 23))  # a Monday
    s = shift_at([v], [], at(2027, 1, 1), CAL)
    assert s is not None
    assert s.index == 5
    assert (s.start, s.end) == (at(2026, 12, 28, 8), at(2027, 1, 4, 8))
    assert brief(s) == (date(2026, 12, 28), date(2027, 1, 3), C)
    assert s.reason == "base" and not s.unresolved
    assert [brief(x) for x in next_shifts([v], [], at(2027, 1, 1), 3, CAL)] == [
        (date(2026, 12, 28), date(2027, 1, 3), C),
        (date(2027, 1, 4), date(2027, 1, 10), A),
        (date(2027, 1, 11), date(2027, 1, 17), B),
    ]
    covering = shift_covering_day([v], [], date(2027, 1, 4), CAL)
    assert covering is not None and covering.member_id == A


def test_national_day_week_with_daily_skip() -> None:
    v = ver((A, B, C), "day", date(2026, 9, 28), skip=True)
    shifts = next_shifts([v], [], at(2026, 9, 28, 9), 7, CAL)
    assert [(x.index, *brief(x)) for x in shifts] == [
        (0, date(2026, 9, 28), date(2026, 9, 28), A),
        (1, date(2026, 9, 29), date(2026, 9, 29), B),
        (2, date(2026, 9, 30), date(2026, 10, 7), C),  # carries the whole holiday
        (3, date(2026, 10, 8), date(2026, 10, 8), A),
        (4, date(2026, 10, 9), date(2026, 10, 9), B),
        (5, date(2026, 10, 10), date(2026, 10, 11), C),  # 调休 Saturday, then Sunday off
        (6, date(2026, 10, 12), date(2026, 10, 12), A),
    ]
    during = shift_at([v], [], at(2026, 10, 3), CAL)
    assert during is not None and during.member_id == C
    assert (during.start, during.end) == (at(2026, 9, 30, 8), at(2026, 10, 8, 8))
    assert shift_covering_day([v], [], date(2026, 10, 5), CAL) == during
    last_minute = shift_at([v], [], at(2026, 10, 8, 7, 59), CAL)
    first_after = shift_at([v], [], at(2026, 10, 8, 8, 0), CAL)
    assert last_minute == during
    assert first_after is not None and (first_after.index, first_after.member_id) == (3, A)


def test_daily_without_skip_has_shifts_on_holidays() -> None:
    v = ver((A, B, C), "day", date(2026, 9, 28))
    s = shift_at([v], [], at(2026, 10, 1), CAL)
    assert s is not None and (s.index, *brief(s)) == (3, date(2026, 10, 1), date(2026, 10, 1), A)
    s = shift_at([v], [], at(2026, 10, 3), CAL)
    assert s is not None and (s.index, s.member_id) == (5, C)


def test_makeup_sunday_is_a_working_day_and_mid_autumn_is_not() -> None:
    v = ver((A, B, C), "day", date(2026, 9, 14), skip=True)
    fri = shift_at([v], [], at(2026, 9, 19), CAL)  # Saturday: Friday's shift still runs
    assert fri is not None and (fri.index, *brief(fri)) == (4, date(2026, 9, 18), date(2026, 9, 19), B)
    sun = shift_covering_day([v], [], date(2026, 9, 20), CAL)  # 调休 Sunday gets its own shift
    assert sun is not None and (sun.index, *brief(sun)) == (5, date(2026, 9, 20), date(2026, 9, 20), C)
    assert sun.start == at(2026, 9, 20, 8)
    long = shift_covering_day([v], [], date(2026, 9, 26), CAL)  # 中秋 Friday + weekend
    assert long is not None and (long.index, *brief(long)) == (9, date(2026, 9, 24), date(2026, 9, 27), A)
    after = shift_at([v], [], at(2026, 9, 28), CAL)
    assert after is not None and (after.index, after.member_id) == (10, B)


def test_local_days_off_extend_the_previous_shift() -> None:
    cal = WorkdayCalendar.with_days_off([date(2026, 11, 4)])
    v = ver((A, B, C), "day", date(2026, 11, 2), skip=True)
    shifts = next_shifts([v], [], at(2026, 11, 2, 9), 5, cal)
    assert [brief(x) for x in shifts] == [
        (date(2026, 11, 2), date(2026, 11, 2), A),
        (date(2026, 11, 3), date(2026, 11, 4), B),  # 11-04 is a local day off
        (date(2026, 11, 5), date(2026, 11, 5), C),
        (date(2026, 11, 6), date(2026, 11, 8), A),
        (date(2026, 11, 9), date(2026, 11, 9), B),
    ]
    # The official calendar alone would give 11-04 its own shift.
    plain = shift_covering_day([v], [], date(2026, 11, 4), CAL)
    assert plain is not None and brief(plain) == (date(2026, 11, 4), date(2026, 11, 4), C)


def test_monthly_rotation_from_the_31st() -> None:
    v = ver((A, B), "month", date(2026, 1, 31))
    jan = shift_at([v], [], at(2026, 2, 28, 7, 59), CAL)
    assert jan is not None
    assert (jan.index, *brief(jan)) == (0, date(2026, 1, 31), date(2026, 2, 27), A)
    assert jan.end == at(2026, 2, 28, 8)
    feb = shift_at([v], [], at(2026, 2, 28, 8), CAL)
    assert feb is not None
    assert (feb.index, *brief(feb)) == (1, date(2026, 2, 28), date(2026, 3, 30), B)
    apr = shift_at([v], [], at(2026, 5, 1), CAL)
    assert apr is not None
    assert (apr.index, *brief(apr)) == (3, date(2026, 4, 30), date(2026, 5, 30), B)
    leap = shift_covering_day([v], [], date(2028, 3, 1), CAL)
    assert leap is not None
    assert (leap.index, *brief(leap)) == (25, date(2028, 2, 29), date(2028, 3, 30), B)


def test_time_zone_edges_around_handoff() -> None:
    v = ver((A, B, C), "day", date(2026, 11, 2))
    before = shift_at([v], [], at(2026, 11, 3, 7, 59), CAL)
    after = shift_at([v], [], at(2026, 11, 3, 8, 0), CAL)
    assert before is not None and before.member_id == A
    assert after is not None and after.member_id == B
    # 08:00 in Shanghai is 00:00 UTC.
    utc_before = shift_at([v], [], datetime(2026, 11, 2, 23, 59, 59, tzinfo=UTC), CAL)
    utc_after = shift_at([v], [], datetime(2026, 11, 3, 0, 0, tzinfo=UTC), CAL)
    assert utc_before == before and utc_after == after
    assert after.start == datetime(2026, 11, 3, 0, 0, tzinfo=UTC)
    assert after.start.utcoffset() == timedelta(hours=8)  # reported in the rotation's zone
    ny = shift_at([v], [], datetime(2026, 11, 2, 19, 0, tzinfo=ZoneInfo("America/New_York")), CAL)
    assert ny == after


def test_naive_datetime_is_rejected() -> None:
    v = ver((A, B), "day", date(2026, 11, 2))
    with pytest.raises(ValueError):
        shift_at([v], [], datetime(2026, 11, 3, 9, 0), CAL)  # noqa: DTZ001


# --- start of the rotation -----------------------------------------------------------------


def test_anchor_in_the_past() -> None:
    v = ver((A, B, C), "week", date(2026, 11, 23), eff=at(2026, 11, 25, 10))
    assert shift_at([v], [], at(2026, 11, 24), CAL) is None  # no rotation existed yet
    assert shift_at([v], [], at(2026, 11, 25, 9, 59), CAL) is None
    now = shift_at([v], [], at(2026, 11, 25, 10), CAL)
    assert now is not None and (now.index, *brief(now)) == (0, date(2026, 11, 23), date(2026, 11, 29), A)
    assert [brief(x) for x in next_shifts([v], [], at(2026, 11, 24), 2, CAL)] == [
        (date(2026, 11, 23), date(2026, 11, 29), A),
        (date(2026, 11, 30), date(2026, 12, 6), B),
    ]
    # An anchor months back: the cycle is counted from it (46 weeks → index 46 → B).
    old = ver((A, B, C), "week", date(2026, 1, 5), eff=at(2026, 11, 25, 10))
    s = shift_at([old], [], at(2026, 11, 26), CAL)
    assert s is not None and (s.index, *brief(s)) == (46, date(2026, 11, 23), date(2026, 11, 29), B)


def test_before_the_anchor_there_is_no_shift() -> None:
    v = ver((A, B, C), "day", date(2026, 12, 1))
    assert shift_at([v], [], at(2026, 11, 30), CAL) is None
    assert shift_at([v], [], at(2026, 12, 1, 7, 59), CAL) is None
    first = shift_at([v], [], at(2026, 12, 1, 8), CAL)
    assert first is not None and (first.index, first.member_id) == (0, A)
    assert shift_covering_day([v], [], date(2026, 11, 30), CAL) is None
    assert shifts_between([v], [], at(2026, 11, 1), at(2026, 12, 1, 8), CAL) == []
    upcoming = next_shifts([v], [], at(2026, 11, 30), 2, CAL)
    assert [brief(x) for x in upcoming] == [
        (date(2026, 12, 1), date(2026, 12, 1), A),
        (date(2026, 12, 2), date(2026, 12, 2), B),
    ]
    assert shift_at([], [], at(2026, 12, 5), CAL) is None
    assert next_shifts([], [], at(2026, 12, 5), 3, CAL) == []


def test_shifts_between_returns_overlapping_shifts() -> None:
    v = ver((A, B, C), "day", date(2026, 9, 28), skip=True)
    got = shifts_between([v], [], at(2026, 10, 2), at(2026, 10, 9, 8), CAL)
    assert [brief(x) for x in got] == [
        (date(2026, 9, 30), date(2026, 10, 7), C),
        (date(2026, 10, 8), date(2026, 10, 8), A),
    ]


# --- overrides -----------------------------------------------------------------------------

DAILY = ver((A, B, C, D), "day", date(2026, 11, 2))  # 11-02 A, 11-03 B, 11-04 C, 11-05 D, 11-06 A …


def week_of_nov2(overrides: list[Override]) -> list[tuple[int, int, str]]:
    shifts = next_shifts([DAILY], overrides, at(2026, 11, 2, 9), 7, CAL)
    return [(x.base_member_id, x.member_id, x.reason) for x in shifts]


def test_leave_covering_several_shifts() -> None:
    leave = ov(1, "leave", A, date(2026, 11, 2), date(2026, 11, 6))
    assert week_of_nov2([leave]) == [
        (A, B, "leave"),
        (B, B, "base"),
        (C, C, "base"),
        (D, D, "base"),
        (A, B, "leave"),
        (B, B, "base"),
        (C, C, "base"),
    ]


def test_leave_on_one_day_moves_the_whole_week() -> None:
    v = ver((A, B, C), "week", date(2026, 11, 23))
    leave = ov(1, "leave", B, date(2026, 12, 3))
    s = shift_covering_day([v], [leave], date(2026, 11, 30), CAL)
    assert s is not None
    assert (s.base_member_id, *brief(s), s.reason) == (B, date(2026, 11, 30), date(2026, 12, 6), C, "leave")


def test_leave_skips_a_next_member_who_is_also_on_leave() -> None:
    b_away = ov(1, "leave", B, date(2026, 11, 1), date(2026, 11, 10))
    a_away = ov(2, "leave", A, date(2026, 11, 2))
    got = week_of_nov2([b_away, a_away])
    assert got[0] == (A, C, "leave")  # B is away too
    assert got[1] == (B, C, "leave")
    assert got[5] == (B, C, "leave")


def test_nobody_available_keeps_the_shift_and_flags_it() -> None:
    v = ver((A, B), "day", date(2026, 11, 2))
    both = [ov(1, "leave", A, date(2026, 11, 2)), ov(2, "leave", B, date(2026, 11, 1), date(2026, 11, 3))]
    s = shift_covering_day([v], both, date(2026, 11, 2), CAL)
    assert s is not None and (s.member_id, s.reason, s.unresolved) == (A, "leave", True)
    # The chair resolves it by assigning someone outside the order.
    fixed = shift_covering_day([v], [*both, ov(3, "assign", 99, date(2026, 11, 2), repl=C)], date(2026, 11, 2), CAL)
    assert fixed is not None and (fixed.member_id, fixed.reason, fixed.unresolved) == (C, "assign", False)


def test_swap_then_leave_of_the_replacement_reassigns_again() -> None:
    swap = ov(1, "swap", A, date(2026, 11, 2), repl=C)
    c_away = ov(2, "leave", C, date(2026, 11, 2))
    assert week_of_nov2([swap])[0] == (A, C, "swap")
    assert week_of_nov2([swap, c_away])[0] == (A, D, "leave")  # next after C in the order
    # Created in the other order, the later swap wins.
    c_away_first = ov(1, "leave", C, date(2026, 11, 2))
    swap_later = ov(2, "swap", A, date(2026, 11, 2), repl=C)
    assert week_of_nov2([c_away_first, swap_later])[0] == (A, C, "swap")


def test_swap_of_a_shift_that_is_not_hers_is_ignored() -> None:
    stale = ov(1, "swap", B, date(2026, 11, 2), repl=D)
    assert week_of_nov2([stale])[0] == (A, A, "base")


def test_assign_takes_the_shift_whoever_had_it() -> None:
    assign = ov(1, "assign", 99, date(2026, 11, 4), repl=A)
    got = week_of_nov2([assign])
    assert got[2] == (C, A, "assign")
    assert got[3] == (D, D, "base")
    # A later leave of the assignee moves it on; an earlier one does not.
    a_away = ov(2, "leave", A, date(2026, 11, 4))
    assert week_of_nov2([assign, a_away])[2] == (C, B, "leave")
    a_away_first = ov(0, "leave", A, date(2026, 11, 4))
    assert week_of_nov2([a_away_first, assign])[2] == (C, A, "assign")


def test_overrides_are_applied_by_created_at_not_list_order() -> None:
    swap = ov(1, "swap", A, date(2026, 11, 2), repl=C)
    c_away = ov(2, "leave", C, date(2026, 11, 2))
    assert week_of_nov2([c_away, swap])[0] == (A, D, "leave")


# --- versions ------------------------------------------------------------------------------


def test_member_removed_mid_rotation() -> None:
    v0 = ver((A, B, C, D), "week", date(2026, 11, 23))
    v1 = ver((A, B, D), "week", date(2026, 11, 23), eff=at(2026, 12, 9, 10))  # Wednesday: C leaves
    history = [v0, v1]
    past = shifts_between([v0], [], at(2026, 11, 23, 8), at(2026, 12, 9, 10), CAL)
    assert shifts_between(history, [], at(2026, 11, 23, 8), at(2026, 12, 9, 10), CAL) == past
    assert [x.member_id for x in past] == [A, B, C]
    current = shift_at(history, [], at(2026, 12, 10), CAL)  # C's week already started: unchanged
    assert current is not None and (current.member_id, current.end) == (C, at(2026, 12, 14, 8))
    future = next_shifts(history, [], at(2026, 12, 14, 8), 3, CAL)
    # Index 3, 4, 5 counted from v1's anchor over (A, B, D).
    assert [(x.index, x.member_id) for x in future] == [(3, A), (4, B), (5, D)]


def test_changing_the_order_effective_now() -> None:
    v0 = ver((A, B, C, D), "week", date(2026, 11, 23))
    v1 = ver((C, A, B, D), "week", date(2026, 12, 14), eff=at(2026, 12, 9, 10))
    history = [v1, v0]  # list order does not matter
    assert [x.member_id for x in next_shifts(history, [], at(2026, 12, 1), 5, CAL)] == [B, C, C, A, B]
    nxt = shift_at(history, [], at(2026, 12, 14, 8), CAL)
    assert nxt is not None and (nxt.index, nxt.first_day, nxt.member_id) == (0, date(2026, 12, 14), C)
    # Same anchor, reversed order: the cycle index keeps counting from the anchor.
    v2 = ver((D, C, B, A), "week", date(2026, 11, 23), eff=at(2026, 12, 9, 10))
    s = shift_at([v0, v2], [], at(2026, 12, 15), CAL)
    assert s is not None and (s.index, s.member_id) == (3, A)


def test_period_change_cuts_the_old_shift_at_the_new_first_shift() -> None:
    v0 = ver((A, B, C), "week", date(2026, 11, 23))
    v1 = ver((D, A), "day", date(2026, 12, 10), eff=at(2026, 12, 9, 10))
    got = shifts_between([v0, v1], [], at(2026, 12, 7, 8), at(2026, 12, 12, 8), CAL)
    assert [(x.start, x.end, *brief(x)) for x in got] == [
        (at(2026, 12, 7, 8), at(2026, 12, 10, 8), date(2026, 12, 7), date(2026, 12, 9), C),
        (at(2026, 12, 10, 8), at(2026, 12, 11, 8), date(2026, 12, 10), date(2026, 12, 10), D),
        (at(2026, 12, 11, 8), at(2026, 12, 12, 8), date(2026, 12, 11), date(2026, 12, 11), A),
    ]


def test_version_superseded_before_it_took_over_is_ignored() -> None:
    v0 = ver((A, B, C), "week", date(2026, 11, 23))
    v1 = ver((B, C), "week", date(2026, 11, 23), eff=at(2026, 12, 9, 10))
    v2 = ver((C, A), "week", date(2026, 11, 23), eff=at(2026, 12, 9, 11))
    got = next_shifts([v0, v1, v2], [], at(2026, 12, 9, 12), 3, CAL)
    assert [(x.index, x.member_id) for x in got] == [(2, C), (3, A), (4, C)]


# --- efficiency ----------------------------------------------------------------------------


def test_daily_skip_two_years_after_the_anchor_is_fast_and_exact() -> None:
    cal = WorkdayCalendar.with_days_off([date(2026, 11, 4), date(2027, 1, 13)])  # 2027: fallback year
    v = ver((A, B, C), "day", date(2025, 1, 6), skip=True)
    t = at(2027, 1, 20)
    span = (t.date() - v.anchor).days
    expected = sum(cal.is_workday(v.anchor + timedelta(days=i)) for i in range(1, span + 1))
    s = shift_at([v], [], t, cal)
    assert s is not None and s.index == expected and s.first_day == date(2027, 1, 20)
    best = min(_timed(lambda: shift_at([v], [], t, cal)) for _ in range(5))
    assert best < 0.010


def test_week_and_month_indices_are_arithmetic() -> None:
    w = ver((A, B, C), "week", date(2026, 1, 5))
    m = ver((A, B, C), "month", date(2026, 1, 31))
    t = at(2046, 3, 1)
    sw, sm = shift_at([w], [], t, CAL), shift_at([m], [], t, CAL)
    assert sw is not None and sw.index == (t.date() - date(2026, 1, 5)).days // 7
    assert sm is not None and (sm.index, sm.first_day) == (20 * 12 + 1, date(2046, 2, 28))
    assert _timed(lambda: shift_at([w, m], [], t, CAL)) < 0.010


def _timed(fn: Callable[[], object]) -> float:
    t0 = _time.perf_counter()
    fn()
    return _time.perf_counter() - t0
