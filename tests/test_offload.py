"""services.offload: a big import's segmentation in a child process gives exactly the tokens the
index makes itself; long loops on the event loop pause so other replies get through."""

from __future__ import annotations

import asyncio
import time

import pytest

from services import offload
from services.faq_engine import Entry, load_shipped_entries, shipped_index
from services.offload import ChildTimeout, TimeSlice, run_in_child, segment_entries

pytestmark = pytest.mark.unit


def entries(n: int) -> list[Entry]:
    base = load_shipped_entries()
    return [Entry(f"x{i}", tuple(f"{q}（第{i}村）" for q in e.questions), e.answer, e.tags)
            for i, e in enumerate(base[i % len(base)] for i in range(n))]


async def test_a_child_process_segments_exactly_as_the_index_does(monkeypatch: pytest.MonkeyPatch) -> None:
    index = shipped_index()
    many = entries(60)
    monkeypatch.setattr(offload, "PROCESS_FROM", 50)
    threads: list[object] = []
    original = asyncio.to_thread

    async def spy(fn: object, *args: object, **kwargs: object) -> object:
        threads.append(fn)
        return await original(fn, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(asyncio, "to_thread", spy)
    got = await segment_entries(index, many)
    assert got == [index.doc_tokens(e) for e in many]
    # the thread only started and waited for the child (the thread path would be a lambda)
    assert [getattr(fn, "__name__", "") for fn in threads] == ["_segment_via_child"]


async def test_a_few_entries_are_segmented_in_a_thread() -> None:
    index = shipped_index()
    few = entries(5)
    assert await segment_entries(index, few) == [index.doc_tokens(e) for e in few]


async def test_a_long_loop_pauses_so_another_task_gets_through() -> None:
    progress: list[float] = []

    async def other() -> None:
        for _ in range(5):
            await asyncio.sleep(0)
            await asyncio.sleep(0.001)  # like a reply waiting on a database thread
            progress.append(time.perf_counter())

    pacing = TimeSlice(work=0.005, rest=0.003)
    task = asyncio.create_task(other())
    deadline = time.perf_counter() + 0.3
    while time.perf_counter() < deadline:  # busy work on the loop
        sum(range(2000))
        await pacing.pause_if_due()
    busy_end = time.perf_counter()
    await task
    assert pacing.pauses > 10
    assert len([t for t in progress if t < busy_end]) == 5  # finished while the loop was still busy


def slow_square(x: int, seconds: float) -> int:
    time.sleep(seconds)
    return x * x


def refuse(row: int) -> None:
    from services.errors import Refusal

    raise Refusal("faq_import.bad_row", row=row)


async def test_work_in_a_child_returns_its_result_or_its_refusal_with_params() -> None:
    from services.errors import Refusal

    assert await run_in_child(slow_square, 7, 0, limit_seconds=30) == 49
    with pytest.raises(Refusal) as refused:
        await run_in_child(refuse, 12, limit_seconds=30)
    assert refused.value.key == "faq_import.bad_row" and refused.value.params == {"row": 12}


async def test_a_child_over_its_time_is_killed_and_the_loop_kept_running() -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.05)
            ticks += 1

    task = asyncio.create_task(ticker())
    started = time.perf_counter()
    with pytest.raises(ChildTimeout):
        await run_in_child(slow_square, 3, 60, limit_seconds=1.5)
    took = time.perf_counter() - started
    task.cancel()
    assert took < 30  # not the child's 60 s: it was killed
    assert ticks >= 10  # the event loop went on meanwhile


def slow_parse(filename: str, data: bytes) -> list[dict[str, object]]:
    """Stands in for a file that takes the reader too long (used by tests/test_faq_handlers.py)."""
    time.sleep(60)
    return []
