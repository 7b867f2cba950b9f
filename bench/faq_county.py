"""The FAQ at county scale: a corpus shaped like a county's, against bm25s on the same tokens.

    python -m bench.faq_county [--entries 100000] [--queries 2000]

Corpus (seeded): N villages, each an organisation with its locally edited copies of most shipped
entries (same id, so the copy replaces the shipped entry in that village: the village's name, its
contact, phone number and meeting place added to the answer, sentences reworded, some phrasings
prefixed with the village's name) and a few entries of its own (妇女之家 hours, the dance team, the
cooperative's dividend … with the village's name). Entries are written to a real database with their
tokens (as `FaqService` stores them) and the stored tokens are checked against a fresh segmentation
on a sample.

Questions are asked with the asker's village: the development and held-out questions about shipped
topics (expected: the village's copy of that entry) and paraphrases of the village's own entries.

Measured in one run:
  ready          a fresh interpreter opens the database and `FaqService.load()`s it (imports, jieba's
                 dictionary, the shipped base, every stored entry with its stored tokens); beside it,
                 re-segmenting every entry at start (what load() did before stored tokens), from the
                 per-entry cost on a sample
  whole query    `FaqIndex.decide(text, org_id=village)`: normalise + segment + rank + the decision,
                 the product's index as loaded, every village's entries indexed and every phrasing
                 embedded (`FaqService.embed_all`, which `run` starts in the background), score caches
                 dropped first (each village asks cold); also right after start, where a village's
                 entries are indexed and its candidates' phrasings embedded with its first question
  rank only      `search_tokens(tokens, 3, village)`, caches dropped first
  bm25s          the same tokens (all fields of an entry in one document; Lucene idf, k1 = 1.2,
                 b = 0.75), one index of the whole county, the asker's visible entries as the weight
                 mask (built beforehand, not timed), top 3 by argpartition; "whole" adds our segmentation
  hit@1          the expected entry first, for ours and for bm25s, and how often both put the same
                 entry first (agreement)

`summary()` gives faq_ready_s_100k and faq_p99_ms_100k_county for bench/scale_bench.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.faq_quality import SETS, load_set
from services.clock import SystemClock
from services.faq import FaqService
from services.faq_engine import DocTokens, Entry, FaqIndex, Tokenizer, get_tokenizer, load_shipped_entries
from storage import faq
from storage.db import Database
from storage.faq import EntryRow

ROOT = Path(__file__).resolve().parent.parent
SEED = 20261206
COPY_SHARE = 0.9  # of the shipped entries a village keeps its own copy of
PREFIXED_SHARE = 0.3  # of a copy's phrasings that also come with the village's name in front

_FIRST = "青石柳东西南北大小上下前后新老高低长平安和兴旺富贵金银红白黄花桃李杨枫松竹梅兰荷泉溪河湖山岭坡"
_SECOND = "桥湾塘坪庄沟口坝岗坎营屯寨店铺园林台堡洼滩头尾家集桥头圩垸渡畈岙塆冲峪垭墩埠港汊浜湾里甸"
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = ("芳", "秀英", "丽", "敏", "静", "霞", "红梅", "桂兰", "玉兰", "春花", "小梅", "海燕")
_PLACES = ("村委会二楼", "村委会一楼", "文化广场旁", "村卫生室隔壁", "老学校", "党群服务中心")
# Rewordings a village's chair makes (each village picks some): whole substrings, applied to answers
# and phrasings of the copies.
_REWORD = (("可以", "能"), ("需要", "要"), ("村委会", "村两委"), ("妇联", "妇女联合会"), ("怎么", "如何"),
           ("孩子", "娃"), ("丈夫", "老公"), ("拨打", "打"))
_OWN = (
    ("{v}妇女之家几点开门", ("{v}妇女之家什么时候开门", "{v}的妇女之家啥时候有人"),
     "{v}妇女之家每周二、周四下午两点到五点开放，地点在{p}，有事可以打{tel}。"),
    ("{v}广场舞队怎么报名", ("{v}跳广场舞去哪报名", "想参加{v}广场舞队找谁"),
     "{v}广场舞队每晚七点在文化广场活动，找{c}报名，电话{tel}。"),
    ("{v}巾帼志愿服务队怎么加入", ("怎么加入{v}的巾帼志愿队", "{v}志愿服务队还收人吗"),
     "{v}巾帼志愿服务队常年招募，到{p}找{c}登记。"),
    ("{v}合作社分红什么时候发", ("{v}合作社的分红哪天发", "{v}合作社今年分红了吗"),
     "{v}妇女手工合作社每年腊月二十统一分红，账目在{p}公示。"),
    ("{v}儿童之家暑假开不开", ("{v}儿童之家暑假有人管吗", "暑假{v}儿童之家开门吗"),
     "{v}儿童之家暑假每天上午开放，由{c}负责，电话{tel}。"),
    ("{v}手工编织培训在哪上课", ("{v}编织培训去哪上", "{v}手工培训报名找谁"),
     "{v}手工编织培训每月第一个周六在{p}上课，找{c}报名。"),
    ("{v}妇联主席是谁", ("{v}妇联主席叫什么", "找{v}妇联主席怎么联系"),
     "{v}妇联主席是{c}，电话{tel}，平时在{p}办公。"),
    ("{v}卫生室能做妇科检查吗", ("{v}卫生室有妇科检查吗", "在{v}卫生室能查妇科不"),
     "{v}卫生室可以做简单的妇科检查，两癌筛查要去镇卫生院。"),
)


@dataclass
class Village:
    org_id: int
    name: str
    contact: str
    phone: str
    place: str
    reword: tuple[tuple[str, str], ...]


@dataclass
class County:
    villages: list[Village]
    entries: list[Entry]
    tokens: list[DocTokens]
    own: dict[int, list[tuple[str, tuple[str, ...]]]] = field(default_factory=dict)  # org → (id, paraphrases)


class _Segments:
    """Memoised segmentation of the pieces the corpus is made of: a text joined from pieces with
    punctuation segments as the pieces do (checked on a sample, `check`)."""

    def __init__(self, tok: Tokenizer) -> None:
        self.tok = tok
        self.memo: dict[str, tuple[str, ...]] = {}

    def __call__(self, *pieces: str) -> tuple[str, ...]:
        out: list[str] = []
        for piece in pieces:
            got = self.memo.get(piece)
            if got is None:
                got = self.memo[piece] = tuple(self.tok.tokens(piece))
            out.extend(got)
        return tuple(out)


def _reword(text: str, rules: Sequence[tuple[str, str]]) -> str:
    for old, new in rules:
        text = text.replace(old, new)
    return text


def county(n_entries: int, tok: Tokenizer, seed: int = SEED) -> County:
    """About `n_entries` village entries (the shipped base is not counted: it is package data)."""
    rng = random.Random(seed)
    shipped = load_shipped_entries()
    per_village = COPY_SHARE * len(shipped) + 5.5
    n_villages = max(1, round(n_entries / per_village))
    names = list(dict.fromkeys(a + b for a in _FIRST for b in _SECOND))
    rng.shuffle(names)
    if n_villages > len(names):
        names += [f"{n}{i}" for i in range(2, n_villages // len(names) + 2) for n in names]
    seg = _Segments(tok)
    entries: list[Entry] = []
    tokens: list[DocTokens] = []
    own: dict[int, list[tuple[str, tuple[str, ...]]]] = {}
    villages: list[Village] = []
    for v in range(n_villages):
        org_id = v + 1
        name = names[v] + "村"
        village = Village(org_id, name, rng.choice(_SURNAMES) + rng.choice(_GIVEN), f"139{org_id:08d}",
                          name + rng.choice(_PLACES), tuple(r for r in _REWORD if rng.random() < 0.4))
        villages.append(village)
        local = f"{name}妇联联系人{village.contact}，电话{village.phone}，地点{village.place}"
        for e in shipped:
            if rng.random() >= COPY_SHARE:
                continue
            questions = [_reword(q, village.reword) for q in e.questions]
            q_tokens = [seg(q) for q in questions]
            for q in list(questions):
                if rng.random() < PREFIXED_SHARE:
                    questions.append(f"{name}的姐妹问：{q}")
                    q_tokens.append(seg(f"{name}的姐妹问", q))
            answer = _reword(e.answer, village.reword)
            entries.append(Entry(e.id, tuple(questions), f"{answer}。{local}。", e.tags, e.source, e.referral,
                                 "2026-11-01", org_id))
            tokens.append((*q_tokens, tuple(t for tag in e.tags for t in seg(tag)), seg(answer, local)))
        mine = []
        for j in sorted(rng.sample(range(len(_OWN)), rng.randint(3, 8))):
            question, paraphrases, answer = _OWN[j]
            fill = {"v": name, "p": village.place, "c": village.contact, "tel": village.phone}
            entry = Entry(f"o{org_id}-{j}", (question.format(**fill),), answer.format(**fill), ("本村",), "",
                          "", "2026-11-01", org_id)
            entries.append(entry)
            tokens.append(tok.entry_tokens(entry))
            mine.append((entry.id, tuple(p.format(**fill) for p in paraphrases)))
        own[org_id] = mine
    return County(villages, entries, tokens, own)


def check_tokens(c: County, tok: Tokenizer, sample: int = 300, seed: int = SEED) -> int:
    """How many of a sample of entries have composed tokens equal to a fresh segmentation."""
    rng = random.Random(seed)
    picked = rng.sample(range(len(c.entries)), min(sample, len(c.entries)))
    return sum(tok.entry_tokens(c.entries[i]) == c.tokens[i] for i in picked)


@dataclass
class Question:
    text: str
    org_id: int
    expect: tuple[str, ...]


def questions(c: County, n: int, seed: int = SEED) -> list[Question]:
    """Four in five about shipped topics (dev and held-out questions), one in five about the asker's own
    entries; each from a random village."""
    rng = random.Random(seed + 1)
    topical = [r for name in SETS for r in load_set(name)[0] if r.kind in ("on_topic", "two")]
    out = []
    for _ in range(n):
        village = rng.choice(c.villages)
        if rng.random() < 0.8 or not c.own[village.org_id]:
            row = rng.choice(topical)
            out.append(Question(row.q, village.org_id, tuple(row.expect)))
        else:
            entry_id, paraphrases = rng.choice(c.own[village.org_id])
            out.append(Question(rng.choice(paraphrases), village.org_id, (entry_id,)))
    return out


# --- database and start-up -------------------------------------------------------------------------


async def write_db(path: Path, c: County, fingerprint: str) -> None:
    db = await Database.open(path)
    try:
        async with db.transaction() as conn:
            await conn.executemany("INSERT INTO orgs(id, name, created_at, created_by) VALUES (?, ?, ?, 0)",
                                   [(v.org_id, v.name + "妇联", "2026-01-01T00:00:00+00:00") for v in c.villages])
            await faq.upsert_many(conn, [
                EntryRow(e.id, e.org_id, list(e.questions), e.answer, list(e.tags), e.source, e.referral,
                         e.updated_at, t, fingerprint) for e, t in zip(c.entries, c.tokens, strict=True)], None)
    finally:
        await db.close()


_READY = """
import time
t0 = time.perf_counter()
import asyncio, json, sys
from services.clock import SystemClock
from services.faq import FaqService
from storage.db import Database

