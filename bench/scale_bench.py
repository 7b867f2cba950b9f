"""Scale benchmark (issue #15): N organisations on one database, the scheduler's tick and a command
during it, and the database's growth at the default retention.

    .venv/bin/python -m bench.scale_bench [--orgs 500] [--days 14]

Builds N organisations (12 members, both groups bound, a daily rotation, two open tasks) through the
product's own storage and services, then lives `--days` days of ticks at the times things fall due
(the eve notice, the 08:00 hand-off, the check-in nudge, the note to the chair, the tasks' 09:00
digest; a few check-ins and ledger entries a day; every outbox row marked sent as the sender would),
with the daily retention. Prints one line:

    scale orgs=N quiet_tick_ms=… busy_tick_ms=… duty_p99_ms_during_tick=… db_mb_per_1000_org_years=…

quiet_tick_ms: the producers' tick at 14:37 (nothing due), median of 5; busy_tick_ms: the 08:00
hand-off tick (the producers' own work, not the sending); duty_p99_ms_during_tick: what `/duty`
reads (the rotation, names, check-in) for random organisations, looped while a busy tick runs;
db_mb_per_1000_org_years: kept tables' growth per organisation-day × 365, plus the sent messages
and notice claims per organisation-day × min(keep_sent_days, 365), per 1,000 organisations.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.app import build_services, start_services
from bot.config import Config, from_mapping
from services.clock import SimClock
from storage import duty, members, orgs, retention, tasks
from storage.db import Database

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 3, 2, 0, 0, tzinfo=TZ)  # a Monday
PRUNED = {"outbox", "sent_notices"}


async def build(db: Database, n: int, now: datetime) -> None:
    anchor = now.date()
    for i in range(n):
        async with db.transaction() as conn:
            chair_uid = 10_000_000 + i * 100
            org = await orgs.create(conn, f"村{i:05d}妇联", chair_uid, now)
            await orgs.bind_chat(conn, -1_000_000_000_000 - 2 * i, org.id, "work", f"w{i}", now)
            await orgs.bind_chat(conn, -1_000_000_000_001 - 2 * i, org.id, "public", f"p{i}", now)
            rota = []
            for j in range(12):
                uid = chair_uid + j
                await members.upsert_user(conn, uid, f"u{uid}", f"执委{j}", "", now)
                added = await members.add(conn, org.id, uid, f"u{uid}", f"执委{i}-{j}",
                                          "chair" if j == 0 else "member", now)
                if j:
                    rota.append(added.id)
            await duty.add_version(conn, org.id, duty.VersionRow(tuple(rota), "day", anchor,
                                                                 datetime.min.time().replace(hour=8), False, now),
                                   chair_uid, now)
            for k in range(2):
                await tasks.add(conn, org.id, f"任务{k}", now + timedelta(days=20 + k * 200), rota[:2], chair_uid, now)


PER_PRODUCER: dict[str, list[float]] = {}
args_profile = False


async def tick(services: object, now: datetime) -> float:
    started = time.perf_counter()
    for produce in services.producers:  # type: ignore[attr-defined]
        one = time.perf_counter()
        await produce(now)
        name = str(getattr(produce, "__qualname__", None) or getattr(getattr(produce, "func", None), "__module__", "?"))
        PER_PRODUCER.setdefault(name, []).append((time.perf_counter() - one) * 1000)
    return (time.perf_counter() - started) * 1000


async def mark_sent(db: Database, now: datetime) -> None:
    async with db.transaction() as conn:
        await conn.execute("UPDATE outbox SET status = 'sent', sent_at = ?, attempts = 1, outcomes = 'ok'"
                           " WHERE status = 'pending'", (now.astimezone(UTC).isoformat(),))


async def activity(services: object, db: Database, n: int, now: datetime, rng: random.Random) -> None:
    """Most shifts are checked in; a few ledger entries a day."""
    duty_service = services.duty  # type: ignore[attr-defined]
    for org_id in range(1, n + 1):
        if rng.random() < 0.8:
            rotation = await duty_service.rotation(org_id)
            shift = rotation.at(now) if rotation else None
            if shift is not None and shift.member_id is not None:
                async with db.transaction() as conn:
                    await duty.checkin(conn, org_id, shift.start, shift.member_id, now)
                    if rng.random() < 0.5:
                        await duty.add_ledger(conn, org_id, shift.member_id, "走访", "走访了三户，情况正常。",
                                              None, None, now)


async def duty_reads(services: object, n: int, now: datetime, rng: random.Random, stop: asyncio.Event) -> list[float]:
    duty_service = services.duty  # type: ignore[attr-defined]
    out = []
    while not stop.is_set():
        org_id = rng.randint(1, n)
        started = time.perf_counter()
        rotation = await duty_service.rotation(org_id)
        shift = rotation.at(now) if rotation else None
        if shift is not None and shift.member_id is not None:
            await duty_service.names({shift.member_id})
            await duty_service.is_checked_in(org_id, shift)
        out.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.005)
    return out


async def sizes(db: Database) -> tuple[int, int]:
    async with db.read() as conn:
        found = await retention.table_sizes(conn)
    pruned = sum(s.bytes or 0 for s in found if s.name in PRUNED)
    return pruned, sum(s.bytes or 0 for s in found) - pruned


async def main(n: int, days: int) -> str:
    rng = random.Random(15)
    with tempfile.TemporaryDirectory(prefix="scale-") as folder:
        cfg = from_mapping({"admins": {"super_admins": [1]}}, env={})
        clock = SimClock(START)
        db = await Database.open(Path(folder) / "scale.db")
        try:
            return await run(db, cfg, clock, n, days, rng)
        finally:
            await db.close()


async def run(db: Database, cfg: Config, clock: SimClock, n: int, days: int, rng: random.Random) -> str:
    if True:
        services = build_services(cfg, db, clock)
        await start_services(services)
        started = time.perf_counter()
        await build(db, n, clock.now())
        build_s = time.perf_counter() - started
        clock.advance(timedelta(hours=1))
        await tick(services, clock.now())  # the first hand-offs (late: claimed, not sent)
        await mark_sent(db, clock.now())
        base_pruned, base_kept = await sizes(db)
        quiet: list[float] = []
        busy: list[float] = []
        during: list[float] = []
        day0: date = START.date()
        for d in range(1, days + 1):
            day = datetime.combine(day0 + timedelta(days=d), datetime.min.time(), TZ)
            for hh, mm in ((4, 0), (8, 0), (9, 0), (10, 0), (12, 0), (14, 37), (20, 0)):
                moment = day.replace(hour=hh, minute=mm)
                clock.advance(moment - clock.now())
                if (hh, mm) == (8, 0):
                    stop = asyncio.Event()
                    reader = asyncio.create_task(duty_reads(services, n, moment, rng, stop))
                    await asyncio.sleep(0)
                    busy.append(await tick(services, moment))
                    stop.set()
                    during.extend(await reader)
                    await activity(services, db, n, moment + timedelta(minutes=30), rng)
                elif (hh, mm) == (14, 37) and len(quiet) < 5:
                    PER_PRODUCER.clear()
                    quiet.append(await tick(services, moment))
                    if args_profile:
                        print("quiet tick:", {k: round(v[0], 1) for k, v in PER_PRODUCER.items()})
                else:
                    await tick(services, moment)
                await mark_sent(db, clock.now())
        pruned, kept = await sizes(db)
        keep = getattr(cfg.database, "keep_sent_days", 0) or 365  # 0 (or before retention): kept for ever
        per_org_day_pruned = (pruned - base_pruned) / (n * days)
        per_org_day_kept = (kept - base_kept) / (n * days)
        mb = (per_org_day_kept * 365 + per_org_day_pruned * min(keep, 365)) * 1000 / 1e6
    p99 = statistics.quantiles(during, n=100)[98] if len(during) >= 2 else (during[0] if during else 0.0)
    print(f"(built {n} organisations in {build_s:.1f} s; {len(during)} /duty reads during the busy ticks)")
    return (f"scale orgs={n} quiet_tick_ms={statistics.median(quiet):.0f} busy_tick_ms={statistics.median(busy):.0f}"
            f" duty_p99_ms_during_tick={p99:.1f} db_mb_per_1000_org_years={mb:.0f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--orgs", type=int, default=500)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="each producer's share of the quiet tick")
    args = parser.parse_args()
    args_profile = args.profile
    print(asyncio.run(main(args.orgs, args.days)))
