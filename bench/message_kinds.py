"""What the bot does with each kind of message: chatter silence, unmarked questions answered,
danger recall and look-alike alarms, on a message set written apart from the code and the
knowledge base (tests/data/messages_dev.jsonl to tune on, tests/data/messages_test.jsonl held out).

    python -m bench.message_kinds                 # the held-out test set
    python -m bench.message_kinds --set dev -v    # the development set, listing every miss

Each line: {"text", "chat": public|private, "kind": chatter|question|danger|lookalike, "known"}.
The bot's action is `services.message_kind.plan` over `read` and the FAQ decision, exactly as the
handler (handlers/faq.py) takes it. A danger message counts as recalled when the action is "danger"
(110 and 12338 at the top; the alert goes to the member on duty, or to the county's super admins
when her village is unknown: tests/test_safety.py checks that path end to end).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from services.danger import MODEL_FILE as DANGER_MODEL
from services.danger import features as danger_features
from services.faq_engine import FaqIndex, load_shipped_entries
from services.learned import LogisticModel
from services.message_kind import (
    QUESTION_MODEL,
    Vocabulary,
    also_look,
    plan,
    question_features,
    small_talk_of,
    understand,
)

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def load(name: str, path: Path | None = None) -> list[dict[str, object]]:
    path = path or DATA / f"messages_{name}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def action_of(vocabulary: Vocabulary, text: str, private: bool) -> str:
    """The plan's action; "+look" when a person is asked to look as well (a group's question of concern)."""
    reading, decision = understand(vocabulary, text, private=private)
    action = plan(reading, decision.kind, private, decision.long_shot)
    return f"{action}+look" if also_look(reading, action, private) else action


FLAGGED = ("danger", "concern", "suggest_concern", "look")


def flagged(action: str) -> bool:
    """A person was alarmed or asked to look."""
    return action in FLAGGED or action.endswith("+look")


FAQ_DATA = Path(__file__).resolve().parent.parent / "services" / "faq_data"
# Cross-validated limits when a threshold is chosen per chat. Danger: look-alike alarms (in a private
# chat she wrote to us on purpose and an alarm costs less than a miss) and alarms on everything else.
DANGER_MAX_LOOKALIKE = {"public": 0.05, "private": 0.08}
DANGER_MAX_OTHER = {"public": 0.01, "private": 0.03}
# Question: how much chatter may be taken for a question (the group must stay quiet).
QUESTION_MAX_CHATTER = {"public": 0.03, "private": 0.10}
FOLDS = 5


def fit_logistic(xs: list[dict[str, float]], y: list[bool], l2: float, balanced: bool = False) -> LogisticModel:
    """L2 logistic regression by full-batch gradient descent; features seen fewer than twice are dropped."""
    import numpy as np

    seen = Counter(name for x in xs for name in x)
    names = sorted(name for name, n in seen.items() if n >= 2)
    column = {name: i for i, name in enumerate(names)}
    matrix = np.zeros((len(xs), len(names) + 1))
    matrix[:, -1] = 1.0
    for i, x in enumerate(xs):
        for name, value in x.items():
            if name in column:
                matrix[i, column[name]] = value
    target = np.array(y, dtype=float)
    weight = np.ones(len(y))
    if balanced:
        weight[target == 1] = (target == 0).sum() / max(target.sum(), 1)
    w = np.zeros(matrix.shape[1])
    for _ in range(1500):
        p = 1 / (1 + np.exp(-matrix @ w))
        w -= 1.0 * (matrix.T @ ((p - target) * weight) / len(y) + l2 / len(y) * np.r_[w[:-1], 0.0])
    weights = {name: round(float(w[i]), 3) for name, i in column.items() if abs(w[i]) >= 0.005}
    return LogisticModel(round(float(w[-1]), 3), weights)


def out_of_fold(xs: list[dict[str, float]], y: list[bool], l2: float, balanced: bool) -> list[float]:
    """Each row's probability from a model fitted without its fold."""
    import random

    order = list(range(len(xs)))
    random.Random(7).shuffle(order)
    held = [0.0] * len(xs)
    for k in range(FOLDS):
        out = set(order[k::FOLDS])
        inside = [i for i in order if i not in out]
        model = fit_logistic([xs[i] for i in inside], [y[i] for i in inside], l2, balanced)
        for i in out:
            held[i] = model.probability(xs[i])
    return held


