"""Time expressions against a fixed clock (services/timeparse.py)."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from services.calendar_cn import WorkdayCalendar
from services.timeparse import (
    Deadline,
    OneOff,
    Recurrence,
    TimeParseError,
    parse_date,
    parse_date_range,
    parse_when,
)

pytestmark = pytest.mark.unit

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 22, 10, 30, tzinfo=TZ)  # a Sunday
NEW_YEAR_EVE = datetime(2026, 12, 31, 22, 0, tzinfo=TZ)  # a Thursday
CAL = WorkdayCalendar()
LOCALE = Path(__file__).resolve().parents[1] / "handlers" / "locale" / "zh_cn" / "timeparse.toml"


def at(y: int, mo: int, d: int, h: int = 9, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=TZ)


# (expression, expected OneOff time) with NOW = Sunday 2026-11-22 10:30
ONE_OFF = [
    # the SPEC §6 forms
    ("明天下午3点", at(2026, 11, 23, 15)),
    ("后天早上八点", at(2026, 11, 24, 8)),
    ("今晚8点", at(2026, 11, 22, 20)),
    ("下周一上午9点", at(2026, 11, 23, 9)),
    ("周五下午", at(2026, 11, 27, 15)),
    ("12月1号上午九点", at(2026, 12, 1, 9)),
    ("2026-12-01 09:00", at(2026, 12, 1, 9)),
    ("12/1 9:00", at(2026, 12, 1, 9)),
    ("10分钟后", at(2026, 11, 22, 10, 40)),
    ("2小时后", at(2026, 11, 22, 12, 30)),
    ("一个半小时后", at(2026, 11, 22, 12, 0)),
    ("3天后", at(2026, 11, 25, 10, 30)),
    # day words and periods
    ("明天", at(2026, 11, 23, 9)),
    ("明天上午", at(2026, 11, 23, 9)),
    ("明天早上", at(2026, 11, 23, 8)),
    ("明天中午", at(2026, 11, 23, 12)),
    ("明天下午", at(2026, 11, 23, 15)),
    ("明天傍晚", at(2026, 11, 23, 18)),
    ("明天晚上", at(2026, 11, 23, 20)),
    ("明天凌晨5点", at(2026, 11, 23, 5)),
    ("明天中午12点", at(2026, 11, 23, 12)),
    ("明天中午1点", at(2026, 11, 23, 13)),
    ("明天晚上8点", at(2026, 11, 23, 20)),
    ("明天下午15点", at(2026, 11, 23, 15)),
    ("大后天", at(2026, 11, 25, 9)),
    ("大后天下午两点", at(2026, 11, 25, 14)),
    ("今天下午", at(2026, 11, 22, 15)),
    ("今天晚上九点", at(2026, 11, 22, 21)),
    ("今晚", at(2026, 11, 22, 20)),
    ("今晚12点", at(2026, 11, 23, 0)),
    ("今晚1点", at(2026, 11, 23, 1)),
    ("明早7点", at(2026, 11, 23, 7)),
    ("明晚7点半", at(2026, 11, 23, 19, 30)),
    # clock forms
    ("明天8点", at(2026, 11, 23, 8)),
    ("明天3点", at(2026, 11, 23, 15)),
    ("明天3:00", at(2026, 11, 23, 3)),
    ("明天15:30", at(2026, 11, 23, 15, 30)),
    ("明天8点半", at(2026, 11, 23, 8, 30)),
    ("明天8点一刻", at(2026, 11, 23, 8, 15)),
    ("明天8点三刻", at(2026, 11, 23, 8, 45)),
    ("明天8点30分", at(2026, 11, 23, 8, 30)),
    ("明天8点30", at(2026, 11, 23, 8, 30)),
    ("明天九点零五分", at(2026, 11, 23, 9, 5)),
    ("明天十点四十五", at(2026, 11, 23, 10, 45)),
    ("明天8时", at(2026, 11, 23, 8)),
    ("明天8点整", at(2026, 11, 23, 8)),
    ("明天十二点", at(2026, 11, 23, 12)),
    ("明天两点", at(2026, 11, 23, 14)),
    ("明天下午3点半", at(2026, 11, 23, 15, 30)),
    ("明天早上6点", at(2026, 11, 23, 6)),
    # undated times and today's evening reading
    ("下午3点", at(2026, 11, 22, 15)),
    ("晚上", at(2026, 11, 22, 20)),
    ("早上8点", at(2026, 11, 23, 8)),
    ("9:00", at(2026, 11, 23, 9)),
    ("8点", at(2026, 11, 22, 20)),
    ("今天8点", at(2026, 11, 22, 20)),
    ("11点", at(2026, 11, 22, 11)),
    # weekdays
    ("周一", at(2026, 11, 23, 9)),
    ("星期三", at(2026, 11, 25, 9)),
    ("礼拜五晚上8点", at(2026, 11, 27, 20)),
    ("周日", at(2026, 11, 29, 9)),
    ("周日下午", at(2026, 11, 22, 15)),
    ("星期天早上8点", at(2026, 11, 29, 8)),
    ("本周日晚上", at(2026, 11, 22, 20)),
    ("下个星期二", at(2026, 11, 24, 9)),
    ("下周五下午4点", at(2026, 11, 27, 16)),
    ("下下周三", at(2026, 12, 2, 9)),
    ("下下周一上午十点", at(2026, 11, 30, 10)),
    ("周五晚8点", at(2026, 11, 27, 20)),
    # calendar dates
    ("12月1日", at(2026, 12, 1)),
    ("十二月一日", at(2026, 12, 1)),
    ("12月1号晚上七点", at(2026, 12, 1, 19)),
    ("12月1日下午2:30", at(2026, 12, 1, 14, 30)),
    ("12月十五号下午", at(2026, 12, 15, 15)),
    ("1月1日", at(2027, 1, 1)),
    ("11月1日", at(2027, 11, 1)),
    ("11月22日下午", at(2026, 11, 22, 15)),
    ("2027年1月1日", at(2027, 1, 1)),
    ("二〇二七年三月八日", at(2027, 3, 8)),
    ("明年3月8日", at(2027, 3, 8)),
    ("2026/12/01", at(2026, 12, 1)),
    ("2026.12.1 14:00", at(2026, 12, 1, 14)),
    ("2026-12-01T09:00", None),  # 'T' is not a separator → date only, rest "T09:00"
    ("30号", at(2026, 11, 30)),
    ("1号", at(2026, 12, 1)),
    ("31号", at(2026, 12, 31)),
    ("22号下午", at(2026, 11, 22, 15)),
    ("下个月5号", at(2026, 12, 5)),
    ("本月28日", at(2026, 11, 28)),
    ("12月24日24点", at(2026, 12, 25, 0)),
    # relative offsets
    ("半小时后", at(2026, 11, 22, 11, 0)),
    ("两个小时后", at(2026, 11, 22, 12, 30)),
    ("1.5小时后", at(2026, 11, 22, 12, 0)),
    ("半个小时以后", at(2026, 11, 22, 11, 0)),
    ("一刻钟后", at(2026, 11, 22, 10, 45)),
    ("十分钟以后", at(2026, 11, 22, 10, 40)),
    ("90分钟之后", at(2026, 11, 22, 12, 0)),
    ("2周后", at(2026, 12, 6, 10, 30)),
    ("3天后下午3点", at(2026, 11, 25, 15)),
    ("1个月后", at(2026, 12, 22, 10, 30)),
    ("3日后", at(2026, 11, 25, 10, 30)),
    ("5年后", at(2031, 11, 22, 10, 30)),
    # full-width and Traditional input
    ("明天１０：００", at(2026, 11, 23, 10)),
    ("後天下午3點", at(2026, 11, 24, 15)),
    ("下週一", at(2026, 11, 23, 9)),
]


@pytest.mark.parametrize(("text", "expected"), [c for c in ONE_OFF if c[1] is not None])
def test_one_off(text: str, expected: datetime) -> None:
    when, rest = parse_when(text, NOW)
    assert when == OneOff(expected)
    assert rest == ""
    assert isinstance(when, OneOff) and when.at.tzinfo is TZ


def test_iso_with_t_is_a_date_and_the_rest() -> None:
    when, rest = parse_when("2026-12-01T09:00", NOW)
    assert when == OneOff(at(2026, 12, 1))
    assert rest == "T09:00"


def test_seconds_are_kept_for_offsets() -> None:
    now = datetime(2026, 11, 22, 10, 30, 27, tzinfo=TZ)
    assert parse_when("10分钟后", now)[0] == OneOff(at(2026, 11, 22, 10, 40, 27))
    assert parse_when("3天后", now)[0] == OneOff(at(2026, 11, 25, 10, 30, 27))


@pytest.mark.parametrize(
    ("text", "expected", "rest"),
    [
        ("明天下午3点 交材料", at(2026, 11, 23, 15), "交材料"),
        ("明天下午3点交材料", at(2026, 11, 23, 15), "交材料"),
        ("明天3点开会", at(2026, 11, 23, 15), "开会"),
        ("明天，到村委会开会", at(2026, 11, 23, 9), "到村委会开会"),
        ("10分钟后 给王大姐回电话", at(2026, 11, 22, 10, 40), "给王大姐回电话"),
        ("周五下午 妇女之家 活动", at(2026, 11, 27, 15), "妇女之家 活动"),
        ("明天 前台取快递", at(2026, 11, 23, 9), "前台取快递"),
        ("明天9点5个人开会", at(2026, 11, 23, 9), "5个人开会"),
        ("  12/1 9:00   走访  ", at(2026, 12, 1, 9), "走访"),
    ],
)
def test_rest_is_the_content(text: str, expected: datetime, rest: str) -> None:
    assert parse_when(text, NOW) == (OneOff(expected), rest)


DEADLINES = [
    ("4月底前", at(2027, 4, 30, 23, 59)),
    ("4月底", at(2027, 4, 30, 23, 59)),
    ("11月底前", at(2026, 11, 30, 23, 59)),
    ("2月底前", at(2027, 2, 28, 23, 59)),
    ("2028年2月底", at(2028, 2, 29, 23, 59)),
    ("月底", at(2026, 11, 30, 23, 59)),
    ("月底前", at(2026, 11, 30, 23, 59)),
    ("本月底", at(2026, 11, 30, 23, 59)),
    ("下个月底", at(2026, 12, 31, 23, 59)),
    ("年底", at(2026, 12, 31, 23, 59)),
    ("年底前", at(2026, 12, 31, 23, 59)),
    ("今年年底", at(2026, 12, 31, 23, 59)),
    ("明年年底前", at(2027, 12, 31, 23, 59)),
    ("12月31日前", at(2026, 12, 31, 23, 59)),
    ("12月31日之前", at(2026, 12, 31, 23, 59)),
    ("2月28日前", at(2027, 2, 28, 23, 59)),
    ("周五前", at(2026, 11, 27, 23, 59)),
    ("明天下午5点前", at(2026, 11, 23, 17)),
    ("今天前", at(2026, 11, 22, 23, 59)),
    ("12月31日24时前", at(2027, 1, 1, 0)),
]


@pytest.mark.parametrize(("text", "expected"), DEADLINES)
def test_deadline(text: str, expected: datetime) -> None:
    assert parse_when(text, NOW) == (Deadline(expected), "")


def test_deadline_rest() -> None:
    assert parse_when("12月31日前交述职报告", NOW) == (Deadline(at(2026, 12, 31, 23, 59)), "交述职报告")
    assert parse_when("年底前 完成走访", NOW) == (Deadline(at(2026, 12, 31, 23, 59)), "完成走访")


# One rule for deadlines: a day without a time is the end of that day, written with 前 or not.
DAY_DEADLINES = [
    ("下周三", at(2026, 11, 25, 23, 59)),
    ("下周三前", at(2026, 11, 25, 23, 59)),
    ("12月20日", at(2026, 12, 20, 23, 59)),
    ("12月20日前", at(2026, 12, 20, 23, 59)),
    ("明天", at(2026, 11, 23, 23, 59)),
    ("今天", at(2026, 11, 22, 23, 59)),  # 09:00 has passed, the day has not
    ("12.20", at(2026, 12, 20, 23, 59)),
    ("周五", at(2026, 11, 27, 23, 59)),
    ("2027-01-05", at(2027, 1, 5, 23, 59)),
    ("月底", at(2026, 11, 30, 23, 59)),
]


@pytest.mark.parametrize(("text", "expected"), DAY_DEADLINES)
def test_a_day_as_a_deadline_is_its_end(text: str, expected: datetime) -> None:
    assert parse_when(text + " 交材料", NOW, deadline=True) == (Deadline(expected), "交材料")


def test_a_deadline_with_a_time_keeps_it_and_reminders_keep_nine() -> None:
    assert parse_when("下周三下午5点", NOW, deadline=True)[0] == OneOff(at(2026, 11, 25, 17))
    assert parse_when("明天上午", NOW, deadline=True)[0] == OneOff(at(2026, 11, 23, 9))
    assert parse_when("今晚", NOW, deadline=True)[0] == OneOff(at(2026, 11, 22, 20))
    assert parse_when("3天后", NOW, deadline=True)[0] == OneOff(at(2026, 11, 25, 10, 30))
    assert parse_when("下周三", NOW)[0] == OneOff(at(2026, 11, 25, 9))  # a reminder or a training: 09:00


# (expression, expected recurrence, its next three occurrences after NOW)
RECURRING = [
    ("每天8点", Recurrence("daily", 8, 0, tz=TZ), [at(2026, 11, 23, 8), at(2026, 11, 24, 8), at(2026, 11, 25, 8)]),
    ("每天下午3点", Recurrence("daily", 15, 0, tz=TZ), [at(2026, 11, 22, 15), at(2026, 11, 23, 15)]),
    ("每晚8点", Recurrence("daily", 20, 0, tz=TZ), [at(2026, 11, 22, 20), at(2026, 11, 23, 20)]),
    ("每日", Recurrence("daily", 9, 0, tz=TZ), [at(2026, 11, 23), at(2026, 11, 24)]),
    ("每周一9点", Recurrence("weekly", 9, 0, weekday=0, tz=TZ), [at(2026, 11, 23), at(2026, 11, 30), at(2026, 12, 7)]),
    ("每周五下午", Recurrence("weekly", 15, 0, weekday=4, tz=TZ), [at(2026, 11, 27, 15), at(2026, 12, 4, 15)]),
    ("每个星期日", Recurrence("weekly", 9, 0, weekday=6, tz=TZ), [at(2026, 11, 29), at(2026, 12, 6)]),
    ("每礼拜三晚上7点半", Recurrence("weekly", 19, 30, weekday=2, tz=TZ), [at(2026, 11, 25, 19, 30)]),
    (
        "每个工作日8点半",
        Recurrence("workdays", 8, 30, tz=TZ),
        [at(2026, 11, 23, 8, 30), at(2026, 11, 24, 8, 30), at(2026, 11, 25, 8, 30)],
    ),
    ("每月1号9点", Recurrence("monthly", 9, 0, day=1, tz=TZ), [at(2026, 12, 1), at(2027, 1, 1), at(2027, 2, 1)]),
    ("每个月15日下午", Recurrence("monthly", 15, 0, day=15, tz=TZ), [at(2026, 12, 15, 15), at(2027, 1, 15, 15)]),
    ("每月31号", Recurrence("monthly", 9, 0, day=31, tz=TZ), [at(2026, 11, 30), at(2026, 12, 31), at(2027, 1, 31)]),
    ("每月最后一天", Recurrence("month_end", 9, 0, tz=TZ), [at(2026, 11, 30), at(2026, 12, 31), at(2027, 1, 31)]),
    ("每月底下午5点", Recurrence("month_end", 17, 0, tz=TZ), [at(2026, 11, 30, 17), at(2026, 12, 31, 17)]),
    ("每年3月8日", Recurrence("yearly", 9, 0, day=8, month=3, tz=TZ), [at(2027, 3, 8), at(2028, 3, 8)]),
    ("每年2月29日", Recurrence("yearly", 9, 0, day=29, month=2, tz=TZ), [at(2027, 2, 28), at(2028, 2, 29)]),
]


@pytest.mark.parametrize(("text", "expected", "occurrences"), RECURRING)
def test_recurrence(text: str, expected: Recurrence, occurrences: list[datetime]) -> None:
    when, rest = parse_when(text, NOW)
    assert (when, rest) == (expected, "")
    assert isinstance(when, Recurrence)
    t = NOW
    for want in occurrences:
        got = when.next_after(t, CAL)
        assert got == want
        assert got is not None
        t = got


def test_recurrence_rest_and_describe() -> None:
    when, rest = parse_when("每周一9点 交周报", NOW)
    assert rest == "交周报"
    assert isinstance(when, Recurrence) and when.describe() == "每周一 09:00"
    described = {text: parse_when(text, NOW)[0] for text, _, _ in RECURRING}
    assert [r.describe() for r in described.values() if isinstance(r, Recurrence)][:3] == [
        "每天 08:00",
        "每天 15:00",
        "每天 20:00",
    ]
    assert Recurrence("workdays", 8, 30).describe() == "每个工作日 08:30"
    assert Recurrence("monthly", 9, 0, day=1).describe() == "每月1日 09:00"
    assert Recurrence("month_end", 9, 0).describe() == "每月最后一天 09:00"
    assert Recurrence("yearly", 9, 0, day=8, month=3).describe() == "每年3月8日 09:00"
    assert Recurrence("weekly", 18, 5, weekday=6).describe() == "每周日 18:05"


def test_recurrence_encode_roundtrip() -> None:
    for _, rec, _ in RECURRING:
        assert Recurrence.decode(rec.encode(), TZ) == rec
    assert Recurrence("yearly", 9, 0, day=8, month=3).encode() == "yearly:3-8@09:00"
    assert Recurrence("weekly", 9, 0, weekday=0).encode() == "weekly:0@09:00"
    with pytest.raises(ValueError):
        Recurrence.decode("hourly@09:00")
    with pytest.raises(ValueError):
        Recurrence("yearly", 9, 0, day=30, month=2)


ERRORS = [
    ("", "empty"),
    ("   ", "empty"),
    ("交材料", "unrecognised"),
    ("abc", "unrecognised"),
    ("周八", "unrecognised"),
    ("每周", "unrecognised"),
    ("下周", "unrecognised"),
    ("昨天", "past"),
    ("前天下午", "past"),
    ("昨晚8点", "past"),
    ("今天早上8点", "past"),
    ("今天9:00", "past"),
    ("今天", "past"),
    ("这周六", "past"),
    ("上周五", "past"),
    ("2025-12-01", "past"),
    ("2026年11月22日上午10点", "past"),
    ("11月22日上午", "past"),
    ("3天前", "past"),
    ("半小时前", "past"),
    ("0分钟后", "past"),
    ("2月30日", "invalid_date"),
    ("13月1日", "invalid_date"),
    ("32号", "invalid_date"),
    ("2026-02-30", "invalid_date"),
    ("2027年2月29日", "invalid_date"),
    ("本月31号", "invalid_date"),
    ("25点", "invalid_date"),
    ("明天25点", "invalid_date"),
    ("明天8点61分", "invalid_date"),
    ("明天上午15点", "invalid_date"),
    ("明天24点30分", "invalid_date"),
    ("每月32号", "invalid_date"),
    ("每年2月30日", "invalid_date"),
    ("13月底", "invalid_date"),
    ("2032年1月1日", "too_far"),
    ("10000天后", "too_far"),
    ("6年后", "too_far"),
    ("99999999999天后", "too_far"),
]


@pytest.mark.parametrize(("text", "code"), ERRORS)
def test_errors(text: str, code: str) -> None:
    with pytest.raises(TimeParseError) as info:
        parse_when(text, NOW)
    assert info.value.code == code
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value.params["text"], str)


def test_error_params() -> None:
    with pytest.raises(TimeParseError) as info:
        parse_when("2月30日 开会", NOW)
    assert info.value.params == {"text": "2月30日"}
    with pytest.raises(TimeParseError) as info:
        parse_when("开会 明天", NOW)
    assert info.value.params == {"text": "开会"}
    with pytest.raises(TimeParseError) as info:
        parse_when("2032年1月1日", NOW)
    assert info.value.params == {"text": "2032年1月1日", "years": 5}


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_when("明天", datetime(2026, 11, 22, 10, 30))  # noqa: DTZ001


def test_other_timezone_now() -> None:
    now = NOW.astimezone(UTC)
    when, _ = parse_when("明天下午3点", now)
    assert when == OneOff(datetime(2026, 11, 23, 15, tzinfo=UTC))
    assert isinstance(when, OneOff) and when.at.tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("明天", OneOff(at(2027, 1, 1))),
        ("1月1日", OneOff(at(2027, 1, 1))),
        ("今晚11点", OneOff(at(2026, 12, 31, 23))),
        ("3小时后", OneOff(at(2027, 1, 1, 1))),
        ("下周一", OneOff(at(2027, 1, 4))),
        ("周一", OneOff(at(2027, 1, 4))),
        ("年底前", Deadline(at(2026, 12, 31, 23, 59))),
        ("月底", Deadline(at(2026, 12, 31, 23, 59))),
        ("1月底前", Deadline(at(2027, 1, 31, 23, 59))),
        ("每年1月1日", Recurrence("yearly", 9, 0, day=1, month=1, tz=TZ)),
    ],
)
def test_new_year_eve(text: str, expected: object) -> None:
    assert parse_when(text, NEW_YEAR_EVE) == (expected, "")


def test_new_year_eve_errors_and_rollover() -> None:
    with pytest.raises(TimeParseError) as info:
        parse_when("12月31日", NEW_YEAR_EVE)  # 09:00 today is gone
    assert info.value.code == "past"
    late = datetime(2026, 12, 31, 23, 59, 30, tzinfo=TZ)
    assert parse_when("年底", late) == (Deadline(at(2027, 12, 31, 23, 59)), "")
    assert parse_when("月底", late) == (Deadline(at(2027, 1, 31, 23, 59)), "")


def test_national_day_2026_parse() -> None:
    now = datetime(2026, 9, 30, 18, 0, tzinfo=TZ)
    assert parse_when("明天", now) == (OneOff(at(2026, 10, 1)), "")
    assert parse_when("下周一", now) == (OneOff(at(2026, 10, 5)), "")
    when, _ = parse_when("每个工作日8点半", now)
    assert isinstance(when, Recurrence)
    assert when.next_after(now, CAL) == at(2026, 10, 8, 8, 30)


def occurrences(rec: Recurrence, start: datetime, n: int, cal: WorkdayCalendar = CAL) -> list[datetime]:
    out: list[datetime] = []
    t = start
    for _ in range(n):
        nxt = rec.next_after(t, cal)
        assert nxt is not None
        out.append(nxt)
        t = nxt
    return out


WORKDAYS = Recurrence("workdays", 8, 30, tz=TZ)


def test_workdays_across_national_day_and_make_up_saturday() -> None:
    # 10-01..10-07 National Day; Saturday 10-10 is a 调休 working day
    got = occurrences(WORKDAYS, at(2026, 9, 30, 18), 5)
    assert got == [
        at(2026, 10, 8, 8, 30),
        at(2026, 10, 9, 8, 30),
        at(2026, 10, 10, 8, 30),
        at(2026, 10, 12, 8, 30),
        at(2026, 10, 13, 8, 30),
    ]


def test_workdays_mid_autumn_with_make_up_sunday() -> None:
    # Sunday 09-20 is a 调休 working day; 09-25..09-27 Mid-autumn holiday
    got = occurrences(WORKDAYS, at(2026, 9, 18, 9), 7)
    assert [t.date() for t in got] == [
        date(2026, 9, 20),
        date(2026, 9, 21),
        date(2026, 9, 22),
        date(2026, 9, 23),
        date(2026, 9, 24),
        date(2026, 9, 28),
        date(2026, 9, 29),
    ]


def test_workdays_new_year_and_spring_festival_2026() -> None:
    # 01-01..01-03 New Year's Day; Sunday 01-04 works
    got = occurrences(WORKDAYS, at(2025, 12, 31, 9), 3)
    assert [t.date() for t in got] == [date(2026, 1, 4), date(2026, 1, 5), date(2026, 1, 6)]
    # Saturday 02-14 works; 02-15..02-23 Spring Festival; Saturday 02-28 works
    got = occurrences(WORKDAYS, at(2026, 2, 13, 9), 3)
    assert [t.date() for t in got] == [date(2026, 2, 14), date(2026, 2, 24), date(2026, 2, 25)]
    got = occurrences(WORKDAYS, at(2026, 2, 27, 9), 2)
    assert [t.date() for t in got] == [date(2026, 2, 28), date(2026, 3, 2)]


def test_workdays_strictly_after_and_fallback_year() -> None:
    assert WORKDAYS.next_after(at(2026, 11, 23, 8, 30), CAL) == at(2026, 11, 24, 8, 30)
    assert WORKDAYS.next_after(at(2026, 11, 23, 8, 29), CAL) == at(2026, 11, 23, 8, 30)
    # 2027 is not in the shipped data: Monday–Friday fallback
    got = occurrences(WORKDAYS, at(2027, 9, 30, 9), 3)
    assert [t.date() for t in got] == [date(2027, 10, 1), date(2027, 10, 4), date(2027, 10, 5)]


def test_workdays_local_days_off_and_none() -> None:
    cal = WorkdayCalendar.with_days_off([date(2026, 11, 23), date(2026, 11, 24)])
    assert WORKDAYS.next_after(NOW, cal) == at(2026, 11, 25, 8, 30)
    everything_off = WorkdayCalendar.with_days_off(date(2026, 11, 22) + timedelta(days=i) for i in range(1200))
    assert WORKDAYS.next_after(NOW, everything_off) is None


def test_next_after_other_zone_and_naive() -> None:
    weekly = Recurrence("weekly", 9, 0, weekday=0, tz=TZ)
    got = weekly.next_after(NOW.astimezone(UTC), CAL)
    assert got == at(2026, 11, 23, 9)
    assert got is not None and got.tzinfo is TZ
    # without a zone of its own, the recurrence uses t's zone
    assert Recurrence("daily", 8, 0).next_after(datetime(2026, 1, 1, 9, tzinfo=UTC), CAL) == datetime(
        2026, 1, 2, 8, tzinfo=UTC
    )
    with pytest.raises(ValueError):
        weekly.next_after(datetime(2026, 11, 22, 10, 30), CAL)  # noqa: DTZ001


def test_monthly_and_yearly_edges() -> None:
    assert occurrences(Recurrence("monthly", 9, 0, day=30, tz=TZ), at(2027, 1, 31), 2) == [
        at(2027, 2, 28),
        at(2027, 3, 30),
    ]
    assert occurrences(Recurrence("month_end", 9, 0, tz=TZ), at(2028, 1, 31, 10), 2) == [
        at(2028, 2, 29),
        at(2028, 3, 31),
    ]
    assert Recurrence("yearly", 9, 0, day=8, month=3, tz=TZ).next_after(at(2027, 3, 8), CAL) == at(2028, 3, 8)


# parse_date_range / parse_date with today = Sunday 2026-11-22
TODAY = date(2026, 11, 22)

RANGES = [
    ("12月1日", date(2026, 12, 1), date(2026, 12, 1), ""),
    ("12月1日-12月7日", date(2026, 12, 1), date(2026, 12, 7), ""),
    ("12月1日至12月7日", date(2026, 12, 1), date(2026, 12, 7), ""),
    ("12月1号到7号", date(2026, 12, 1), date(2026, 12, 7), ""),
    ("2026-12-01~2026-12-07", date(2026, 12, 1), date(2026, 12, 7), ""),
    ("明天", date(2026, 11, 23), date(2026, 11, 23), ""),
    ("下周一到下周三", date(2026, 11, 23), date(2026, 11, 25), ""),
    ("周一到周三", date(2026, 11, 23), date(2026, 11, 25), ""),
    ("周三到周一", date(2026, 11, 25), date(2026, 11, 30), ""),
    ("12月1日至12月7日 家里有事", date(2026, 12, 1), date(2026, 12, 7), "家里有事"),
    ("12月1日 - 12月7日 照顾老人", date(2026, 12, 1), date(2026, 12, 7), "照顾老人"),
    ("12月1日——12月7日", date(2026, 12, 1), date(2026, 12, 7), ""),
    ("12月1-7日", date(2026, 12, 1), date(2026, 12, 7), ""),
    ("12/1-12/7 外出培训", date(2026, 12, 1), date(2026, 12, 7), "外出培训"),
    ("12月28日到1月3日", date(2026, 12, 28), date(2027, 1, 3), ""),
    ("11月20日到11月25日", date(2026, 11, 20), date(2026, 11, 25), ""),
    # A yearless range that ended within the last 60 days is the past one (callers refuse it).
    ("11月1日到11月7日", date(2026, 11, 1), date(2026, 11, 7), ""),
    ("9月1日到9月7日", date(2027, 9, 1), date(2027, 9, 7), ""),
    ("1号到3号", date(2026, 12, 1), date(2026, 12, 3), ""),
    ("今天到后天 生病", date(2026, 11, 22), date(2026, 11, 24), "生病"),
    ("12月1日-家里有事", date(2026, 12, 1), date(2026, 12, 1), "家里有事"),
    ("2027年1月5日至1月8日", date(2027, 1, 5), date(2027, 1, 8), ""),
    ("１２月１日～１２月３日", date(2026, 12, 1), date(2026, 12, 3), ""),
]


@pytest.mark.parametrize(("text", "first", "last", "rest"), RANGES)
def test_parse_date_range(text: str, first: date, last: date, rest: str) -> None:
    assert parse_date_range(text, TODAY) == (first, last, rest)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "empty"),
        ("请假", "unrecognised"),
        ("2月30日", "invalid_date"),
        ("12月1日到12月32日", "invalid_date"),
        ("12月7日到12月1日", "range_reversed"),
        ("2026-12-07~2026-12-01", "range_reversed"),
        ("12月7号到1号", "range_reversed"),
        ("3月5日到2月1日", "range_reversed"),
    ],
)
def test_parse_date_range_errors(text: str, code: str) -> None:
    with pytest.raises(TimeParseError) as info:
        parse_date_range(text, TODAY)
    assert info.value.code == code


@pytest.mark.parametrize(
    ("text", "expected", "rest"),
    [
        ("12月3日", date(2026, 12, 3), ""),
        ("12月3日 帮我顶一下", date(2026, 12, 3), "帮我顶一下"),
        ("周三", date(2026, 11, 25), ""),
        ("周日", date(2026, 11, 22), ""),
        ("今天", date(2026, 11, 22), ""),
        ("昨天", date(2026, 11, 21), ""),
        ("11月1日", date(2026, 11, 1), ""),  # 21 days ago: the past one, not next year
        ("9月1日", date(2027, 9, 1), ""),
        ("2月29日", date(2028, 2, 29), ""),
        ("3号", date(2026, 12, 3), ""),
        ("2026-12-03", date(2026, 12, 3), ""),
        ("12/3", date(2026, 12, 3), ""),
        ("下下周一", date(2026, 11, 30), ""),
    ],
)
def test_parse_date(text: str, expected: date, rest: str) -> None:
    assert parse_date(text, TODAY) == (expected, rest)


@pytest.mark.parametrize(("text", "code"), [("", "empty"), ("abc", "unrecognised"), ("2月30日", "invalid_date")])
def test_parse_date_errors(text: str, code: str) -> None:
    with pytest.raises(TimeParseError) as info:
        parse_date(text, TODAY)
    assert info.value.code == code


def test_locale_messages_cover_every_code() -> None:
    table = tomllib.loads(LOCALE.read_text(encoding="utf-8"))["time"]
    codes = ["empty", "unrecognised", "past", "invalid_date", "too_far", "range_reversed"]
    assert sorted(k for k in table if k.startswith("error_")) == sorted(f"error_{c}" for c in codes)
    # the brief forms (date commands that follow with their own examples) name only known codes
    assert {k.removeprefix("brief_") for k in table if k.startswith("brief_")} <= set(codes)
    samples: dict[str, Callable[[], object]] = {
        "empty": lambda: parse_when("", NOW),
        "unrecognised": lambda: parse_when("交材料", NOW),
        "past": lambda: parse_when("昨天", NOW),
        "invalid_date": lambda: parse_when("2月30日", NOW),
        "too_far": lambda: parse_when("2099年1月1日", NOW),
        "range_reversed": lambda: parse_date_range("12月7日到12月1日", TODAY),
    }
    for code, parse in samples.items():
        with pytest.raises(TimeParseError) as info:
            parse()
        assert info.value.code == code
        message = table[f"error_{code}"].format(**info.value.params)
        assert "{" not in message and "例如" in message


@pytest.mark.parametrize("text", ["12/10", "12.10", "12-10", "１２．１０"])
def test_month_day_with_slash_dot_or_dash(text: str) -> None:
    day, rest = parse_date(text.replace("．", "."), date(2026, 11, 23))
    assert day == date(2026, 12, 10) and rest == ""


def test_numbers_with_units_are_not_dates() -> None:
    when, rest = parse_when("1.5小时后 开会", NOW)
    assert isinstance(when, OneOff) and when.at == NOW + timedelta(minutes=90) and rest == "开会"
    when, rest = parse_when("12-10下午3点 开会", NOW)
    assert isinstance(when, OneOff) and when.at == datetime(2026, 12, 10, 15, 0, tzinfo=TZ)
