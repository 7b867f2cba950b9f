"""FAQ engine speed and memory against rank_bm25's BM25Okapi, on synthetic corpora.

    python -m bench.faq_bench [--sizes 1000,10000,100000] [--quick] [--new-questions dev8]

Corpora are deterministic (seeded) recombinations of the shipped knowledge base: every synthetic
entry takes 3-5 real questions, 1-2 real tag sets and a real answer and swaps half of their words
for words drawn (by frequency) from the knowledge base's vocabulary; the real entries are included.
Entries are indexed from stored tokens (as a deployment would, instead of re-segmenting 100k
entries at start). Queries are the development-set questions (tests/data/faq_dev.jsonl).

Measured in one run, side by side (compare ratios, not absolute times across machines):
  whole query   FaqIndex.decide(text): normalise + segment + BM25 over both fields + decision, the
                second time each question is asked (its reading and its sentence vector remembered)
  new question  the same, each question as if never asked before (the index's remembered readings and
                the encoder's remembered question vectors cleared before each, not timed): what a
                village woman's question costs, the encoder's few milliseconds included where the
                decision needs them; on the held-out set's questions (tests/data/faq_test.jsonl, only
                timed here), as a group message and as a private question (its lower bars ask the
                encoder more often); and, in a group, with the question's sentence vector remembered: the
                decision's own work without the encoder's forward pass
  rank only     FaqIndex.search_tokens(tokens)
  rank_bm25     BM25Okapi(corpus).get_scores(tokens) + top-3, on the same tokens (all fields of an entry)
  build         FaqIndex.build from tokens / BM25Okapi(corpus)
  memory        tracemalloc of the index build (what the index adds to the entries it holds), the
                corpus (entries and their stored tokens), and the process RSS after the build (with
                jieba's dictionary, the corpus and rank_bm25 not yet built)
  time to ready a fresh interpreter: import, jieba + dictionary, index of the shipped base, first answer
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rank_bm25 import BM25Okapi

from bench.faq_quality import SETS, load_set
from services.faq_engine import DocTokens, Entry, FaqIndex, Tokenizer, get_tokenizer, load_shipped_entries

ROOT = Path(__file__).resolve().parent.parent


# --- corpus ----------------------------------------------------------------------------------------


@dataclass
class Corpus:
    entries: list[Entry]
    tokens: list[DocTokens]


def synthetic_corpus(size: int, tok: Tokenizer, seed: int = 20261122) -> Corpus:
    """`size` entries: the shipped ones plus seeded recombinations of their questions, tags and answers."""
    real = load_shipped_entries()
    real_tokens = [tok.entry_tokens(e) for e in real]
    questions: list[tuple[str, ...]] = []
    answers: list[tuple[str, ...]] = []
    tag_sets: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    q_freq: Counter[str] = Counter()
    a_freq: Counter[str] = Counter()
    for e, fields in zip(real, real_tokens, strict=True):
        n = len(e.questions)
        questions.extend(fields[:n])
        tag_sets.append((e.tags, fields[n]))
        answers.append(fields[n + 1])
        for q in fields[:n]:
            q_freq.update(q)
        a_freq.update(fields[n + 1])
    q_vocab, q_weights = zip(*q_freq.items(), strict=True)
    a_vocab, a_weights = zip(*a_freq.items(), strict=True)
    q_cum = list(np.cumsum(q_weights))
    a_cum = list(np.cumsum(a_weights))

    rng = random.Random(seed)

    def mutate(words: tuple[str, ...], vocab: Sequence[str], cum: list[float]) -> tuple[str, ...]:
        fresh = rng.choices(vocab, cum_weights=cum, k=len(words))
        return tuple(f if rng.random() < 0.5 else w for w, f in zip(words, fresh, strict=True))

    entries = list(real)
    tokens: list[DocTokens] = list(real_tokens)
    for i in range(max(0, size - len(real))):
        qs = [mutate(rng.choice(questions), q_vocab, q_cum) for _ in range(rng.randint(3, 5))]
        tags, tag_tokens = rng.choice(tag_sets)
        answer = mutate(rng.choice(answers), a_vocab, a_cum)
        entries.append(
            Entry(
                id=f"syn-{i}",
                questions=tuple("".join(q) + "？" for q in qs),
                answer="".join(answer) + "。",
                tags=tags,
                source="synthetic",
            )
        )
        tokens.append((*qs, tag_tokens, answer))
    return Corpus(entries[:size], tokens[:size])


# --- measuring -------------------------------------------------------------------------------------


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def latencies(fn: Callable[[str], object], queries: Sequence[str], warm: bool = True) -> list[float]:
    """Milliseconds per call; `warm`: one untimed pass first (the index's per-token cache filled)."""
    if warm:
        for q in queries:
            fn(q)
    out = []
    for q in queries:
        t = time.perf_counter_ns()
        fn(q)
        out.append((time.perf_counter_ns() - t) / 1e6)
    return out


def fresh_latencies(index: FaqIndex, queries: Sequence[str], private: bool = False,
                    keep_vectors: bool = False) -> list[float]:
    """Milliseconds per `decide` (`private`: a private chat's question), each question as if new: the
    index's remembered readings and the encoder's remembered question vectors cleared before it
    (untimed); per-token caches (score vectors, the encoder's token rows) stay. `keep_vectors`: the
    question's sentence vector stays remembered (the decision's own work, without the encoder's pass)."""
    from services.faq_semantic import get_semantic

    semantic = get_semantic()
    out = []
    for q in queries:
        for remembered in (index._read, getattr(index, "_lexical_seen", {}), getattr(index, "_ranked_seen", {}),
                           {} if keep_vectors else semantic._queries):  # (getattr: earlier versions too)
            remembered.clear()
        t = time.perf_counter_ns()
        if private:
            index.decide(q, private=True, lenient="private")
        else:
            index.decide(q)
        out.append((time.perf_counter_ns() - t) / 1e6)
    return out


def pct(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@dataclass
class Row:
    size: int
    build_s: float
    bm25_build_s: float
    index_mb: float
    entries_mb: float
    rss_mb: float
    cold: list[float]
    whole: list[float]
    fresh: list[float]
    fresh_private: list[float]
    own_work: list[float]
    rank: list[float]
    bm25: list[float]
    bm25_queries: int


def measure(size: int, tok: Tokenizer, queries: list[str], bm25_queries: int, trace: bool,
            fresh_queries: Sequence[str]) -> Row:
    gc.collect()
    tracemalloc.start()
    corpus = synthetic_corpus(size, tok)
    entries_mb = tracemalloc.get_traced_memory()[0] / 2**20
    tracemalloc.stop()

    gc.collect()
    build_s = timed(lambda: FaqIndex.build(corpus.entries, tok, doc_tokens=corpus.tokens))
    index_mb = float("nan")
    if trace:
        gc.collect()
        tracemalloc.start()
        traced = FaqIndex.build(corpus.entries, tok, doc_tokens=corpus.tokens)
        index_mb = tracemalloc.get_traced_memory()[0] / 2**20
        tracemalloc.stop()
        del traced
    gc.collect()
    index = FaqIndex.build(corpus.entries, tok, doc_tokens=corpus.tokens)
    rss = rss_mb()

    q_tokens = {q: tok.tokens(q) for q in queries}
    cold = latencies(index.decide, queries, warm=False)  # the first questions after start-up
    whole = latencies(index.decide, queries)
    # an untimed pass first: the entries' phrasings the questions meet are embedded (a deployment
    # embeds every phrasing in the background after start: `FaqService.embed_all`)
    fresh_latencies(index, fresh_queries)
    fresh_latencies(index, fresh_queries, private=True)
    fresh = fresh_latencies(index, fresh_queries)
    fresh_private = fresh_latencies(index, fresh_queries, private=True)
    fresh_latencies(index, fresh_queries, keep_vectors=True)  # every vector the group decision needs, made
    own_work = fresh_latencies(index, fresh_queries, keep_vectors=True)
    # the ranking itself, not the last rankings remembered per message (`FaqIndex._rank`)
    rank_now = getattr(index, "_rank_now", None)
    rank = latencies((lambda q: rank_now(list(dict.fromkeys(q_tokens[q])), 3, None) if q_tokens[q] else [])
                     if rank_now is not None else (lambda q: index.search_tokens(q_tokens[q])), queries)

    flat = [[t for field in fields for t in field] for fields in corpus.tokens]
    bm25: BM25Okapi | None = None

    def build_bm25() -> None:
        nonlocal bm25
        bm25 = BM25Okapi(flat)

    bm25_build_s = timed(build_bm25)
    assert bm25 is not None
    model = bm25

    def bm25_query(q: str) -> None:
        scores = model.get_scores(q_tokens[q])
        np.argpartition(-scores, 3)[:3]

    sample = queries[:: max(1, len(queries) // bm25_queries)][:bm25_queries]
    bm25_lat = latencies(bm25_query, sample)
    return Row(size, build_s, bm25_build_s, index_mb, entries_mb, rss, cold, whole, fresh, fresh_private, own_work,
               rank, bm25_lat, len(sample))


def time_to_ready() -> dict[str, float]:
    """A fresh interpreter: import, jieba + dictionaries, shipped index, first decision."""
    code = """
import json, time
t0 = time.perf_counter()
from services.faq_engine import FaqIndex, get_tokenizer, load_shipped_entries
t1 = time.perf_counter()
tok = get_tokenizer()
t2 = time.perf_counter()
index = FaqIndex.build(load_shipped_entries(), tok)
t3 = time.perf_counter()
index.decide("离婚后孩子抚养费给多少？")
t4 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "tokenizer_s": t2 - t1, "build_s": t3 - t2, "first_query_ms": (t4 - t3) * 1000,
                  "ready_s": t3 - t0, "entries": len(index)}))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


# --- report ----------------------------------------------------------------------------------------


def table(rows: Sequence[Row]) -> str:
    out = [
        "| entries | new question p50 / p99 ms (group) | new question p50 / p99 ms (private) "
        "| new question, group, without the encoder's pass p50 / p99 ms "
        "| whole query (asked again) p50 / p99 ms "
        "| first pass after build p50 / p99 ms | rank only p50 / p99 ms "
        "| rank_bm25 p50 / p99 ms (queries) | rank_bm25 ÷ whole (p50) | rank_bm25 ÷ first pass (p50) "
        "| build s (ours / rank_bm25) | index MB (tracemalloc) | corpus MB (entries + stored tokens) "
        "| process RSS MB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        c50, c99 = pct(r.cold, 50), pct(r.cold, 99)
        w50, w99 = pct(r.whole, 50), pct(r.whole, 99)
        f50, f99 = pct(r.fresh, 50), pct(r.fresh, 99)
        p50, p99 = pct(r.fresh_private, 50), pct(r.fresh_private, 99)
        o50, o99 = pct(r.own_work, 50), pct(r.own_work, 99)
        k50, k99 = pct(r.rank, 50), pct(r.rank, 99)
        b50, b99 = pct(r.bm25, 50), pct(r.bm25, 99)
        out.append(
            f"| {r.size:,} | {f50:.3f} / {f99:.3f} | {p50:.3f} / {p99:.3f} | {o50:.3f} / {o99:.3f} "
            f"| {w50:.3f} / {w99:.3f} "
            f"| {c50:.3f} / {c99:.3f} "
            f"| {k50:.3f} / {k99:.3f} "
            f"| {b50:.2f} / {b99:.2f} ({r.bm25_queries}) | {b50 / w50:.0f}× | {b50 / c50:.0f}× "
            f"| {r.build_s:.2f} / {r.bm25_build_s:.2f} "
            f"| {r.index_mb:.1f} | {r.entries_mb:.1f} | {r.rss_mb:.0f} |"
        )
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000,100000", help="comma-separated corpus sizes")
    ap.add_argument("--quick", action="store_true", help="fewer queries, no tracemalloc pass, no 100k")
    ap.add_argument("--queries", type=int, default=300, help="questions per size (the eval set cycled)")
    ap.add_argument("--new-questions", default="test", choices=SETS,
                    help="the question set timed as new questions (default: the held-out set)")
    args = ap.parse_args(argv)

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if args.quick:
        sizes = [s for s in sizes if s <= 10_000] or sizes[:1]
    evals = [row.q for row in load_set("dev")[0]]
    n_queries = 60 if args.quick else args.queries
    queries = [evals[i % len(evals)] for i in range(n_queries)]
    held_out = [row.q for row in load_set(args.new_questions)[0]]

    ready = time_to_ready()
    print("## Time to ready (fresh interpreter)\n")
    print("| import s | jieba + dictionaries s | index of the shipped base s | ready s | first question ms |")
    print("|---:|---:|---:|---:|---:|")
    print(
        f"| {ready['import_s']:.2f} | {ready['tokenizer_s']:.2f} | {ready['build_s']:.3f} | {ready['ready_s']:.2f} "
        f"| {ready['first_query_ms']:.2f} |"
    )
    print(f"\n({int(ready['entries'])} shipped entries)\n")

    tok = get_tokenizer()
    rows = []
    for size in sizes:
        bm25_queries = min(n_queries, 20 if size >= 50_000 else (30 if args.quick else n_queries))
        rows.append(measure(size, tok, queries, bm25_queries, trace=not args.quick, fresh_queries=held_out))
        print(f"measured {size:,} entries", file=sys.stderr)
    print(f"## Query latency and memory ({n_queries} eval questions per size)\n")
    print(table(rows))
    print(f"\nmedian whole-query latency over all sizes: {statistics.median(x for r in rows for x in r.whole):.3f} ms")


if __name__ == "__main__":
    main()
