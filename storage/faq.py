"""Repository: FAQ entries written by people, questions asked, votes, unanswered questions."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiosqlite

from storage.models import from_db, to_db

# An entry's segmented tokens per field (each question, the tags, the answer), as the FAQ index takes them.
Tokens = tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class EntryRow:
    entry_id: str
    org_id: int | None
    questions: list[str]
    answer: str
    tags: list[str]
    source: str
    referral: str
    updated_at: str
    tokens: Tokens | None = None  # stored tokens, valid under `tokens_fp` (the segmentation's fingerprint)
    tokens_fp: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.entry_id, "questions": self.questions, "answer": self.answer, "tags": self.tags,
                "source": self.source, "referral": self.referral, "updated_at": self.updated_at,
                "org_id": self.org_id}


def encode_tokens(tokens: Tokens) -> str:
    """One line per field, tokens separated by one space (a token never holds white space)."""
    return "\n".join(" ".join(field) for field in tokens)


def decode_tokens(text: str) -> Tokens:
    return tuple(tuple(line.split()) for line in text.split("\n"))


_COLUMNS = "entry_id, org_id, questions, answer, tags, source, referral, updated_at, tokens, tokens_fp"


# A stored entry as read (`entry_tuples`): entry_id, org_id, questions (JSON), answer, tags (JSON), source,
# referral, updated_at, tokens (encoded), tokens_fp. Decoded by `row_of` when needed.
RawEntry = tuple[Any, ...]
FP_COLUMN = 9  # where tokens_fp is in a RawEntry


def row_of(raw: RawEntry) -> EntryRow:
    entry_id, org_id, questions, answer, tags, source, referral, updated_at, tokens, tokens_fp = raw
    return EntryRow(entry_id, org_id, json.loads(questions), answer, json.loads(tags), source, referral, updated_at,
                    decode_tokens(tokens) if tokens is not None else None, tokens_fp)


async def entry_tuples(conn: aiosqlite.Connection) -> list[RawEntry]:
    """Every stored entry, undecoded (100,000 rows in a fraction of a second; decode with `row_of`)."""
    cur = await conn.execute(f"SELECT {_COLUMNS} FROM faq_entries ORDER BY id")
    return [tuple(r) for r in await cur.fetchall()]


async def entries_to_load(conn: aiosqlite.Connection, fingerprint: str) -> tuple[list[RawEntry], dict[int, int]]:
    """What the FAQ index reads at start: the deployment-wide rows and every row whose tokens were made
    under another fingerprint (or none), undecoded; and how many rows each organisation has."""
    cur = await conn.execute(f"SELECT {_COLUMNS} FROM faq_entries WHERE org_id IS NULL OR tokens_fp IS NOT ? "
                             "ORDER BY id", (fingerprint,))
    rows = [tuple(r) for r in await cur.fetchall()]
    cur = await conn.execute("SELECT org_id, count(*) FROM faq_entries WHERE org_id IS NOT NULL GROUP BY org_id")
    return rows, {int(r[0]): int(r[1]) for r in await cur.fetchall()}


def org_entry_tuples(conn: sqlite3.Connection, org_id: int) -> list[RawEntry]:
    """An organisation's stored entries, undecoded, on a blocking connection (`Database.blocking_reader`)."""
    return [tuple(r) for r in conn.execute(f"SELECT {_COLUMNS} FROM faq_entries WHERE org_id = ? ORDER BY id",
                                           (org_id,))]


async def all_entries(conn: aiosqlite.Connection) -> list[EntryRow]:
    """Every stored entry with its stored tokens."""
    return [row_of(raw) for raw in await entry_tuples(conn)]


async def set_tokens(conn: aiosqlite.Connection, rows: list[tuple[str, int | None, Tokens]], fingerprint: str) -> None:
    """Store (entry id, org id, tokens) made under `fingerprint` (entries segmented again at start)."""
    await conn.executemany(
        "UPDATE faq_entries SET tokens = ?, tokens_fp = ? WHERE entry_id = ? AND ifnull(org_id, 0) = ifnull(?, 0)",
        [(encode_tokens(tokens), fingerprint, entry_id, org_id) for entry_id, org_id, tokens in rows],
    )


_UPSERT = """INSERT INTO faq_entries(entry_id, org_id, questions, answer, tags, source, referral, updated_at,
                                     created_by, tokens, tokens_fp)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT(entry_id, ifnull(org_id, 0)) DO UPDATE SET questions = excluded.questions,
               answer = excluded.answer, tags = excluded.tags, source = excluded.source,
               referral = excluded.referral, updated_at = excluded.updated_at, tokens = excluded.tokens,
               tokens_fp = excluded.tokens_fp"""


def _upsert_params(row: EntryRow, created_by: int | None) -> tuple[object, ...]:
    return (row.entry_id, row.org_id, json.dumps(row.questions, ensure_ascii=False), row.answer,
            json.dumps(row.tags, ensure_ascii=False), row.source, row.referral, row.updated_at, created_by,
            encode_tokens(row.tokens) if row.tokens is not None else None,
            row.tokens_fp if row.tokens is not None else None)


