"""The one exception services raise for a refused request: a locale key and its parameters."""

from __future__ import annotations

from typing import Any


class Refusal(Exception):
    """A request the domain refuses; `key` names the locale string that explains why."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params

    def __reduce__(self) -> tuple[Any, ...]:  # pickled with its params (a refusal made in a child process)
        return (_refusal, (self.key, self.params))


def _refusal(key: str, params: dict[str, Any]) -> Refusal:
    return Refusal(key, **params)
