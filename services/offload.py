"""Long work that must not hold up other chats' replies.

Two tools, measured by bench/import_stall_bench.py (a 5,000-row /faq_import while members send /duty):

- `segment_entries`: jieba in a worker *thread* still stalls the event loop, because every await of
  another chat's reply hands the GIL back and forth between threads (each hand-off can wait a switch
  interval); segmenting thousands of entries therefore runs in a short-lived child *process* with its
  own GIL and its own tokenizer (same dictionary: checked by its signature).
- `run_in_child`: work on untrusted input (an uploaded file) in a child process with a time limit;
  the child is killed when the time is up (a thread could not be stopped).
- `TimeSlice`: a loop that must run on the event loop (it reads the live index) pauses briefly after
  a few milliseconds of work. `asyncio.sleep(0)` is not enough: it lets each waiting reply take one
  step only, and a reply takes a dozen steps (one per database read).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

from services.faq_engine import DocTokens, Entry, FaqIndex, get_tokenizer

log = logging.getLogger(__name__)

T = TypeVar("T")

PROCESS_FROM = 500  # entries; fewer are segmented in a thread (a child process costs ~1–2 s to start)


def _segment_in_child(items: list[tuple[tuple[str, ...], str, tuple[str, ...]]], with_answer: bool
                      ) -> tuple[str, list[DocTokens]]:
    tokenizer = get_tokenizer()
    entries = [Entry("", questions, answer, tags) for questions, answer, tags in items]
    return tokenizer.signature, [tokenizer.entry_tokens(e, with_answer=with_answer) for e in entries]


def _segment_via_child(items: list[tuple[tuple[str, ...], str, tuple[str, ...]]], with_answer: bool
                       ) -> tuple[str, list[DocTokens]]:
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_segment_in_child, items, with_answer).result()


async def segment_entries(index: FaqIndex, entries: Sequence[Entry]) -> list[DocTokens]:
    """`index.doc_tokens` of every entry, off the event loop: in a child process for many entries, in
    a thread for a few (or if the child's segmentation would differ from the index's)."""
    if len(entries) >= PROCESS_FROM:
        items = [(e.questions, e.answer, e.tags) for e in entries]
        try:  # starting, waiting for and stopping the child all happen off the event loop
            signature, tokens = await asyncio.to_thread(_segment_via_child, items, index.answer_weight > 0)
        except (OSError, RuntimeError) as exc:  # no child process possible here: a thread instead
            log.warning("segmenting %d entries in a thread (no child process: %s)", len(entries), exc)
        else:
            if signature == index.tokenizer.signature:
                return tokens
            log.warning("the child's segmentation differs from the index's: segmenting in a thread")
    return await asyncio.to_thread(lambda: [index.doc_tokens(e) for e in entries])


class ChildTimeout(Exception):
    """The child did not finish in time; it has been killed."""


async def run_in_child(fn: Callable[..., T], *args: Any, limit_seconds: float) -> T:
    """`fn(*args)` in a fresh child process (`fn` importable by name, arguments and result picklable);
    its exception is raised here. After `limit_seconds` seconds the child is killed: ChildTimeout."""
    def run() -> T:
        pool = multiprocessing.get_context("spawn").Pool(1)
        try:
            result: T = pool.apply_async(fn, args).get(limit_seconds)
            return result
        except multiprocessing.TimeoutError:
            raise ChildTimeout(f"{getattr(fn, '__name__', fn)} took more than {limit_seconds} s") from None
        finally:
            pool.terminate()  # kills a child still at work

    return await asyncio.to_thread(run)  # starting, waiting for and stopping the child: off the loop


class TimeSlice:
    """Call `await slice.pause_if_due()` inside a long loop: after `work` seconds of work it sleeps
    `rest` seconds, in which other chats' replies (waiting on database threads) run several steps."""

    def __init__(self, work: float = 0.008, rest: float = 0.004) -> None:
        self.work = work
        self.rest = rest
        self.started = time.perf_counter()
        self.pauses = 0

    async def pause_if_due(self) -> None:
        if time.perf_counter() - self.started >= self.work:
            self.pauses += 1
            await asyncio.sleep(self.rest)
            self.started = time.perf_counter()
