"""/stats: the chart renderer (valid PNG, a CJK font with every glyph we draw), the weekly check-in
counts, and the handler (who, where, month argument, the photo sent)."""

from __future__ import annotations

import io
import logging
import warnings
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from matplotlib import font_manager
from matplotlib.ft2font import FT2Font
from matplotlib.image import imread

from bot.simulator import Persona
from handlers.i18n import catalog
from handlers.stats import chart_data, chart_labels
from services.charts import ChartLabels, StatsChart, WeekCount, font_family, font_path, render_stats
from services.rotation import Shift
from services.stats import month_stats, month_weeks, weekly_checkins
from tests.harness import PUBLIC, WORK, Harness

pytestmark = pytest.mark.unit

SH = ZoneInfo("Asia/Shanghai")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
STRANGER = Persona(5555, "陌生人", "stranger_x")


def labels() -> ChartLabels:
    return chart_labels("zh_cn", "青石村妇联", 2026, 11, True)


def sample() -> StatsChart:
    weeks = [WeekCount("11月1日", 1, 1), WeekCount("11月2–8日", 7, 6), WeekCount("11月9–15日", 7, 4)]
    return StatsChart(weeks, [("走访", 5), ("调解", 2), ("政策宣传", 1)], 12, 9, 3, 2)


def png_size(data: bytes) -> tuple[int, int]:
    image = imread(io.BytesIO(data), format="png")
    return image.shape[1], image.shape[0]


def test_chart_is_a_png_of_sensible_size() -> None:
    data = render_stats(sample(), labels())
    assert data.startswith(PNG_MAGIC)
    width, height = png_size(data)
    assert 600 <= width <= 2000 and 800 <= height <= 2500
    assert width < height  # three stacked panels
    assert len(data) < 1_000_000


def test_chart_with_no_data_still_renders() -> None:
    empty = StatsChart([WeekCount("11月1日", 0, 0)], [], 0, 0, 0, 0)
    data = render_stats(empty, chart_labels("zh_cn", "新村妇联", 2026, 12, False))
    assert data.startswith(PNG_MAGIC)
    assert png_size(data)[0] >= 600


def test_no_missing_glyph_warnings(caplog: pytest.LogCaptureFixture) -> None:
    # findfont caches its answers (and logs a fallback only once): start from a clean cache.
    cached = getattr(font_manager.fontManager, "_findfont_cached", None)
    if cached is not None:
        cached.cache_clear()
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.DEBUG, logger="matplotlib"):
        warnings.simplefilter("always")
        render_stats(sample(), labels())
        render_stats(sample(), chart_labels("zh_tw", "青石村妇联", 2026, 11, True))
    messages = [str(w.message) for w in caught] + [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if "missing from font" in m or "Failed to find" in m
                 or "not found" in m], messages


def test_font_has_every_glyph_we_draw() -> None:
    path = font_path()
    assert path.is_file() and path.suffix.lower() in (".otf", ".ttf", ".ttc")
    font = FT2Font(str(path))
    for lang in ("zh_cn", "zh_tw"):
        strings = [v for k, v in catalog(lang).items() if k.startswith("stats.chart.")]
        strings += ["青石村妇联", "0123456789–", "走访调解政策宣传矛盾纠纷其他"]
        chars = {ch for s in strings for ch in s if not ch.isspace() and ch not in "{}_"}
        missing = sorted(ch for ch in chars if font.get_char_index(ord(ch)) == 0)
        assert not missing, (lang, missing)


def test_matplotlib_resolves_the_family_to_the_packaged_font() -> None:
    family = font_family()
    assert "CJK" in family
    found = font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
    # Another copy of Noto Sans CJK installed on the system would do as well; it must have the glyphs.
    assert found == str(font_path()) or FT2Font(found).get_char_index(ord("妇")) != 0


def test_month_weeks_clip_to_the_month() -> None:
    weeks = month_weeks(2026, 11)  # 1 November 2026 is a Sunday
    assert weeks[0] == (date(2026, 11, 1), date(2026, 11, 1))
    assert weeks[1] == (date(2026, 11, 2), date(2026, 11, 8))
    assert weeks[-1] == (date(2026, 11, 30), date(2026, 11, 30))
    assert len(weeks) == 6
    assert month_weeks(2026, 12)[-1] == (date(2026, 12, 28), date(2026, 12, 31))


