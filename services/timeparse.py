"""Chinese time expressions → one-off times, deadlines and recurrences. Pure: no I/O, no Telegram.

Public API
- ``parse_when(text, now) -> (When, rest)``: the time expression at the start of ``text`` and the rest
  (stripped; e.g. the reminder's content). ``When = OneOff | Deadline | Recurrence``. ``now`` must be
  timezone-aware; every datetime returned is aware, in now's timezone.
- ``parse_date(text, today) -> (day, rest)`` and ``parse_date_range(text, today) -> (first, last, rest)``
  (``last`` inclusive) for /swap and /leave.
- Errors: ``TimeParseError(code, **params)`` (a ValueError). Codes: empty, unrecognised, past,
  invalid_date, too_far, range_reversed. ``params["text"]`` is always the offending expression;
  too_far also carries ``years``. The user-facing messages are in
  handlers/locale/zh_cn/timeparse.toml, table ``[time]``, keys ``error_<code>``.

Input may use full-width digits/colons and a few Traditional characters (後 點 週 號 個 鐘 兩 …).
Numbers may be Arabic or Chinese (一…十二, 两, 十五, 三十, 二〇二七).

Dates: 今天/明天/后天/大后天 (昨天/前天 parse, but parse_when refuses them as past); 周X/星期X/礼拜X;
本周X/这周X (this Monday–Sunday week); 下周X; 下下周X; 上周X; M月D日/号; D号 (day of this month);
YYYY年M月D日; 今年/明年M月D日; YYYY-MM-DD, YYYY/MM/DD, YYYY.MM.DD; M/D; 本月/下个月D号.
A date without a year (or month) is the next one to come, today included; 2月29日 without a year is
the next leap day.

parse_when rules and defaults
- Clock: H点, H时, H:MM, H点半 (:30), H点一刻 (:15), H点三刻 (:45), H点M分, H点M, 整, 点钟.
- Period words and their time when no hour is given: 凌晨 06:00, 早上/早晨/清晨 08:00, 上午 09:00,
  中午 12:00, 下午/午后 15:00, 傍晚 18:00, 晚上/晚间/夜里 20:00. With an hour: 下午3点 = 15:00,
  中午12点 = 12:00, 中午1点 = 13:00, 晚上8点 = 20:00, 晚上12点 = next day 00:00, 晚上1–4点 = after
  midnight (next day). 今晚/今早/明早/明晚 combine a day and a period. 24点 = next day 00:00.
- No period word: a 点/时 hour 1–5 means the afternoon (明天3点 = 15:00); 6–12 is taken as said;
  H:MM is a 24-hour clock. When the date is today (said or implied), a 点 hour 6–11 that has passed
  while its evening reading is still ahead means the evening (今天8点 at 10:30 = 20:00).
- A date without a time means 09:00; for a deadline (``parse_when(…, deadline=True)``: /task_add) it
  means 23:59 of that day, the same as the date with 前 (下周三 = 下周三前 = 23:59).
  A time without a date is the next one to come (today, else
  tomorrow). A plain weekday is the next one to come: today if that time is still ahead, else in a
  week. Any other date whose time has passed (今天早上8点 at 10:00, 昨天, 上周五, 2025-12-01) is refused
  as ``past``; a time exactly now is past too.
- Relative: N分钟后, N小时后 (半小时, 一个半小时, 1.5小时), N刻钟后 = now + that offset (exact);
  N天后/N周后/N个月后/N年后 = the same clock time that many days/weeks/months/years later, or at
  the time said after it (3天后下午3点). N天前 etc. are past.
- More than 5 years after now → ``too_far``. Impossible dates/clocks (2月30日, 13月1日, 32号, 25点,
  8点61分, 上午15点) → ``invalid_date``.
- Deadlines (``Deadline.at``): M月底(前), 月底/本月底, 下个月底, 年底(前)/今年年底, 明年年底 → 23:59 of the
  last day of that month/year; any date + 前/之前/以前 (12月31日前, 周五前) → 23:59 of that day, or the
  time said (明天下午5点前 = 17:00). Without an explicit year a passed deadline rolls on: 4月底前 in
  November → next April; 月底 after 23:59 of the last day → next month; 年底 → next year.
- Recurring (``Recurrence``): 每天/每日/每晚/每早, 每周X/每星期X/每礼拜X, 每个工作日 (official working
  days from WorkdayCalendar: holidays skipped, 调休 make-up days included), 每月N号 (a month without day
  N uses its last day), 每月最后一天/每月底, 每年M月D日 (2月29日 → 2月28日 in common years); an optional
  time follows (default 09:00 or the period's time).

parse_date / parse_date_range rules
- Same date forms, no time; no past check (the caller decides what a past day means).
- Ranges: start, a separator (- — ~ 至 到), end. The end may omit the year and month (12月1号到7号) and
  inherits them from the start; an end without a year that falls before the start moves to the next
  year if that gives a range of at most 92 days (12月28日到1月3日); a plain weekday end is the first
  such day on or after the start. End before start → ``range_reversed``.
- A start without a year/month is taken in the current year/month if the range still reaches today
  (an ongoing leave, 11月20日到11月25日 on 11-22), otherwise the next year/month in which it does.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Final, Literal, TypeAlias

from services.calendar_cn import WorkdayCalendar

__all__ = [
    "Deadline",
    "OneOff",
    "Recurrence",
    "TimeParseError",
    "When",
    "parse_date",
    "parse_date_range",
    "parse_when",
]

MAX_YEARS_AHEAD: Final = 5
DEFAULT_TIME: Final = (9, 0)
DEADLINE_TIME: Final = (23, 59)
_RANGE_ROLLOVER_DAYS: Final = 92
_WORKDAY_HORIZON_DAYS: Final = 1100
_WEEKDAY_NAMES: Final = "一二三四五六日"


# ---------------------------------------------------------------------------------------------------
# Results and errors


class TimeParseError(ValueError):
    """A time expression that cannot be used; ``code`` selects the locale message ``time.error_<code>``."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code, params)
        self.code = code
        self.params: dict[str, object] = params