async def upsert(conn: aiosqlite.Connection, row: EntryRow, created_by: int | None) -> None:
    await conn.execute(_UPSERT, _upsert_params(row, created_by))


async def upsert_many(conn: aiosqlite.Connection, rows: list[EntryRow], created_by: int | None) -> None:
    """Many entries in one call (an import): one trip to the database thread, a short transaction."""
    await conn.executemany(_UPSERT, [_upsert_params(row, created_by) for row in rows])


async def delete(conn: aiosqlite.Connection, entry_id: str, org_id: int | None) -> bool:
    cur = await conn.execute(
        "DELETE FROM faq_entries WHERE entry_id = ? AND ifnull(org_id, 0) = ifnull(?, 0)", (entry_id, org_id)
    )
    return cur.rowcount > 0


async def next_number(conn: aiosqlite.Connection) -> int:
    cur = await conn.execute("SELECT ifnull(max(id), 0) + 1 FROM faq_entries")
    row = await cur.fetchone()
    return int(row[0]) if row else 1


async def log_asked(conn: aiosqlite.Connection, org_id: int | None, chat_id: int, user_id: int, question: str,
                    decision: str, entry_id: str | None, now: datetime) -> int:
    cur = await conn.execute(
        """INSERT INTO faq_asked(org_id, chat_id, user_id, question, decision, entry_id, at)
           VALUES (?, ?, ?, ?, ?, ?, ?)""",
        (org_id, chat_id, user_id, question, decision, entry_id, to_db(now)),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


async def vote(conn: aiosqlite.Connection, asked_id: int, user_id: int, value: int, now: datetime) -> int | None:
    """Record her vote → the vote she had given before, if any."""
    cur = await conn.execute("SELECT vote FROM faq_votes WHERE asked_id = ? AND user_id = ?", (asked_id, user_id))
    before = await cur.fetchone()
    await conn.execute(
        """INSERT INTO faq_votes(asked_id, user_id, vote, at) VALUES (?, ?, ?, ?)
           ON CONFLICT(asked_id, user_id) DO UPDATE SET vote = excluded.vote, at = excluded.at""",
        (asked_id, user_id, value, to_db(now)),
    )
    return int(before[0]) if before is not None else None


@dataclass(frozen=True)
class AskedRow:
    id: int
    chat_id: int
    user_id: int
    question: str


async def asked_row(conn: aiosqlite.Connection, asked_id: int) -> AskedRow | None:
    cur = await conn.execute("SELECT id, chat_id, user_id, question FROM faq_asked WHERE id = ?", (asked_id,))
    row = await cur.fetchone()
    return AskedRow(int(row[0]), int(row[1]), int(row[2]), str(row[3])) if row is not None else None


@dataclass(frozen=True)
class Unanswered:
    id: int
    org_id: int | None
    chat_id: int
    user_id: int
    message_id: int | None
    question: str
    danger: bool
    status: str
    taken_by: int | None
    answer: str | None
    at: datetime
    concern: bool = False  # a danger signal short of an alarm (services.danger.concern)


def _unanswered(r: sqlite3.Row) -> Unanswered:
    return Unanswered(r["id"], r["org_id"], r["chat_id"], r["user_id"], r["message_id"], r["question"],
                      bool(r["danger"]), r["status"], r["taken_by"], r["answer"], from_db(r["at"]),
                      bool(r["concern"]))


async def add_unanswered(conn: aiosqlite.Connection, org_id: int | None, chat_id: int, user_id: int,
                         message_id: int | None, question: str, danger: bool, now: datetime,
                         concern: bool = False) -> int:
    cur = await conn.execute(
        """INSERT INTO faq_unanswered(org_id, chat_id, user_id, message_id, question, danger, at, concern)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
        (org_id, chat_id, user_id, message_id, question, int(danger), to_db(now), int(concern)),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


async def get_unanswered(conn: aiosqlite.Connection, item_id: int) -> Unanswered | None:
    cur = await conn.execute("SELECT * FROM faq_unanswered WHERE id = ?", (item_id,))
    row = await cur.fetchone()
    return _unanswered(row) if row else None


async def take_unanswered(conn: aiosqlite.Connection, item_id: int, member_user_id: int) -> bool:
    cur = await conn.execute(
        "UPDATE faq_unanswered SET status = 'taken', taken_by = ? WHERE id = ? AND status = 'open'",
        (member_user_id, item_id),
    )
    return cur.rowcount > 0


async def answer_unanswered(conn: aiosqlite.Connection, item_id: int, answer: str, now: datetime) -> None:
    await conn.execute(
        "UPDATE faq_unanswered SET status = 'answered', answer = ?, answered_at = ? WHERE id = ?",
        (answer, to_db(now), item_id),
    )


async def mark_saved(conn: aiosqlite.Connection, item_id: int, entry_id: str) -> None:
    await conn.execute("UPDATE faq_unanswered SET saved_entry_id = ? WHERE id = ?", (entry_id, item_id))


async def saved_entry(conn: aiosqlite.Connection, item_id: int) -> str | None:
    """The entry this answered question was already saved as, if any."""
    cur = await conn.execute("SELECT saved_entry_id FROM faq_unanswered WHERE id = ?", (item_id,))
    row = await cur.fetchone()
    return str(row[0]) if row is not None and row[0] is not None else None


async def open_unanswered(conn: aiosqlite.Connection, org_id: int, limit: int = 50) -> list[Unanswered]:
    cur = await conn.execute(
        "SELECT * FROM faq_unanswered WHERE org_id = ? AND status != 'answered' ORDER BY id DESC LIMIT ?",
        (org_id, limit),
    )
    return [_unanswered(r) for r in await cur.fetchall()]


async def open_danger_since(conn: aiosqlite.Connection, since: datetime) -> list[Unanswered]:
    """Danger alerts nobody has taken (我来回答), raised at or after `since`, oldest first."""
    cur = await conn.execute(
        "SELECT * FROM faq_unanswered WHERE danger = 1 AND status = 'open' AND at >= ? ORDER BY id",
        (to_db(since),),
    )
    return [_unanswered(r) for r in await cur.fetchall()]


async def set_org(conn: aiosqlite.Connection, item_id: int, org_id: int) -> None:
    """A question from a woman whose village was unknown now belongs to her village."""
    await conn.execute("UPDATE faq_unanswered SET org_id = ? WHERE id = ? AND org_id IS NULL", (org_id, item_id))


async def reopen(conn: aiosqlite.Connection, item_id: int, member_user_id: int) -> None:
    await conn.execute(
        "UPDATE faq_unanswered SET status = 'open', taken_by = NULL WHERE id = ? AND status = 'taken' AND taken_by = ?",
        (item_id, member_user_id),
    )


# --- 我来回答 in progress, and the village question --------------------------------------------------


async def start_answering(conn: aiosqlite.Connection, chat_id: int, user_id: int, item_id: int,
                          now: datetime) -> None:
    await conn.execute(
        "INSERT INTO faq_answering(chat_id, user_id, item_id, at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(chat_id, user_id) DO UPDATE SET item_id = excluded.item_id, at = excluded.at",
        (chat_id, user_id, item_id, to_db(now)),
    )


async def answering(conn: aiosqlite.Connection, chat_id: int, user_id: int) -> tuple[int, datetime] | None:
    """(item id, since) of the question she is answering in this chat."""
    cur = await conn.execute("SELECT item_id, at FROM faq_answering WHERE chat_id = ? AND user_id = ?",
                             (chat_id, user_id))
    row = await cur.fetchone()
    return (int(row[0]), from_db(row[1])) if row else None


async def stop_answering(conn: aiosqlite.Connection, chat_id: int, user_id: int) -> None:
    await conn.execute("DELETE FROM faq_answering WHERE chat_id = ? AND user_id = ?", (chat_id, user_id))


async def ask_village(conn: aiosqlite.Connection, user_id: int, item_id: int | None, now: datetime) -> None:
    await conn.execute("INSERT INTO village_asked(user_id, item_id, at) VALUES (?, ?, ?)"
                       " ON CONFLICT(user_id) DO UPDATE SET item_id = excluded.item_id, at = excluded.at",
                       (user_id, item_id, to_db(now)))


async def village_asked(conn: aiosqlite.Connection, user_id: int) -> tuple[int | None, datetime] | None:
    cur = await conn.execute("SELECT item_id, at FROM village_asked WHERE user_id = ?", (user_id,))
    row = await cur.fetchone()
    return (int(row[0]) if row[0] is not None else None, from_db(row[1])) if row else None


async def village_known(conn: aiosqlite.Connection, user_id: int) -> None:
    await conn.execute("DELETE FROM village_asked WHERE user_id = ?", (user_id,))


# --- imports waiting for the chair's 保存 ------------------------------------------------------------


async def add_pending_import(conn: aiosqlite.Connection, org_id: int | None, user_id: int,
                             rows: list[dict[str, Any]], now: datetime) -> int:
    cur = await conn.execute("INSERT INTO faq_import_pending (org_id, user_id, rows, at) VALUES (?, ?, ?, ?)",
                             (org_id, user_id, json.dumps(rows, ensure_ascii=False), to_db(now)))
    assert cur.lastrowid is not None
    return cur.lastrowid


async def pending_import(conn: aiosqlite.Connection, pending_id: int
                         ) -> tuple[int | None, int, list[dict[str, Any]], datetime] | None:
    """(org_id, user_id, rows, at) of a pending import, or None."""
    cur = await conn.execute("SELECT org_id, user_id, rows, at FROM faq_import_pending WHERE id = ?", (pending_id,))
    row = await cur.fetchone()
    if row is None:
        return None
    return row["org_id"], row["user_id"], json.loads(row["rows"]), from_db(row["at"])


async def drop_pending_import(conn: aiosqlite.Connection, pending_id: int) -> bool:
    cur = await conn.execute("DELETE FROM faq_import_pending WHERE id = ?", (pending_id,))
    return cur.rowcount > 0


async def drop_pending_imports_before(conn: aiosqlite.Connection, before: datetime) -> None:
    await conn.execute("DELETE FROM faq_import_pending WHERE at < ?", (to_db(before),))
