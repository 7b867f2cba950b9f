"""A small logistic model over named features, shipped as JSON and scored in pure Python.

Used for the two decisions a message needs before any ranking (services.danger: present danger;
services.message_kind: a question for us or chatter). Features are named: character n-grams
("g:打我") and what the rules or the knowledge base saw ("now", "topic_core"); a missing weight is 0.
Fitted by `bench/message_kinds.py` on the development message set only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

Features = Mapping[str, float]


def sigmoid(z: float) -> float:
    """The logistic function, clamped so that exp never overflows."""
    return 1.0 / (1.0 + math.exp(-max(min(z, 30.0), -30.0)))


@dataclass(frozen=True, slots=True)
class LogisticModel:
    bias: float
    weights: dict[str, float]
    thresholds: dict[str, float] = field(default_factory=dict)  # named decision points, e.g. "public"

    def logit(self, x: Features) -> float:
        return self.bias + sum(self.weights.get(name, 0.0) * value for name, value in x.items())

    def probability(self, x: Features) -> float:
        return sigmoid(self.logit(x))

    def to_dict(self) -> dict[str, object]:
        return {"bias": self.bias, "thresholds": self.thresholds, "weights": self.weights}

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> LogisticModel:
        weights, thresholds = d["weights"], d.get("thresholds") or {}
        if not isinstance(weights, dict) or not isinstance(thresholds, dict):
            raise ValueError("a model needs a weights object and a thresholds object")
        return cls(float(str(d["bias"])), {str(k): float(v) for k, v in weights.items()},
                   {str(k): float(v) for k, v in thresholds.items()})


def char_grams(text: str, sizes: tuple[int, ...]) -> dict[str, float]:
    """Binary features for the character n-grams of `text` (already folded and squeezed)."""
    return {f"g:{text[i:i + n]}": 1.0 for n in sizes for i in range(len(text) - n + 1)}


@cache
def shipped(name: str) -> LogisticModel | None:
    """A model shipped as package data (services/faq_data/<name>), or None when it is absent."""
    path = resources.files("services") / "faq_data" / name
    if not path.is_file():
        return None
    return LogisticModel.from_dict(json.loads(path.read_text(encoding="utf-8")))
