"""The FAQ at county scale: stored tokens at start (migration 0017), the fingerprint, organisations'
entries indexed on first use, and per-organisation scopes and caches (issue #15)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.clock import SimClock
from services.faq import FaqService
from services.faq_engine import Entry, FaqIndex, Tokenizer, get_tokenizer, load_shipped_entries, shipped_index
from services.message_kind import Vocabulary
from services.roster import Actor
from storage import faq
from storage.db import Database

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ADMIN = Actor(42, True)
VILLAGE_A, VILLAGE_B = 1, 2
QUESTIONS = ["人身安全保护令怎么申请", "离婚后孩子抚养费给多少", "村里广场舞队在哪报名", "妇女之家几点开门", "12338"]


def own(entry_id: str, question: str, answer: str, org_id: int | None) -> Entry:
    return Entry(entry_id, (question,), answer, ("本村",), "", "", "2026-11-01", org_id)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    db = await Database.open(tmp_path / "faq.db")
    async with db.transaction() as conn:
        await conn.executemany("INSERT INTO orgs(id, name, created_at, created_by) VALUES (?, ?, 'x', 0)",
                               [(VILLAGE_A, "甲村妇联"), (VILLAGE_B, "乙村妇联")])
    yield db
    await db.close()


async def service(db: Database) -> FaqService:
    svc = FaqService(db, SimClock(NOW), frozenset({ADMIN.user_id}))
    await svc.load()
    return svc


async def fill(svc: FaqService) -> None:
    """Each village's own entries, a village copy of a shipped entry, and a county-wide entry."""
    await svc.add(ADMIN, VILLAGE_A, ["甲村广场舞队在哪报名", "广场舞队怎么参加"], "每晚七点文化广场，找王芳。",
                  ["活动"])
    await svc.add(ADMIN, VILLAGE_A, ["甲村妇女之家几点开门"], "每周二、四下午开门。", [])
    await svc.add(ADMIN, VILLAGE_B, ["乙村妇女之家几点开门"], "每天上午开门，村委会二楼。", [])
    await svc.edit(ADMIN, VILLAGE_B, "hotline-12338", None, "乙村妇联电话 139 0000 0002，也可拨打12338。", None)
    await svc.add(ADMIN, None, ["县妇联法律援助热线是多少"], "县妇联法律援助热线 12338 转 2。", ["热线"])


def ranking(index: FaqIndex, org_id: int | None) -> list[list[tuple[str, int | None, float]]]:
    return [[(c.id, c.org_id, c.score) for c in index.search(q, 10, org_id)] for q in QUESTIONS]


def decisions(index: FaqIndex, org_id: int | None) -> list[tuple[object, ...]]:
    out: list[tuple[object, ...]] = []
    for q in QUESTIONS:
        d = index.decide(q, org_id=org_id)
        out.append((d.kind, d.right, d.confidence, d.margin, [(c.id, c.org_id, c.score) for c in d.candidates]))
    return out


class Spy:
    """Counts segmentations of entries (Tokenizer.entry_tokens) while installed."""

    def __init__(self) -> None:
        self.calls: list[str] = []


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Iterator[Spy]:
    shipped_index()  # the shipped base (package data, built once per process) is not what is counted
    found = Spy()
    real = Tokenizer.entry_tokens

    def counting(self: Tokenizer, entry: Entry, with_answer: bool = True) -> tuple[tuple[str, ...], ...]:
        found.calls.append(entry.id)
        return real(self, entry, with_answer)

    monkeypatch.setattr(Tokenizer, "entry_tokens", counting)
    yield found


async def test_entries_are_stored_with_their_tokens_and_the_fingerprint(db: Database) -> None:
    svc = await service(db)
    await fill(svc)
    async with db.read() as conn:
        rows = await faq.all_entries(conn)
    index = svc.index
    assert index is not None and len(rows) == 5
    for row in rows:
        entry = index.get(row.entry_id, row.org_id)
        assert entry is not None and row.tokens_fp == index.fingerprint
        assert row.tokens == get_tokenizer().entry_tokens(entry)  # each phrasing, the tags, the answer
        assert row.tokens is not None and len(row.tokens) == len(entry.questions) + 2


async def test_load_takes_stored_tokens_without_segmenting(db: Database, spy: Spy) -> None:
    await fill(await service(db))
    spy.calls.clear()
    again = await service(db)
    assert again.resegmented == 0
    assert again.index is not None
    again.index.index_pending()  # every organisation's entries indexed: from their stored tokens
    assert again.decide("甲村广场舞队在哪报名", VILLAGE_A).best is not None
    assert spy.calls == []


async def test_a_new_fingerprint_segments_again_and_writes_back(db: Database, spy: Spy) -> None:
    await fill(await service(db))
    async with db.transaction() as conn:  # as if the dictionary had changed since they were stored
        await conn.execute("UPDATE faq_entries SET tokens_fp = 'old' WHERE org_id = ?", (VILLAGE_A,))
        await conn.execute("UPDATE faq_entries SET tokens = NULL, tokens_fp = NULL WHERE org_id IS NULL")
    spy.calls.clear()
    again = await service(db)
    assert again.resegmented == 3 and sorted(spy.calls) == ["o0-5", "o1-1", "o1-2"]
    async with db.read() as conn:
        rows = await faq.all_entries(conn)
    assert again.index is not None
    assert {row.tokens_fp for row in rows} == {again.index.fingerprint}
    spy.calls.clear()
    third = await service(db)
    assert third.resegmented == 0 and spy.calls == []