@dataclass(frozen=True)
class OneOff:
    at: datetime


@dataclass(frozen=True)
class Deadline:
    at: datetime


RecurrenceKind: TypeAlias = Literal["daily", "weekly", "workdays", "monthly", "month_end", "yearly"]
_ENCODED_RE: Final = re.compile(
    r"(?P<kind>daily|weekly|workdays|monthly|month_end|yearly)(?::(?P<a>\d+)(?:-(?P<b>\d+))?)?"
    r"@(?P<h>\d{2}):(?P<m>\d{2})"
)


@dataclass(frozen=True)
class Recurrence:
    """A repeating time. ``weekday``: Monday=0 (weekly); ``day``: 1–31 (monthly, yearly); ``month`` (yearly).

    ``tz`` is the zone of the wall-clock time; None means "the zone of the t given to next_after".
    """

    kind: RecurrenceKind
    hour: int = DEFAULT_TIME[0]
    minute: int = DEFAULT_TIME[1]
    weekday: int = 0
    day: int = 0
    month: int = 0
    tz: tzinfo | None = None

    def __post_init__(self) -> None:
        ok = 0 <= self.hour <= 23 and 0 <= self.minute <= 59
        if self.kind == "weekly":
            ok = ok and 0 <= self.weekday <= 6
        elif self.kind == "monthly":
            ok = ok and 1 <= self.day <= 31
        elif self.kind == "yearly":
            ok = ok and 1 <= self.month <= 12 and _valid(2000, self.month, self.day)
        if not ok:
            raise ValueError(f"invalid recurrence: {self!r}")

    def next_after(self, t: datetime, calendar: WorkdayCalendar) -> datetime | None:
        """The first occurrence strictly after ``t`` (aware), in the recurrence's zone; None if none."""
        if t.tzinfo is None or t.utcoffset() is None:
            raise ValueError("t must be timezone-aware")
        zone = self.tz or t.tzinfo
        for day in self._days_from(t.astimezone(zone).date(), calendar):
            at = datetime.combine(day, time(self.hour, self.minute), tzinfo=zone)
            if at > t:
                return at
        return None

    def _days_from(self, start: date, cal: WorkdayCalendar) -> Iterator[date]:
        if self.kind == "daily":
            yield from (start, start + timedelta(days=1))
        elif self.kind == "weekly":
            first = start + timedelta(days=(self.weekday - start.weekday()) % 7)
            yield from (first, first + timedelta(days=7))
        elif self.kind == "workdays":
            for i in range(_WORKDAY_HORIZON_DAYS):
                day = start + timedelta(days=i)
                if cal.is_workday(day):
                    yield day
        elif self.kind in ("monthly", "month_end"):
            for i in range(3):
                y, m = _shift_month(start.year, start.month, i)
                last = _month_len(y, m)
                yield date(y, m, last if self.kind == "month_end" else min(self.day, last))
        else:
            for y in range(start.year, start.year + 3):
                yield date(y, self.month, min(self.day, _month_len(y, self.month)))

    def describe(self) -> str:
        """Short Simplified-Chinese description for logs and tests, e.g. "每周一 09:00". Users see the
        locale's form instead (services.fmt.recurrence / handlers.formats.recurrence)."""
        hm = f"{self.hour:02d}:{self.minute:02d}"
        head = {
            "daily": "每天",
            "weekly": f"每周{_WEEKDAY_NAMES[self.weekday]}",
            "workdays": "每个工作日",
            "monthly": f"每月{self.day}日",
            "month_end": "每月最后一天",
            "yearly": f"每年{self.month}月{self.day}日",
        }[self.kind]
        return f"{head} {hm}"

    def encode(self) -> str:
        """Compact storage form, e.g. "weekly:0@09:00", "yearly:3-8@09:00" (zone not included)."""
        arg = {"weekly": f":{self.weekday}", "monthly": f":{self.day}", "yearly": f":{self.month}-{self.day}"}
        return f"{self.kind}{arg.get(self.kind, '')}@{self.hour:02d}:{self.minute:02d}"

    @classmethod
    def decode(cls, encoded: str, tz: tzinfo | None = None) -> Recurrence:
        """Inverse of ``encode``; raises ValueError on a malformed string."""
        m = _ENCODED_RE.fullmatch(encoded.strip())
        if m is None:
            raise ValueError(f"bad recurrence: {encoded!r}")
        kind: RecurrenceKind = m["kind"]  # type: ignore[assignment]
        a, b = int(m["a"] or 0), int(m["b"] or 0)
        fields = {"weekly": {"weekday": a}, "monthly": {"day": a}, "yearly": {"month": a, "day": b}}
        return cls(kind, int(m["h"]), int(m["m"]), tz=tz, **fields.get(kind, {}))


