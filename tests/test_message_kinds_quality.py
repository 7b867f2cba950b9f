"""The held-out message set (never tuned on) through bench/message_kinds.py: floors set under the
figures the README reports, so a change that breaks danger recall or the group's quiet fails here."""

from __future__ import annotations

import pytest

from bench.message_kinds import evaluate, load
from services.faq_engine import FaqIndex, load_shipped_entries
from services.message_kind import Vocabulary

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def results() -> dict[str, tuple[int, int]]:
    return evaluate(Vocabulary(FaqIndex.build(load_shipped_entries())), load("test"))


def rate(results: dict[str, tuple[int, int]], name: str) -> float:
    good, total = results[name]
    return good / total


def test_held_out_set_is_big_enough(results: dict[str, tuple[int, int]]) -> None:
    assert results["danger recall (public)"][1] + results["danger recall (private)"][1] >= 40
    assert results["look-alike alarms avoided"][1] >= 40 and results["chatter silent (public)"][1] >= 50


def test_danger_is_not_missed(results: dict[str, tuple[int, int]]) -> None:
    for where in ("public", "private", "unknown woman"):
        assert rate(results, f"danger recall ({where})") >= 0.9, where
    assert rate(results, "look-alike alarms avoided") >= 0.9


def test_group_stays_quiet_and_questions_are_taken(results: dict[str, tuple[int, int]]) -> None:
    assert rate(results, "chatter silent (public)") >= 0.93
    assert rate(results, "question answered/suggested (public)") >= 0.85
    assert rate(results, "question not ignored (private)") >= 0.9
