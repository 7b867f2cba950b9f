"""Duty rotation engine (执委轮值): pure computation, no I/O.

Base schedule of one `RotationVersion`
- Shifts start at `handoff` (local time in `tz`) and end when the next shift starts.
- "day": one shift per day from `anchor`. With `skip_non_working`, a new shift starts only on
  working days (per `WorkdayCalendar`, local days off included); the shift before a non-working
  day extends to the next working day's handoff and the cycle index does not advance. The first
  shift always starts on the anchor, even if the anchor is a non-working day.
- "week": shifts start every 7 days from the anchor (so on the anchor's weekday).
- "month": shifts start on the anchor's day of month, clamped to the month's length (31 → Feb 28).
- Cycle index k counts shifts from the version's own anchor; the base member is
  `member_ids[k % len(member_ids)]`. Indices are computed arithmetically; for skipped days the
  working days are counted as weekdays corrected on holiday/调休/local-day-off dates only.

Versions (a rotation's history)
- A version applies to shifts starting at or after its `effective_from`: it takes over at the start
  of its first own shift at or after `effective_from`. Until then the previous version keeps
  producing shifts; its last shift ends at the take-over instant (cut short only if the new
  boundaries do not line up). Past shifts and the shift in progress never change holder; a version
  superseded before it took over is ignored.
- The first version is in effect from max(effective_from, first shift start); at that instant its
  shift in progress counts, with its natural start (an anchor in the past is fine).

Overrides (applied per shift in (created_at, id) order on top of the base; later ones win)
- leave: if the current holder is `member_id` and the shift's day range (first_day..last_day)
  overlaps the leave, the shift goes to the next member after her in the version's order (after the
  base member if she is not in the order) who has no leave (of any date of creation) overlapping
  the shift, never to herself. If nobody is available she keeps it, flagged `unresolved`.
- swap: if the current holder of the shift covering `first_day` is `member_id`, `replacement_id`
  takes it (stale swaps, e.g. after an order change, are ignored).
- assign: the shift covering `first_day` goes to `replacement_id` whoever holds it
  (`member_id` is only the actor and is ignored).
- A swap or assign clears `unresolved`; `reason` names the last override that applied.
- "The shift covering a day" is the one whose first_day..last_day contains it.

All instants must be timezone-aware (ValueError otherwise); a naive `created_at` is read as UTC.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice
from typing import Literal, NamedTuple
from zoneinfo import ZoneInfo

import chinese_calendar

from services.calendar_cn import WorkdayCalendar

Period = Literal["day", "week", "month"]
OverrideKind = Literal["leave", "swap", "assign"]
Reason = Literal["base", "leave", "swap", "assign"]

DEFAULT_HANDOFF = time(8, 0)
_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class RotationVersion:
    effective_from: datetime
    member_ids: tuple[int, ...]
    period: Period
    anchor: date
    tz: ZoneInfo
    handoff: time = DEFAULT_HANDOFF
    skip_non_working: bool = False

    def __post_init__(self) -> None:
        if self.effective_from.tzinfo is None:
            raise ValueError("effective_from must be timezone-aware")
        if not self.member_ids:
            raise ValueError("a rotation needs at least one member")
        if self.period not in ("day", "week", "month"):
            raise ValueError(f"unknown period {self.period!r}")
        if self.handoff.tzinfo is not None:
            raise ValueError("handoff is a local wall-clock time without tzinfo")


@dataclass(frozen=True)
class Override:
    id: int
    kind: OverrideKind
    member_id: int
    first_day: date
    last_day: date
    replacement_id: int | None
    created_at: datetime

    def __post_init__(self) -> None:
        if self.last_day < self.first_day:
            raise ValueError("override ends before it starts")
        if self.kind in ("swap", "assign") and self.replacement_id is None:
            raise ValueError(f"a {self.kind} needs a replacement")


@dataclass(frozen=True)
class Shift:
    index: int  # cycle index within its version, counted from that version's anchor
    start: datetime
    end: datetime
    first_day: date
    last_day: date
    base_member_id: int
    member_id: int
    reason: Reason
    unresolved: bool


# --- time helpers ---------------------------------------------------------------------------


def _utc(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        raise ValueError("datetime must be timezone-aware")
    return dt.astimezone(UTC)


def _at(v: RotationVersion, day: date) -> datetime:
    """The handoff instant of `day` in the version's time zone."""
    return datetime.combine(day, v.handoff, tzinfo=v.tz)


