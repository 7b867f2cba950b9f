"""The 08:00 hand-off tick's own work, per organisation (issue #15: ≤ 2 s at 20,000 organisations).

    .venv/bin/python -m bench.handoff_tick [--orgs 2000] [--reps 5] [--cold]

Builds N organisations once as bench/scale_bench.py does (12 members, both groups, a daily rotation;
kept in a file under the temporary directory, named by N, and reused), lives to 07:00 of the next day,
then times the duty producer at 08:00 `--reps` times, each on a fresh copy of that database: the
process's CPU time (every thread: SQLite's too), the main thread's, and the wall time, per
organisation, min and median. Warm (default): a tick at 07:30 first, as in a running bot (rotations
kept, shifts worked out); `--cold`: the 08:00 tick is the first after a start (every rotation read).

To compare two versions on a noisy machine, run this alternately with each on the PYTHONPATH (e.g.
`git archive <commit> | tar -x -C /tmp/before`) and compare the minima.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
from contextlib import closing
from datetime import timedelta
from pathlib import Path

from bench import scale_bench
from bot.app import build_services, start_services
from bot.config import from_mapping
from services.clock import SimClock
from storage.db import Database

DAY1 = scale_bench.START + timedelta(days=1)


def _copy(src: Path, dst: Path) -> None:
    for p in dst.parent.glob(dst.name + "*"):
        p.unlink()
    with closing(sqlite3.connect(src)) as a, closing(sqlite3.connect(dst)) as b:
        a.backup(b)


async def prepare(n: int, base: Path) -> None:
    """N organisations, their first hand-offs claimed, the ticks of the next day up to 07:00."""
    work = base.with_suffix(".building")
    for p in base.parent.glob(work.name + "*"):
        p.unlink()
    clock = SimClock(scale_bench.START)
    db = await Database.open(work)
    try:
        services = build_services(from_mapping({"admins": {"super_admins": [1]}}, env={}), db, clock)
        await start_services(services)
        await scale_bench.build(db, n, clock.now())
        for moment in (clock.now() + timedelta(hours=1), DAY1.replace(hour=4), DAY1.replace(hour=7)):
            clock.advance(moment - clock.now())
            await scale_bench.tick(services, moment)
            await scale_bench.mark_sent(db, moment)
    finally:
        await db.close()
    _copy(work, base)
    for p in base.parent.glob(work.name + "*"):
        p.unlink()


async def once(n: int, base: Path, warm: bool) -> tuple[float, float, float, int]:
    """(CPU, main thread CPU, wall) ms per organisation of one 08:00 duty producer run; outbox rows."""
    target = base.with_name(f"{base.stem}-run.db")
    _copy(base, target)
    clock = SimClock(DAY1.replace(hour=7, minute=30))
    db = await Database.open(target)
    try:
        services = build_services(from_mapping({"admins": {"super_admins": [1]}}, env={}), db, clock)
        await start_services(services)
        if warm:
            await services.producers[0](clock.now())
        moment = DAY1.replace(hour=8)
        clock.advance(moment - clock.now())
        cpu, main, wall = time.process_time(), time.thread_time(), time.perf_counter()
        await services.producers[0](moment)
        cpu, main, wall = time.process_time() - cpu, time.thread_time() - main, time.perf_counter() - wall
        async with db.read() as conn:
            cur = await conn.execute("SELECT COUNT(*) FROM outbox WHERE status = 'pending'")
            rows = int((await cur.fetchone() or (0,))[0])
    finally:
        await db.close()
    return cpu * 1000 / n, main * 1000 / n, wall * 1000 / n, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orgs", type=int, default=2000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--cold", action="store_true", help="the 08:00 tick is the first after a start")
    args = parser.parse_args()
    base = Path(tempfile.gettempdir()) / f"handoff-tick-{args.orgs}.db"
    if not base.exists():
        asyncio.run(prepare(args.orgs, base))
    found = [asyncio.run(once(args.orgs, base, not args.cold)) for _ in range(args.reps)]
    cpu, main_cpu, wall = ([r[i] for r in found] for i in range(3))
    print(f"handoff orgs={args.orgs} {'cold' if args.cold else 'warm'} rows={found[0][3]}"
          f" cpu_ms_per_org min={min(cpu):.4f} median={statistics.median(cpu):.4f}"
          f" main_thread_ms_per_org min={min(main_cpu):.4f} wall_ms_per_org min={min(wall):.4f}"
          f"")


if __name__ == "__main__":
    main()
