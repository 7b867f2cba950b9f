"""Property tests (hypothesis, issue #12): any text a person can type is cleaned at the door the same
way every time, and any cleaned text survives every export — the workbook opens and the cell says
exactly what was stored, formula-looking text included, never evaluated."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from services.clean import _UNWANTED, clean_text
from services.exports import clean_cell, xlsx_bytes

pytestmark = pytest.mark.unit

# Any Unicode text, with the characters that broke exports before weighted in: control and direction
# characters, formula starters, CJK, emoji, surrogate-free astral planes.
HOSTILE = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(["\x00", "\x01", "\x07", "\x1b", "\x7f", "\r", "\u202e", "\u200b", "\ufeff", "=", "+", "-", "@",
                         "\t", "\n", "走", "訪", "趙", "😀", "&", "<"]),
    ),
    max_size=80,
)


@given(HOSTILE)
def test_cleaning_removes_every_unwanted_character_and_is_stable(text: str) -> None:
    cleaned = clean_text(text)
    assert _UNWANTED.search(cleaned) is None
    assert clean_text(cleaned) == cleaned
    lines = text.replace("\r\n", "\n").replace("\r", "\n")
    assert "\r" not in cleaned and cleaned.count("\n") == lines.count("\n") and cleaned.count("\t") == text.count("\t")


@settings(max_examples=60, deadline=None)
@given(st.lists(HOSTILE, min_size=1, max_size=4))
def test_any_stored_text_survives_an_export_exactly(texts: list[str]) -> None:
    stored = [clean_text(x) for x in texts]  # what the bot keeps
    data = xlsx_bytes("台账", [f"列{i}" for i in range(len(stored))], [stored])
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    row = [cell.value for cell in sheet[2]]
    for value, text in zip(row, stored, strict=True):
        expected = clean_cell(text)
        assert (value or "") == expected
    for cell in sheet[2]:
        assert cell.data_type != "f"  # never a formula
