"""Scale benchmark (issue #15): N organisations on one database, the scheduler's tick and a command
during it, and the database's size at the default retention.

    .venv/bin/python -m bench.scale_bench [--orgs 500] [--days 7] [--baseline 2] [--tables] [--profile]
    .venv/bin/python -m bench.scale_bench --database-url postgresql://USER@HOST/DB --orgs 200 --baseline 0

Builds N organisations (12 members, both groups bound, a daily rotation, two open tasks) through the
product's own storage and services, then lives `--days` days of ticks at the times things fall due
(the eve notice, the 08:00 hand-off, the check-in nudge, the note to the chair, the tasks' 09:00
digest; a few check-ins and ledger entries a day; every outbox row marked sent as the sender would),
with the daily retention. Prints one line:

    scale orgs=N quiet_tick_ms=… busy_tick_ms=… duty_p99_ms_during_tick=… db_mb_per_1000_org_years=…

(and the FAQ's fields when bench/faq_county.py has a `summary()`).
quiet_tick_ms: the producers' tick at 14:37 (nothing due), median of 5; busy_tick_ms: the 08:00
hand-off tick (the producers' own work, not the sending), median; duty_p99_ms_during_tick: what
`/duty` reads (the rotation, names, check-in) for random organisations, looped while a busy tick
runs; db_mb_per_1000_org_years: each kept table's growth per organisation-day × 365, plus each pruned
one's size once retention holds it level (see `yearly`), per 1,000 organisations.

The baseline, in the same run: the first `--baseline` hand-off ticks also run on a copy of the
database taken just before them, with the duty producer as it was (per organisation, awaited
queries: bench/scale_reference.py); both ticks are timed (with /duty read during each) and must
write the same outbox rows, claims and wakes. `--tables`: each table's MB per 1,000 org-years.

`--database-url`: on PostgreSQL instead (a fresh database created on that server and dropped at the
end; the URL's own database is only used to create it). Sizes are read after VACUUM (ANALYZE), as
autovacuum keeps them; the baseline (a file copy) is SQLite's only.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import importlib
import random
import sqlite3
import statistics
import tempfile
import time
from contextlib import closing
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bench import scale_reference
from bot.app import build_services, start_services
from bot.config import Config, from_mapping
from services.clock import SimClock
from services.retention import CLAIMED, CLAIMED_KEEP
from storage import duty, members, orgs, retention, tasks
from storage.db import Database, is_url
from storage.models import to_db

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


CPU_MS: list[float] = []  # the process's CPU time during each tick (every thread: SQLite's too)


async def tick(services: object, now: datetime, record: bool = True) -> float:
    started, cpu = time.perf_counter(), time.process_time()
    for produce in services.producers:  # type: ignore[attr-defined]
        one = time.perf_counter()
        await produce(now)
        name = str(getattr(produce, "__qualname__", None) or getattr(getattr(produce, "func", None), "__module__", "?"))
        if record:
            PER_PRODUCER.setdefault(name, []).append((time.perf_counter() - one) * 1000)
    CPU_MS.append((time.process_time() - cpu) * 1000)
    return (time.perf_counter() - started) * 1000


SENT = {"duty": 0, "other": 0}  # outbox rows written, by whether they only repeat a duty-notice claim


async def mark_sent(db: Database, now: datetime) -> None:
    async with db.transaction() as conn:
        cur = await conn.execute("SELECT dedupe LIKE ? ESCAPE '\\', COUNT(*) FROM outbox WHERE status = 'pending'"
                                 " GROUP BY 1", (CLAIMED.replace("_", "\\_") + "%",))
        for claimed, count in await cur.fetchall():
            SENT["duty" if claimed else "other"] += count
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


READS = True  # --no-reads: the busy ticks alone (their own work, nothing beside them)


async def duty_reads(services: object, n: int, now: datetime, rng: random.Random, stop: asyncio.Event) -> list[float]:
    duty_service = services.duty  # type: ignore[attr-defined]
    out: list[float] = []
    if not READS:
        return out
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


async def sizes(db: Database) -> dict[str, int]:
    if is_url(db.path):
        await db.vacuum_incremental()  # PostgreSQL: VACUUM (ANALYZE), what autovacuum keeps up with
    async with db.read() as conn:
        found = await retention.table_sizes(conn)
    ROWS.update({s.name: s.rows for s in found})
    return {s.name: s.bytes or 0 for s in found}


ROWS: dict[str, int] = {}


def copy_file(src: str, dst: Path) -> None:
    with closing(sqlite3.connect(src)) as a, closing(sqlite3.connect(dst)) as b:
        a.backup(b)


async def reference_tick(db: Database, cfg: Config, clock: SimClock, folder: str, n: int, moment: datetime,
                         rng: random.Random) -> tuple[float, list[float], Database]:
    """The same tick with the per-organisation duty producer (bench/scale_reference.py), on a copy of
    the database taken just before; /duty read during it on the copy. Returns the copy (to compare)."""
    target = Path(folder) / f"reference-{moment:%m%d}.db"
    await asyncio.to_thread(copy_file, db.path, target)
    copy = await Database.open(target)
    services = build_services(cfg, copy, clock)
    d = cfg.duty
    old = scale_reference.ReferenceDuty(copy, clock, cfg.tz, d.handoff, d.notice, d.checkin_nudge_hours,
                                        d.chair_alert_hours, cfg.scheduler.misfire_grace_hours)
    old.wakes_cleared = True
    services.producers[0] = functools.partial(scale_reference.produce, old)
    stop = asyncio.Event()
    reader = asyncio.create_task(duty_reads(services, n, moment, rng, stop))
    await asyncio.sleep(0)
    took = await tick(services, moment, record=False)
    stop.set()
    return took, await reader, copy


SAME = ("SELECT chat_id, fallback_chat_id, body, dedupe, due_at FROM outbox WHERE created_at = ? ORDER BY dedupe",
        "SELECT org_id, kind, ref FROM sent_notices WHERE sent_at = ? ORDER BY 1, 2, 3",
        "SELECT id, duty_next_at, ? FROM orgs ORDER BY id")


async def same_rows(a: Database, b: Database, moment: datetime) -> int:
    """The outbox rows, notice claims and wakes a tick wrote are the same in both (the outbox rows' count)."""
    counts = []
    for sql in SAME:
        found = []
        for db in (a, b):
            async with db.read() as conn:
                cur = await conn.execute(sql, (to_db(moment),))
                found.append([tuple(r) for r in await cur.fetchall()])
        if found[0] != found[1]:
            raise AssertionError(f"the reference and the product differ: {sql}")
        counts.append(len(found[0]))
    return counts[0]


async def main(n: int, days: int, baseline: int, tables: bool, url: str = "") -> str:
    rng = random.Random(15)
    with tempfile.TemporaryDirectory(prefix="scale-") as folder:
        cfg = from_mapping({"admins": {"super_admins": [1]}}, env={})
        clock = SimClock(START)
        fresh = await create_pg_database(url) if url else ""
        try:
            db = await Database.open(fresh or Path(folder) / "scale.db")
            try:
                line = await run(db, cfg, clock, n, days, rng, folder, 0 if fresh else baseline, tables)
            finally:
                await db.close()
        finally:
            if fresh:
                await drop_pg_database(url, fresh)
    return line


async def create_pg_database(url: str) -> str:
    """A new database on the server of `url` for this run; its URL."""
    import uuid
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    name = f"scale_{uuid.uuid4().hex[:12]}"
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(f"CREATE DATABASE {name}")
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def drop_pg_database(url: str, fresh: str) -> None:
    from urllib.parse import urlsplit

    import psycopg

    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(f"DROP DATABASE IF EXISTS {urlsplit(fresh).path.lstrip('/')} WITH (FORCE)")


def faq_fields() -> str:
    """The FAQ's fields (`--faq`: bench/faq_county.py's summary(), a county of 100,000 entries, a few
    minutes), as ` key=value` pairs. Run outside the scale bench's event loop (it has its own)."""
    try:
        module = importlib.import_module("bench.faq_county")
    except ImportError:
        return ""
    summary = getattr(module, "summary", None)
    found = summary() if callable(summary) else None
    if isinstance(found, dict):
        return "".join(f" {key}={value}" for key, value in found.items())
    return f" {str(found).strip()}" if found else ""


async def run(db: Database, cfg: Config, clock: SimClock, n: int, days: int, rng: random.Random, folder: str,
              baseline: int, tables: bool) -> str:
    if True:
        services = build_services(cfg, db, clock)
        await start_services(services)
        started = time.perf_counter()
        await build(db, n, clock.now())
        build_s = time.perf_counter() - started
        clock.advance(timedelta(hours=1))
        await tick(services, clock.now())  # the first hand-offs (late: claimed, not sent)
        await mark_sent(db, clock.now())
        base = await sizes(db)
        SENT.update(duty=0, other=0)
        quiet: list[float] = []
        busy: list[float] = []
        during: list[float] = []
        ref_busy: list[float] = []
        ref_during: list[float] = []
        now_busy: list[float] = []
        ref_cpu: list[float] = []
        now_cpu: list[float] = []
        compared = 0
        day0: date = START.date()
        for d in range(1, days + 1):
            day = datetime.combine(day0 + timedelta(days=d), datetime.min.time(), TZ)
            for hh, mm in ((4, 0), (8, 0), (9, 0), (10, 0), (12, 0), (14, 37), (20, 0)):
                moment = day.replace(hour=hh, minute=mm)
                clock.advance(moment - clock.now())
                if (hh, mm) == (8, 0):
                    copy = None
                    if len(ref_busy) < baseline:
                        took, reads, copy = await reference_tick(db, cfg, clock, folder, n, moment, rng)
                        ref_busy.append(took)
                        ref_cpu.append(CPU_MS[-1])
                        ref_during.extend(reads)
                    stop = asyncio.Event()
                    reader = asyncio.create_task(duty_reads(services, n, moment, rng, stop))
                    await asyncio.sleep(0)
                    busy.append(await tick(services, moment))
                    stop.set()
                    during.extend(await reader)
                    if copy is not None:
                        now_busy.append(busy[-1])
                        now_cpu.append(CPU_MS[-1])
                        compared += await same_rows(db, copy, moment)
                        await copy.close()
                    await activity(services, db, n, moment + timedelta(minutes=30), rng)
                elif (hh, mm) == (14, 37) and len(quiet) < 5:
                    PER_PRODUCER.clear()
                    quiet.append(await tick(services, moment))
                    if args_profile:
                        print("quiet tick:", {k: round(v[0], 1) for k, v in PER_PRODUCER.items()})
                else:
                    await tick(services, moment)
                await mark_sent(db, clock.now())
                if is_url(db.path):  # autovacuum's part in a real day (thousands of ticks): outside the timing
                    await db.vacuum_incremental()
        end = await sizes(db)
        keep = getattr(cfg.database, "keep_sent_days", 0) or 365  # 0 (or before retention): kept for ever

        def yearly(name: str) -> float:
            """A table's MB per 1,000 organisation-years: a kept table's growth over the run × 365 days;
            a pruned one's size once retention keeps it level: the notice claims' growth × the days
            kept, the outbox's bytes per row × the rows kept (the `duty:` rows, which only repeat
            the claims, for CLAIMED_KEEP and a day; the others for keep_sent_days)."""
            grown = (end[name] - base.get(name, 0)) / (n * days)
            if name == "outbox":
                per_row = end[name] / max(ROWS.get(name, 0), 1)
                kept_rows = (SENT["duty"] * (CLAIMED_KEEP.days + 1) + SENT["other"] * min(keep, 365)) / (n * days)
                return per_row * kept_rows * 1000 / 1e6
            return grown * (min(keep, 365) if name in PRUNED else 365) * 1000 / 1e6

        mb = sum(yearly(name) for name in end)
        if tables:
            print("MB per 1,000 organisation-years by table (with its indexes):")
            for name in sorted(end, key=lambda t: -yearly(t)):
                if abs(yearly(name)) >= 0.5:
                    print(f"  {name:24} {yearly(name):7.1f}{'  (pruned)' if name in PRUNED else ''}")
    p99 = p99_of(during)
    print(f"(built {n} organisations in {build_s:.1f} s; {len(during)} /duty reads during the busy ticks)")
    if ref_busy:
        before, after = statistics.median(ref_busy), statistics.median(now_busy)
        print(f"baseline, the per-organisation duty producer (bench/scale_reference.py) on a copy of the same"
              f" database at the same {len(ref_busy)} hand-off tick(s): busy_tick_ms={before:.0f} → {after:.0f}"
              f" ({before / max(after, 1e-9):.1f}× faster; CPU ms {statistics.median(ref_cpu):.0f} →"
              f" {statistics.median(now_cpu):.0f}), duty_p99_ms_during_tick={p99_of(ref_during):.1f} →"
              f" {p99:.1f}; the same {compared} outbox rows, claims and wakes")
    engine = " engine=postgresql" if is_url(db.path) else ""
    return (f"scale{engine} orgs={n} quiet_tick_ms={statistics.median(quiet):.0f}"
            f" busy_tick_ms={statistics.median(busy):.0f} duty_p99_ms_during_tick={p99:.1f}"
            f" db_mb_per_1000_org_years={mb:.0f}")


def p99_of(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) >= 2 else (values[0] if values else 0.0)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--orgs", type=int, default=500)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="each producer's share of the quiet tick")
    parser.add_argument("--baseline", type=int, default=2,
                        help="hand-off ticks also run with the per-organisation reference (0: none)")
    parser.add_argument("--tables", action="store_true", help="each table's share of the storage")
    parser.add_argument("--no-reads", action="store_true", help="no /duty reads beside the busy ticks")
    parser.add_argument("--faq", action="store_true",
                        help="append the FAQ's county figures (bench/faq_county.py at 100,000 entries: minutes)")
    parser.add_argument("--database-url", default="",
                        help="run on PostgreSQL: a fresh database on this server (created, then dropped)")
    args = parser.parse_args()
    args_profile = args.profile
    READS = not args.no_reads
    line = asyncio.run(main(args.orgs, args.days, args.baseline, args.tables, args.database_url))
    print(line + (faq_fields() if args.faq else ""))