When: TypeAlias = OneOff | Deadline | Recurrence


class _Fail(Exception):
    """Internal failure; ``end`` marks how much of the input the bad expression spans."""

    def __init__(self, code: str, end: int) -> None:
        super().__init__(code)
        self.code = code
        self.end = end


# ---------------------------------------------------------------------------------------------------
# Lexical tables

_TRANSLATE: Final = str.maketrans(
    {
        **{chr(0xFF10 + i): str(i) for i in range(10)},
        "：": ":", "／": "/", "－": "-", "～": "~", "〜": "~", "．": ".", "　": " ", "\u00a0": " ",
        "後": "后", "點": "点", "週": "周", "號": "号", "禮": "礼", "個": "个", "鐘": "钟", "兩": "两",
        "時": "时", "間": "间", "裡": "里", "這": "这",
    }
)  # fmt: skip
# every mapping above is one character to one, so positions in the normalised text match the input

_CN_DIGITS: Final = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
                     "七": 7, "八": 8, "九": 9}  # fmt: skip
_CN_UNITS: Final = {"十": 10, "百": 100, "千": 1000}
_CN: Final = "零〇一二两三四五六七八九十百千"
_NUM: Final = rf"(?:[0-9]+|[{_CN}]+)"
_DEC: Final = rf"(?:[0-9]+(?:\.[0-9]+)?|[{_CN}]+)"
_WEEK: Final = "(?:周|星期|礼拜)"
_WD: Final = "[一二三四五六日天七1-7]"
_WD_INDEX: Final = {c: i for i, c in enumerate("一二三四五六日")} | {"天": 6, "七": 6} | {
    str(i + 1): i for i in range(7)
}

_PERIODS: Final = {
    "凌晨": "dawn", "早上": "morning", "早晨": "morning", "清晨": "morning", "早": "morning",
    "上午": "am", "中午": "noon", "下午": "pm", "午后": "pm", "傍晚": "dusk",
    "晚上": "night", "晚间": "night", "夜里": "night", "夜间": "night", "夜晚": "night", "晚": "night",
}  # fmt: skip
_PERIOD_TIME: Final = {"dawn": (6, 0), "morning": (8, 0), "am": (9, 0), "noon": (12, 0), "pm": (15, 0),
                       "dusk": (18, 0), "night": (20, 0)}  # fmt: skip

# day offset and period of the relative day words
_DAY_WORDS: Final[dict[str, tuple[int, str | None]]] = {
    "大大后天": (4, None), "大后天": (3, None), "后天": (2, None), "明天": (1, None), "明日": (1, None),
    "今天": (0, None), "今日": (0, None), "昨天": (-1, None), "昨日": (-1, None), "前天": (-2, None),
    "大前天": (-3, None), "今早": (0, "morning"), "今晨": (0, "morning"), "今晚": (0, "night"),
    "今夜": (0, "night"), "明早": (1, "morning"), "明晨": (1, "morning"), "明晚": (1, "night"),
    "明夜": (1, "night"), "昨晚": (-1, "night"), "昨夜": (-1, "night"),
}  # fmt: skip
_WEEK_PREFIX: Final = {"下下": 2, "下": 1, "上上": -2, "上": -1, "本": 0, "这": 0}
_YEAR_WORDS: Final = {"今年": 0, "明年": 1, "后年": 2, "去年": -1}

