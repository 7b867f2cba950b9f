"""Policy FAQ use cases: answering (with the engine's decision), the knowledge base kept by people
(add / edit / delete / import / export, per organisation or deployment-wide), votes, and questions
passed to the member on duty. The index is built once at start and updated incrementally."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from services.clock import Clock, next_local
from services.errors import Refusal
from services.faq_engine import (
    DV_HELP_ENTRY,
    Decision,
    DocTokens,
    Entry,
    FaqIndex,
    get_tokenizer,
    load_shipped_entries,
    normalise,
    shipped_index,
    twin_bar,
)
from services.faq_io import MAX_ANSWER, MAX_QUESTION, split_list
from services.faq_semantic import get_semantic
from services.message_kind import Reading, Vocabulary, understand
from services.offload import TimeSlice, segment_entries
from services.outbox import Outgoing, text
from services.roster import Actor, require_manager
from storage import audit, faq, outbox
from storage.db import Database
from storage.faq import AskedRow, EntryRow, Unanswered

PREVIEW_CHECKED = 300  # rows checked against the existing entries (about 1 ms each)
PREVIEW_TRIALS = 5  # rows whose last phrasing is tried on the others
PENDING_IMPORT_KEPT = timedelta(days=1)
INDEX_PER_TICK = 5_000  # waiting organisations' entries indexed per scheduler tick (about 0.3 s of work)

log = logging.getLogger(__name__)


TrialOutcome = Literal["answer", "suggest", "other", "none"]


@dataclass(frozen=True)
class Duplicate:
    row: int
    question: str
    existing_id: str  # an entry id, or "#n" for an earlier row of the same file
    existing_question: str


@dataclass(frozen=True)
class Trial:
    row: int
    asked: str
    outcome: TrialOutcome
    other: str  # the question of the entry that would answer instead


@dataclass(frozen=True)
class ImportPreview:
    pending_id: int
    count: int
    duplicates: list[Duplicate]
    trials: list[Trial]
    one_phrasing: int
    checked: int


@dataclass(frozen=True)
class Asked:
    decision: Decision
    asked_id: int


STALE_AFTER_DAYS = 365  # an entry whose facts were last checked longer ago is due for review
STALE_REMINDER_AT = time(9, 0)  # local time from which the yearly reminder goes out
STALE_LISTED = 30  # entries named in the reminder (the rest are counted)


class FaqService:
    def __init__(self, db: Database, clock: Clock, super_admins: frozenset[int] = frozenset()) -> None:
        self.db = db
        self.clock = clock
        self.super_admins = super_admins
        self.index: FaqIndex | None = None
        self.resegmented = 0  # stored entries segmented again by the last `load`
        self._vocabulary: Vocabulary | None = None
        self._warming: asyncio.Task[None] | None = None

    async def load(self) -> int:
        """Build the index from the shipped base and the stored entries (once, at start). Stored entries
        bring their tokens; those made under another segmentation (`FaqIndex.fingerprint`: dictionary,
        word lists, normalisation, library versions) or none are segmented again in a worker thread and
        written back, so the next start takes them as they are. Deployment-wide entries are indexed
        now; each organisation's own are read and indexed when first needed (`FaqIndex.defer`: a few
        milliseconds for a village)."""
        get_tokenizer()  # jieba's dictionary loads here, never on the first question
        # the sentence encoder loads beside the rest, in a thread; a question asked before it is ready waits
        self._warming = asyncio.create_task(asyncio.to_thread(get_semantic().warm))
        index = shipped_index()  # the shipped base, built once per process
        fingerprint = index.fingerprint
        blocking = self.db.blocking_reader()
        async with self.db.read() as conn:
            if blocking is not None:
                stored, counts = await faq.entries_to_load(conn, fingerprint)
            else:  # a private in-memory database: everything now
                stored, counts = await faq.entry_tuples(conn), {}
        stale = [i for i, raw in enumerate(stored) if raw[faq.FP_COLUMN] != fingerprint]
        fresh: dict[int, DocTokens] = {}  # row number → tokens made now
        if stale:
            entries = {i: _entry(faq.row_of(stored[i])) for i in stale}
            made = await asyncio.to_thread(lambda: [index.doc_tokens(entries[i]) for i in stale])
            fresh = dict(zip(stale, made, strict=True))
            async with self.db.transaction() as conn:
                await faq.set_tokens(conn, [(entries[i].id, entries[i].org_id, fresh[i]) for i in stale], fingerprint)
        by_org: dict[int, list[int]] = {}
        for i, raw in enumerate(stored):
            if raw[1] is None:
                index.add(*_stored(index, raw, fresh.get(i)))  # a stored deployment-wide entry replaces the shipped one
            elif blocking is None:
                by_org.setdefault(raw[1], []).append(i)
        for org_id, rows in by_org.items():  # in memory already
            index.defer(org_id, len(rows), functools.partial(_stored_entries, index, [stored[i] for i in rows],
                                                             {i: fresh[r] for i, r in enumerate(rows) if r in fresh}))
        if blocking is not None:
            for org_id, count in counts.items():  # read when first needed
                index.defer(org_id, count, functools.partial(_read_entries, index, blocking, org_id))
        if stored:
            index.warm()
        self.index = index
        self.resegmented = len(stale)
        self._vocabulary = Vocabulary(index)
        return len(index)

    async def index_some(self, entries: int = INDEX_PER_TICK) -> int:
        """Index about `entries` waiting organisations' entries, one organisation at a time with other
        updates let through in between, so that after a restart every village's first question is as
        quick as the next; → how many are left."""
        index = self.index
        left = index.pending() if index is not None else 0
        done = 0
        while index is not None and left and done < entries:
            before = left
            left = index.index_pending(1)
            done += before - left
            await asyncio.sleep(0)
        return left

    async def embed_all(self) -> int:
        """Started by `run` after start: every phrasing of the deployment-wide entries and of each
        organisation's (indexed first when deferred) goes through the sentence encoder once, in a
        worker thread a few at a time, and is kept, so no village's first question waits for it
        (about 0.8 ms of one core a phrasing; a question meanwhile waits at most one small batch).
        Entries added or edited later are embedded when first asked, as before. → phrasings kept."""
        if self._warming is not None:
            await self._warming
        index = self._index()
        semantic = get_semantic()
        kept = 0
        for org_id in index.organisations():
            questions = [q for entry in index.entries_of(org_id) for q in entry.questions]
            kept += await asyncio.to_thread(semantic.keep, questions)
        log.info("FAQ: %d phrasings embedded in the background", kept)
        return kept

    def _index(self) -> FaqIndex:
        if self.index is None:
            raise RuntimeError("FaqService.load() was not awaited at start")
        return self.index

    def decide(self, question: str, org_id: int | None) -> Decision:
        return self._index().decide(question, org_id=org_id)

    def understand(self, message: str, org_id: int | None, private: bool = False) -> tuple[Reading, Decision]:
        """What the message is (danger / question / chatter / other) and the FAQ decision for it."""
        if self._vocabulary is None:
            raise RuntimeError("FaqService.load() was not awaited at start")
        return understand(self._vocabulary, message, org_id, private)

    async def log_asked(self, question: str, decision: Decision, org_id: int | None, chat_id: int,
                        user_id: int) -> int:
        entry_id = decision.best.id if decision.best else None
        async with self.db.transaction() as conn:
            return await faq.log_asked(conn, org_id, chat_id, user_id, question[:1000], decision.kind, entry_id,
                                       self.clock.now())

    def entry(self, entry_id: str, org_id: int | None) -> Entry | None:
        index = self._index()
        return (index.get(entry_id, org_id) if org_id is not None else None) or index.get(entry_id, None)

    def local_entry(self, entry_id: str, org_id: int | None) -> Entry | None:
        """The organisation's own entry on the matter of the deployment-wide `entry_id` (its village's
        people and phones for violence), if it has one (`FaqIndex.local_counterpart`)."""
        return self._index().local_counterpart(entry_id, org_id)

    def village_entry_after(self, decision: Decision, org_id: int | None) -> Entry | None:
        """The organisation's own entry shown after a deployment-wide answer or alarm
        (`FaqIndex.village_entry_after`: its people and phones for violence, its dates and place for
        another matter it keeps a version of)."""
        return self._index().village_entry_after(decision, org_id)

    def shipped_twin(self, entry: Entry) -> tuple[Entry, bool] | None:
        """The deployment-wide entry an organisation's entry is the village's version of (`FaqIndex.twin`,
        at `twin_bar`), and whether it is where to turn for violence: told to the chair who adds it, so
        she knows where it will be shown."""
        if entry.org_id is None:
            return None
        index = self._index()
        twin = index.twin(entry.id, entry.org_id)
        shipped = index.get(twin[0], None) if twin is not None else None
        if twin is None or twin[0] == entry.id or shipped is None or shipped.org_id is not None:
            return None  # (its own copy of a shipped entry is shown instead of it)
        return (shipped, twin[0] == DV_HELP_ENTRY) if twin[1] >= twin_bar(twin[0]) else None

    async def ask(self, question: str, org_id: int | None, chat_id: int, user_id: int) -> Asked:
        decision = self.decide(question, org_id)
        entry_id = decision.best.id if decision.best else None
        async with self.db.transaction() as conn:
            asked_id = await faq.log_asked(conn, org_id, chat_id, user_id, question[:1000], decision.kind, entry_id,
                                           self.clock.now())
        return Asked(decision, asked_id)

    async def asked(self, asked_id: int) -> AskedRow | None:
        """Who asked what, where (buttons check the presser against it)."""
        async with self.db.read() as conn:
            return await faq.asked_row(conn, asked_id)

    async def vote(self, asked_id: int, user_id: int, value: int) -> AskedRow | None:
        """Only the woman who asked votes on the answer she got → her question when this vote newly says
        the answer did not help (a person should then follow up), else None."""
        async with self.db.transaction() as conn:
            row = await faq.asked_row(conn, asked_id)
            if row is None:
                raise Refusal("faq.vote_gone")
            if row.user_id != user_id:
                raise Refusal("faq.not_yours")
            before = await faq.vote(conn, asked_id, user_id, value, self.clock.now())
        return row if value < 0 and (before is None or before >= 0) else None

    # --- the knowledge base --------------------------------------------------------------------

    async def _check_scope(self, actor: Actor, org_id: int | None) -> None:
        if org_id is None:
            if not actor.is_super_admin:
                raise Refusal("faq.super_only")
            return
        async with self.db.read() as conn:
            await require_manager(conn, actor, org_id)

    async def add(self, actor: Actor, org_id: int | None, questions: list[str], answer: str, tags: list[str],
                  source: str = "", referral: str = "") -> Entry:
        await self._check_scope(actor, org_id)
        _check_lengths(questions, answer)
        index = self._index()
        async with self.db.transaction() as conn:
            entry_id = f"o{org_id or 0}-{await faq.next_number(conn)}"
            row = self._with_tokens(EntryRow(entry_id, org_id, questions, answer, tags, source, referral,
                                             self._today()))
            await faq.upsert(conn, row, actor.user_id)
            await audit.record(conn, org_id, actor.user_id, "faq.add", self.clock.now(), entry=entry_id)
        index.add(_entry(row), row.tokens)
        return _entry(row)

    def _with_tokens(self, row: EntryRow) -> EntryRow:
        """The row with its tokens (stored with it, so the next start need not segment it again)."""
        index = self._index()
        return dataclasses.replace(row, tokens=index.doc_tokens(_entry(row)), tokens_fp=index.fingerprint)

    async def edit(self, actor: Actor, org_id: int | None, entry_id: str, questions: list[str] | None,
                   answer: str | None, tags: list[str] | None) -> Entry:
        """Edit an entry; editing a shipped or deployment-wide entry for an organisation makes the
        organisation's own copy, which overrides it there."""
        await self._check_scope(actor, org_id)
        current = self.entry(entry_id, org_id)
        if current is None:
            raise Refusal("faq.not_found", id=entry_id)
        new_questions = questions or list(current.questions)
        new_answer = answer or current.answer
        _check_lengths(new_questions, new_answer)
        row = self._with_tokens(EntryRow(entry_id, org_id, new_questions, new_answer,
                                         tags if tags is not None else list(current.tags), current.source,
                                         current.referral, self._today()))
        async with self.db.transaction() as conn:
            await faq.upsert(conn, row, actor.user_id)
            await audit.record(conn, org_id, actor.user_id, "faq.edit", self.clock.now(), entry=entry_id)
        entry = _entry(row)
        self._index().add(entry, row.tokens)  # replaces the same (org, id) incrementally
        return entry

    async def delete(self, actor: Actor, org_id: int | None, entry_id: str) -> None:
        """Delete an entry people added (the shipped base is edited, not deleted)."""
        await self._check_scope(actor, org_id)
        if self.entry(entry_id, org_id) is None:
            raise Refusal("faq.not_found", id=entry_id)
        async with self.db.transaction() as conn:
            if not await faq.delete(conn, entry_id, org_id):
                raise Refusal("faq.not_deletable", id=entry_id)
            await audit.record(conn, org_id, actor.user_id, "faq.delete", self.clock.now(), entry=entry_id)
        self._index().remove(entry_id, org_id)
        if org_id is None:
            shipped = {e.id: e for e in load_shipped_entries()}
            if entry_id in shipped:
                self._index().add(shipped[entry_id])

    def listing(self, org_id: int | None, tag: str | None = None) -> list[Entry]:
        """Entries visible to an organisation (its own override the shared ones), optionally by tag."""
        visible: dict[str, Entry] = {}
        index = self._index()
        for entry in [*index.entries_of(None), *(index.entries_of(org_id) if org_id is not None else [])]:
            shared_first = entry.org_id is None and entry.id not in visible
            if shared_first or (entry.org_id is not None and entry.org_id == org_id):
                visible[entry.id] = entry  # the organisation's own entry overrides the shared one
        found = sorted(visible.values(), key=lambda e: (e.org_id is None, e.id))
        if tag:
            found = [e for e in found if tag in e.tags]
        return found

    async def import_rows(self, actor: Actor, org_id: int | None, rows: list[dict[str, Any]],
                          pending_id: int | None = None) -> int:
        """All-or-nothing: every row is written in one transaction (which also drops the pending
        import it came from), then indexed."""
        await self._check_scope(actor, org_id)
        now = self.clock.now()
        index = self._index()
        # Segmenting is the slow part (about 1 ms an entry): off the event loop (a child process for a
        # big import) before the transaction, so a big import holds up neither everyone else's messages
        # nor the writer; the tokens are stored with the rows, and adding them to the index is quick.
        probe = [_entry(EntryRow("", org_id, r["questions"], r["answer"], r["tags"], "", "", "")) for r in rows]
        tokens = await segment_entries(index, probe)  # a child process for a big import
        written: list[EntryRow] = []
        async with self.db.transaction() as conn:
            if pending_id is not None and not await faq.drop_pending_import(conn, pending_id):
                raise Refusal("faq_import.expired")
            number = await faq.next_number(conn)
            for i, (row, doc_tokens) in enumerate(zip(rows, tokens, strict=True)):
                entry_id = row["id"] or f"o{org_id or 0}-{number + i}"
                written.append(EntryRow(entry_id, org_id, row["questions"], row["answer"], row["tags"],
                                        row["source"], row["referral"], self._today(), doc_tokens,
                                        index.fingerprint))
            await faq.upsert_many(conn, written, actor.user_id)
            await audit.record(conn, org_id, actor.user_id, "faq.import", now, rows=len(rows))
        pacing = TimeSlice()
        for record in written:
            index.add(_entry(record), record.tokens)
            await pacing.pause_if_due()
        return len(written)

    async def preview_import(self, actor: Actor, org_id: int | None, rows: list[dict[str, Any]]) -> ImportPreview:
        """Before anything is saved: which rows nearly repeat an entry the organisation already has,
        how the bot would answer another phrasing of the first entries, how many have one phrasing
        only. The rows wait in the database for 保存 (`confirm_import`)."""
        await self._check_scope(actor, org_id)
        index = self._index()
        duplicates: list[Duplicate] = []
        seen: dict[str, int] = {}
        pacing = TimeSlice()  # other chats are answered while a big file is checked
        for number, row in enumerate(rows, 1):
            await pacing.pause_if_due()
            first = row["questions"][0]
            key = normalise(first)
            if key in seen:
                duplicates.append(Duplicate(number, first, f"#{seen[key]}", rows[seen[key] - 1]["questions"][0]))
                continue
            seen[key] = number
            if number > PREVIEW_CHECKED:
                continue
            d = index.decide(first, org_id=org_id)
            if d.kind == "answer" and d.best is not None and d.best.id != row["id"] and d.candidates:
                duplicates.append(Duplicate(number, first, d.best.id, d.candidates[0].question))
        trials = self._trials(org_id, rows[:PREVIEW_TRIALS])
        one = sum(len(r["questions"]) == 1 for r in rows)
        async with self.db.transaction() as conn:
            await faq.drop_pending_imports_before(conn, self.clock.now() - PENDING_IMPORT_KEPT)
            pending_id = await faq.add_pending_import(conn, org_id, actor.user_id, rows, self.clock.now())
        return ImportPreview(pending_id, len(rows), duplicates, trials, one, min(len(rows), PREVIEW_CHECKED))

    def _trials(self, org_id: int | None, rows: list[dict[str, Any]]) -> list[Trial]:
        """Each previewed row with two or more phrasings is indexed without its last one, which is
        then asked. Synchronous from add to remove: no other coroutine ever sees the trial entries."""
        index = self._index()
        trials: list[Trial] = []
        for number, row in enumerate(rows, 1):
            if len(row["questions"]) < 2:
                continue
            trial_id = row["id"] or f"preview-{number}"
            replaced = index.get(trial_id, org_id)
            index.add(Entry(trial_id, tuple(row["questions"][:-1]), row["answer"], tuple(row["tags"]), org_id=org_id))
            try:
                asked = row["questions"][-1]
                d = index.decide(asked, org_id=org_id)
            finally:
                index.remove(trial_id, org_id)
                if replaced is not None:
                    index.add(replaced)
            top = d.candidates[0] if d.candidates else None
            hit = top is not None and top.id == trial_id and top.org_id == org_id
            offered = d.kind == "suggest" and any(c.id == trial_id and c.org_id == org_id for c in d.candidates)
            outcome: TrialOutcome = ("answer" if hit and d.kind == "answer" else "suggest" if offered
                                     else "other" if top is not None else "none")
            trials.append(Trial(number, asked, outcome, top.question if top is not None and not hit else ""))
        return trials

    async def confirm_import(self, actor: Actor, pending_id: int) -> int:
        """保存 on a previewed import: only the chair who sent it, within a day."""
        async with self.db.read() as conn:
            found = await faq.pending_import(conn, pending_id)
        if found is None or self.clock.now() - found[3] > PENDING_IMPORT_KEPT:
            raise Refusal("faq_import.expired")
        org_id, user_id, rows, _ = found
        if user_id != actor.user_id:
            raise Refusal("faq_import.not_yours")
        return await self.import_rows(actor, org_id, rows, pending_id)

    async def cancel_import(self, actor: Actor, pending_id: int) -> None:
        async with self.db.read() as conn:
            found = await faq.pending_import(conn, pending_id)
        if found is None:
            raise Refusal("faq_import.expired")
        if found[1] != actor.user_id:
            raise Refusal("faq_import.not_yours")
        async with self.db.transaction() as conn:
            await faq.drop_pending_import(conn, pending_id)

    def export_dicts(self, org_id: int | None) -> list[dict[str, Any]]:
        return [{"id": e.id, "questions": list(e.questions), "answer": e.answer, "tags": list(e.tags),
                 "source": e.source, "referral": e.referral} for e in self.listing(org_id)]

    # --- questions for the member on duty ------------------------------------------------------

    async def save_item(self, actor: Actor, item_id: int) -> Entry:
        async with self.db.read() as conn:
            item = await faq.get_unanswered(conn, item_id)
            saved = await faq.saved_entry(conn, item_id)
        if item is None or item.status != "answered" or item.answer is None:
            raise Refusal("faq.item_gone")
        if saved is not None:
            raise Refusal("faq.already_saved", id=saved)
        if item.danger or item.concern:  # an answer to her own trouble is hers, not a public entry
            raise Refusal("faq.not_saveable")
        entry = await self.add(actor, item.org_id, [item.question[:MAX_QUESTION]], item.answer, [])
        async with self.db.transaction() as conn:
            await faq.mark_saved(conn, item_id, entry.id)
        return entry

    async def unanswered(self, org_id: int) -> list[Unanswered]:
        async with self.db.read() as conn:
            return await faq.open_unanswered(conn, org_id)

    def _today(self) -> str:
        return self.clock.now().date().isoformat()

    def stale_entries(self, today: date) -> list[Entry]:
        """Deployment-wide entries (shipped or edited by the county) whose facts were last checked
        more than STALE_AFTER_DAYS ago, or never: oldest first."""
        def checked(entry: Entry) -> date:
            try:
                return date.fromisoformat(entry.updated_at)
            except ValueError:
                return date.min
        found = [e for e in self._index().entries_of(None) if (today - checked(e)).days > STALE_AFTER_DAYS]
        return sorted(found, key=lambda e: (checked(e), e.id))

    async def next_due(self, now: datetime, tz: Any = None) -> datetime | None:
        """The yearly check reminder may fall due at the next STALE_REMINDER_AT (local)."""
        return next_local(now, STALE_REMINDER_AT, tz or UTC) if self.super_admins else None

    async def produce(self, now: datetime, tz: Any = None) -> None:
        """Once a year, each super admin is told which deployment-wide entries are due for a check
        of their facts (through the outbox: deduplicated per admin and year). Each tick also indexes
        some organisations whose entries wait for their first question (`index_some`)."""
        await self.index_some()
        local = now.astimezone(tz) if tz is not None else now
        if not self.super_admins or local.time() < STALE_REMINDER_AT:
            return
        stale = self.stale_entries(local.date())
        if not stale:
            return
        async with self.db.read() as conn:
            todo = [a for a in sorted(self.super_admins)
                    if not await outbox.is_known(conn, f"faq-stale:{local.year}:{a}")]
        if not todo:
            return
        lines: list[Any] = [text("faq.stale_line", id=e.id, question=e.questions[0] if e.questions else "",
                                 checked=e.updated_at or "—") for e in stale[:STALE_LISTED]]
        if len(stale) > STALE_LISTED:
            lines.append(text("faq.stale_more", count=len(stale) - STALE_LISTED))
        params = {"count": len(stale), "lines": lines}
        async with self.db.transaction() as conn:
            await outbox.enqueue(conn, [Outgoing(a, "faq.stale_review", params, dedupe=f"faq-stale:{local.year}:{a}")
                                        for a in todo], now)


