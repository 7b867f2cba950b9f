"""Reading what the chair types for 述职考评: rubric weights, grades, the subsidy base, a score, an
adjustment (and `signed`, an adjustment's stored form). Pure; a bad value is a `Refusal` whose
locale text shows the right form."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from services.errors import Refusal
from services.review_scoring import COMPONENTS, Grade

COMPONENT_WORDS = {
    "chair": "chair", "主席": "chair", "主席评分": "chair", "评分": "chair",
    "peer": "peer", "测评": "peer", "民主测评": "peer", "互评": "peer",
    "duty": "duty", "值班": "duty", "签到": "duty",
    "training": "training", "培训": "training",
}
_GRADE_SPEC = re.compile(r"^(?P<label>[^>=*]+?)(?:>=|=|>)(?P<min>\d+(?:\.\d+)?)\*(?P<coef>\d+(?:\.\d+)?)$")
_SCORE = re.compile(r"^\d{1,3}(?:\.\d)?$")
_DELTA = re.compile(r"^[+-]\d{1,3}(?:\.\d)?$")


def _normalise(text: str) -> str:
    table = str.maketrans({"＝": "=", "＞": ">", "≥": ">=", "×": "*", "＊": "*", "ｘ": "*", "，": " ", ",": " ",
                           "．": ".", "＋": "+", "－": "-", "：": "=", ":": "="})
    return text.translate(table)


def parse_weights(text: str) -> dict[str, Decimal]:
    """`chair=0.5 peer=0.3 duty=0.1 training=0.1` (or 主席/测评/值班/培训); all four, adding up to 1."""
    found: dict[str, Decimal] = {}
    for token in _normalise(text).split():
        name, sep, value = token.partition("=")
        key = COMPONENT_WORDS.get(name.strip().lower())
        if not sep or key is None:
            raise Refusal("review_config.weights_usage")
        try:
            found[key] = Decimal(value)
        except InvalidOperation as exc:
            raise Refusal("review_config.weights_usage") from exc
        if not found[key].is_finite():
            raise Refusal("review_config.weights_usage")
    missing = [k for k in COMPONENTS if k not in found]
    if missing:
        raise Refusal("review_config.weights_missing", missing=" ".join(missing))
    return found


def parse_grades(text: str) -> tuple[Grade, ...]:
    """`优秀>=90*1.0 称职>=75*0.8 基本称职>=60*0.5 不称职>=0*0`, highest first."""
    grades = []
    for token in _normalise(text).split():
        match = _GRADE_SPEC.match(token)
        if match is None:
            raise Refusal("review_config.grades_usage", text=token)
        grades.append(Grade(match.group("label"), Decimal(match.group("min")), Decimal(match.group("coef"))))
    if not grades:
        raise Refusal("review_config.grades_usage", text="")
    return tuple(grades)


def parse_amount(text: str) -> Decimal:
    cleaned = _normalise(text).strip().removesuffix("元")
    if not re.match(r"^\d{1,7}(?:\.\d{1,2})?$", cleaned):
        raise Refusal("review_config.subsidy_usage")
    return Decimal(cleaned)


def parse_score(text: str) -> Decimal:
    cleaned = _normalise(text).strip().removesuffix("分")
    if not _SCORE.match(cleaned) or Decimal(cleaned) > 100:
        raise Refusal("score.bad_score", text=text)
    return Decimal(cleaned)


def parse_delta(text: str) -> Decimal:
    cleaned = _normalise(text).strip().removesuffix("分")
    if not _DELTA.match(cleaned) or Decimal(cleaned) == 0 or abs(Decimal(cleaned)) > 100:
        raise Refusal("adjust.bad_delta", text=text)
    return Decimal(cleaned)


def signed(value: Decimal) -> str:
    """An adjustment as stored and shown: +5, -2.5, 0."""
    text = str(value.normalize()) if value != 0 else "0"
    if "E" in text:
        text = str(value)
    return f"+{text}" if value > 0 else text