def _duty_day(v: RotationVersion, t: datetime) -> date:
    """The local date whose handoff most recently passed at `t`."""
    day = t.astimezone(v.tz).date()
    return day if _utc(t) >= _utc(_at(v, day)) else day - _ONE_DAY


def _month_start(anchor: date, k: int) -> date:
    months = anchor.year * 12 + anchor.month - 1 + k
    year, month = divmod(months, 12)
    month += 1
    next_first = date(year + (month == 12), month % 12 + 1, 1)
    return date(year, month, min(anchor.day, (next_first - _ONE_DAY).day))


# --- working-day counting ------------------------------------------------------------------


def _weekdays(first: date, last: date) -> int:
    """Monday–Friday days in first..last (inclusive)."""
    n = (last - first).days + 1
    if n <= 0:
        return 0
    weeks, rest = divmod(n, 7)
    start = first.weekday()
    return weeks * 5 + sum(1 for i in range(rest) if (start + i) % 7 < 5)


def _count_workdays(cal: WorkdayCalendar, first: date, last: date) -> int:
    """Working days in first..last (inclusive), without asking about every day.

    Count Monday–Friday arithmetically, then correct only on the days that can break the weekday
    rule: official holidays and 调休 workdays from the shipped data, and local days off. The
    calendar itself still decides each of those days.
    """
    if last < first:
        return 0
    # Only these days can break the weekday rule: weekday holidays, weekend 调休 workdays, days off.
    exceptions = {d for d in chinese_calendar.holidays if first <= d <= last and d.weekday() < 5}
    exceptions.update(d for d in chinese_calendar.workdays if first <= d <= last and d.weekday() >= 5)
    exceptions.update(d for d in cal.local_days_off if first <= d <= last)
    total = _weekdays(first, last)
    for d in exceptions:
        total += int(cal.is_workday(d)) - int(d.weekday() < 5)
    return total


# --- base schedule of one version ----------------------------------------------------------


