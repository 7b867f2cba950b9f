"""Retention (services/retention.py): old sent messages and duty-notice claims pruned, never what a
once-only check still needs; incremental vacuum; `python -m bot stats-db` and `vacuum`."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.__main__ import main
from bot.config import ConfigError, from_mapping
from services import retention as retention_service
from services.outbox import Outgoing
from services.retention import DEDUPE_PREFIXES, RetentionService, min_keep_days
from storage import duty, outbox
from storage.db import Database
from tests.harness import WORK, Harness, make_harness

pytestmark = pytest.mark.handler

ROOT = Path(__file__).resolve().parent.parent
SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def test_every_dedupe_key_in_the_code_is_classified() -> None:
    """A new producer must say how long its keys can recur (DEDUPE_PREFIXES) before pruning may touch them."""
    found: set[str] = set()
    for folder in ("services", "handlers", "bot"):
        for path in (ROOT / folder).rglob("*.py"):
            source = path.read_text(encoding="utf-8")
            found.update(re.findall(r'dedupe=f?"([a-z-]+):', source))
            found.update(re.findall(r'is_known\(conn, f?"([a-z-]+):', source))
            if 'dedupe=f"{ref}' in source:
                found.update(re.findall(r'ref = f"([a-z-]+):', source))
    assert {"duty", "task", "review", "faq-stale", "monthly"} <= found
    assert found <= set(DEDUPE_PREFIXES), found - set(DEDUPE_PREFIXES)


def test_keep_sent_days_config() -> None:
    assert from_mapping({}, env={}).database.keep_sent_days == 60
    assert from_mapping({"database": {"keep_sent_days": 0}}, env={}).database.keep_sent_days == 0
    floor = min_keep_days((3, 1), 6.0)
    assert 30 < floor <= 40
    assert from_mapping({"database": {"keep_sent_days": floor}}, env={}).database.keep_sent_days == floor
    with pytest.raises(ConfigError, match="keep_sent_days"):
        from_mapping({"database": {"keep_sent_days": floor - 1}}, env={})
    with pytest.raises(ConfigError, match="keep_sent_days"):  # a task's first reminder 50 days ahead
        from_mapping({"database": {"keep_sent_days": 45}, "tasks": {"remind_days_before": [50]}}, env={})


async def _sent(db: Database, key: str, sent_at: datetime, status: str = "sent", org: int | None = None) -> None:
    async with db.transaction() as conn:
        await outbox.enqueue(conn, [Outgoing(1, "common.ok", {}, org_id=org, dedupe=key)], sent_at)
        cur = await conn.execute("SELECT id FROM outbox WHERE dedupe = ?", (key,))
        row = await cur.fetchone()
        assert row is not None
        if status == "sent":
            await outbox.mark_sent(conn, row[0], sent_at)
        elif status == "failed":
            await outbox.mark_failed(conn, row[0], "gone", sent_at)


async def _keys(db: Database) -> set[str]:
    async with db.read() as conn:
        cur = await conn.execute("SELECT dedupe FROM outbox")
        return {r[0] for r in await cur.fetchall()}


async def test_prune_outbox_by_age_and_status_keeping_unbounded_keys(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "r.db")
    try:
        old, recent = NOW - timedelta(days=61), NOW - timedelta(days=59)
        await _sent(db, "rem:1:old", old)
        await _sent(db, "undeliverable:2:work", old, status="failed")
        await _sent(db, "rem:3:pending", old, status="pending")
        await _sent(db, "task:4:day:1", recent)
        await _sent(db, "faq-stale:2026:9", old)
        await _sent(db, "review:5:deadline:1", old)
        await _sent(db, "review_x:6", old)  # LIKE's _ is not a wildcard here
        done = await RetentionService(db, SH, 60).prune(NOW)
        assert done.outbox == 3
        assert await _keys(db) == {"rem:3:pending", "task:4:day:1", "faq-stale:2026:9", "review:5:deadline:1"}
        assert (await RetentionService(db, SH, 60).prune(NOW)).outbox == 0
    finally:
        await db.close()


async def test_duty_claims_go_only_once_a_later_shift_began(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "r.db")
    try:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO orgs(id, name, created_by, created_at)"
                               " VALUES (1, 'a', 1, ?), (2, 'b', 1, ?)", (NOW.isoformat(), NOW.isoformat()))
            day = timedelta(days=1)
            # org 1: a long shift from day -100 (nudged, never checked in) and the next one from day -70
            await duty.claim_notice(conn, 1, "handoff", "s1", NOW - 100 * day)
            await duty.claim_notice(conn, 1, "nudge", "s1", NOW - 100 * day)
            await duty.claim_notice(conn, 1, "eve", "s2", NOW - 71 * day)
            await duty.claim_notice(conn, 1, "handoff", "s2", NOW - 70 * day)
            await duty.claim_notice(conn, 1, "nudge", "s2", NOW - 70 * day)
            # org 2: one shift still running since day -100 (stretched by days off): its claims stay
            await duty.claim_notice(conn, 2, "handoff", "t1", NOW - 100 * day)
            await duty.claim_notice(conn, 2, "nudge", "t1", NOW - 100 * day)
        done = await RetentionService(db, SH, 60).prune(NOW)
        assert done.notices == 2  # the eve claim of s2 waits for a later shift than s2 too
        async with db.read() as conn:
            cur = await conn.execute("SELECT org_id, kind, ref FROM sent_notices ORDER BY 1, 2, 3")
            left = [tuple(r) for r in await cur.fetchall()]
        assert left == [(1, "eve", "s2"), (1, "handoff", "s2"), (1, "nudge", "s2"),
                        (2, "handoff", "t1"), (2, "nudge", "t1")]
    finally:
        await db.close()


async def test_new_database_vacuums_incrementally_after_pruning(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "r.db")
    try:
        async with db.transaction() as conn:
            for i in range(3000):
                await outbox.enqueue(conn, [Outgoing(1, "common.ok", {"pad": "x" * 400}, dedupe=f"rem:{i}:x")],
                                     NOW - timedelta(days=90))
            await conn.execute("UPDATE outbox SET status = 'sent', sent_at = created_at")
        async with db.read() as conn:
            cur = await conn.execute("PRAGMA auto_vacuum")
            assert tuple(await cur.fetchone() or ()) == (2,)
            cur = await conn.execute("PRAGMA page_count")
            before = (await cur.fetchone() or (0,))[0]
        done = await RetentionService(db, SH, 60).prune(NOW)
        assert done.outbox == 3000 and done.pages_freed > 100
        async with db.read() as conn:
            cur = await conn.execute("PRAGMA page_count")
            after = (await cur.fetchone() or (0,))[0]
            cur = await conn.execute("PRAGMA freelist_count")
            assert tuple(await cur.fetchone() or ()) == (0,)
        assert after < before / 4
    finally:
        await db.close()


async def test_runs_once_a_day_at_its_time(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "r.db")
    try:
        service = RetentionService(db, SH, 60)
        calls: list[datetime] = []

        async def prune(now: datetime) -> Any:
            calls.append(now)
            return retention_service.Pruned(0, 0, 0)

        service.prune = prune  # type: ignore[method-assign]
        day = datetime(2026, 12, 1, 3, 0, tzinfo=SH)
        for minutes in range(0, 48 * 60, 20):  # two days of ticks
            await service.produce(day + timedelta(minutes=minutes))
        assert [c.astimezone(SH).strftime("%d %H:%M") for c in calls] == ["01 04:00", "02 04:00"]
        await RetentionService(db, SH, 0).produce(day + timedelta(hours=2))  # 0: keep for ever
    finally:
        await db.close()


class Recorder:
    """Every dedupe key that went into the outbox and every duty-notice claim, with repeats."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.keys: list[str] = []
        self.claims: list[tuple[int, str, str]] = []
        enqueue, claim = outbox.enqueue, duty.claim_notices

        async def recording_enqueue(conn: Any, msgs: Any, now: datetime) -> int:
            msgs = list(msgs)
            added = 0
            for msg in msgs:
                n = await enqueue(conn, [msg], now)
                if n and msg.dedupe:
                    self.keys.append(msg.dedupe)
                added += n
            return added

        async def recording_claim(conn: Any, claims: list[tuple[int, str, str]], now: datetime) -> None:
            fresh = [c for c in claims if await duty.notice_unclaimed(conn, *c)]
            await claim(conn, claims, now)
            self.claims.extend(fresh)

        monkeypatch.setattr(outbox, "enqueue", recording_enqueue)
        monkeypatch.setattr(duty, "claim_notices", recording_claim)

    def repeated(self) -> list[Any]:
        seen: set[Any] = set()
        return [k for k in [*self.keys, *self.claims] if k in seen or seen.add(k)]  # type: ignore[func-returns-value]


