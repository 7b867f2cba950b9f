"""FAQ decision quality on question sets written apart from the knowledge base (tests/data/):
faq_dev.jsonl … faq_dev9.jsonl to fit and tune on (entries and rules gained from
their misses), faq_calib.jsonl … faq_calib13.jsonl (held-out sets of earlier runs) to fit on and choose
the decision's bars on (never used to edit entries or rules), faq_test.jsonl held out (scored,
never fitted or tuned on); each with its organisation's own entries
(faq_<set>_org.jsonl, one phrasing each, as chairs write them), indexed for organisation EVAL_ORG and
asked from that organisation's chats, so shipped entries compete with them as they do in a village.

    python -m bench.faq_quality                    # the held-out test set
    python -m bench.faq_quality --set dev --misses # the development set, listing every miss
    python -m bench.faq_quality --fit              # fit faq_data/rerank_model.json and answer_model.json
                                                   # on every fitted set, bars on the calibration sets

A line: {"q", "expect": [entry ids, none for a near miss], "kind": on_topic|two|org|near_miss, "style"}.
direct right: the decision is "answer" (or "danger" with her question answered under the alarm) and its
entry is expected. precision: right answers / all
answers (near misses included). hit@k: an expected entry among the ranking's first k.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.message_kinds import FAQ_DATA, fit_logistic
from services.faq_engine import (
    ANSWER_MODEL,
    ANSWER_MODEL_LEXICAL,
    RERANK_K,
    RERANK_MODEL,
    RERANK_MODEL_LEXICAL,
    Entry,
    FaqIndex,
    load_shipped_entries,
    reload_not_covered_chars,
)
from services.faq_semantic import NOT_COVERED, NOT_COVERED_LEFT_OUT, get_semantic
from services.learned import LogisticModel

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
EVAL_ORG = 1
SETS = ("dev", "dev2", "dev3", "dev4", "dev5", "dev6", "dev7", "dev8", "dev9", "calib", "calib2", "calib3", "calib4",
        "calib5", "calib6", "calib7", "calib8", "calib9", "calib10", "calib11", "calib12",
        "calib13", "test")
# weights on all; bars on CALIBRATION
FITTED_ON = ("dev", "dev2", "dev3", "dev4", "dev5", "dev6", "dev7", "dev8", "dev9", "calib", "calib2", "calib3",
             "calib4", "calib5", "calib6", "calib7", "calib8", "calib9", "calib10", "calib11", "calib12",
             "calib13")
# never used to edit an entry or a rule
CALIBRATION = ("calib", "calib2", "calib3", "calib4", "calib5", "calib6", "calib7", "calib8", "calib9",
               "calib10", "calib11", "calib12", "calib13")
DEVELOPMENT = tuple(name for name in FITTED_ON if name not in CALIBRATION)  # their near misses: not_covered
ON_TOPIC = ("on_topic", "two", "org")
# Thresholds of the answer model (chosen on out-of-fold probabilities of the dev set):
L2 = 0.3  # the fit's ridge penalty (chosen out of fold on the development set among 0.1, 0.3, 1, 3)
MIN_PRECISION = 0.97  # of direct answers, near misses counted as wrong
MAX_NEAR_MISS_ANSWERED = 0.03
# The bar must keep MIN_PRECISION and MAX_NEAR_MISS_ANSWERED on the calibration sets pooled, and these
# looser floors on each set alone (chosen before set DD was written). Holding the pooled targets on
# each set alone made the bar hang on single questions: one near miss in 79 moved it from 0.92 to 0.96.
MIN_PRECISION_ONE_SET = 0.95
MAX_NEAR_MISS_ONE_SET = 0.05
# A near miss offered as "您是不是想问" costs her a tap on 都不是 (then a person gets it); an on-topic
# question declined costs her the answer until a person comes: the suggest threshold maximises
# (on-topic questions with the right entry offered) − NEAR_MISS_SUGGEST_COST × (near misses offered).
NEAR_MISS_SUGGEST_COST = 0.5
# A suggestion shows the first entry's answer at once when at least this share of such is right.
MIN_TENTATIVE_PRECISION = 0.85
# The same for a message already read as a question for us (services.message_kind): "lenient".
NEAR_MISS_SUGGEST_COST_LENIENT = 0.25
# In a private chat, below the lenient bar, candidates are offered and a person gets the question too.
NEAR_MISS_SUGGEST_COST_PRIVATE = 0.05
# The encoder is skipped where the lexical models (fitted without its features) are sure (decided before
# set FF was written): "sure_answer" is the lowest P at or above the answer bar at which the calibration
# sets, decided so, keep the whole decision's pooled precision and near-miss rate within these slacks and
# the floors on each set alone; "sure_decline" (and its "_lenient" twin, for the lower bar of a message
# read as a question for us) the highest P under which the right entry the whole decision would offer
# on that bar is lost for at most CASCADE_LOST_OFFERS of on-topic calibration questions (none at all left
# almost no decline skipped: one question in 2,000 the lexical decision is sure against is offered
# rightly). In a private chat she asked us: the encoder always has its say before she is declined (with
# no loss allowed, a hand-written question, 孕妇能不能干重活, still lost its offer there).
# (Half a point each until set HH was written: sets FF and GG then came out under 97% precision at their
# first runs, and this allowance was the one part of the decision spending precision on purpose.)
CASCADE_PRECISION_SLACK = 0.002
CASCADE_NEAR_MISS_SLACK = 0.002
CASCADE_LOST_OFFERS = 0.0025


@dataclass
class Row:
    q: str
    expect: list[str]
    kind: str
    style: str
    village: int = EVAL_ORG  # the organisation asked from (a set written by two people holds two villages)


def load_set(name: str) -> tuple[list[Row], list[Entry]]:
    rows = [json.loads(line) for line in (DATA / f"faq_{name}.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]
    orgs = [json.loads(line) for line in (DATA / f"faq_{name}_org.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]
    return ([Row(r["q"], list(r["expect"]), r["kind"], r.get("style", "plain"), int(r.get("village", EVAL_ORG)))
             for r in rows],
            [Entry.from_dict(o, org_id=int(o.get("village", EVAL_ORG))) for o in orgs])


def build_index(org_entries: Sequence[Entry]) -> FaqIndex:
    return FaqIndex.build([*load_shipped_entries(), *org_entries])


def evaluate(index: FaqIndex, rows: Sequence[Row], misses: bool = False) -> tuple[dict[str, tuple[int, int]], float]:
    """measure → (good, total), and the mean decision time in ms."""
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    lines: list[str] = []

    def count(name: str, good: bool) -> None:
        tally[name][0] += int(good)
        tally[name][1] += 1

    elapsed = 0.0
    for row in rows:
        started = time.perf_counter()
        d = index.decide(row.q, org_id=row.village)
        elapsed += time.perf_counter() - started
        ranked = [c.id for c in index.search(row.q, 3, row.village)]
        top = d.candidates[0].id if d.candidates else None
        # a danger message's own question answered under the alarm counts as answered (handlers.faq.asked_entry)
        answered = d.kind == "answer" or (d.kind == "danger" and d.answered)
        right = answered and top in row.expect
        if answered:
            count("precision of direct answers", right)
        if answered or (d.kind == "suggest" and d.tentative):
            count("precision of answers shown at once", top in row.expect)
        if row.kind == "near_miss":
            count("near misses answered directly (wrongly)", answered)
            count("near misses declined", d.kind == "decline")
            count("near misses with an answer shown (direct or tentative)",
                  answered or (d.kind == "suggest" and d.tentative))
            if misses and d.kind != "decline":
                lines.append(f"near miss   {d.kind:8} {top} {d.right:.2f} | {row.q}")
            continue
        count("direct answers, right (on-topic)", right)
        offered = d.kind in ("answer", "suggest", "danger") and any(c.id in row.expect for c in d.candidates)
        count("answered or suggested, right (on-topic)", offered)
        shown = (answered or (d.kind == "suggest" and d.tentative)) and top in row.expect
        count("right answer shown at once: direct or 您问的是不是 (on-topic)", shown)
        count("hit@1", bool(ranked) and ranked[0] in row.expect)
        count("hit@3", any(i in row.expect for i in ranked))
        if row.kind == "org":
            count("own entries hit@1", bool(ranked) and ranked[0] in row.expect)
            count("own entries hit@3", any(i in row.expect for i in ranked))
            # answered directly with it, or shown after the shipped answer or alarm on its matter
            # (handlers.faq: 本村的具体安排, 本村的求助办法)
            count("own entries answered directly (first)", right)
            after = index.village_entry_after(d, row.village)
            count("own entries answered directly (first, or after the shipped answer on its matter)",
                  right or (after is not None and after.id in row.expect))
        if row.kind == "two":
            answered_ids = {d.best.id} if answered and d.best is not None else set()
            if answered and d.also is not None and d.also[2]:
                answered_ids.add(d.also[1].id)
            offered_ids = {c.id for c in d.candidates} | answered_ids | ({d.also[1].id} if d.also else set())
            count("two questions: both answered directly", set(row.expect) <= answered_ids)
            count("two questions: both answered or offered", set(row.expect) <= offered_ids)
        hard = "two" if row.kind == "two" else row.style
        if hard in ("long_story", "two", "dialect", "typo", "pinyin", "traditional", "voice"):
            count(f"direct right: {hard}", right)
        if misses and not right:
            lines.append(f"{row.kind:11} {d.kind:8} {top} {d.right:.2f} want {row.expect} | {row.q}")
    if misses:
        print("\n".join(sorted(lines)), file=sys.stderr)
    return {k: (v[0], v[1]) for k, v in sorted(tally.items())}, elapsed / max(len(rows), 1) * 1000


def fit_rerank(sets: Sequence[tuple[FaqIndex, Sequence[Row]]], report: bool = True,
               semantic: bool = True) -> LogisticModel:
    """P(this candidate is an expected entry) over `FaqIndex.rerank_features` of BM25's first RERANK_K,
    for the on-topic questions whose expected entry is among them; with `report`, hit@1 out of fold
    (folds by question) against BM25's order goes to stderr."""
    import random

    groups: list[tuple[list[dict[str, float]], list[bool]]] = []
    for index, row in ((index, row) for index, rows in sets for row in rows):
        if row.kind == "near_miss":
            continue
        text, tokens = index.query_tokens(row.q, row.village)
        candidates = index.search_tokens(tokens, RERANK_K, row.village)
        labels = [c.id in row.expect for c in candidates]
        if len(candidates) > 1 and any(labels):
            groups.append((index.rerank_features(text, tokens, candidates, row.village, semantic=semantic),
                           labels))
    if not report:
        return fit_logistic([x for xs, _ in groups for x in xs], [v for _, y in groups for v in y], L2, False)
    order = list(range(len(groups)))
    random.Random(7).shuffle(order)
    folds = 5
    right = 0
    for k in range(folds):
        out = set(order[k::folds])
        xs = [x for i in order if i not in out for x in groups[i][0]]
        y = [v for i in order if i not in out for v in groups[i][1]]
        model = fit_logistic(xs, y, L2, False)
        for i in out:
            xs_i, labels = groups[i]
            best = max(range(len(xs_i)), key=lambda j: (model.probability(xs_i[j]), -j))
            right += labels[best]
    bm25 = sum(labels[0] for _, labels in groups)
    print(f"re-ranking, out of fold: first right {right}/{len(groups)} against BM25's {bm25}", file=sys.stderr)
    return fit_logistic([x for xs, _ in groups for x in xs], [v for _, y in groups for v in y], L2, False)


