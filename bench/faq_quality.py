"""FAQ retrieval quality on the eval set: per-topic hit@1, overall numbers, threshold sweep, variants.

    python -m bench.faq_quality [--eval tests/data/faq_eval.jsonl] [--sweep] [--compare] [--misses]

hit@1: the decision is "answer" or "suggest" with the expected entry first, or "danger" with the
expected entry (a domestic-violence one) among the candidates. decline: an off-topic question
(expect null) gets "decline".
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from services.faq_engine import Decision, Entry, FaqIndex, Thresholds, Tokenizer, get_tokenizer, load_shipped_entries

EVAL_PATH = Path(__file__).resolve().parent.parent / "tests" / "data" / "faq_eval.jsonl"
DV_TAG = "家暴"


@dataclass
class Result:
    q: str
    expect: str | None
    decision: Decision

    @property
    def ids(self) -> list[str]:
        return [c.id for c in self.decision.candidates]


def load_eval(path: Path = EVAL_PATH) -> list[tuple[str, str | None]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(r["q"], r["expect"]) for r in rows]


def is_hit(r: Result, entries: dict[str, Entry]) -> bool:
    d = r.decision
    if r.expect is None:
        return False
    if d.kind in ("answer", "suggest"):
        return bool(d.candidates) and d.candidates[0].id == r.expect
    if d.kind == "danger":
        return DV_TAG in entries[r.expect].tags and r.expect in r.ids
    return False


def run(index: FaqIndex, evals: Sequence[tuple[str, str | None]], th: Thresholds | None = None) -> list[Result]:
    return [Result(q, expect, index.decide(q, thresholds=th)) for q, expect in evals]


@dataclass
class Summary:
    labelled: int
    hits: int
    answered: int
    answered_right: int
    off_topic: int
    declined: int

    @property
    def hit_rate(self) -> float:
        return self.hits / self.labelled if self.labelled else 0.0

    @property
    def decline_rate(self) -> float:
        return self.declined / self.off_topic if self.off_topic else 0.0

    @property
    def answer_precision(self) -> float:
        return self.answered_right / self.answered if self.answered else 1.0


def summarise(results: Sequence[Result], entries: dict[str, Entry]) -> Summary:
    lab = [r for r in results if r.expect is not None]
    off = [r for r in results if r.expect is None]
    answered = [r for r in results if r.decision.kind == "answer"]
    return Summary(
        labelled=len(lab),
        hits=sum(is_hit(r, entries) for r in lab),
        answered=len(answered),
        answered_right=sum(r.ids[0] == r.expect for r in answered),
        off_topic=len(off),
        declined=sum(r.decision.kind == "decline" for r in off),
    )


def per_tag_table(results: Sequence[Result], entries: dict[str, Entry]) -> str:
    rows: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        if r.expect is not None:
            for tag in entries[r.expect].tags:
                rows[tag].append(r)
    out = [
        "| topic (tag) | questions | hit@1 | answer | suggest | danger | decline |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for tag, rs in sorted(rows.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        kinds = [r.decision.kind for r in rs]
        hits = sum(is_hit(r, entries) for r in rs)
        out.append(
            f"| {tag} | {len(rs)} | {hits / len(rs):.2f} | {kinds.count('answer')} | {kinds.count('suggest')} "
            f"| {kinds.count('danger')} | {kinds.count('decline')} |"
        )
    return "\n".join(out)


def overall(s: Summary) -> str:
    return (
        f"labelled questions: {s.labelled}, hit@1 {s.hit_rate:.3f} ({s.hits}/{s.labelled}); "
        f"answered directly {s.answered} (precision {s.answer_precision:.3f}); "
        f"off-topic declined {s.decline_rate:.3f} ({s.declined}/{s.off_topic})"
    )


def sweep(index: FaqIndex, evals: Sequence[tuple[str, str | None]], entries: dict[str, Entry]) -> str:
    out = ["| suggest_conf | hit@1 | decline |", "|---:|---:|---:|"]
    for i in range(18, 46, 2):
        s = summarise(run(index, evals, Thresholds(suggest_conf=i / 100)), entries)
        out.append(f"| {i / 100:.2f} | {s.hit_rate:.3f} | {s.decline_rate:.3f} |")
    out += [
        "",
        "| answer_conf | answer_margin | answered | precision | off-topic answered |",
        "|---:|---:|---:|---:|---:|",
    ]
    for conf in (0.5, 0.6, 0.7, 0.8):
        for margin in (0.05, 0.1, 0.15, 0.2, 0.3):
            rs = run(index, evals, Thresholds(answer_conf=conf, answer_margin=margin))
            s = summarise(rs, entries)
            off = sum(r.expect is None and r.decision.kind == "answer" for r in rs)
            out.append(f"| {conf:.2f} | {margin:.2f} | {s.answered} | {s.answer_precision:.3f} | {off} |")
    return "\n".join(out)


def best_threshold(index: FaqIndex, evals: Sequence[tuple[str, str | None]], entries: dict[str, Entry]) -> str:
    """The suggest threshold that maximises hit@1 with decline ≥ 0.9 (for comparing variants fairly)."""
    best: tuple[float, float, float] | None = None
    for i in range(10, 80):
        s = summarise(run(index, evals, Thresholds(suggest_conf=i / 100)), entries)
        if s.decline_rate >= 0.9 and (best is None or s.hit_rate > best[1]):
            best = (i / 100, s.hit_rate, s.decline_rate)
    if best is None:
        return "— (decline never reaches 0.9)"
    return f"{best[1]:.3f} / {best[2]:.3f} at {best[0]:.2f}"


def compare(evals: Sequence[tuple[str, str | None]], entries_list: list[Entry]) -> str:
    entries = {e.id: e for e in entries_list}
    out = [
        "| tokens | answer weight | hit@1 / decline (shipped thresholds) | best hit@1 / decline (decline ≥ 0.9) |",
        "|---|---:|---|---|",
    ]
    for mode in ("cut", "search", "cut+sub", "cut+sub+bigram"):
        tok = get_tokenizer() if mode == "cut+sub" else Tokenizer(mode=mode)
        for weight in (0.0, 0.25, 1.0):
            index = FaqIndex.build(entries_list, tok, answer_weight=weight)
            s = summarise(run(index, evals), entries)
            out.append(
                f"| {mode} | {weight} | {s.hit_rate:.3f} / {s.decline_rate:.3f} | "
                f"{best_threshold(index, evals, entries)} |"
            )
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eval", type=Path, default=EVAL_PATH)
    ap.add_argument("--sweep", action="store_true", help="hit@1/decline for other thresholds")
    ap.add_argument("--compare", action="store_true", help="tokenisation modes × answer weights")
    ap.add_argument("--misses", action="store_true", help="list the questions that missed")
    args = ap.parse_args(argv)

    entries_list = load_shipped_entries()
    entries = {e.id: e for e in entries_list}
    evals = load_eval(args.eval)
    index = FaqIndex.build(entries_list)
    results = run(index, evals)
    print(per_tag_table(results, entries))
    print()
    print(overall(summarise(results, entries)))
    if args.misses:
        print()
        for r in results:
            d = r.decision
            if (r.expect is None and d.kind != "decline") or (r.expect is not None and not is_hit(r, entries)):
                print(f"- {r.q} → {d.kind} {r.ids[:2]} (want {r.expect}; "
                      f"conf {d.confidence:.2f}, margin {d.margin:.2f})")
    if args.sweep:
        print()
        print(sweep(index, evals, entries))
    if args.compare:
        print()
        print(compare(evals, entries_list))


if __name__ == "__main__":
    main()
