"""xlsx files (openpyxl) for the chair and the county: plain sheets with Chinese headers, frozen
header row, sensible column widths; they open cleanly in Excel and WPS."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter


def clean_cell(value: Any) -> Any:
    """Text without the control characters Excel refuses (openpyxl would raise on them)."""
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    return value


def append_row(sheet: Any, values: Sequence[Any]) -> None:
    """One row for every export: text cleaned of what Excel refuses, and text that looks like a
    formula (=1+1) kept exactly as typed, as a text cell that is never evaluated (no apostrophe added)."""
    cleaned = [clean_cell(v) for v in values]
    sheet.append(cleaned)
    for cell, value in zip(sheet[sheet.max_row], cleaned, strict=False):
        if isinstance(value, str) and value.startswith("="):
            cell.value = value
            cell.data_type = "s"


def xlsx_bytes(sheet_title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]],
               widths: Sequence[int] | None = None) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = sheet_title[:31]
    sheet.append(list(headers))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        append_row(sheet, row)
    sheet.freeze_panes = "A2"
    for i, header in enumerate(headers, 1):
        width = widths[i - 1] if widths and i - 1 < len(widths) else max(8, len(str(header)) * 2 + 2)
        sheet.column_dimensions[get_column_letter(i)].width = width
    for row_cells in sheet.iter_rows(min_row=2):
        for cell in row_cells:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