def choose_threshold(positive: list[float], limits: list[tuple[list[float], float]], label: str) -> float:
    """The lowest threshold (5-point steps from 0.15: lower ones rest on a handful of rows) with the
    highest recall of `positive` while each list of negatives in `limits` stays at or under its share
    above the threshold; the sweep goes to stderr."""
    best = (-1.0, 0.5)
    for step in range(15, 96, 5):
        t = step / 100
        recall = sum(p >= t for p in positive) / max(len(positive), 1)
        shares = [sum(p >= t for p in negatives) / max(len(negatives), 1) for negatives, _ in limits]
        print(f"| {label} | {t:.2f} | {recall:.3f} | " + " | ".join(f"{v:.3f}" for v in shares) + " |",
              file=sys.stderr)
        if all(v <= most for v, (_, most) in zip(shares, limits, strict=True)) and recall > best[0]:
            best = (recall, t)
    return best[1]


def fit_danger(rows: list[dict[str, object]]) -> LogisticModel:
    """Danger vs everything else; thresholds per chat from out-of-fold probabilities."""
    xs = [danger_features(str(r["text"])) for r in rows]
    y = [r["kind"] == "danger" for r in rows]
    held = out_of_fold(xs, y, 1.0, False)
    ruled = [x.get("r:any", 0.0) > 0 for x in xs]
    thresholds: dict[str, float] = {}
    print("| chat | with a rule | model alone | danger recall | look-alike alarms | other alarms |", file=sys.stderr)
    for chat in ("public", "private"):
        # Two bars: where a rule fired the model only has to agree (low); alone it must be sure (high).
        index = {k: [i for i, r in enumerate(rows) if r["chat"] == chat and r["kind"] in k]
                 for k in (("danger",), ("lookalike",), ("chatter", "question"))}
        best: tuple[float, float, float] | None = None
        for low in range(15, 96, 5):
            for high in range(low, 101, 5):
                def alarm(i: int, low: int = low, high: int = high) -> bool:
                    return held[i] >= (low if ruled[i] else high) / 100
                recall, alike, other = (sum(map(alarm, index[k])) / max(len(index[k]), 1) for k in index)
                if alike > DANGER_MAX_LOOKALIKE[chat] or other > DANGER_MAX_OTHER[chat]:
                    continue
                if best is None or (recall, high) > (best[0], best[2]):  # ties: the stricter bar alone
                    best = (recall, low / 100, high / 100)
                    print(f"| {chat} | {low / 100:.2f} | {high / 100:.2f} | {recall:.3f} | {alike:.3f} | {other:.3f} |",
                          file=sys.stderr)
        recall, low_at, high_at = best if best is not None else (0.0, 0.5, 0.9)
        thresholds[chat], thresholds[f"{chat}_alone"] = low_at, high_at
    model = fit_logistic(xs, y, 1.0, False)
    return LogisticModel(model.bias, model.weights, thresholds)


def fit_questions(vocabulary: Vocabulary, rows: list[dict[str, object]]) -> LogisticModel:
    """Question vs chatter (small talk and danger left out: they are decided before); balanced classes."""
    usable = [r for r in rows if r["kind"] in ("chatter", "question") and small_talk_of(str(r["text"])) is None]
    xs = [question_features(vocabulary, str(r["text"]), vocabulary.index.decide(str(r["text"]))) for r in usable]
    y = [r["kind"] == "question" for r in usable]
    held = out_of_fold(xs, y, 0.3, True)
    print("| chat | threshold | questions taken | chatter taken |", file=sys.stderr)
    thresholds = {}
    for chat in ("public", "private"):
        def of(kind: str, chat: str = chat) -> list[float]:
            return [held[i] for i, r in enumerate(usable) if r["chat"] == chat and r["kind"] == kind]
        thresholds[chat] = choose_threshold(of("question"), [(of("chatter"), QUESTION_MAX_CHATTER[chat])], chat)
    model = fit_logistic(xs, y, 0.3, True)
    return LogisticModel(model.bias, model.weights, thresholds)