def decision_rows(sets: Sequence[tuple[FaqIndex, Sequence[Row]]], rerank: LogisticModel | None,
                  names: Sequence[str] = (), semantic: bool = True) -> list[tuple[dict[str, float], bool, str]]:
    """(`FaqIndex.fit_features`, the first entry is expected, kind) of every question with a candidate,
    ranked with `rerank`; a set named in `names` is compared with the not-covered list without its own
    near misses (`faq_semantic.NOT_COVERED_LEFT_OUT`)."""
    out = []
    for i, (index, rows) in enumerate(sets):
        token = NOT_COVERED_LEFT_OUT.set(names[i] if i < len(names) else None)
        try:
            for row in rows:
                text, tokens = index.query_tokens(row.q, row.village)
                candidates = index.ranked(text, tokens, 3, row.village, rerank, semantic=semantic)
                if candidates:
                    out.append((index.fit_features(text, candidates, tokens, row.village, semantic=semantic),
                                candidates[0].id in row.expect, row.kind))
        finally:
            NOT_COVERED_LEFT_OUT.reset(token)
    return out


def write_not_covered(names: Sequence[str]) -> int:
    """`faq_semantic.NOT_COVERED` from the near misses of the development sets `names` (never the
    calibration or test sets) → how many."""
    lines = [json.dumps({"q": row.q, "from": name}, ensure_ascii=False)
             for name in names for row in load_set(name)[0] if row.kind == "near_miss"]
    NOT_COVERED.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return len(lines)


