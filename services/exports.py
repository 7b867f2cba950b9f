"""xlsx files (openpyxl) for the chair and the county: plain sheets with Chinese headers, frozen
header row, sensible column widths; they open cleanly in Excel and WPS."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date, datetime
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


DATE_FORMAT = "yyyy年m月d日"
DATETIME_FORMAT = "yyyy年m月d日 hh:mm"

Sheet = tuple[str, Sequence[str], Sequence[Sequence[Any]], Sequence[int] | None]


def xlsx_bytes(sheet_title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]],
               widths: Sequence[int] | None = None, more: Sequence[Sheet] = ()) -> bytes:
    """A workbook whose sheets all have a bold frozen header, set widths and an autofilter; dates
    and times are real dates (pass naive local datetimes) shown in a Chinese format, so Excel and WPS
    sort and filter them. `more`: further sheets (title, headers, rows, widths)."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    _fill(sheet, sheet_title, headers, rows, widths)
    for title, more_headers, more_rows, more_widths in more:
        _fill(workbook.create_sheet(), title, more_headers, more_rows, more_widths)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _fill(sheet: Any, sheet_title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]],
          widths: Sequence[int] | None) -> None:
    sheet.title = clean_cell(sheet_title)[:31]
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
            if isinstance(cell.value, datetime):
                cell.number_format = DATETIME_FORMAT
            elif isinstance(cell.value, date):
                cell.number_format = DATE_FORMAT
    if headers:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{max(sheet.max_row, 1)}"
