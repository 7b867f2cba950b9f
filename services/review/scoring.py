"""述职考评 scoring (SPEC §7): pure functions, no I/O, exact decimal arithmetic.

- Components on 0–100: `chair` (the chair's score), `peer` (mean of the democratic ratings, each
  rating worth its option's value: 优秀 100 / 称职 80 / 基本称职 60 / 不称职 40 by default), `duty`
  (shifts checked in ÷ shifts assigned × 100), `training` (attended ÷ meant for × 100).
- A component without data (no chair score, fewer peer ratings than `min_peer_ratings`, no shift,
  no training she was meant for) drops out and its weight is shared among the others in
  proportion: weighted = Σ wᵢ·cᵢ / Σ wᵢ over the components with data (one division, so the result
  does not depend on the order of the components). No component at all → weighted 0.
- A member with no component at all (no chair score, too few ratings, no shift, no training she was
  meant for) is not graded (未评定): no total, no grade, no subsidy; her adjustments are listed but
  have nothing to apply to. Grading her 不称职 (subsidy 0) for the bot's lack of data would be unfair.
- total = weighted + Σ adjustments, clamped to 0–100, rounded to 0.1 (ROUND_HALF_UP).
- grade: the first grade (highest first) whose minimum ≤ the rounded total; the last grade's
  minimum is 0, so every total gets one.
- subsidy = subsidy_base × the grade's coefficient, rounded to 0.01 (ROUND_HALF_UP).
- A member removed during the cycle is excluded: no total, no grade, no subsidy.

Inputs and outputs are `Decimal`s built from strings; the arithmetic in between is exact (Fractions)
and rounding is ROUND_HALF_UP on the exact value, so the same inputs give the same table to the cent.

At the end, reading what the chair types (weights, grades, the subsidy base, a score, an adjustment;
`signed`, an adjustment's stored form): a bad value is a `Refusal` whose locale text shows the right form.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation, localcontext
from fractions import Fraction

from services.errors import Refusal

COMPONENTS: tuple[str, ...] = ("chair", "peer", "duty", "training")
HUNDRED = Decimal(100)
ZERO = Decimal(0)


class RubricError(ValueError):
    """An invalid rubric; `code` names the problem (a locale key suffix), `params` its details."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code, params)
        self.code = code
        self.params = params