@dataclass(frozen=True)
class HeldOut:
    """A calibration question decided by models fitted without its set: the whole decision's P and
    whether its first entry is expected, and the same by the lexical models (no encoder)."""

    set: str
    kind: str
    p: float
    ok: bool
    p_lexical: float
    ok_lexical: bool


def held_out_by_set(named: Sequence[tuple[str, FaqIndex, Sequence[Row]]]) -> list[HeldOut]:
    """Each calibration question as a new writer's would be: its set left out of both fits, the
    re-ranking's and the decision's (with and without the encoder). Random folds let a writer's other
    questions into the fits, and the bars they chose over-promised on the next held-out sets (97%
    precision chosen, 94–96% found on sets W and Y)."""
    out = []
    for name in (n for n, _, _ in named if n in CALIBRATION):
        others = [(index, rows) for n, index, rows in named if n != name]
        names = [n for n, _, _ in named if n != name]
        own = [(index, rows) for n, index, rows in named if n == name]
        decided = []
        for semantic in (True, False):
            rerank = fit_rerank(others, report=False, semantic=semantic)
            train = decision_rows(others, rerank, names, semantic)
            model = fit_logistic([x for x, _, _ in train], [ok for _, ok, _ in train], L2, False)
            decided.append([(model.probability(x), ok, kind) for x, ok, kind
                            in decision_rows(own, rerank, [name], semantic)])
        out += [HeldOut(name, kind, p, ok, p_lexical, ok_lexical)
                for (p, ok, kind), (p_lexical, ok_lexical, _) in zip(*decided, strict=True)]
    return out


