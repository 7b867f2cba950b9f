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

from services.faq_engine import FaqIndex, load_shipped_entries
from services.message_kind import Vocabulary, plan, small_talk_of, understand

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def load(name: str) -> list[dict[str, object]]:
    path = DATA / f"messages_{name}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def action_of(vocabulary: Vocabulary, text: str, private: bool) -> str:
    reading, decision = understand(vocabulary, text)
    return plan(reading, decision.kind, private)


def fit(vocabulary: Vocabulary, rows: list[dict[str, object]]) -> None:
    """Logistic regression of question (1) vs chatter (0) on the development set; prints WEIGHTS."""
    import numpy as np

    usable = [r for r in rows if r["kind"] in ("chatter", "question") and small_talk_of(str(r["text"])) is None]
    features = []
    for r in usable:
        text = str(r["text"])
        decision = vocabulary.index.decide(text)
        every, core, density = vocabulary.features(vocabulary.index.tokenizer.tokens(text))
        features.append([1.0, every, core, min(decision.confidence, 1.5), float(decision.kind == "answer"),
                         float(decision.kind == "suggest"), float(np.log1p(len(text))), density])
    x = np.array(features)
    y = np.array([r["kind"] == "question" for r in usable], dtype=float)
    w = np.zeros(x.shape[1])
    for _ in range(20_000):  # gradient descent, L2 on all but the bias
        p = 1 / (1 + np.exp(-x @ w))
        w -= 0.5 * (x.T @ (p - y) / len(y) + 0.01 * np.r_[0.0, w[1:]])
    print("WEIGHTS =", tuple(round(float(v), 2) for v in w))


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
        kind = row["kind"]
        where = "private" if private else "public"
        if kind == "chatter":
            quiet = action == "silent" if not private else action in ("small_talk", "not_for_us", "silent")
            count(f"chatter silent ({where})", quiet, row, action)
        elif kind == "question":
            count(f"question answered/suggested ({where})", action in ("answer", "suggest"), row, action)
            count(f"question not ignored ({where})", action in ("answer", "suggest", "decline_pass", "danger"),
                  row, action)
        elif kind == "danger":
            who = where if row.get("known", True) else "unknown woman"
            count(f"danger recall ({who})", action == "danger", row, action)
        elif kind == "lookalike":
            count("look-alike alarms avoided", action != "danger", row, action)
    if verbose:
        print("\n".join(sorted(misses)), file=sys.stderr)
    return {k: (v[0], v[1]) for k, v in sorted(tally.items())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", default="test", choices=("dev", "test"))
    parser.add_argument("-v", "--verbose", action="store_true", help="list every miss on stderr")
    parser.add_argument("--fit", action="store_true", help="fit the question weights on the dev set")
    args = parser.parse_args()
    vocabulary = Vocabulary(FaqIndex.build(load_shipped_entries()))
    if args.fit:
        fit(vocabulary, load("dev")[:406])  # the part with questions (see services/message_kind.py)
        return
    rows = load(args.set)
    started = time.perf_counter()
    results = evaluate(vocabulary, rows, args.verbose)
    per_message = (time.perf_counter() - started) / max(len(rows), 1) * 1000
    kinds = Counter(str(r["kind"]) for r in rows)
    print(f"message set: {args.set} ({len(rows)} messages: {dict(kinds)})")
    print("| measure | result | rate |")
    print("| --- | --- | --- |")
    for metric, (good, total) in results.items():
        print(f"| {metric} | {good}/{total} | {good / total:.1%} |")
    print(f"\nreading + deciding: {per_message:.2f} ms a message (mean, one core)")


if __name__ == "__main__":
    main()
