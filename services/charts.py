"""The /stats chart: one PNG with three panels (duty check-ins per week, ledger entries by category,
policy questions). Pure: data and already-translated labels in, PNG bytes out.

Drawing uses `matplotlib.figure.Figure` with the Agg canvas (no pyplot, no GUI backend). Chinese text
needs a CJK font that is on every machine without system fonts or network, so the font comes from
the pip package `cvttf-NotoSansCJK-Regular` (Noto Sans CJK, OFL) and is registered with matplotlib
once per process. Rendering sets the font through `rc_context`, which touches matplotlib's global
rcParams, so renders are serialised by a lock (each takes a fraction of a second).
"""

from __future__ import annotations

import importlib.util
import io
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import matplotlib
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

FONT_PACKAGE = "cvttf_NotoSansCJK_Regular"
FONT_SUFFIXES = (".otf", ".ttf", ".ttc")
DPI = 120
MIN_LEDGER_ROWS = 5
SIZE_INCHES = (8.0, 10.5)

EXPECTED_COLOUR = "#c9d6e3"
CHECKED_COLOUR = "#2e7d32"
LEDGER_COLOUR = "#c2185b"
FAQ_COLOURS = ("#90a4ae", "#1565c0", "#ef6c00", "#6a1b9a")

_render_lock = threading.Lock()


@dataclass(frozen=True)
class WeekCount:
    label: str  # e.g. "11月2–8日", already in the reader's language
    expected: int  # shifts that started in this week (before now)
    checked: int  # of those, checked in


@dataclass(frozen=True)
class StatsChart:
    weeks: Sequence[WeekCount]
    ledger: Sequence[tuple[str, int]]  # (category, entries), in display order
    asked: int
    answered: int
    passed_on: int
    member_answered: int


@dataclass(frozen=True)
class ChartLabels:
    title: str
    checkins_title: str
    expected: str
    checked: str
    ledger_title: str
    faq_title: str
    asked: str
    answered: str
    passed_on: str
    member_answered: str
    count_axis: str
    no_checkins: str
    no_ledger: str
    no_faq: str


@cache
def font_path() -> Path:
    """The CJK font file shipped by the font package."""
    spec = importlib.util.find_spec(FONT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the CJK font package {FONT_PACKAGE} is not installed")
    for folder in spec.submodule_search_locations:
        found = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in FONT_SUFFIXES)
        if found:
            return found[0]
    raise RuntimeError(f"no font file inside {FONT_PACKAGE}")


@cache
def font_family() -> str:
    """Register the CJK font with matplotlib (once) and return its family name."""
    path = font_path()
    font_manager.fontManager.addfont(str(path))
    return str(font_manager.FontProperties(fname=str(path)).get_name())


def render_stats(data: StatsChart, labels: ChartLabels) -> bytes:
    """The three-panel chart as PNG bytes."""
    family = font_family()
    with _render_lock, matplotlib.rc_context({"font.family": [family], "font.size": 11,
                                              "axes.unicode_minus": False}):
        fig = Figure(figsize=SIZE_INCHES, dpi=DPI, layout="constrained")
        FigureCanvasAgg(fig)
        fig.suptitle(labels.title, fontsize=16)  # the package has the regular weight only
        top, middle, bottom = fig.subplots(3, 1, height_ratios=(1.1, 1.0, 0.9))
        _checkins(top, data.weeks, labels)
        _ledger(middle, data.ledger, labels)
        _faq(bottom, data, labels)
        out = io.BytesIO()
        fig.savefig(out, format="png", dpi=DPI, facecolor="white")
        return out.getvalue()


def _no_data(ax: Axes, note: str) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.text(0.5, 0.5, note, transform=ax.transAxes, ha="center", va="center", fontsize=12, color="#777777")


def _tidy(ax: Axes) -> None:
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)


def _checkins(ax: Axes, weeks: Sequence[WeekCount], labels: ChartLabels) -> None:
    ax.set_title(labels.checkins_title, loc="left", fontsize=13)
    if not weeks or not any(w.expected for w in weeks):
        _no_data(ax, labels.no_checkins)
        return
    xs = list(range(len(weeks)))
    width = 0.38
    expected = ax.bar([x - width / 2 for x in xs], [w.expected for w in weeks], width,
                      label=labels.expected, color=EXPECTED_COLOUR)
    checked = ax.bar([x + width / 2 for x in xs], [w.checked for w in weeks], width,
                     label=labels.checked, color=CHECKED_COLOUR)
    # Weeks still ahead (nothing was due) stay unlabelled; a due week with no check-in shows its 0.
    ax.bar_label(expected, [str(w.expected) if w.expected else "" for w in weeks], padding=2, fontsize=9)
    ax.bar_label(checked, [str(w.checked) if w.expected else "" for w in weeks], padding=2, fontsize=9)
    ax.set_xticks(xs, [w.label for w in weeks])
    ax.set_ylabel(labels.count_axis)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(0, max(w.expected for w in weeks) * 1.25 + 0.5)
    ax.legend(loc="upper right", frameon=False, ncols=2)
    _tidy(ax)


def _ledger(ax: Axes, ledger: Sequence[tuple[str, int]], labels: ChartLabels) -> None:
    ax.set_title(labels.ledger_title, loc="left", fontsize=13)
    rows = [(c, n) for c, n in ledger if n > 0]
    if not rows:
        _no_data(ax, labels.no_ledger)
        return
    ys = list(range(len(rows)))
    bars = ax.barh(ys, [n for _, n in rows], color=LEDGER_COLOUR, height=0.6)
    ax.bar_label(bars, padding=3, fontsize=9)
    ax.set_yticks(ys, [c for c, _ in rows])
    ax.set_ylim(max(len(rows), MIN_LEDGER_ROWS) - 0.5, -0.5)  # first category on top; thin bars when few
    ax.set_xlabel(labels.count_axis)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(0, max(n for _, n in rows) * 1.15 + 0.5)
    _tidy(ax)


def _faq(ax: Axes, data: StatsChart, labels: ChartLabels) -> None:
    ax.set_title(labels.faq_title, loc="left", fontsize=13)
    if not data.asked and not data.passed_on:
        _no_data(ax, labels.no_faq)
        return
    names = [labels.asked, labels.answered, labels.passed_on, labels.member_answered]
    values = [data.asked, data.answered, data.passed_on, data.member_answered]
    xs = list(range(len(names)))
    bars = ax.bar(xs, values, color=FAQ_COLOURS, width=0.55)
    ax.bar_label(bars, padding=2, fontsize=9)
    ax.set_xticks(xs, names)
    ax.set_ylabel(labels.count_axis)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(0, max(values) * 1.25 + 0.5)
    _tidy(ax)