def cascade_bars(calibration: Sequence[HeldOut], answer_at: float, suggest: dict[str, float]) -> dict[str, float]:
    """The lexical models' bars (see CASCADE_PRECISION_SLACK): "sure_answer", and "sure_decline…" for
    each suggestion bar in `suggest` (name → bar)."""

    def figures(rows: Sequence[HeldOut], sure: float, unsure: float) -> tuple[float, float]:
        """(precision of direct answers, near misses answered) with the lexical P used outside [unsure, sure)."""
        answered = right = near = near_answered = 0
        for r in rows:
            p, ok = (r.p_lexical, r.ok_lexical) if r.p_lexical >= sure or r.p_lexical < unsure else (r.p, r.ok)
            answered += p >= answer_at
            right += p >= answer_at and ok
            near += r.kind == "near_miss"
            near_answered += r.kind == "near_miss" and p >= answer_at
        return right / max(answered, 1), near_answered / max(near, 1)

    whole_precision, whole_near = figures(calibration, 2.0, -1.0)
    sure_answer = 1.0
    print("| lexical sure answer from | precision | near misses answered | encoder skipped (sure answers) |",
          file=sys.stderr)
    for step in range(99, round(answer_at * 100) - 1, -1):
        t = step / 100
        precision, near = figures(calibration, t, -1.0)
        print(f"| {t:.2f} | {precision:.4f} | {near:.4f} | "
              f"{sum(r.p_lexical >= t for r in calibration) / max(len(calibration), 1):.3f} |", file=sys.stderr)
        alone = [figures([r for r in calibration if r.set == name], t, -1.0) for name in CALIBRATION]
        if (precision >= whole_precision - CASCADE_PRECISION_SLACK and near <= whole_near + CASCADE_NEAR_MISS_SLACK
                and all(p >= MIN_PRECISION_ONE_SET and n <= MAX_NEAR_MISS_ONE_SET for p, n in alone)):
            sure_answer = t
    bars = {"sure_answer": sure_answer}
    on_topic = sum(r.kind != "near_miss" for r in calibration)
    for name, bar in suggest.items():
        sure_decline = 0.0
        for step in range(1, round(answer_at * 100)):
            t = step / 100
            lost = sum(r.kind != "near_miss" and r.p_lexical < t and r.ok and r.p >= bar
                       and not (r.ok_lexical and r.p_lexical >= bar) for r in calibration)
            if lost > CASCADE_LOST_OFFERS * on_topic:
                break
            sure_decline = t
        bars[name] = sure_decline
        skipped = sum(r.p_lexical >= sure_answer or r.p_lexical < sure_decline for r in calibration)
        print(f"encoder skipped ({name}): sure answer from {sure_answer:.2f}, sure decline under "
              f"{sure_decline:.2f}: {skipped}/{len(calibration)} calibration questions; precision, near misses "
              f"{figures(calibration, sure_answer, sure_decline)} against {(whole_precision, whole_near)}",
              file=sys.stderr)
    return bars