def write_model(name: str, model: LogisticModel) -> None:
    path = FAQ_DATA / name
    path.write_text(json.dumps(model.to_dict(), ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{name}: {len(model.weights)} weights, thresholds {model.thresholds}")


def evaluate(
    vocabulary: Vocabulary, rows: list[dict[str, object]], verbose: bool = False
) -> dict[str, tuple[int, int]]:
    """metric → (good, total)."""
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    misses: list[str] = []

    def count(metric: str, good: bool, row: dict[str, object], action: str) -> None:
        tally[metric][0] += int(good)
        tally[metric][1] += 1
        if not good:
            misses.append(f"{metric:28} {action:12} {row['chat']:7} {row['text']}")

    for row in rows:
        text, private = str(row["text"]), row["chat"] == "private"
        action = action_of(vocabulary, text, private)
        reply = action.removesuffix("+look")
        kind = row["kind"]
        where = "private" if private else "public"
        if kind == "chatter":
            quiet = action == "silent" if not private else action in ("small_talk", "not_for_us", "silent")
            count(f"chatter silent ({where})", quiet, row, action)
            count("chatter not flagged to a person", not flagged(action), row, action)
        elif kind == "question":
            count(f"question answered/suggested ({where})",
                  reply in ("answer", "suggest", "suggest_pass", "suggest_concern"), row, action)
            count(f"question not ignored ({where})",
                  reply in ("answer", "suggest", "suggest_pass", "suggest_concern", "decline_pass", "danger",
                            "concern"),
                  row, action)
            count("questions not flagged to a person (the cost of concern)", not flagged(action), row, action)
        elif kind == "danger":
            who = where if row.get("known", True) else "unknown woman"
            count(f"danger recall ({who})", action == "danger", row, action)
            count(f"danger flagged to a person, alarm or look ({who})",
                  flagged(action), row, action)
        elif kind == "lookalike":
            count("look-alike alarms avoided", action != "danger", row, action)
            count("look-alikes not flagged to a person",
                  not flagged(action), row, action)
    if verbose:
        print("\n".join(sorted(misses)), file=sys.stderr)
    return {k: (v[0], v[1]) for k, v in sorted(tally.items())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", default="test", choices=("dev", "test"))
    parser.add_argument("--file", help="score this JSONL message set instead (a new held-out set, once)")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every miss on stderr")
    parser.add_argument("--fit", action="store_true",
                        help=f"fit both models on the dev set → services/faq_data/{DANGER_MODEL}, {QUESTION_MODEL}")
    args = parser.parse_args()
    vocabulary = Vocabulary(FaqIndex.build(load_shipped_entries()))
    if args.fit:
        write_model(DANGER_MODEL, fit_danger(load("dev")))
        write_model(QUESTION_MODEL, fit_questions(vocabulary, load("dev")))
        return
    rows = load(args.set, Path(args.file) if args.file else None)
    started = time.perf_counter()
    results = evaluate(vocabulary, rows, args.verbose)
    per_message = (time.perf_counter() - started) / max(len(rows), 1) * 1000
    kinds = Counter(str(r["kind"]) for r in rows)
    print(f"message set: {args.file or args.set} ({len(rows)} messages: {dict(kinds)})")
    print("| measure | result | rate |")
    print("| --- | --- | --- |")
    for metric, (good, total) in results.items():
        print(f"| {metric} | {good}/{total} | {good / total:.1%} |")
    print(f"\nreading + deciding: {per_message:.2f} ms a message (mean, one core)")


if __name__ == "__main__":
    main()