def _stored(index: FaqIndex, raw: faq.RawEntry, tokens: DocTokens | None) -> tuple[Entry, DocTokens | None]:
    """A stored entry and the tokens to index it with: `tokens` made at load, else the stored ones when
    they fit (None: `add` segments it)."""
    row = faq.row_of(raw)
    entry = _entry(row)
    if tokens is None and row.tokens is not None and index.tokens_fit(entry, row.tokens):
        tokens = row.tokens
    return entry, tokens


def _stored_entries(index: FaqIndex, rows: list[faq.RawEntry], fresh: dict[int, DocTokens]
                    ) -> list[tuple[Entry, DocTokens | None]]:
    """An organisation's stored entries for `FaqIndex.defer`."""
    return [_stored(index, raw, fresh.get(i)) for i, raw in enumerate(rows)]


def _read_entries(index: FaqIndex, conn: sqlite3.Connection, org_id: int) -> list[tuple[Entry, DocTokens | None]]:
    """An organisation's stored entries read now, for `FaqIndex.defer` (their tokens are current: rows of
    another fingerprint were segmented again and written back at start)."""
    return _stored_entries(index, faq.org_entry_tuples(conn, org_id), {})


def _entry(row: EntryRow) -> Entry:
    """A stored entry; a stored copy of a shipped entry (a village's edit, a county's) that still ends
    with the shipped entry's variants keeps them as variants: matched, never shown."""
    variants = _shipped_variants().get(row.entry_id, ())
    kept = 0 < len(variants) < len(row.questions) and tuple(row.questions[-len(variants):]) == variants
    return Entry(row.entry_id, tuple(row.questions), row.answer, tuple(row.tags), row.source, row.referral,
                 row.updated_at, row.org_id, shown=len(row.questions) - len(variants) if kept else 0)


@functools.cache
def _shipped_variants() -> dict[str, tuple[str, ...]]:
    """Shipped entry id → its variants (the phrasings after the shown ones)."""
    return {e.id: e.questions[e.shown:] for e in load_shipped_entries() if e.shown}


def _check_lengths(questions: list[str], answer: str) -> None:
    if not questions or not answer.strip():
        raise Refusal("faq_add.usage")
    if any(len(q) > MAX_QUESTION for q in questions) or len(answer) > MAX_ANSWER:
        raise Refusal("faq_add.too_long", question=MAX_QUESTION, answer=MAX_ANSWER)


def parse_add_text(text: str) -> tuple[list[str], str, list[str]]:
    """`问题 | 答案 | 标签` (questions may be several, separated by ／ or ;). Chinese input methods type
    ｜ and ； (full width): they count the same."""
    parts = [p.strip() for p in text.replace("｜", "|").split("|")]
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise Refusal("faq_add.usage")
    questions = [q.strip() for q in re.split(r"[;；／]", parts[0]) if q.strip()]
    tags = split_list(parts[2]) if len(parts) > 2 else []
    return questions, parts[1], tags
