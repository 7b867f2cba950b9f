"""A reminder to N groups (default 1,000) through the local HTTP stand-in of the Bot API.

    python -m bench.broadcast_bench [--groups 1000] [--quick] [--rtt 0,0.1,0.3]

Measured in one run, side by side:
  floor        (N − 1) / 30 s: the least time Telegram's ~30 messages/s allow
  outbox       our path: N reminders due in the same minute → producer → outbox → sender → PTB with
               the one pacer as its rate limiter (`PacingLimiter`, as in `run`) → HTTP stand-in that
               answers 429 to anything over the limits and holds each answer back by the round trip
  PTB limiter  the baseline: N send_message calls gathered at once through PTB's AIORateLimiter alone
               (no outbox: nothing survives a restart, nothing is journaled)
Also: the most sends ever in flight at once (a worker killed then would repeat these).
Reported: wall time from the first to the last accepted send and its ratio to the floor, limit
violations (429 answers the stand-in had to give, and accepted sends that broke a window after the
fact), losses (groups that never got the message), and the lateness of each reminder (accepted at
the stand-in − due time) p50 / p99.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from telegram.ext import AIORateLimiter, ApplicationBuilder

from bot.app import build_application, build_services
from bot.config import from_mapping
from handlers.scheduling import scheduler_tick
from handlers.sender import Pacer
from services.clock import SystemClock
from services.timeparse import OneOff
from storage.db import Database
from tests.botapi_stub import BotApiStub

TOKEN = "123456:BENCH"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def accepted_sends(stub: BotApiStub, text: str) -> list[Any]:
    return [c for c in stub.calls
            if c.method == "sendMessage" and c.status == 200 and text in str(c.params.get("text"))]


def figures(stub: BotApiStub, since: float) -> dict[str, float]:
    """Wall time, deliveries, limit violations and lateness (from `since`) of the accepted sends."""
    sends = accepted_sends(stub, "周五前报送")
    times = [c.time for c in sends]
    lateness = [t - since for t in times]
    return {
        "wall": max(times) - min(times) if times else float("nan"),
        "delivered": len({c.params["chat_id"] for c in sends}),
        "rejected": stub.limit_violations,
        "after_fact": stub.send_rate_violations(),
        "p50": percentile(lateness, 0.5) if lateness else float("nan"),
        "p99": percentile(lateness, 0.99) if lateness else float("nan"),
    }


async def outbox_run(groups: int, rtt: float) -> dict[str, float]:
    with BotApiStub(TOKEN, enforce_limits=True) as stub, tempfile.TemporaryDirectory() as tmp:
        stub.latency = rtt
        config = from_mapping({}, env={})
        clock = SystemClock()
        db = await Database.open(Path(tmp) / "bench.db")
        services = build_services(config, db, clock)
        services.sender.pacer = Pacer(enabled=False)  # the application's PacingLimiter paces, as in `run`
        services.tickers.remove(scheduler_tick)
        app = build_application(services, token=TOKEN, base_url=stub.base_url, rate_limit=True)
        await app.initialize()
        due = clock.now() + timedelta(seconds=2)
        for i in range(groups):
            await services.reminders.create(1, None, -(10_000 + i), OneOff(due), "镇妇联：周五前报送妇女议事会记录")
        sender = asyncio.create_task(services.sender.run_forever(app.bot, idle=1.0))
        while clock.now() < due:  # noqa: ASYNC110 - waiting for a wall-clock moment
            await asyncio.sleep(0.05)
        await scheduler_tick(app)  # the producer claims all N at once; the sender is woken
        deadline = time.monotonic() + groups / 10 + 60
        while len(accepted_sends(stub, "周五前报送")) < groups and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        sender.cancel()
        await app.shutdown()
        await db.close()
        return {**figures(stub, due.timestamp()), "in_flight": services.sender.in_flight.most_busy}


async def ptb_limiter_run(groups: int, rtt: float) -> dict[str, float]:
    with BotApiStub(TOKEN, enforce_limits=True) as stub:
        stub.latency = rtt
        root = stub.base_url
        app = (ApplicationBuilder().token(TOKEN).base_url(f"{root}/bot").base_file_url(f"{root}/file/bot")
               .rate_limiter(AIORateLimiter(max_retries=5)).build())
        await app.initialize()
        start = time.time()

        async def one(i: int) -> None:
            try:
                await app.bot.send_message(-(10_000 + i), "镇妇联：周五前报送妇女议事会记录")
            except Exception as exc:  # counted as a loss
                print(f"lost {i}: {exc!r}", file=sys.stderr)

        await asyncio.gather(*(one(i) for i in range(groups)))
        await app.shutdown()
        return {**figures(stub, start), "in_flight": float("nan")}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--groups", type=int, default=1000)
    ap.add_argument("--quick", action="store_true", help="300 groups")
    ap.add_argument("--rtt", default="0,0.1,0.3", help="round trips to measure, in seconds")
    args = ap.parse_args(argv)
    groups = 300 if args.quick else args.groups
    floor = (groups - 1) / 30
    print(f"## A reminder to {groups:,} groups through the HTTP stand-in\n")
    print("| round trip | path | wall s | ÷ floor | delivered | 429s given | windows broken | lateness p50 s | p99 s"
          " | most in flight |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for rtt in (float(x) for x in args.rtt.split(",")):
        print(f"measuring {groups} groups at a {rtt * 1000:.0f} ms round trip …", file=sys.stderr)
        ours = asyncio.run(outbox_run(groups, rtt))
        base = asyncio.run(ptb_limiter_run(groups, rtt))
        print(f"| {rtt * 1000:.0f} ms | floor (30 msg/s) | {floor:.1f} | 1.00 | | | | | | |")
        for name, r in (("outbox + one pacer (ours)", ours), ("PTB AIORateLimiter alone (baseline)", base)):
            print(f"| {rtt * 1000:.0f} ms | {name} | {r['wall']:.1f} | {r['wall'] / floor:.2f} | "
                  f"{int(r['delivered'])}/{groups} | {int(r['rejected'])} | {int(r['after_fact'])} | "
                  f"{r['p50']:.1f} | {r['p99']:.1f} | {_count(r['in_flight'])} |")
    print("\nlateness: from the due time (ours) or the start of the gather (baseline) to acceptance at the stand-in")
    print("most in flight: sends started and not yet recorded as sent, at most at once — what a worker killed"
          " at that moment would send again (the baseline records nothing: everything unsent is lost)")


def _count(value: float) -> str:
    return "–" if value != value else str(int(value))


if __name__ == "__main__":
    main()
