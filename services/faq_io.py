"""Reading and writing FAQ files: CSV, JSONL, XLSX. Columns `question`, `answer`, optional `tags`
(a list, or a string split on commas / 、), `source`, `referral`, `id`. Validation is all-or-nothing:
the first bad row raises a Refusal naming the 1-based data row (a header row is not counted)."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from openpyxl import load_workbook

from services.clean import clean_text
from services.errors import Refusal
from services.exports import xlsx_bytes
from services.outbox import text

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5000
MAX_COLUMNS = 12  # columns read per row (we use six)
MAX_UNPACKED_BYTES = 40 * 1024 * 1024  # an XLSX's parts, unpacked (a 2 MB zip can hide gigabytes)
MAX_QUESTION = 200
MAX_ANSWER = 3000
_SPLIT = re.compile(r"[,，、;；|]+")
COLUMNS = ("id", "question", "answer", "tags", "source", "referral")
# Chinese headers (as in our own xlsx export) are accepted too.
HEADER_ALIASES = {"编号": "id", "问题": "question", "答案": "answer", "标签": "tags", "依据": "source",
                  "求助渠道": "referral"}


def _column(name: str) -> str:
    name = name.strip()
    return HEADER_ALIASES.get(name, name.lower())


def split_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in _SPLIT.split(str(value)) if part.strip()]


def _bad_row(number: int, reason: str, **params: Any) -> Refusal:
    return Refusal("faq_import.bad_row", row=number, reason=text(f"faq_import.reason_{reason}", **params))


def _cleaned(value: Any) -> Any:
    if isinstance(value, list):
        return [clean_text(str(x)) for x in value]
    return clean_text(str(value)) if value is not None else None


def _validated(number: int, raw: dict[str, Any]) -> dict[str, Any]:
    raw = {k: _cleaned(v) for k, v in raw.items()}
    questions = split_list(raw.get("questions")) if raw.get("questions") else []
    question = str(raw.get("question") or "").strip()
    if question:
        questions = [q.strip() for q in question.split("|") if q.strip()] + questions
    answer = str(raw.get("answer") or "").strip()
    if not questions:
        raise _bad_row(number, "no_question")
    if not answer:
        raise _bad_row(number, "no_answer")
    if any(len(q) > MAX_QUESTION for q in questions):
        raise _bad_row(number, "question_long", limit=MAX_QUESTION)
    if len(answer) > MAX_ANSWER:
        raise _bad_row(number, "answer_long", limit=MAX_ANSWER)
    entry_id = str(raw.get("id") or "").strip()
    if entry_id and not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", entry_id):
        raise _bad_row(number, "bad_id")
    return {"id": entry_id, "questions": questions, "answer": answer, "tags": split_list(raw.get("tags")),
            "source": str(raw.get("source") or "").strip(), "referral": str(raw.get("referral") or "").strip()}


def parse_faq_file(filename: str, data: bytes) -> list[dict[str, Any]]:
    """Rows of a CSV / JSONL / XLSX file, validated; Refusal on the first problem. Read with limits:
    rows are counted while they are read and reading stops at MAX_ROWS + 1 (a sheet's own size header
    is ignored, a million-row sheet costs no more than 5,001 rows); an XLSX whose parts unpack to
    more than MAX_UNPACKED_BYTES is refused before it is opened. CPU-bound: call it off the event
    loop (`asyncio.to_thread`)."""
    if len(data) > MAX_FILE_BYTES:
        raise Refusal("faq_import.too_big", limit=MAX_FILE_BYTES // 1024 // 1024)
    name = filename.lower()
    if name.endswith(".jsonl") or name.endswith(".json"):
        raw_rows = _limited(_jsonl_rows(data))
    elif name.endswith(".csv"):
        try:
            raw_rows = _limited(_table_rows(csv.reader(io.StringIO(_text(data)))))
        except csv.Error:  # a field over the csv module's limit (128 KB), a NUL byte …
            raise Refusal("faq_import.unreadable") from None
    elif name.endswith(".xlsx"):
        raw_rows = _limited(_table_rows(_xlsx_rows(data)))
    else:
        raise Refusal("faq_import.bad_type")
    if not raw_rows:
        raise Refusal("faq_import.empty")
    return [_validated(i, r) for i, r in enumerate(raw_rows, 1)]


def _limited(rows: Iterator[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for row in rows:
        out.append(row)
        if len(out) > MAX_ROWS:
            raise Refusal("faq_import.too_many", limit=MAX_ROWS)
    return out


def _jsonl_rows(data: bytes) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(_text(data).splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise _bad_row(number, "bad_json", error=getattr(exc, "msg", "nested too deep")) from None
        if not isinstance(value, dict):
            raise _bad_row(number, "not_object")
        yield value


def _table_rows(rows: Iterable[Sequence[Any]]) -> Iterator[dict[str, Any]]:
    """A header row, then data rows as dicts (blank rows skipped; extra columns ignored)."""
    it = iter(rows)
    first = next(it, None)
    if first is None:
        raise Refusal("faq_import.empty")
    header = [_column(str(c or "")) for c in first[:MAX_COLUMNS]]
    _check_header(header)
    for r in it:
        cells = list(r[:MAX_COLUMNS])
        if any(c not in (None, "") and str(c).strip() for c in cells):
            yield dict(zip(header, cells, strict=False))


def _xlsx_rows(data: bytes) -> Iterator[Sequence[Any]]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError):
        raise Refusal("faq_import.unreadable") from None
    if unpacked > MAX_UNPACKED_BYTES:
        raise Refusal("faq_import.too_big", limit=MAX_FILE_BYTES // 1024 // 1024)
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheet = book.worksheets[0]
    except Exception:
        raise Refusal("faq_import.unreadable") from None
    if hasattr(sheet, "reset_dimensions"):
        sheet.reset_dimensions()  # a wrong size header must neither drop rows nor be trusted
    try:
        yield from sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS)
    finally:
        book.close()


def _check_header(header: list[str]) -> None:
    if "question" not in header or "answer" not in header:
        raise Refusal("faq_import.bad_header")


def _text(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings: tuple[str, ...] = ("utf-16",)
    elif b"\x00" in data[:1000]:  # UTF-8 and GB18030 text never holds a NUL: UTF-16 without a BOM
        head = data[:1000]
        little = head[1::2].count(0) >= head[0::2].count(0)  # ASCII "q" is q\0 in LE, \0q in BE
        encodings = ("utf-16-le", "utf-16-be") if little else ("utf-16-be", "utf-16-le")
    else:
        encodings = ("utf-8-sig", "gb18030")
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise Refusal("faq_import.unreadable")


def to_jsonl(entries: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries).encode()


def to_xlsx(entries: list[dict[str, Any]], headers: list[str], sheet: str) -> bytes:
    rows = [[e["id"], " | ".join(e["questions"]), e["answer"], "、".join(e["tags"]), e["source"], e["referral"]]
            for e in entries]
    return xlsx_bytes(sheet, headers, rows, [18, 40, 80, 16, 24, 24])