_ISO_RE: Final = re.compile(r"(?P<y>[0-9]{4})[-/.](?P<mo>[0-9]{1,2})[-/.](?P<d>[0-9]{1,2})(?![0-9])(?:日|号)?")
_CN_DATE_RE: Final = re.compile(
    rf"(?:(?P<y>[0-9]{{4}}|[零〇一二三四五六七八九]{{4}})年|(?P<ry>今年|明年|后年|去年))?"
    rf"(?P<mo>{_NUM})月(?P<d>{_NUM})(?:日|号)?"
)
_REL_MONTH_RE: Final = re.compile(rf"(?P<rm>本月|这个?月|下下个?月|下个?月)(?P<d>{_NUM})(?:日|号)")
# 12/10, 12.10, 12-10 (month, day); not 1.5小时, 3-5天 or 2.5万: no unit may follow.
_SLASH_RE: Final = re.compile(
    r"(?P<mo>[0-9]{1,2})[/.-](?P<d>[0-9]{1,2})(?![0-9/.]|\s*(?:个|小时|钟头|分|天|日|号|周|星期|礼拜|月|年|倍|元|块|万|岁|人|%))")
_DAY_RE: Final = re.compile(rf"(?P<d>{_NUM})(?:日|号)")
_WORD_RE: Final = re.compile("|".join(sorted(_DAY_WORDS, key=len, reverse=True)))
_WEEKDAY_RE: Final = re.compile(rf"(?:(?P<pre>下下|下|上上|上|本|这)一?个?)?{_WEEK}(?P<wd>{_WD})")

_PERIOD_RE: Final = re.compile(
    r"\s*(?P<p>凌晨|早上|早晨|清晨|上午|中午|下午|午后|傍晚|晚上|晚间|夜里|夜间|夜晚"
    rf"|[早晚](?=\s*[0-9{_CN}]))"
)
_DIGITAL_RE: Final = re.compile(r"\s*(?P<h>[0-9]{1,2}):(?P<m>[0-9]{2})(?![0-9])")
_POINT_RE: Final = re.compile(
    rf"\s*(?P<h>{_NUM})\s*(?:点钟|点|时)"
    rf"(?:(?P<half>半)|(?P<q>[一三])刻|(?P<m>{_NUM})分?(?![0-9个天号日月年周小])|整)?"
)
_BEFORE_RE: Final = re.compile(r"\s*(?:之前|以前|前)(?![台往面来去方线排进])")
_RANGE_SEP_RE: Final = re.compile(r"\s*(?:—{1,2}|–|-|~|至|到)\s*")

_DURATION_RE: Final = re.compile(
    rf"(?=[0-9{_CN}半])(?P<n>{_DEC})?\s*(?P<ge1>个)?(?P<half>半)?(?P<ge2>个)?\s*"
    r"(?P<unit>分钟|分|小时|钟头|刻钟|天|日|周|星期|礼拜|月|年)(?:以后|之后|后)"
)
_AGO_RE: Final = re.compile(
    rf"(?=[0-9{_CN}半]){_DEC}?\s*个?半?个?\s*(?:分钟|小时|钟头|天|周|星期|礼拜|月|年)(?:以前|之前|前)"
)
_MINUTES_PER: Final = {"分钟": 1, "分": 1, "刻钟": 15, "小时": 60, "钟头": 60}
_DAYS_PER: Final = {"天": 1, "日": 1, "周": 7, "星期": 7, "礼拜": 7}

_RECURRENCE_RE: Final = re.compile(
    rf"每(?:一|个)?(?:(?P<daily>天|日)|(?P<eve>[晚早])|(?P<work>工作日)|{_WEEK}(?P<wd>{_WD})"
    rf"|月的?(?:(?P<last>最后一天|月底|底|末)|(?P<mday>{_NUM})(?:号|日))"
    rf"|年的?(?P<ymo>{_NUM})月(?P<yd>{_NUM})(?:号|日)?)"
)
_MONTH_END_RE: Final = re.compile(rf"(?:(?P<y>[0-9]{{4}})年|(?P<ry>今年|明年))?(?P<mo>{_NUM})月份?(?:底|末)")
_THIS_MONTH_END_RE: Final = re.compile(r"(?:(?P<rel>本|这|下下|下)个?)?月(?:底|末)")
_YEAR_END_RE: Final = re.compile(r"(?:(?P<rel>今|明|本)年年?|年)(?:底|末)")

_REST_STRIP: Final = " \t\r\n,，、:：;；.。!！-—~"


# ---------------------------------------------------------------------------------------------------
# Small helpers


def _normalise(text: str) -> str:
    return text.translate(_TRANSLATE)


def _num(s: str) -> int:
    if s.isascii():
        return int(s)
    if not any(c in _CN_UNITS for c in s):
        return int("".join(str(_CN_DIGITS[c]) for c in s))
    total = current = 0
    for c in s:
        if c in _CN_DIGITS:
            current = _CN_DIGITS[c]
        else:
            total += (current or 1) * _CN_UNITS[c]
            current = 0
    return total + current


