from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from tests.harness import PG_HARNESS, PG_HARNESS_DBS, Harness, make_harness, restarted
from tests.pg_support import ENGINES, Databases, drop_databases_now

LAYERS = ("unit", "handler", "e2e")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test names its layer (module `pytestmark`, or a mark on the test for the odd one out),
    so that `pytest` (the fast layers) and `pytest -m '' -n 0` (everything) stay what the README says."""
    unmarked = [item.nodeid for item in items if not any(item.get_closest_marker(m) for m in LAYERS)]
    if unmarked:
        raise pytest.UsageError(f"tests without a layer mark ({', '.join(LAYERS)}): {unmarked[:5]}")


@pytest.fixture(autouse=True)
def _drop_pg_harness_databases() -> Iterator[None]:
    """With every harness on PostgreSQL: the databases a test's harnesses made go when it ends
    (autouse: torn down after the harness fixtures), so a run does not fill the disk."""
    if not PG_HARNESS:
        yield
        return
    before = set(PG_HARNESS_DBS)
    yield
    made = [key for key in PG_HARNESS_DBS if key not in before]
    drop_databases_now([PG_HARNESS_DBS.pop(key) for key in made])


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    """A harness on the demo organisation."""
    harness = await make_harness(tmp_path)
    yield harness
    await harness.app.shutdown()
    await harness.db.close()


@pytest.fixture
async def restart(tmp_path: Path) -> AsyncIterator[Callable[[Harness], Awaitable[Harness]]]:
    """`await restart(h)`: the same bot after a restart (a new Application on h's database)."""
    started: list[Harness] = []

    async def again(old: Harness) -> Harness:
        started.append(await restarted(old, tmp_path))
        return started[-1]

    yield again
    for harness in started:
        await harness.app.shutdown()
        await harness.db.close()


@pytest.fixture
async def fresh(tmp_path: Path) -> AsyncIterator[Harness]:
    """A harness on an empty database (the demo people exist, no organisation)."""
    harness = await make_harness(tmp_path, demo=False)
    yield harness
    await harness.app.shutdown()
    await harness.db.close()


@pytest.fixture(params=ENGINES)
async def dbs(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Databases]:
    """Database locations on each engine: SQLite files, and fresh PostgreSQL databases when
    TEST_DATABASE_URL names a server (tests/pg_support.py)."""
    found = Databases(request.param, tmp_path)
    yield found
    await found.cleanup()
