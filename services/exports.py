"""xlsx files (openpyxl) for the chair and the county: plain sheets with Chinese headers, frozen
header row, sensible column widths; they open cleanly in Excel and WPS."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

_FORMULA_START = ("=", "+", "-", "@")


def _cell(value: Any) -> Any:
    """User text that looks like a formula is stored as text, never evaluated by Excel."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


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
        sheet.append([_cell(v) for v in row])
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