def _dec(s: str) -> float:
    return float(s) if s.isascii() else float(_num(s))


def _valid(y: int, m: int, d: int) -> bool:
    return 1 <= m <= 12 and 1 <= d <= _month_len(y, m) and 1 <= y <= 9999


def _month_len(y: int, m: int) -> int:
    return calendar.monthrange(y, m)[1]


def _shift_month(y: int, m: int, n: int) -> tuple[int, int]:
    q, r = divmod(m - 1 + n, 12)
    return y + q, r + 1


def _add_months(d: date, n: int) -> date:
    y, m = _shift_month(d.year, d.month, n)
    return date(y, m, min(d.day, _month_len(y, m)))


def _rest(raw: str, end: int) -> str:
    return raw[end:].lstrip(_REST_STRIP).strip()


def _public(fail: _Fail, raw: str) -> TimeParseError:
    text = raw[: fail.end].strip() if fail.code != "unrecognised" else ""
    text = text or raw.split()[0][:20]
    if fail.code == "too_far":
        return TimeParseError(fail.code, text=text, years=MAX_YEARS_AHEAD)
    return TimeParseError(fail.code, text=text)


# ---------------------------------------------------------------------------------------------------
# Dates


@dataclass(frozen=True)
class _Spec:
    """A parsed date: fixed, month+day (no year), day only (no month) or a plain weekday."""

    kind: Literal["fixed", "md", "d", "weekday"]
    value: date | None = None
    month: int = 0
    day: int = 0
    weekday: int = 0
    period: str | None = None


def _fixed(y: int, m: int, d: int, end: int) -> _Spec:
    if not _valid(y, m, d):
        raise _Fail("invalid_date", end)
    return _Spec("fixed", date(y, m, d))


def _month_day(m: int, d: int, end: int) -> _Spec:
    if not _valid(2000, m, d):
        raise _Fail("invalid_date", end)
    return _Spec("md", month=m, day=d)


def _match_date(s: str, pos: int, today: date) -> tuple[_Spec, int] | None:
    """A date at ``pos``; raises _Fail("invalid_date") for an impossible one."""
    if m := _ISO_RE.match(s, pos):
        return _fixed(int(m["y"]), int(m["mo"]), int(m["d"]), m.end()), m.end()
    if m := _CN_DATE_RE.match(s, pos):
        mo, d = _num(m["mo"]), _num(m["d"])
        if m["y"]:
            return _fixed(_num(m["y"]), mo, d, m.end()), m.end()
        if m["ry"]:
            return _fixed(today.year + _YEAR_WORDS[m["ry"]], mo, d, m.end()), m.end()
        return _month_day(mo, d, m.end()), m.end()
    if m := _REL_MONTH_RE.match(s, pos):
        shift = 2 if m["rm"].startswith("下下") else 1 if m["rm"].startswith("下") else 0
        y, mo = _shift_month(today.year, today.month, shift)
        return _fixed(y, mo, _num(m["d"]), m.end()), m.end()
    if m := _SLASH_RE.match(s, pos):
        return _month_day(int(m["mo"]), int(m["d"]), m.end()), m.end()
    if m := _DAY_RE.match(s, pos):
        d = _num(m["d"])
        if not 1 <= d <= 31:
            raise _Fail("invalid_date", m.end())
        return _Spec("d", day=d), m.end()
    if m := _WORD_RE.match(s, pos):
        offset, period = _DAY_WORDS[m[0]]
        return _Spec("fixed", today + timedelta(days=offset), period=period), m.end()
    if m := _WEEKDAY_RE.match(s, pos):
        wd = _WD_INDEX[m["wd"]]
        if m["pre"] is None:
            return _Spec("weekday", weekday=wd), m.end()
        monday = today - timedelta(days=today.weekday())
        return _Spec("fixed", monday + timedelta(days=7 * _WEEK_PREFIX[m["pre"]] + wd)), m.end()
    return None


# A yearless date for /leave, /swap … that passed at most this long ago means the past one.
RECENT_PAST = timedelta(days=60)


def _candidates(spec: _Spec, today: date) -> Iterator[date]:
    """Possible dates for ``spec`` in increasing order, starting in today's year/month."""
    if spec.value is not None:
        yield spec.value
    elif spec.kind == "weekday":
        yield today + timedelta(days=(spec.weekday - today.weekday()) % 7)
    elif spec.kind == "md":
        for y in range(today.year, today.year + 9):
            if _valid(y, spec.month, spec.day):
                yield date(y, spec.month, spec.day)
    else:
        for i in range(24):
            y, m = _shift_month(today.year, today.month, i)
            if spec.day <= _month_len(y, m):
                yield date(y, m, spec.day)


