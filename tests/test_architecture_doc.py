"""ARCHITECTURE.md stays accurate: every module of the four layers is named on it, and every module
path it names exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("bot", "handlers", "services", "storage")
DOC = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")


def modules() -> list[Path]:
    return sorted(p.relative_to(ROOT) for layer in LAYERS for p in (ROOT / layer).rglob("*.py")
                  if p.name != "__init__.py" and "__pycache__" not in p.parts)


def named(module: Path) -> bool:
    """Named by its path in the layer (`review/cycle.py`), or by its file name in a line that also
    names its package (`package review/: … cycle.py …`)."""
    inner = Path(*module.parts[1:]).as_posix()
    if inner in DOC or module.as_posix() in DOC:
        return True
    if len(module.parts) > 2:
        package = module.parts[-2] + "/"
        return any(package in line and module.name in line for line in DOC.splitlines())
    return False


def test_every_module_is_named_in_the_architecture_page() -> None:
    unnamed = [m.as_posix() for m in modules() if not named(m)]
    assert not unnamed, f"name these in ARCHITECTURE.md: {unnamed}"


def test_every_module_path_the_page_names_exists() -> None:
    paths = set(re.findall(r"`((?:bot|handlers|services|storage|tests|bench)/[\w/]+\.py)", DOC))
    assert paths, "the page names module paths in backquotes"
    gone = sorted(p for p in paths if not (ROOT / p).exists())
    assert not gone, f"ARCHITECTURE.md names modules that do not exist: {gone}"
