"""services.offload: a big import's segmentation in a child process gives exactly the tokens the
index makes itself; long loops on the event loop pause so other replies get through."""

from __future__ import annotations

import asyncio
import time

import pytest

from services import offload
from services.faq_engine import Entry, load_shipped_entries, shipped_index
from services.offload import TimeSlice, segment_entries

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
    # the only thread work was waiting for the child to exit: the segmenting ran in the child
    assert [getattr(fn, "__name__", "") for fn in threads] == ["shutdown"]


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