def fit(sets: Sequence[tuple[FaqIndex, Sequence[Row]]], rerank: LogisticModel | None = None,
        rerank_lexical: LogisticModel | None = None) -> tuple[LogisticModel, LogisticModel]:
    """P(the top entry answers the question) over `FaqIndex.fit_features`, fitted on every set; thresholds
    from the calibration sets' questions only, each predicted by models fitted without its set
    (`held_out_by_set`; CALIBRATION: written
    apart from the knowledge base and never used to edit it, so its questions are as far from the
    entries' phrasings as a village's are; the development set's are closer, since entries gained
    phrasings from its misses, and a bar chosen on them answers fresh questions too readily):
    answer = the lowest with precision ≥ MIN_PRECISION and near misses answered ≤ MAX_NEAR_MISS_ANSWERED
    pooled, and the looser MIN_PRECISION_ONE_SET / MAX_NEAR_MISS_ONE_SET on each calibration set alone;
    suggest = the best trade of on-topic questions whose top entry is right against near misses
    (NEAR_MISS_SUGGEST_COST). With it, the same fitted without the encoder's features, with the bars
    where it decides alone (`cascade_bars`)."""
    fitted = decision_rows(sets, rerank, FITTED_ON)
    fitted_xs, fitted_y = [x for x, _, _ in fitted], [ok for _, ok, _ in fitted]
    calibration = held_out_by_set([(name, index, rows) for name, (index, rows)
                                   in zip(FITTED_ON, sets, strict=True)])
    which = [r.set for r in calibration]
    held = [r.p for r in calibration]
    y = [r.ok for r in calibration]
    kinds = [r.kind for r in calibration]
    near = [p for p, k in zip(held, kinds, strict=True) if k == "near_miss"]
    good = [p for p, k, ok in zip(held, kinds, y, strict=True) if k != "near_miss" and ok]
    on_topic = sum(k != "near_miss" for k in kinds)

    def fails_on(t: float) -> str | None:
        """The first calibration set on which the answer bar falls below the floors for one set (a bar
        chosen on them pooled alone answered 5% of one set's near misses), with its figures; None: kept
        on each."""
        for name in CALIBRATION:
            above = [ok for p, ok, w in zip(held, y, which, strict=True) if w == name and p >= t]
            near_one = [p for p, k, w in zip(held, kinds, which, strict=True) if w == name and k == "near_miss"]
            precision = sum(above) / len(above) if above else 1.0
            near_answered = sum(p >= t for p in near_one)
            if precision < MIN_PRECISION_ONE_SET or (
                    near_one and near_answered / len(near_one) > MAX_NEAR_MISS_ONE_SET):
                return (f"{name}: precision {sum(above)}/{len(above)}, near misses answered "
                        f"{near_answered}/{len(near_one)}")
        return None

    print("| threshold | answered | precision | near misses answered | on-topic right above | a set alone fails |",
          file=sys.stderr)
    answer_at, suggest_at, best_j, lenient_at, best_lenient = 0.95, 0.5, -1.0, 0.5, -1.0
    private_at, best_private = 0.5, -1.0
    for step in range(99, 4, -1):
        t = step / 100
        above = [ok for p, ok in zip(held, y, strict=True) if p >= t]
        precision = sum(above) / len(above) if above else 1.0
        near_share = sum(p >= t for p in near) / max(len(near), 1)
        good_share = sum(p >= t for p in good) / max(on_topic, 1)
        failing = fails_on(t)
        print(f"| {t:.2f} | {len(above)} | {precision:.3f} | {near_share:.3f} | {good_share:.3f} | {failing or ''} |",
              file=sys.stderr)
        if precision >= MIN_PRECISION and near_share <= MAX_NEAR_MISS_ANSWERED and failing is None:
            answer_at = t
        j = good_share - NEAR_MISS_SUGGEST_COST * near_share
        if j > best_j:
            suggest_at, best_j = t, j
        j = good_share - NEAR_MISS_SUGGEST_COST_LENIENT * near_share
        if j > best_lenient:
            lenient_at, best_lenient = t, j
        j = good_share - NEAR_MISS_SUGGEST_COST_PRIVATE * near_share
        if j > best_private:
            private_at, best_private = t, j
    # Below the answer bar: the answer is shown under "您问的是不是：…" with the other choices as buttons,
    # from the lowest bar at which the questions between it and the answer bar are still
    # MIN_TENTATIVE_PRECISION right.
    tentative_at = answer_at
    for step in range(round(answer_at * 100) - 1, 4, -1):
        t = step / 100
        band = [ok for p, ok in zip(held, y, strict=True) if t <= p < answer_at]
        if band and sum(band) / len(band) >= MIN_TENTATIVE_PRECISION:
            tentative_at = t
    print(f"tentative from {tentative_at:.2f}", file=sys.stderr)
    model = fit_logistic(fitted_xs, fitted_y, L2, False)
    suggest_at = min(suggest_at, answer_at)
    lenient_at = min(lenient_at, suggest_at)
    private_at = min(private_at, lenient_at)
    cascade = cascade_bars(calibration, answer_at, {"sure_decline": suggest_at, "sure_decline_lenient": lenient_at})
    lexical_rows = decision_rows(sets, rerank_lexical, FITTED_ON, semantic=False)
    lexical = fit_logistic([x for x, _, _ in lexical_rows], [ok for _, ok, _ in lexical_rows], L2, False)
    return (LogisticModel(model.bias, model.weights, {
                "answer": answer_at, "tentative": max(tentative_at, suggest_at), "suggest": suggest_at,
                "suggest_lenient": lenient_at, "suggest_private": private_at}),
            LogisticModel(lexical.bias, lexical.weights, cascade))


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", default="test", choices=SETS)
    ap.add_argument("--misses", action="store_true", help="list every miss on stderr")
    ap.add_argument("--fit", action="store_true", help=f"fit services/faq_data/{ANSWER_MODEL} on the dev set")
    args = ap.parse_args(argv)
    if args.fit:
        print(f"{NOT_COVERED.name}: {write_not_covered(DEVELOPMENT)} near misses", file=sys.stderr)
        get_semantic().reload_not_covered()
        reload_not_covered_chars()
        sets = [(build_index(org), rows) for rows, org in (load_set(name) for name in FITTED_ON)]
        rerank = fit_rerank(sets)
        rerank_lexical = fit_rerank(sets, semantic=False)
        model, lexical = fit(sets, rerank, rerank_lexical)
        for name, fitted in ((RERANK_MODEL, rerank), (RERANK_MODEL_LEXICAL, rerank_lexical),
                             (ANSWER_MODEL, model), (ANSWER_MODEL_LEXICAL, lexical)):
            (FAQ_DATA / name).write_text(
                json.dumps(fitted.to_dict(), ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
            print(f"{name}: {fitted.weights}, thresholds {fitted.thresholds}")
        return
    rows, org_entries = load_set(args.set)
    results, ms = evaluate(build_index(org_entries), rows, args.misses)
    print(f"question set: {args.set} ({len(rows)} questions, {len(org_entries)} own entries)")
    print("| measure | result | rate |")
    print("| --- | --- | --- |")
    for name, (good, total) in results.items():
        print(f"| {name} | {good}/{total} | {good / total:.1%} |")
    print(f"\ndecision: {ms:.2f} ms a question (mean, one core)")


if __name__ == "__main__":
    main()
