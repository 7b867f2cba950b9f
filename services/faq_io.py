"""Reading and writing FAQ files: CSV, JSONL, XLSX. Columns `question`, `answer`, optional `tags`
(a list, or a string split on commas / 、), `source`, `referral`, `id`. Validation is all-or-nothing:
the first bad row raises a Refusal naming the 1-based data row (a header row is not counted)."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

from openpyxl import load_workbook

from services.errors import Refusal
from services.exports import xlsx_bytes
from services.outbox import text

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5000
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


def _validated(number: int, raw: dict[str, Any]) -> dict[str, Any]:
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
    """Rows of a CSV / JSONL / XLSX file, validated; Refusal on the first problem."""
    if len(data) > MAX_FILE_BYTES:
        raise Refusal("faq_import.too_big", limit=MAX_FILE_BYTES // 1024 // 1024)
    name = filename.lower()
    raw_rows: list[dict[str, Any]]
    if name.endswith(".jsonl") or name.endswith(".json"):
        raw_rows = []
        for number, line in enumerate(_text(data).splitlines(), 1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise _bad_row(number, "bad_json", error=exc.msg) from None
            if not isinstance(value, dict):
                raise _bad_row(number, "not_object")
            raw_rows.append(value)
    elif name.endswith(".csv"):
        reader = csv.reader(io.StringIO(_text(data)))
        table = list(reader)
        if not table:
            raise Refusal("faq_import.empty")
        header = [_column(h) for h in table[0]]
        _check_header(header)
        raw_rows = [dict(zip(header, r, strict=False)) for r in table[1:] if any(c.strip() for c in r)]
    elif name.endswith(".xlsx"):
        try:
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception:
            raise Refusal("faq_import.unreadable") from None
        sheet = book.worksheets[0]
        rows = list(sheet.iter_rows(values_only=True))
        if not rows:
            raise Refusal("faq_import.empty")
        header = [_column(str(c or "")) for c in rows[0]]
        _check_header(header)
        raw_rows = [dict(zip(header, r, strict=False)) for r in rows[1:] if any(c not in (None, "") for c in r)]
    else:
        raise Refusal("faq_import.bad_type")
    if not raw_rows:
        raise Refusal("faq_import.empty")
    if len(raw_rows) > MAX_ROWS:
        raise Refusal("faq_import.too_many", limit=MAX_ROWS)
    return [_validated(i, r) for i, r in enumerate(raw_rows, 1)]


def _check_header(header: list[str]) -> None:
    if "question" not in header or "answer" not in header:
        raise Refusal("faq_import.bad_header")


def _text(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
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
