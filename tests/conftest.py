from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.harness import Harness, make_harness


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    """A harness on the demo organisation."""
    harness = await make_harness(tmp_path)
    yield harness
    await harness.app.shutdown()
    await harness.db.close()


@pytest.fixture
async def fresh(tmp_path: Path) -> AsyncIterator[Harness]:
    """A harness on an empty database (the demo people exist, no organisation)."""
    harness = await make_harness(tmp_path, demo=False)
    yield harness
    await harness.app.shutdown()
    await harness.db.close()