def _upcoming(spec: _Spec, today: date, end: int) -> date:
    """The date meant: fixed as is, otherwise the next one to come (today included)."""
    for day in _candidates(spec, today):
        if day >= today or spec.kind == "fixed":
            return day
    raise _Fail("invalid_date", end)


# ---------------------------------------------------------------------------------------------------
# Clock


@dataclass(frozen=True)
class _HM:
    hour: int
    minute: int
    days: int = 0  # 1 when the time falls after midnight (今晚12点)
    evening_alt: bool = False  # an unqualified 6–11 点 that may mean the evening


def _match_period(s: str, pos: int) -> tuple[str | None, int]:
    m = _PERIOD_RE.match(s, pos)
    return (_PERIODS[m["p"]], m.end()) if m else (None, pos)


def _match_clock(s: str, pos: int) -> tuple[tuple[int, int, bool] | None, int]:
    """(hour, minute, digital) as written, or None."""
    if m := _DIGITAL_RE.match(s, pos):
        return (int(m["h"]), int(m["m"]), True), m.end()
    if m := _POINT_RE.match(s, pos):
        minute = 30 if m["half"] else 15 if m["q"] == "一" else 45 if m["q"] else _num(m["m"]) if m["m"] else 0
        return (_num(m["h"]), minute, False), m.end()
    return None, pos


def _to_hm(period: str | None, clock: tuple[int, int, bool] | None, default: tuple[int, int]) -> _HM | None:
    """Apply the period word to the written clock; None when the combination is impossible."""
    if clock is None:
        h, m = _PERIOD_TIME[period] if period else default
        return _HM(h, m)
    h, m, digital = clock
    if h > 24 or m > 59 or (h == 24 and m):
        return None
    if h == 24:
        return _HM(0, 0, 1) if period in (None, "night") else None
    if period is None:
        if digital:
            return _HM(h, m)
        return _HM(h + 12, m) if 1 <= h <= 5 else _HM(h, m, evening_alt=6 <= h <= 11)
    if period == "dawn":
        return _HM(0 if h == 12 else h, m) if h <= 12 else None
    if period in ("morning", "am"):
        return _HM(h, m) if h <= 12 else None
    if period == "noon":
        return _HM(h + 12, m) if 1 <= h <= 3 else _HM(h, m) if 11 <= h <= 15 else None
    if period in ("pm", "dusk"):
        return _HM(h + 12, m) if 1 <= h <= 11 else _HM(h, m) if 12 <= h <= 23 else None
    # night
    if h in (0, 12):
        return _HM(0, m, 1)
    if h <= 4:
        return _HM(h, m, 1)
    return _HM(h + 12, m) if h <= 11 else _HM(h, m) if h >= 17 else None


# ---------------------------------------------------------------------------------------------------
# parse_when matchers: each returns (When, end) or None, or raises _Fail


def _match_recurrence(s: str, now: datetime) -> tuple[When, int] | None:
    m = _RECURRENCE_RE.match(s)
    if m is None:
        return None
    end = m.end()
    period: str | None = "night" if m["eve"] == "晚" else "morning" if m["eve"] else None
    p2, end = _match_period(s, end)
    period = p2 or period
    clock, end = _match_clock(s, end)
    hm = _to_hm(period, clock, DEFAULT_TIME)
    if hm is None:
        raise _Fail("invalid_date", end)
    tz = now.tzinfo
    rec: Recurrence
    if m["daily"] or m["eve"]:
        rec = Recurrence("daily", hm.hour, hm.minute, tz=tz)
    elif m["wd"]:
        rec = Recurrence("weekly", hm.hour, hm.minute, weekday=(_WD_INDEX[m["wd"]] + hm.days) % 7, tz=tz)
    else:
        if hm.days:  # "after midnight" has no natural meaning for these
            raise _Fail("unrecognised", end)
        if m["work"]:
            rec = Recurrence("workdays", hm.hour, hm.minute, tz=tz)
        elif m["last"]:
            rec = Recurrence("month_end", hm.hour, hm.minute, tz=tz)
        elif m["mday"]:
            day = _num(m["mday"])
            if not 1 <= day <= 31:
                raise _Fail("invalid_date", end)
            rec = Recurrence("monthly", hm.hour, hm.minute, day=day, tz=tz)
        else:
            mo, day = _num(m["ymo"]), _num(m["yd"])
            if not _valid(2000, mo, day):
                raise _Fail("invalid_date", end)
            rec = Recurrence("yearly", hm.hour, hm.minute, day=day, month=mo, tz=tz)
    return rec, end


