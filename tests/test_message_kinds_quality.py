"""The held-out message set (never tuned on) through bench/message_kinds.py: floors set under the
figures the README reports, so a change that breaks danger recall or the group's quiet fails here."""

from __future__ import annotations

import pytest

from bench.message_kinds import evaluate, load
from services.faq_engine import FaqIndex, load_shipped_entries
from services.message_kind import Vocabulary, plan, understand

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def vocabulary() -> Vocabulary:
    return Vocabulary(FaqIndex.build(load_shipped_entries()))


@pytest.fixture(scope="module")
def results(vocabulary: Vocabulary) -> dict[str, tuple[int, int]]:
    return evaluate(vocabulary, load("test"))


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


# Lessons of held-out set T, in other words than the set's: a question about what she hid from, with him
# far away now, and a left-behind child's care asked about in the group are questions, not danger or chatter,
# and never left unanswered: answered, offered, or (where the FAQ decision cannot vouch for an entry:
# 进厂, 开春 are words no entry holds) passed to a person, as a question or as a concern.
@pytest.mark.parametrize("text", [
    "派出所已经给他发了告诫书 前几天他来家里砸过门 我当时躲去了娘家 现在他人在外省打工 这样他会被拘留不",
    "去年他打我那次我躲到邻居家 现在他被拘留了 还能判刑吗",
    "开春要去广东进厂 闺女交给她奶奶带 需要开啥证明不",
])
def test_questions_of_set_t_in_other_words_are_answered_or_suggested(vocabulary: Vocabulary, text: str) -> None:
    for private in (True, False):
        reading, decision = understand(vocabulary, text, private=private)
        assert reading.kind == "question", (text, private)
        assert plan(reading, decision.kind, private, decision.long_shot) in (
            "answer", "suggest", "suggest_pass", "suggest_concern", "decline_pass", "concern"), (text, private)


def test_a_reply_that_she_missed_the_message_stays_silent_in_the_group(vocabulary: Vocabulary) -> None:
    text = "我在这呢 刚才在棚里摘辣椒没听见手机响"
    reading, decision = understand(vocabulary, text, private=False)
    assert plan(reading, decision.kind, False, decision.long_shot) == "silent"