async def _long_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keep: int,
                    kept: tuple[str, ...] | None = None) -> tuple[Harness, Recorder, int]:
    cfg = from_mapping({"admins": {"super_admins": [1001]}, "database": {"keep_sent_days": max(keep, 60)}}, env={})
    h = await make_harness(tmp_path, config=cfg)
    pruner = RetentionService(h.db, SH, keep)
    if kept is not None:
        monkeypatch.setattr(retention_service, "KEPT_PREFIXES", kept)
    producers = h.services.producers
    producers[-1] = pruner.produce  # the retention producer, at the chosen keep
    # Things whose once-only checks recur for weeks: a monthly shift nobody checks in to (nudge,
    # note to the chair), a review cycle left open after its deadline (note to the chair), a task
    # left overdue (a digest every day, each day's key new).
    assert "已设置" in await h.say(WORK, "王芳", "/rota_set 月 2026-11-24 @liumin 陈静")
    assert "已" in await h.say(1001, "王芳", "/review_start 2026年度述职 11月26日前 从今天")
    await h.say(WORK, "王芳", "/task_add 11月25日前 上报妇女议事会记录 @liumin")
    recorder = Recorder(monkeypatch)
    start = h.clock.now()
    await h.advance_to(start + timedelta(days=keep + 40), step=timedelta(hours=2))
    async with h.db.read() as conn:
        cur = await conn.execute("SELECT COUNT(*) FROM outbox")
        rows = int((await cur.fetchone() or (0,))[0])
    return h, recorder, rows