def _boundary_on_or_before(v: RotationVersion, day: date, cal: WorkdayCalendar) -> date | None:
    """Start date of the version's shift in effect on duty day `day` (None before the anchor)."""
    if day < v.anchor:
        return None
    if v.period == "day":
        if not v.skip_non_working:
            return day
        while day > v.anchor and not cal.is_workday(day):
            day -= _ONE_DAY
        return day
    if v.period == "week":
        return v.anchor + timedelta(days=(day - v.anchor).days // 7 * 7)
    k = (day.year - v.anchor.year) * 12 + day.month - v.anchor.month
    start = _month_start(v.anchor, k)
    return start if start <= day else _month_start(v.anchor, k - 1)


def _next_boundary(v: RotationVersion, day: date, cal: WorkdayCalendar) -> date:
    """Start date of the shift after the one starting on `day`."""
    if v.period == "day":
        day += _ONE_DAY
        if v.skip_non_working:
            while not cal.is_workday(day):
                day += _ONE_DAY
        return day
    if v.period == "week":
        return day + timedelta(days=7)
    k = (day.year - v.anchor.year) * 12 + day.month - v.anchor.month
    return _month_start(v.anchor, k + 1)


def _index_of(v: RotationVersion, boundary: date, cal: WorkdayCalendar) -> int:
    """Cycle index of the shift starting on `boundary`."""
    if v.period == "day":
        if v.skip_non_working:
            return _count_workdays(cal, v.anchor + _ONE_DAY, boundary)
        return (boundary - v.anchor).days
    if v.period == "week":
        return (boundary - v.anchor).days // 7
    return (boundary.year - v.anchor.year) * 12 + boundary.month - v.anchor.month


def _first_start_at_or_after(v: RotationVersion, t: datetime, cal: WorkdayCalendar) -> datetime:
    b = _boundary_on_or_before(v, _duty_day(v, t), cal)
    if b is None:
        return _utc(_at(v, v.anchor))
    start = _utc(_at(v, b))
    return start if start == _utc(t) else _utc(_at(v, _next_boundary(v, b, cal)))


# --- versions → segments -------------------------------------------------------------------


@dataclass(frozen=True)
class _Segment:
    version: RotationVersion
    takeover: datetime  # UTC; the version is in charge from here to the next segment's takeover


def _segments(versions: Sequence[RotationVersion], cal: WorkdayCalendar) -> list[_Segment]:
    segs: list[_Segment] = []
    for v in sorted(versions, key=lambda x: _utc(x.effective_from)):
        takeover = _first_start_at_or_after(v, v.effective_from, cal) if segs else None
        while segs and takeover is not None and segs[-1].takeover >= takeover:
            segs.pop()  # superseded before it ever took over
        if not segs:
            takeover = max(_utc(v.effective_from), _utc(_at(v, v.anchor)))
        assert takeover is not None
        segs.append(_Segment(v, takeover))
    return segs


class _Raw(NamedTuple):  # a tuple: many are made per tick (the duty producer works out every rotation)
    version: RotationVersion
    cycle: int  # the shift's index (Shift.index)
    start: datetime
    end: datetime
    first_day: date
    last_day: date


def _iter_raw(segs: list[_Segment], t: datetime, cal: WorkdayCalendar) -> Iterator[_Raw]:
    """Base shifts from the one in progress at `t` (or the very first one) onwards, forever."""
    t = max(_utc(t), segs[0].takeover)
    i = max(j for j, s in enumerate(segs) if s.takeover <= t)
    while True:
        v = segs[i].version
        limit = segs[i + 1].takeover if i + 1 < len(segs) else None
        b = _boundary_on_or_before(v, _duty_day(v, t), cal)
        assert b is not None  # t is never before the version's first shift
        k = _index_of(v, b, cal)
        while True:
            nb = _next_boundary(v, b, cal)
            start, end = _at(v, b), _at(v, nb)
            cut = limit is not None and _utc(end) >= limit
            if cut and limit is not None:
                end = limit.astimezone(v.tz)
            last = max(b, end.astimezone(v.tz).date() - _ONE_DAY)
            yield _Raw(v, k, start, end, b, last)
            if cut:
                break
            b, k = nb, k + 1
        i += 1
        t = segs[i].takeover


# --- overrides -----------------------------------------------------------------------------


def _ordered(overrides: Sequence[Override]) -> list[Override]:
    def key(o: Override) -> tuple[datetime, int]:
        at = o.created_at if o.created_at.tzinfo else o.created_at.replace(tzinfo=UTC)
        return (at.astimezone(UTC), o.id)

    return sorted(overrides, key=key)


class _Overrides:
    """Overrides in application order, plus the leaves for availability checks."""

    def __init__(self, overrides: Sequence[Override]) -> None:
        self.ordered = _ordered(overrides)
        self.leaves = [o for o in self.ordered if o.kind == "leave"]

    def on_leave(self, member: int, first: date, last: date) -> bool:
        return any(o.member_id == member and o.first_day <= last and o.last_day >= first for o in self.leaves)


def _next_available(raw: _Raw, base: int, absent: int, ov: _Overrides) -> int | None:
    order = raw.version.member_ids
    pos = order.index(absent) if absent in order else order.index(base)
    for m in order[pos + 1 :] + order[: pos + 1]:
        if m != absent and not ov.on_leave(m, raw.first_day, raw.last_day):
            return m
    return None


def _resolve(raw: _Raw, ov: _Overrides) -> Shift:
    members = raw.version.member_ids
    base = members[raw.cycle % len(members)]
    holder, unresolved = base, False
    reason: Reason = "base"
    for o in ov.ordered:
        if o.kind == "leave":
            if holder != o.member_id or o.first_day > raw.last_day or o.last_day < raw.first_day:
                continue
            repl = _next_available(raw, base, holder, ov)
            reason = "leave"
            unresolved = repl is None
            holder = holder if repl is None else repl
        elif raw.first_day <= o.first_day <= raw.last_day and o.replacement_id is not None:
            if o.kind == "swap" and holder != o.member_id:
                continue  # stale: the shift is no longer hers
            holder, reason, unresolved = o.replacement_id, o.kind, False
    return Shift(
        index=raw.cycle,
        start=raw.start,
        end=raw.end,
        first_day=raw.first_day,
        last_day=raw.last_day,
        base_member_id=base,
        member_id=holder,
        reason=reason,
        unresolved=unresolved,
    )


def _iter_shifts(
    segs: list[_Segment], overrides: Sequence[Override], t: datetime, cal: WorkdayCalendar
) -> Iterator[Shift]:
    if not segs:
        return
    ov = _Overrides(overrides)
    for raw in _iter_raw(segs, t, cal):
        yield _resolve(raw, ov)


# --- public API ----------------------------------------------------------------------------


def shift_at(
    versions: Sequence[RotationVersion],
    overrides: Sequence[Override],
    t: datetime,
    calendar: WorkdayCalendar,
) -> Shift | None:
    """The shift in progress at `t`; None before the rotation is in effect."""
    segs = _segments(versions, calendar)
    if not segs or _utc(t) < segs[0].takeover:
        return None
    return next(_iter_shifts(segs, overrides, t, calendar))


def shifts_between(
    versions: Sequence[RotationVersion],
    overrides: Sequence[Override],
    start: datetime,
    end: datetime,
    calendar: WorkdayCalendar,
) -> list[Shift]:
    """Shifts in effect at some instant of [start, end), in order."""
    segs = _segments(versions, calendar)
    if not segs or _utc(end) <= max(_utc(start), segs[0].takeover):
        return []
    out: list[Shift] = []
    for s in _iter_shifts(segs, overrides, start, calendar):
        if _utc(s.start) >= _utc(end):
            break
        out.append(s)
    return out


def next_shifts(
    versions: Sequence[RotationVersion],
    overrides: Sequence[Override],
    t: datetime,
    n: int,
    calendar: WorkdayCalendar,
) -> list[Shift]:
    """`n` shifts starting with the one in progress at `t` (or the first one, if none yet)."""
    if n <= 0:
        return []
    _utc(t)
    return list(islice(_iter_shifts(_segments(versions, calendar), overrides, t, calendar), n))


def at_and_next(
    versions: Sequence[RotationVersion],
    overrides: Sequence[Override],
    t: datetime,
    n: int,
    calendar: WorkdayCalendar,
) -> tuple[Shift | None, list[Shift]]:
    """`shift_at(t)` and `next_shifts(t, n)` from one walk (n ≥ 1): the shift in progress is the
    first of the next ones once the rotation is in effect."""
    segs = _segments(versions, calendar)
    if not segs:
        return None, []
    found = list(islice(_iter_shifts(segs, overrides, t, calendar), n))
    return (found[0] if found and _utc(t) >= segs[0].takeover else None), found


def shift_covering_day(
    versions: Sequence[RotationVersion],
    overrides: Sequence[Override],
    day: date,
    calendar: WorkdayCalendar,
) -> Shift | None:
    """The shift whose first_day..last_day contains `day` (the later one if a version change splits it)."""
    lo = datetime.combine(day - timedelta(days=2), time(), tzinfo=UTC)
    hi = datetime.combine(day + timedelta(days=3), time(), tzinfo=UTC)
    found = [s for s in shifts_between(versions, overrides, lo, hi, calendar) if s.first_day <= day <= s.last_day]
    return found[-1] if found else None
