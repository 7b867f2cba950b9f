"""Table-driven tests of the 述职考评 scoring (SPEC §7): every edge the issue names, to the cent."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from services.review.scoring import (
    Adjustment,
    Grade,
    MemberInput,
    RatingOption,
    Rubric,
    RubricError,
    effective_weights,
    grade_for,
    round_half_up,
    score_all,
    score_member,
    show,
    subsidy_for,
    subsidy_total,
)

pytestmark = pytest.mark.unit

DEFAULT = Rubric()
# Ratings are option indices: 0 优秀 100, 1 称职 80, 2 基本称职 60, 3 不称职 40.
E, C, B, U = 0, 1, 2, 3


def adj(*pairs: tuple[str, str]) -> tuple[Adjustment, ...]:
    return tuple(Adjustment(D(delta), reason) for delta, reason in pairs)


# name, input, expected total, grade, subsidy
CASES: list[tuple[str, MemberInput, str | None, str | None, str | None]] = [
    ("all four components",
     # 0.4·90 + 0.3·(260/3) + 0.2·90 + 0.1·50 = 36 + 26 + 18 + 5
     MemberInput(1, "甲", D(90), (E, C, C), (9, 10), (1, 2)), "85.0", "称职", "960.00"),
    ("no peer ratings: 0.3 shared among chair/duty/training",
     # (0.4·80 + 0.2·100 + 0.1·100) / 0.7 = 62 / 0.7 = 88.571…
     MemberInput(2, "乙", D(80), (), (1, 1), (1, 1)), "88.6", "称职", "960.00"),
    ("no shifts: duty's 0.2 shared",
     # (0.4·95 + 0.3·100 + 0.1·100) / 0.8 = 78 / 0.8
     MemberInput(3, "丙", D(95), (E, E), None, (2, 2)), "97.5", "优秀", "1200.00"),
    ("assigned zero shifts counts as no shifts",
     MemberInput(4, "丁", D(95), (E, E), (0, 0), (2, 2)), "97.5", "优秀", "1200.00"),
    ("no training and no shifts: only chair and peer",
     # (0.4·70 + 0.3·60) / 0.7 = 46 / 0.7 = 65.714…
     MemberInput(5, "戊", D(70), (B,), None, None), "65.7", "基本称职", "600.00"),
    ("exactly on the 优秀 cut-off",
     MemberInput(6, "己", D(90), (E, C), (9, 10), (9, 10)), "90.0", "优秀", "1200.00"),
    ("exactly on the 称职 cut-off",
     MemberInput(7, "庚", D(75), (), None, None), "75.0", "称职", "960.00"),
    ("exactly on the 基本称职 cut-off",
     MemberInput(8, "辛", D(60), (B, B, B), (3, 5), (3, 5)), "60.0", "基本称职", "600.00"),
    ("just under a cut-off: 89.94 rounds to 89.9",
     MemberInput(9, "壬", D("89.94"), (), None, None), "89.9", "称职", "960.00"),
    ("half up onto a cut-off: 59.95 rounds to 60.0",
     MemberInput(10, "癸", D("59.95"), (), None, None), "60.0", "基本称职", "600.00"),
    ("half up, not half even: 84.25 → 84.3",
     MemberInput(11, "子", D("84.25"), (), None, None), "84.3", "称职", "960.00"),
    ("a repeating duty rate is computed exactly",
     # (0.4·89 + 0.2·(200/3)) / 0.6 = (35.6 + 13.333…) / 0.6 = 81.555… → 81.6
     MemberInput(12, "丑", D(89), (), (2, 3), None), "81.6", "称职", "960.00"),
    ("adjustments beyond 100 are clamped",
     # 0.4·98 + 30 + 20 + 10 = 99.2; +5 +3 = 107.2 → 100.0
     MemberInput(13, "寅", D(98), (E, E, E), (1, 1), (1, 1), adj(("5", "获县级表彰"), ("3", "带头调解"))),
     "100.0", "优秀", "1200.00"),
    ("deductions below 0 are clamped",
     MemberInput(14, "卯", D(10), (), None, None, adj(("-20", "全年未参加会议"))), "0.0", "不称职", "0.00"),
    ("an adjustment lifts over a cut-off",
     MemberInput(15, "辰", D("88.5"), (), None, None, adj(("1.5", "按时报送"))), "90.0", "优秀", "1200.00"),
    ("no data at all: not graded (未评定), no subsidy",
     MemberInput(16, "巳"), None, None, None),
    ("no data at all but a bonus: still not graded",
     MemberInput(17, "午", adjustments=adj(("3", "表彰"))), None, None, None),
    ("all 不称职 ratings and nothing else",
     MemberInput(18, "未", None, (U, U, U), None, None), "40.0", "不称职", "0.00"),
    ("a member removed during the cycle is excluded",
     MemberInput(19, "申", D(95), (E,), (1, 1), (1, 1), removed=True), None, None, None),
]


@pytest.mark.parametrize(("name", "inp", "total", "grade", "subsidy"), CASES, ids=[c[0] for c in CASES])
def test_score_member(name: str, inp: MemberInput, total: str | None, grade: str | None,
                      subsidy: str | None) -> None:
    result = score_member(inp, DEFAULT)
    assert (str(result.total) if result.total is not None else None) == total
    assert result.grade == grade
    assert (str(result.subsidy) if result.subsidy is not None else None) == subsidy
    assert result.excluded == inp.removed
    assert result.unrated == (total is None and not inp.removed)


def test_components_and_effective_weights_are_reported() -> None:
    result = score_member(MemberInput(1, "甲", D(80), (), (1, 1), (1, 1)), DEFAULT)
    assert result.components["peer"] is None
    assert result.components["duty"] == D(100)
    assert result.weights["peer"] == 0
    assert show(result.weights["chair"], 3) == "0.571"  # 0.4 / 0.7
    assert show(result.weights["duty"], 3) == "0.286"
    assert sum(result.weights.values()) == pytest.approx(1)
    assert result.peer_count == 0


def test_peer_mean_and_count() -> None:
    result = score_member(MemberInput(1, "甲", None, (E, C, B, U), None, None), DEFAULT)
    assert result.components["peer"] == D(70)
    assert result.peer_count == 4
    assert str(result.total) == "70.0"


def test_min_peer_ratings_treats_too_few_as_no_data() -> None:
    rubric = Rubric(min_peer_ratings=3)
    few = score_member(MemberInput(1, "甲", D(80), (U, U), None, None), rubric)
    assert few.components["peer"] is None and str(few.total) == "80.0"
    enough = score_member(MemberInput(1, "甲", D(80), (U, U, U), None, None), rubric)
    # (0.4·80 + 0.3·40) / 0.7 = 44 / 0.7 = 62.857…
    assert str(enough.total) == "62.9"
    # too few ratings and nothing else: no component has data, so she is not graded (未评定)
    alone = score_member(MemberInput(1, "甲", None, (U, U), None, None, adj(("2", "表彰"))), rubric)
    assert alone.unrated and not alone.excluded
    assert (alone.total, alone.grade, alone.subsidy) == (None, None, None)
    assert alone.peer_count == 2 and alone.adjustment_total == D(2)
    assert subsidy_total([alone, few]) == D("960.00")


def test_removed_member_keeps_her_components_but_no_subsidy_in_the_total() -> None:
    results = score_all([
        MemberInput(1, "甲", D(95), (E,), None, None),
        MemberInput(2, "乙", D(80), (C,), None, None),
        MemberInput(3, "丙", D(95), (E,), None, None, removed=True),
    ], DEFAULT)
    assert [r.subsidy for r in results] == [D("1200.00"), D("960.00"), None]
    assert subsidy_total(results) == D("2160.00")
    assert results[2].components["chair"] == D(95)


@pytest.mark.parametrize(("base", "coefficient", "expected"), [
    ("1200", "1.0", "1200.00"),
    ("1200", "0.8", "960.00"),
    ("1200", "0.5", "600.00"),
    ("1200", "0", "0.00"),
    ("333.33", "0.5", "166.67"),  # 166.665 half up
    ("1234.567", "0.8", "987.65"),  # 987.6536
    ("1500", "0.85", "1275.00"),
    ("999.99", "0.333", "333.00"),  # 332.99667
])
def test_subsidy_rounding(base: str, coefficient: str, expected: str) -> None:
    assert str(subsidy_for(D(base), D(coefficient))) == expected


@pytest.mark.parametrize(("value", "places", "expected"), [
    ("84.25", 1, "84.3"), ("84.24", 1, "84.2"), ("0.05", 1, "0.1"), ("-0.05", 1, "-0.1"),
    ("99.95", 1, "100.0"), ("2.675", 2, "2.68"), ("100", 1, "100.0"),
])
def test_round_half_up(value: str, places: int, expected: str) -> None:
    assert str(round_half_up(D(value), places)) == expected


def test_custom_grades_and_weights() -> None:
    rubric = Rubric(
        weights={"chair": D("0.5"), "peer": D("0.3"), "duty": D("0.1"), "training": D("0.1")},
        grades=(Grade("优秀", D(85), D(1)), Grade("完成任务", D(60), D("0.6")), Grade("不合格", D(0), D(0))),
        subsidy_base=D(1500),
    ).validate()
    # 0.5·84 + 0.3·80 + 0.1·100 + 0.1·100 = 42 + 24 + 10 + 10 = 86
    result = score_member(MemberInput(1, "甲", D(84), (C,), (2, 2), (1, 1)), rubric)
    assert (str(result.total), result.grade, str(result.subsidy)) == ("86.0", "优秀", "1500.00")
    low = score_member(MemberInput(2, "乙", D(70), (B,), (1, 2), (0, 1)), rubric)
    # 35 + 18 + 5 + 0 = 58
    assert (str(low.total), low.grade, str(low.subsidy)) == ("58.0", "不合格", "0.00")


def test_grade_for_uses_the_first_minimum_reached() -> None:
    assert grade_for(D("100.0"), DEFAULT.grades).label == "优秀"
    assert grade_for(D("89.9"), DEFAULT.grades).label == "称职"
    assert grade_for(D("74.9"), DEFAULT.grades).label == "基本称职"
    assert grade_for(D("59.9"), DEFAULT.grades).label == "不称职"
    assert grade_for(D("0.0"), DEFAULT.grades).label == "不称职"


def test_effective_weights_without_any_data() -> None:
    assert all(w == 0 for w in effective_weights(DEFAULT.weights, {}).values())


def test_same_inputs_same_table() -> None:
    inputs = [inp for _, inp, *_ in CASES]
    assert score_all(inputs, DEFAULT) == score_all(list(inputs), Rubric.from_json(DEFAULT.to_json()))


@pytest.mark.parametrize(("rubric", "code"), [
    (Rubric(weights={"chair": D("0.5"), "peer": D("0.3"), "duty": D("0.2"), "training": D("0.1")}), "weight_sum"),
    (Rubric(weights={"chair": D("1.2"), "peer": D("-0.2")}), "weight_range"),
    (Rubric(weights={"chair": D("0.5"), "masses": D("0.5")}), "weight_unknown"),
    (Rubric(grades=(Grade("优秀", D(75), D(1)), Grade("称职", D(90), D("0.8")), Grade("不称职", D(0), D(0)))),
     "grades_order"),
    (Rubric(grades=(Grade("优秀", D(90), D(1)), Grade("称职", D(90), D("0.8")), Grade("不称职", D(0), D(0)))),
     "grades_order"),
    (Rubric(grades=(Grade("优秀", D(90), D(1)), Grade("称职", D(60), D("0.8")))), "grades_last_zero"),
    (Rubric(grades=(Grade("优秀", D(90), D(1)), Grade("优秀", D(0), D(0)))), "grades_labels"),
    (Rubric(grades=(Grade("优秀", D(120), D(1)), Grade("差", D(0), D(0)))), "grades_min_range"),
    (Rubric(grades=(Grade("优秀", D(90), D(-1)), Grade("差", D(0), D(0)))), "grades_coefficient"),
    (Rubric(grades=(Grade("全部", D(0), D(1)),)), "grades_few"),
    (Rubric(ratings=(RatingOption("好", D(100)), RatingOption("好", D(50)))), "ratings_labels"),
    (Rubric(subsidy_base=D(-1)), "subsidy_negative"),
])
def test_invalid_rubrics(rubric: Rubric, code: str) -> None:
    with pytest.raises(RubricError) as caught:
        rubric.validate()
    assert caught.value.code == code


def test_default_rubric_is_valid_and_round_trips() -> None:
    assert DEFAULT.validate() is DEFAULT
    assert Rubric.from_json(DEFAULT.to_json()) == DEFAULT