def _shift(day: date, hour: int = 8) -> Shift:
    start = datetime(day.year, day.month, day.day, hour, tzinfo=SH)
    return Shift(0, start, start + timedelta(days=1), day, day, 1, 1, "base", False)


def test_weekly_checkins_count_started_shifts_per_week() -> None:
    shifts = [(_shift(date(2026, 10, 31)), True),  # started last month, runs into 1 November
              (_shift(date(2026, 11, 2)), True), (_shift(date(2026, 11, 3)), False),
              (_shift(date(2026, 11, 9)), True), (_shift(date(2026, 11, 10)), False)]
    now = datetime(2026, 11, 10, 7, tzinfo=SH)  # the 10th's shift has not started yet
    weeks = weekly_checkins(shifts, 2026, 11, SH, now)
    assert [(w.expected, w.checked) for w in weeks] == [(1, 1), (2, 1), (1, 1), (0, 0), (0, 0), (0, 0)]


# --- the handler ---------------------------------------------------------------------------------


@pytest.mark.handler
async def test_stats_in_the_work_group_sends_a_photo(h: Harness) -> None:
    await h.say(WORK, "赵霞", "/checkin")
    await h.say(WORK, "赵霞", "/log 走访 到张大姐家了解情况")
    calls = await h.send(WORK, "王芳", "/stats")
    photos = [c for c in calls if c.method == "sendPhoto"]
    assert len(photos) == 1 and not [c for c in calls if c.method == "sendMessage"]
    photo = photos[0]
    assert photo.chat_id == WORK
    assert "青石村妇联 2026年11月 工作统计" in photo.text
    data = photo.files["photo"]
    assert data.startswith(PNG_MAGIC) and photo.filenames["photo"] == "stats-2026-11.png"  # saved with a name
    assert png_size(data)[0] >= 600


@pytest.mark.handler
async def test_stats_numbers_match_the_monthly_summary(h: Harness) -> None:
    await h.say(WORK, "赵霞", "/checkin")
    org = h.services.roster
    found = await org.memberships(h.person("王芳").user_id)
    org_id = found[0][0].id
    stats = await month_stats(h.services.monthly_report, h.services.duty, org_id, 2026, 11)
    s = stats.summary
    assert sum(w.expected for w in stats.weeks) == s.shifts > 0
    assert sum(w.checked for w in stats.weeks) == s.checked_in >= 1
    data = chart_data("zh_cn", stats)
    assert data.weeks[0].label == "11月1日" and data.weeks[1].label == "11月2–8日"
    assert dict(data.ledger) == s.ledger
    calls = await h.send(WORK, "王芳", "/stats 11月")
    caption = next(c for c in calls if c.method == "sendPhoto").text
    assert f"签到 {s.checked_in}/{s.shifts} 班" in caption
    assert f"台账 {s.ledger_total} 条" in caption and f"政策问题 {s.asked} 个" in caption


@pytest.mark.handler
async def test_stats_vice_chair_in_private_and_month_argument(h: Harness) -> None:
    vice = h.person("李秀英")
    calls = await h.send(vice.user_id, vice, "/stats 2026-10")
    photos = [c for c in calls if c.method == "sendPhoto"]
    assert len(photos) == 1 and photos[0].chat_id == vice.user_id
    assert "2026年10月" in photos[0].text


@pytest.mark.handler
async def test_stats_refusals(h: Harness) -> None:
    assert "主席、副主席" in await h.say(WORK, "刘敏", "/stats")
    assert "妇女之家群里不处理" in await h.say(PUBLIC, "王芳", "/stats")
    assert "还没有绑定组织" in await h.say(-1007777, STRANGER, "/stats")
    for bad in ("13月", "下个月", "2026-00"):
        text = await h.say(WORK, "王芳", f"/stats {bad}")
        assert "/stats 11月" in text and "/stats 2026-11" in text
    assert not [c for c in h.api.calls if c.method == "sendPhoto"]


@pytest.mark.handler
async def test_stats_escapes_org_name_in_caption(fresh: Harness) -> None:
    await fresh.say(WORK, "王芳", "/setup 新村<妇联>&")
    calls = await fresh.send(WORK, "王芳", "/stats")
    photo = next(c for c in calls if c.method == "sendPhoto")
    assert "新村&lt;妇联&gt;&amp;" in photo.text and photo.params.get("parse_mode") == "HTML"
    assert photo.files["photo"].startswith(PNG_MAGIC)