async def test_pruning_never_lets_a_message_go_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    floor = min_keep_days((3, 1), 6.0)
    h, recorder, rows = await _long_run(tmp_path, monkeypatch, floor)
    try:
        assert recorder.repeated() == []
        assert any(k.startswith("review:") and ":deadline:" in k for k in recorder.keys)
        assert sum(1 for _, kind, _ in recorder.claims if kind == "nudge") >= 2
        assert rows < len(recorder.keys)  # something was pruned
    finally:
        await h.app.shutdown()
        await h.db.close()


async def test_without_the_kept_keys_the_check_would_fail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The control: prune the review keys too and the chair's deadline note comes back."""
    h, recorder, _ = await _long_run(tmp_path, monkeypatch, min_keep_days((3, 1), 6.0), kept=())
    try:
        assert any(k.startswith("review:") for k in recorder.repeated())
    finally:
        await h.app.shutdown()
        await h.db.close()


def _config_file(tmp_path: Path, db: Path) -> str:
    path = tmp_path / "c.toml"
    path.write_text(f'[database]\npath = "{db}"\n', encoding="utf-8")
    return str(path)


async def test_stats_db_and_vacuum_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db_path = tmp_path / "old.db"
    db = await Database.open(db_path)
    await _sent(db, "rem:1:old", datetime.now(UTC) - timedelta(days=90))
    await db.close()
    with sqlite3.connect(db_path) as plain:  # a file from before incremental vacuum
        plain.execute("PRAGMA auto_vacuum=NONE")
        plain.execute("VACUUM")
    config = _config_file(tmp_path, db_path)
    assert await _run(["stats-db", "--config", config]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^outbox\s+1\s+[\d.—]+$", out, re.M), out
    assert "auto_vacuum）：none" in out and "python -m bot vacuum" in out
    assert await _run(["vacuum", "--config", config]) == 0
    out = capsys.readouterr().out
    assert "已删除 60 天前发送的消息 1 条" in out
    assert await _run(["stats-db", "--config", config]) == 0
    out = capsys.readouterr().out
    assert "auto_vacuum）：incremental" in out and re.search(r"^outbox\s+0\s", out, re.M)


async def _run(argv: list[str]) -> int:
    import asyncio

    return await asyncio.to_thread(main, argv)


async def test_sent_duty_rows_go_after_two_days_their_claims_stay(tmp_path: Path) -> None:
    """`duty:` outbox rows only repeat the notice claims: pruned two days after sending, while other
    sent rows (and the claims) stay for keep_sent_days."""
    db = await Database.open(tmp_path / "d.db")
    try:
        sent_at = NOW - timedelta(days=3)
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO orgs(id, name, created_at, created_by) VALUES (1, '甲村妇联', ?, 1)",
                               (sent_at.isoformat(),))
            await duty.claim_notices(conn, [(1, "handoff", "2026-11-28T08:00:00+08:00")], sent_at)
            await outbox.enqueue(conn, [Outgoing(-1, "k", dedupe="duty:1:handoff:2026-11-28T08:00:00+08:00:work"),
                                        Outgoing(-1, "k", dedupe="rem:1:2026-11-28"), Outgoing(-1, "k")], sent_at)
            await conn.execute("UPDATE outbox SET status = 'sent', sent_at = ?", (sent_at.isoformat(),))
        done = await RetentionService(db, SH, 60).prune(NOW)
        assert done.outbox == 1 and done.notices == 0
        async with db.read() as conn:
            cur = await conn.execute("SELECT dedupe FROM outbox ORDER BY id")
            assert [r[0] for r in await cur.fetchall()] == ["rem:1:2026-11-28", None]
            assert not await duty.notice_unclaimed(conn, 1, "handoff", "2026-11-28T08:00:00+08:00")
    finally:
        await db.close()


async def test_migration_18_keeps_check_ins_and_claims(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    db = await Database.open(path, migrate=False)
    await db.migrate(up_to=17)
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO orgs(id, name, created_at, created_by) VALUES (1, '甲村妇联', ?, 1)",
                           (NOW.isoformat(),))
        await conn.execute("INSERT INTO members(id, org_id, display_name, role, added_at)"
                           " VALUES (5, 1, '甲', 'member', ?)", (NOW.isoformat(),))
        await duty.checkin(conn, 1, NOW, 5, NOW)
        await duty.claim_notices(conn, [(1, "nudge", "r1")], NOW)
    await db.migrate()
    async with db.read() as conn:
        assert await duty.checked_in(conn, 1, NOW)
        assert not await duty.notice_unclaimed(conn, 1, "nudge", "r1")
        for table in ("checkins", "sent_notices"):
            with pytest.raises(sqlite3.OperationalError):  # one B-tree: no rowid
                await conn.execute(f"SELECT rowid FROM {table}")
    await db.close()