async def main():
    t1 = time.perf_counter()
    db = await Database.open(sys.argv[1])
    svc = FaqService(db, SystemClock())
    n = await svc.load()
    t2 = time.perf_counter()
    await db.close()
    print(json.dumps({"ready_s": t2 - t0, "load_s": t2 - t1, "entries": n, "resegmented": svc.resegmented}))

asyncio.run(main())
"""


def ready_in_fresh_process(path: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", _READY, str(path)], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


async def load_service(path: Path) -> tuple[Database, FaqService]:
    """The service loaded from the database (kept open: villages' entries are read when first asked)."""
    db = await Database.open(path)
    svc = FaqService(db, SystemClock())
    await svc.load()
    return db, svc


# --- measuring -------------------------------------------------------------------------------------


def pct(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def cold_latencies(index: FaqIndex, fn: Callable[[Question], object], qs: Sequence[Question]) -> list[float]:
    """Milliseconds per question, every cache dropped before the pass (each village asks cold)."""
    index.drop_caches()
    out = []
    for q in qs:
        t = time.perf_counter_ns()
        fn(q)
        out.append((time.perf_counter_ns() - t) / 1e6)
    return out


@dataclass
class Result:
    entries: int
    villages: int
    tokens_checked: tuple[int, int]
    ready: dict[str, float]
    resegment_s: float
    first: list[float]
    index_all_s: float
    whole: list[float]
    rank: list[float]
    bm25s_rank: list[float]
    bm25s_whole: list[float]
    bm25s_build_s: float
    hit_ours: float
    hit_bm25s: float
    agreement: float
    queries: int
    embed: tuple[float, int, float]  # the background embedding: seconds, phrasings kept, MB of memory more


def measure(n_entries: int, n_queries: int) -> Result:
    tok = get_tokenizer()
    c = county(n_entries, tok)
    checked = check_tokens(c, tok)
    sample = c.entries[:: max(1, len(c.entries) // 500)][:500]
    t = time.perf_counter()
    for e in sample:
        tok.entry_tokens(e)
    resegment_s = (time.perf_counter() - t) / len(sample) * len(c.entries)
    qs = questions(c, n_queries)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "county.db"
        fingerprint = FaqIndex(tok).fingerprint
        asyncio.run(write_db(path, c, fingerprint))
        ready = ready_in_fresh_process(path)
        loop = asyncio.new_event_loop()
        db, svc = loop.run_until_complete(load_service(path))
        try:
            assert svc.index is not None
            return _queries(c, qs, svc.index, checked, ready, resegment_s,
                            lambda: loop.run_until_complete(svc.embed_all()))
        finally:
            loop.run_until_complete(db.close())
            loop.close()


def _rss_mb() -> float:
    """This process's resident memory now (Linux), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _queries(c: County, qs: list[Question], index: FaqIndex, checked: int, ready: dict[str, float],
             resegment_s: float, embed_all: Callable[[], int]) -> Result:
    """Everything measured on the loaded index (see `measure`)."""
    import bm25s  # a test/bench extra: only here

    tok = get_tokenizer()

    # Right after start: a village's entries are indexed with its first question.
    first = cold_latencies(index, lambda q: index.decide(q.text, org_id=q.org_id), qs)
    t = time.perf_counter()
    index.index_pending()
    index_all_s = time.perf_counter() - t
    # What `run` does in the background after start: every phrasing through the encoder once, kept.
    rss = _rss_mb()
    t = time.perf_counter()
    kept = embed_all()
    embed = (time.perf_counter() - t, kept, _rss_mb() - rss)
    q_tokens = {q.text: index.query_tokens(q.text, q.org_id)[1] for q in qs}
    # the ranking itself, not the last rankings remembered per message (`FaqIndex._rank`)
    rank = cold_latencies(index, lambda q: index._rank_now(list(dict.fromkeys(q_tokens[q.text])), 3, q.org_id)
                          if q_tokens[q.text] else [], qs)
    whole = cold_latencies(index, lambda q: index.decide(q.text, org_id=q.org_id), qs)

    # bm25s over the whole county: the shipped base, then every village entry, in one index
    shipped = load_shipped_entries()
    docs = [*shipped, *c.entries]
    ship_tokens = [tok.entry_tokens(e) for e in shipped]
    flat = [[t for fld in fields for t in fld] for fields in (*ship_tokens, *c.tokens)]
    t = time.perf_counter()
    retriever = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    retriever.index(flat, show_progress=False)
    bm25s_build_s = time.perf_counter() - t
    by_org: dict[int, list[int]] = {}
    for i, e in enumerate(c.entries, len(shipped)):
        assert e.org_id is not None
        by_org.setdefault(e.org_id, []).append(i)
    masks: dict[int, np.ndarray] = {}
    for q in qs:
        if q.org_id not in masks:
            own = by_org.get(q.org_id, [])
            replaced = {docs[i].id for i in own}
            mask = np.zeros(len(docs), dtype=np.float32)
            mask[[i for i, e in enumerate(shipped) if e.id not in replaced]] = 1.0
            mask[own] = 1.0
            masks[q.org_id] = mask

    def bm25s_top(tokens: list[str], org_id: int) -> list[int]:
        known = [t for t in tokens if t in retriever.vocab_dict]
        if not known:
            return []
        scores = retriever.get_scores(known, weight_mask=masks[org_id])
        top = np.argpartition(-scores, 3)[:3]
        return [int(i) for i in top[np.argsort(-scores[top])] if scores[i] > 0]

    bm25s_rank = cold_latencies(index, lambda q: bm25s_top(q_tokens[q.text], q.org_id), qs)
    bm25s_whole = cold_latencies(index, lambda q: bm25s_top(index.query_tokens(q.text, q.org_id)[1], q.org_id), qs)

    ours_hit = theirs_hit = agree = 0
    for q in qs:
        mine = index.search_tokens(q_tokens[q.text], 1, q.org_id)
        theirs = bm25s_top(q_tokens[q.text], q.org_id)
        a = mine[0].id if mine else None
        b = docs[theirs[0]].id if theirs else None
        ours_hit += a in q.expect
        theirs_hit += b in q.expect
        agree += a == b
    n = len(qs)
    return Result(len(c.entries), len(c.villages), (checked, min(300, len(c.entries))), ready, resegment_s, first,
                  index_all_s, whole, rank, bm25s_rank, bm25s_whole, bm25s_build_s, ours_hit / n, theirs_hit / n,
                  agree / n, n, embed)


def report(r: Result) -> str:
    w50, w99 = pct(r.whole, 50), pct(r.whole, 99)
    k50, k99 = pct(r.rank, 50), pct(r.rank, 99)
    b50, b99 = pct(r.bm25s_rank, 50), pct(r.bm25s_rank, 99)
    bw50, bw99 = pct(r.bm25s_whole, 50), pct(r.bm25s_whole, 99)
    ready = r.ready["ready_s"]
    lines = [
        f"county: {r.entries:,} village entries in {r.villages:,} villages (+ the shipped base); "
        f"{r.queries:,} questions asked with the asker's village; stored tokens equal to a fresh "
        f"segmentation on {r.tokens_checked[0]}/{r.tokens_checked[1]} sampled entries",
        "",
        "| measure | ours | baseline | baseline ÷ ours |",
        "| --- | ---: | ---: | ---: |",
        f"| whole query p50 ms (ours: decide; bm25s: our segmentation + rank) | {w50:.2f} | {bw50:.2f} "
        f"| {bw50 / w50:.2f}× |",
        f"| whole query p99 ms | {w99:.2f} | {bw99:.2f} | {bw99 / w99:.2f}× |",
        f"| rank only p50 ms (same tokens; bm25s) | {k50:.3f} | {b50:.3f} | {b50 / k50:.2f}× |",
        f"| rank only p99 ms | {k99:.3f} | {b99:.3f} | {b99 / k99:.2f}× |",
        f"| ready s after start (ours: stored tokens; baseline: re-segmenting every entry, from a sample) "
        f"| {ready:.2f} | {r.resegment_s + ready:.1f} | {(r.resegment_s + ready) / ready:.0f}× |",
        f"| hit@1 (ours; bm25s) | {r.hit_ours:.1%} | {r.hit_bm25s:.1%} | |",
        "",
        f"right after start (each village's entries indexed with its first question): whole query p50 "
        f"{pct(r.first, 50):.2f} ms, p99 {pct(r.first, 99):.2f} ms; indexing every village's entries at once: "
        f"{r.index_all_s:.1f} s.",
        f"the background embedding after start (`FaqService.embed_all`, what `run` starts): {r.embed[1]:,} "
        f"distinct phrasings in {r.embed[0]:.0f} s of one core, {r.embed[2]:.0f} MB more memory; the whole-query "
        "figures above are after it (before it, a village's first question also embeds its candidates' "
        "phrasings: the right-after-start figure).",
        f"top-1 agreement ours vs bm25s: {r.agreement:.1%}; ready: load() {r.ready['load_s']:.2f} s of "
        f"{ready:.2f} s, {int(r.ready['resegmented'])} entries segmented again; bm25s index built in "
        f"{r.bm25s_build_s:.1f} s",
    ]
    return "\n".join(lines)


_LAST: Result | None = None


def summary(n_entries: int = 100_000, n_queries: int = 2000) -> dict[str, float]:
    """The two figures bench/scale_bench.py prints (one run of `measure`, kept for the process)."""
    global _LAST
    if _LAST is None or _LAST.entries < n_entries * 0.9:
        _LAST = measure(n_entries, n_queries)
    return {"faq_ready_s_100k": round(_LAST.ready["ready_s"], 2),
            "faq_p99_ms_100k_county": round(pct(_LAST.whole, 99), 2)}


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=2000)
    args = ap.parse_args(argv)
    global _LAST
    _LAST = measure(args.entries, args.queries)
    print(report(_LAST))
    print(" ".join(f"{k}={v}" for k, v in summary(args.entries, args.queries).items()))


if __name__ == "__main__":
    main()