def _match_duration(s: str, now: datetime) -> tuple[When, int] | None:
    m = _DURATION_RE.match(s)
    if m is None or not (m["n"] or m["half"]) or (m["unit"] == "月" and not (m["ge1"] or m["ge2"])):
        return None
    value = (_dec(m["n"]) if m["n"] else 0.0) + (0.5 if m["half"] else 0.0)
    unit, end = m["unit"], m.end()
    try:
        if unit in _MINUTES_PER:
            delta = timedelta(minutes=value * _MINUTES_PER[unit])
            return OneOff((now.astimezone(UTC) + delta).astimezone(now.tzinfo)), end
        if unit in ("月", "年"):
            months = value * (12 if unit == "年" else 1)
            whole = int(months)
            extra = timedelta(days=round((months - whole) * 30))
            target = _add_months(now.date(), whole) + extra
        elif value == int(value):
            target = now.date() + timedelta(days=int(value) * _DAYS_PER[unit])
        else:
            return OneOff(now + timedelta(days=value * _DAYS_PER[unit])), end
    except (OverflowError, ValueError):
        raise _Fail("too_far", end) from None
    # a time may follow: 3天后下午3点
    period, pos = _match_period(s, end)
    clock, pos = _match_clock(s, pos)
    if period is None and clock is None:
        return OneOff(datetime.combine(target, now.timetz())), end
    hm = _to_hm(period, clock, DEFAULT_TIME)
    if hm is None:
        raise _Fail("invalid_date", pos)
    at = datetime.combine(target + timedelta(days=hm.days), time(hm.hour, hm.minute), tzinfo=now.tzinfo)
    return OneOff(at), pos


def _month_end_at(y: int, m: int, tz: tzinfo | None) -> datetime:
    return datetime(y, m, _month_len(y, m), *DEADLINE_TIME, tzinfo=tz)


def _match_period_end(s: str, now: datetime) -> tuple[When, int] | None:
    """月底 / 4月底 / 年底 deadlines (23:59 of the last day)."""
    tz, today = now.tzinfo, now.date()
    at: datetime
    if m := _MONTH_END_RE.match(s):
        mo, end = _num(m["mo"]), m.end()
        if not 1 <= mo <= 12:
            raise _Fail("invalid_date", end)
        explicit = m["y"] or m["ry"]
        y = int(m["y"]) if m["y"] else today.year + (_YEAR_WORDS[m["ry"]] if m["ry"] else 0)
        at = _month_end_at(y, mo, tz)
        if at <= now and not explicit:
            at = _month_end_at(y + 1, mo, tz)
    elif m := _THIS_MONTH_END_RE.match(s):
        rel, end = m["rel"] or "", m.end()
        shift = 2 if rel == "下下" else 1 if rel == "下" else 0
        at = _month_end_at(*_shift_month(today.year, today.month, shift), tz)
        if at <= now and shift == 0:
            at = _month_end_at(*_shift_month(today.year, today.month, 1), tz)
    elif m := _YEAR_END_RE.match(s):
        end = m.end()
        at = _month_end_at(today.year + (1 if m["rel"] == "明" else 0), 12, tz)
        if at <= now and m["rel"] is None:
            at = _month_end_at(today.year + 1, 12, tz)
    else:
        return None
    if b := _BEFORE_RE.match(s, end):
        end = b.end()
    return Deadline(at), end


def _match_absolute(s: str, now: datetime, day_end: bool = False) -> tuple[When, int] | None:
    """[date] [period] [clock] [前]. `day_end`: a date without a time is a deadline at 23:59."""
    today, tz = now.date(), now.tzinfo
    found = _match_date(s, 0, today)
    spec, pos = found if found else (None, 0)
    period, pos = _match_period(s, pos)
    period = period or (spec.period if spec else None)
    clock, pos = _match_clock(s, pos)
    if spec is None and period is None and clock is None:
        return None
    before = _BEFORE_RE.match(s, pos)
    if before:
        pos = before.end()
    whole_day = day_end and spec is not None and period is None and clock is None
    hm = _to_hm(period, clock, DEADLINE_TIME if before or whole_day else DEFAULT_TIME)
    if hm is None:
        raise _Fail("invalid_date", pos)

    def at(day: date, hour: int) -> datetime:
        return datetime.combine(day + timedelta(days=hm.days), time(hour, hm.minute), tzinfo=tz)

    # roll: how far a passed time moves on (undated → tomorrow, plain weekday → next week, else refused)
    if spec is None:
        day, roll = today, 1
    else:
        day, roll = _upcoming(spec, today, pos), (7 if spec.kind == "weekday" else 0)
    result = at(day, hm.hour)
    if result <= now and hm.evening_alt and day == today and roll != 7 and at(day, hm.hour + 12) > now:
        result = at(day, hm.hour + 12)
    if result <= now and roll:
        result = at(day + timedelta(days=roll), hm.hour)
    if result <= now:
        raise _Fail("past", pos)
    return (Deadline(result) if before or whole_day else OneOff(result)), pos