async def test_loaded_index_equals_fresh_segmentation(db: Database) -> None:
    svc = await service(db)
    await fill(svc)
    loaded = (await service(db)).index
    assert loaded is not None
    fresh = FaqIndex.build([*load_shipped_entries()])
    async with db.read() as conn:
        for row in await faq.all_entries(conn):
            fresh.add(Entry(row.entry_id, tuple(row.questions), row.answer, tuple(row.tags), row.source,
                            row.referral, row.updated_at, row.org_id))  # segmented now
    for org_id in (None, VILLAGE_A, VILLAGE_B, 3):
        assert ranking(loaded, org_id) == ranking(fresh, org_id)
        assert decisions(loaded, org_id) == decisions(fresh, org_id)
    assert loaded.stats() == {**fresh.stats(), "vocabulary": loaded.stats()["vocabulary"]}


async def test_villages_are_indexed_on_first_use(db: Database) -> None:
    await fill(await service(db))
    svc = await service(db)
    index = svc.index
    assert index is not None
    assert index.pending() == 4 and len(index) == len(load_shipped_entries()) + 5
    d = svc.decide("乙村妇女之家几点开门", VILLAGE_B)
    assert d.best is not None and d.best.org_id == VILLAGE_B
    assert index.pending() == 2  # village A's entries wait for a question from village A
    assert [e.id for e in svc.listing(VILLAGE_A) if e.org_id == VILLAGE_A] == ["o1-1", "o1-2"]
    assert index.pending() == 0


def test_a_village_is_scored_against_the_shared_base_and_its_own_entries_only(tok: Tokenizer) -> None:
    """What other villages write changes neither a village's answers nor its figures."""
    shipped = load_shipped_entries()
    alone = FaqIndex.build([*shipped, own("a-1", "甲村广场舞队在哪报名", "文化广场", VILLAGE_A)], tok)
    county = alone.clone()
    base = county.get("hotline-12338")
    assert base is not None
    for org in range(2, 40):
        county.add(own(f"o{org}-1", f"{org}号村广场舞队在哪报名", "村委会门口", org))
        county.add(dataclasses.replace(base, answer=f"{org}号村妇联电话 139{org:08d}", org_id=org))
    for org_id in (None, VILLAGE_A):
        assert ranking(county, org_id) == ranking(alone, org_id)
        assert decisions(county, org_id) == decisions(alone, org_id)
    assert county.search("广场舞队在哪报名", 1, 7)[0].id == "o7-1"
    assert county.decide("12338", org_id=7).best == county.get("hotline-12338", 7)


def test_editing_one_village_keeps_the_other_villages_caches(tok: Tokenizer) -> None:
    shipped = load_shipped_entries()
    index = FaqIndex.build([*shipped, own("a-1", "甲村广场舞队在哪报名", "文化广场", VILLAGE_A),
                            own("b-1", "乙村广场舞队在哪报名", "村委会门口", VILLAGE_B)], tok)
    vocabulary = Vocabulary(index)
    for org_id in (VILLAGE_A, VILLAGE_B, None):
        index.decide("广场舞队在哪报名", org_id=org_id)
        vocabulary.weight("广场舞", org_id)
    cached_b = {key for key in index._cache if key[0] == VILLAGE_B}
    shared = {key for key in index._cache if key[0] is None}
    version_b = index.scope_version(VILLAGE_B)
    assert cached_b and shared

    index.add(own("a-2", "甲村妇女之家几点开门", "周二下午", VILLAGE_A))  # an edit in village A
    assert {key for key in index._cache if key[0] == VILLAGE_B} == cached_b  # B's score vectors kept
    assert {key for key in index._cache if key[0] is None} == shared
    assert not any(key[0] == VILLAGE_A for key in index._cache)
    assert index.scope_version(VILLAGE_B) == version_b and VILLAGE_B in index._idf
    assert vocabulary._caches[VILLAGE_B][0] == index.scope_version(VILLAGE_B)  # B's word weights still valid

    index.add(own("shared-1", "县里的热线是多少", "12338", None))  # a county-wide entry: every scope changes
    assert not index._cache and index.scope_version(VILLAGE_B) != version_b


async def test_an_edit_in_one_village_keeps_the_other_village_indexed_and_cached(db: Database) -> None:
    svc = await service(db)
    await fill(svc)
    svc = await service(db)
    index = svc.index
    assert index is not None
    svc.decide("乙村妇女之家几点开门", VILLAGE_B)
    cached_b = {key for key in index._cache if key[0] == VILLAGE_B}
    assert cached_b
    await svc.edit(ADMIN, VILLAGE_A, "o1-2", None, "每周二、四、六下午开门。", None)
    assert {key for key in index._cache if key[0] == VILLAGE_B} == cached_b
    best = svc.decide("甲村妇女之家几点开门", VILLAGE_A).best
    assert best is not None and "六下午" in best.answer


@pytest.fixture(scope="module")
def tok() -> Tokenizer:
    return get_tokenizer()


async def test_the_scheduler_tick_indexes_waiting_villages(db: Database) -> None:
    await fill(await service(db))
    svc = await service(db)
    assert svc.index is not None and svc.index.pending() == 4
    assert await svc.index_some(1) == 2  # one village at a time
    await svc.produce(NOW)
    assert svc.index.pending() == 0
    assert [e.id for e in svc.listing(VILLAGE_B) if e.org_id == VILLAGE_B] == ["hotline-12338", "o2-3"]