def dec(value: object) -> Decimal:
    """A Decimal from an int, a str or a float (floats through their shortest repr: 0.1 → 0.1)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise RubricError("not_a_number", value=value)
    try:
        return Decimal(str(value)) if isinstance(value, float) else Decimal(value)  # type: ignore[arg-type]
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise RubricError("not_a_number", value=value) from exc


@dataclass(frozen=True)
class Grade:
    label: str
    minimum: Decimal
    coefficient: Decimal


@dataclass(frozen=True)
class RatingOption:
    label: str
    value: Decimal


DEFAULT_WEIGHTS: Mapping[str, Decimal] = {
    "chair": Decimal("0.4"), "peer": Decimal("0.3"), "duty": Decimal("0.2"), "training": Decimal("0.1"),
}
DEFAULT_GRADES: tuple[Grade, ...] = (
    Grade("优秀", Decimal(90), Decimal("1.0")),
    Grade("称职", Decimal(75), Decimal("0.8")),
    Grade("基本称职", Decimal(60), Decimal("0.5")),
    Grade("不称职", Decimal(0), Decimal(0)),
)
DEFAULT_RATINGS: tuple[RatingOption, ...] = (
    RatingOption("优秀", Decimal(100)),
    RatingOption("称职", Decimal(80)),
    RatingOption("基本称职", Decimal(60)),
    RatingOption("不称职", Decimal(40)),
)


@dataclass(frozen=True)
class Rubric:
    weights: Mapping[str, Decimal] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    grades: tuple[Grade, ...] = DEFAULT_GRADES
    ratings: tuple[RatingOption, ...] = DEFAULT_RATINGS
    subsidy_base: Decimal = Decimal(1200)
    min_peer_ratings: int = 1

    def validate(self) -> Rubric:
        validate_weights(self.weights)
        validate_grades(self.grades)
        validate_ratings(self.ratings)
        if self.subsidy_base < 0:
            raise RubricError("subsidy_negative")
        if self.min_peer_ratings < 1:
            raise RubricError("min_peer_ratings")
        return self

    def to_json(self) -> dict[str, object]:
        """A JSON-friendly form (numbers as strings, exact) for storing with a cycle."""
        return {
            "weights": {k: str(self.weights.get(k, ZERO)) for k in COMPONENTS},
            "grades": [{"label": g.label, "min": str(g.minimum), "coefficient": str(g.coefficient)}
                       for g in self.grades],
            "ratings": [{"label": r.label, "value": str(r.value)} for r in self.ratings],
            "subsidy_base": str(self.subsidy_base),
            "min_peer_ratings": self.min_peer_ratings,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Rubric:
        weights = data.get("weights", {})
        grades = data.get("grades", [])
        ratings = data.get("ratings", [])
        assert isinstance(weights, Mapping) and isinstance(grades, list) and isinstance(ratings, list)
        return cls(
            weights={str(k): dec(v) for k, v in weights.items()},
            grades=tuple(Grade(str(g["label"]), dec(g["min"]), dec(g["coefficient"])) for g in grades),
            ratings=tuple(RatingOption(str(r["label"]), dec(r["value"])) for r in ratings),
            subsidy_base=dec(data.get("subsidy_base", "1200")),
            min_peer_ratings=int(str(data.get("min_peer_ratings", 1))),
        )


def validate_weights(weights: Mapping[str, Decimal]) -> None:
    for key, weight in weights.items():
        if key not in COMPONENTS:
            raise RubricError("weight_unknown", key=key)
        if weight < 0 or weight > 1:
            raise RubricError("weight_range", key=key)
    total = sum((weights.get(k, ZERO) for k in COMPONENTS), ZERO)
    if abs(total - 1) > Decimal("0.000001"):
        raise RubricError("weight_sum", total=total.normalize())


def validate_grades(grades: Sequence[Grade]) -> None:
    if len(grades) < 2:
        raise RubricError("grades_few")
    labels = [g.label for g in grades]
    if any(not label.strip() for label in labels) or len(set(labels)) != len(labels):
        raise RubricError("grades_labels")
    for before, after in itertools.pairwise(grades):
        if after.minimum >= before.minimum:
            raise RubricError("grades_order", higher=before.label, lower=after.label)
    for g in grades:
        if not ZERO <= g.minimum <= HUNDRED:
            raise RubricError("grades_min_range", label=g.label)
        if not ZERO <= g.coefficient <= 10:
            raise RubricError("grades_coefficient", label=g.label)
    if grades[-1].minimum != 0:
        raise RubricError("grades_last_zero", label=grades[-1].label)


def validate_ratings(ratings: Sequence[RatingOption]) -> None:
    if len(ratings) < 2:
        raise RubricError("ratings_few")
    labels = [r.label for r in ratings]
    if any(not label.strip() for label in labels) or len(set(labels)) != len(labels):
        raise RubricError("ratings_labels")
    for r in ratings:
        if not ZERO <= r.value <= HUNDRED:
            raise RubricError("ratings_range", label=r.label)


# --- one member ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Adjustment:
    delta: Decimal
    reason: str


@dataclass(frozen=True)
class MemberInput:
    member_id: int
    name: str
    chair_score: Decimal | None = None
    ratings: Sequence[int] = ()  # indices into Rubric.ratings (0 = the best option)
    duty: tuple[int, int] | None = None  # (shifts checked in, shifts assigned)
    training: tuple[int, int] | None = None  # (trainings attended, trainings she was meant for)
    adjustments: Sequence[Adjustment] = ()
    removed: bool = False


@dataclass(frozen=True)
class Result:
    member_id: int
    name: str
    components: Mapping[str, Decimal | None]  # exact, not rounded
    weights: Mapping[str, Decimal]  # the effective weights (0 for a component without data)
    weighted: Decimal
    adjustment_total: Decimal
    total: Decimal | None  # rounded to 0.1; None when excluded or not graded
    grade: str | None
    coefficient: Decimal | None
    subsidy: Decimal | None
    peer_count: int
    excluded: bool = False
    unrated: bool = False  # no component had data: 未评定


def _exact(value: Decimal | Fraction | int) -> Fraction:
    return value if isinstance(value, Fraction) else Fraction(value)


def _to_decimal(value: Fraction) -> Decimal:
    """A Fraction as a Decimal for display (34 significant digits; exact for terminating values)."""
    with localcontext() as ctx:
        ctx.prec = 34
        return Decimal(value.numerator) / Decimal(value.denominator)


def round_half_up(value: Decimal | Fraction | int, places: int) -> Decimal:
    """Exact ROUND_HALF_UP (away from zero at .5) of a rational to `places` decimals."""
    fr = _exact(value)
    scale = 10 ** places
    scaled = abs(fr) * scale
    units = math.floor(scaled + Fraction(1, 2))
    signed = units if fr >= 0 else -units
    return (Decimal(signed) / Decimal(scale)).quantize(Decimal(1).scaleb(-places))


def rate(part: int, whole: int) -> Fraction | None:
    """part ÷ whole × 100, or None without data (whole 0)."""
    if whole <= 0:
        return None
    return Fraction(min(max(part, 0), whole) * 100, whole)


def peer_component(ratings: Sequence[int], options: Sequence[RatingOption], minimum: int = 1) -> Fraction | None:
    values = [_exact(options[i].value) for i in ratings if 0 <= i < len(options)]
    if not values or len(values) < minimum:
        return None
    return sum(values, Fraction(0)) / len(values)


def exact_components(inp: MemberInput, rubric: Rubric) -> dict[str, Fraction | None]:
    chair = None if inp.chair_score is None else min(max(_exact(inp.chair_score), Fraction(0)), Fraction(100))
    return {
        "chair": chair,
        "peer": peer_component(inp.ratings, rubric.ratings, rubric.min_peer_ratings),
        "duty": rate(*inp.duty) if inp.duty else None,
        "training": rate(*inp.training) if inp.training else None,
    }


def effective_weights(weights: Mapping[str, Decimal], available: Mapping[str, object]) -> dict[str, Fraction]:
    """The weights after sharing out those of components without data, in proportion."""
    present = [k for k in COMPONENTS if available.get(k) is not None]
    share = sum((_exact(weights.get(k, ZERO)) for k in present), Fraction(0))
    if share == 0:
        return {k: Fraction(0) for k in COMPONENTS}
    return {k: (_exact(weights.get(k, ZERO)) / share if k in present else Fraction(0)) for k in COMPONENTS}


def weighted_sum(weights: Mapping[str, Decimal], parts: Mapping[str, Fraction | None]) -> Fraction:
    effective = effective_weights(weights, parts)
    return sum((effective[k] * (parts.get(k) or 0) for k in COMPONENTS), Fraction(0))


def round_total(value: Decimal | Fraction) -> Decimal:
    clamped = min(max(_exact(value), Fraction(0)), Fraction(100))
    return round_half_up(clamped, 1)


def grade_for(total: Decimal, grades: Sequence[Grade]) -> Grade:
    for grade in grades:
        if total >= grade.minimum:
            return grade
    return grades[-1]


def subsidy_for(base: Decimal, coefficient: Decimal) -> Decimal:
    return round_half_up(_exact(base) * _exact(coefficient), 2)


def score_member(inp: MemberInput, rubric: Rubric) -> Result:
    exact = exact_components(inp, rubric)
    parts = {k: (None if v is None else _to_decimal(v)) for k, v in exact.items()}
    peer_count = sum(1 for i in inp.ratings if 0 <= i < len(rubric.ratings))
    weights = {k: _to_decimal(v) for k, v in effective_weights(rubric.weights, exact).items()}
    weighted = weighted_sum(rubric.weights, exact)
    adjustment = sum((a.delta for a in inp.adjustments), ZERO)
    unrated = all(value is None for value in exact.values())
    if inp.removed or unrated:  # no total, grade or subsidy
        return Result(inp.member_id, inp.name, parts, weights, _to_decimal(weighted), adjustment, None, None, None,
                      None, peer_count, excluded=inp.removed, unrated=not inp.removed)
    total = round_total(weighted + _exact(adjustment))
    grade = grade_for(total, rubric.grades)
    return Result(inp.member_id, inp.name, parts, weights, _to_decimal(weighted), adjustment, total, grade.label,
                  grade.coefficient, subsidy_for(rubric.subsidy_base, grade.coefficient), peer_count)


def score_all(inputs: Sequence[MemberInput], rubric: Rubric) -> list[Result]:
    return [score_member(inp, rubric) for inp in inputs]


def subsidy_total(results: Sequence[Result]) -> Decimal:
    return sum((r.subsidy for r in results if r.subsidy is not None), ZERO).quantize(Decimal("0.01"))


def show(value: Decimal | None, places: int = 1) -> str:
    """A number for people: rounded half-up to `places` decimals, "—" for no data."""
    if value is None:
        return "—"
    return str(round_half_up(value, places))


# --- what the chair types ---------------------------------------------------------------------------

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