def _add_years(t: datetime, n: int) -> datetime:
    try:
        return t.replace(year=t.year + n)
    except ValueError:  # 29 February
        return t.replace(year=t.year + n, day=28)


# ---------------------------------------------------------------------------------------------------
# Public functions


def parse_when(text: str, now: datetime, deadline: bool = False) -> tuple[When, str]:
    """Parse the time expression at the start of ``text``; return it and the rest of the text.

    ``deadline``: the expression is a deadline, so a date without a time (下周三, 12月20日) means the
    end of that day, 23:59, as 12月20日前 does; otherwise (a reminder, a training) it means 09:00."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    raw = text.strip()
    if not raw:
        raise TimeParseError("empty", text="")
    s = _normalise(raw)
    try:
        found = (
            _match_recurrence(s, now)
            or _match_duration(s, now)
            or _match_period_end(s, now)
            or _match_absolute(s, now, deadline)
        )
        if found is None:
            ago = _AGO_RE.match(s)
            raise _Fail("past", ago.end()) if ago else _Fail("unrecognised", 0)
        when, end = found
        if isinstance(when, OneOff | Deadline):
            if when.at <= now:
                raise _Fail("past", end)
            if when.at > _add_years(now, MAX_YEARS_AHEAD):
                raise _Fail("too_far", end)
    except _Fail as fail:
        raise _public(fail, raw) from None
    except OverflowError:  # arithmetic beyond year 9999
        raise _public(_Fail("too_far", len(raw)), raw) from None
    return when, _rest(raw, end)


def _range_end(spec: _Spec, start: date, end: int) -> date:
    """The end date of a range, completed from its start."""
    if spec.kind == "fixed" and spec.value is not None:
        last = spec.value
    elif spec.kind == "weekday":
        last = start + timedelta(days=(spec.weekday - start.weekday()) % 7)
    elif spec.kind == "md":
        this = date(start.year, spec.month, spec.day) if _valid(start.year, spec.month, spec.day) else None
        if this is not None and this >= start:
            last = this
        else:
            y = start.year + 1
            nxt = date(y, spec.month, spec.day) if _valid(y, spec.month, spec.day) else None
            if nxt is not None and (nxt - start).days <= _RANGE_ROLLOVER_DAYS:
                last = nxt
            elif this is not None:
                last = this
            else:
                raise _Fail("invalid_date", end)
    else:
        if not _valid(start.year, start.month, spec.day):
            raise _Fail("invalid_date", end)
        last = date(start.year, start.month, spec.day)
    if last < start:
        raise _Fail("range_reversed", end)
    return last


def _recent_or_upcoming(spec: _Spec, today: date, end: int) -> date:
    """Like `_upcoming`, but a yearless date that passed within RECENT_PAST stays in the past, so
    that "11月20日" said on 11-23 means three days ago (callers refuse it) rather than next year."""
    if spec.kind == "md":
        recent = next(iter(_candidates(spec, today)), None)
        if recent is not None and today - RECENT_PAST <= recent < today:
            return recent
    return _upcoming(spec, today, end)


def _date_range(s: str, today: date) -> tuple[date, date, int]:
    found = _match_date(s, 0, today)
    if found is None:
        raise _Fail("unrecognised", 0)
    spec, end = found
    sep = _RANGE_SEP_RE.match(s, end)
    tail = _match_date(s, sep.end(), today) if sep else None
    if tail is None:
        day = _recent_or_upcoming(spec, today, end)
        return day, day, end
    end_spec, end = tail
    chosen: tuple[date, date] | None = None
    for first in _candidates(spec, today):
        chosen = first, _range_end(end_spec, first, end)
        if chosen[1] >= today - (RECENT_PAST if spec.kind == "md" else timedelta(0)):
            break
    if chosen is None:
        raise _Fail("invalid_date", end)
    return chosen[0], chosen[1], end


def parse_date_range(text: str, today: date) -> tuple[date, date, str]:
    """Parse a date or a date range at the start of ``text``: (first, last inclusive, rest)."""
    raw = text.strip()
    if not raw:
        raise TimeParseError("empty", text="")
    try:
        first, last, end = _date_range(_normalise(raw), today)
    except _Fail as fail:
        raise _public(fail, raw) from None
    return first, last, _rest(raw, end)


def parse_date(text: str, today: date) -> tuple[date, str]:
    """Parse one date at the start of ``text``: (date, rest)."""
    raw = text.strip()
    if not raw:
        raise TimeParseError("empty", text="")
    s = _normalise(raw)
    try:
        found = _match_date(s, 0, today)
        if found is None:
            raise _Fail("unrecognised", 0)
        spec, end = found
        day = _recent_or_upcoming(spec, today, end)
    except _Fail as fail:
        raise _public(fail, raw) from None
    return day, _rest(raw, end)
