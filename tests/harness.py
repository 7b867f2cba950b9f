"""Offline handler-test harness: the real Application with a recording fake Bot API."""

from __future__ import annotations

import atexit
import math
import os
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.app import App, build_application, build_services, start_services
from bot.config import Config, from_mapping
from bot.demo import DemoWorld, load_world, seed
from bot.fake_api import ApiCall, FakeBotApi
from bot.simulator import Persona, UpdateFactory
from handlers.scheduling import next_due
from services.clock import SimClock
from storage.db import Database
from tests import pg_support

WORK = -1001000000001
PUBLIC = -1001000000002
START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Monday 09:00 in Asia/Shanghai


class Harness:
    def __init__(self, app: App, api: FakeBotApi, clock: SimClock, db: Database, world: DemoWorld) -> None:
        self.app = app
        self.api = api
        self.clock = clock
        self.db = db
        self.world = world
        self.services = app.bot_data["services"]
        titles = {WORK: world.work_chat[1], PUBLIC: world.public_chat[1]}
        self.factory = UpdateFactory(app.bot, clock, titles)
        api.chat_titles.update(titles)
        self.people = {p.persona.first_name: p.persona for p in world.people}

    async def tick(self) -> list[ApiCall]:
        """Run what fell due (the duty notices, reminders …) and return the calls made."""
        before = len(self.api.calls)
        for ticker in self.services.tickers:
            await ticker(self.app)
        return self.api.calls[before:]

    async def advance_to(self, moment: datetime, step: timedelta = timedelta(minutes=10)) -> list[ApiCall]:
        """Walk the clock to `moment` in steps, running what falls due at each step; steps where
        nothing can fall due (handlers.scheduling.next_due) are skipped, which changes nothing else."""
        before = len(self.api.calls)
        while self.clock.now() < moment:
            now = self.clock.now()
            due = await next_due(self.services, now)
            ahead = moment - now if due is None else max(step, step * math.ceil((due - now) / step))
            self.clock.advance(min(ahead, moment - now))
            await self.tick()
        return self.api.calls[before:]

    def person(self, name: str) -> Persona:
        return self.people[name]

    async def send(
        self,
        chat_id: int,
        who: Persona | str,
        text: str,
        reply_to: dict[str, Any] | None = None,
        entities: list[dict[str, Any]] | None = None,
    ) -> list[ApiCall]:
        persona = self.person(who) if isinstance(who, str) else who
        before = len(self.api.calls)
        await self.app.process_update(self.factory.message(chat_id, persona, text, reply_to, entities))
        self.check_units()
        return self.api.calls[before:]

    def check_units(self) -> None:
        """No handler called Telegram while its unit of work held the database writer."""
        assert not self.api.unit_violations, f"API calls inside an open unit of work: {self.api.unit_violations}"

    async def say(self, chat_id: int, who: Persona | str, text: str) -> str:
        """Send and return the texts the bot sent back (joined)."""
        calls = await self.send(chat_id, who, text)
        return "\n".join(c.text for c in calls if c.method in ("sendMessage", "editMessageText"))

    async def press(self, who: Persona | str, call: ApiCall, index: int) -> list[ApiCall]:
        persona = self.person(who) if isinstance(who, str) else who
        message = call.result
        assert isinstance(message, dict)
        current = self.api.messages[(message["chat"]["id"], message["message_id"])]
        # A message whose buttons were removed can still be pressed from a stale client view.
        markup = current.get("reply_markup") or call.params["reply_markup"]
        buttons = [b for row in markup["inline_keyboard"] for b in row]
        before = len(self.api.calls)
        await self.app.process_update(self.factory.callback(persona, current, buttons[index]["callback_data"]))
        self.check_units()
        return self.api.calls[before:]


_TEMPLATE: Path | None = None  # the demo database as every default harness starts it


async def _demo_template() -> Path:
    """Migrated and seeded once per test process; each default harness starts from a copy (the
    migrations and the seed are most of a harness's set-up time)."""
    global _TEMPLATE
    if _TEMPLATE is None:
        folder = Path(tempfile.mkdtemp(prefix="zhiwei-test-template-"))
        atexit.register(shutil.rmtree, folder, True)
        world = load_world()
        cfg = from_mapping({"admins": {"super_admins": world.super_admins}}, env={})
        db = await Database.open(folder / "demo.db")
        await seed(db, world, SimClock(START), cfg.tz, cfg.duty.handoff)
        await db.close()  # checkpointed: the file alone is the whole database
        _TEMPLATE = folder / "demo.db"
    return _TEMPLATE


# TEST_HARNESS_ENGINE=postgresql (with TEST_DATABASE_URL): every harness on its own PostgreSQL database,
# the demo ones created from a seeded template database (a check of every flow on that engine).
PG_HARNESS = os.environ.get("TEST_HARNESS_ENGINE") == "postgresql" and bool(pg_support.TEST_URL)
_PG_TEMPLATE: str | None = None
PG_HARNESS_DBS: dict[str, str] = {}  # tmp_path → the harness's database (a restart opens it again)


async def _pg_location(tmp_path: Any, from_template: bool) -> str:
    global _PG_TEMPLATE
    known = PG_HARNESS_DBS.get(str(tmp_path))
    if known is not None:
        return known
    if from_template and _PG_TEMPLATE is None:
        _PG_TEMPLATE = await pg_support.create_database()
        atexit.register(pg_support.drop_databases_now, [_PG_TEMPLATE])
        world = load_world()
        cfg = from_mapping({"admins": {"super_admins": world.super_admins}}, env={})
        db = await Database.open(_PG_TEMPLATE)
        await seed(db, world, SimClock(START), cfg.tz, cfg.duty.handoff)
        await db.close()
    url = await pg_support.create_database(template=_PG_TEMPLATE if from_template else None)
    PG_HARNESS_DBS[str(tmp_path)] = url
    return url


async def make_harness(tmp_path: Any, demo: bool = True, config: Config | None = None,
                       start: datetime = START) -> Harness:
    world = load_world()
    cfg = config or from_mapping({"admins": {"super_admins": world.super_admins}}, env={})
    clock = SimClock(start)
    path: str | Path = Path(tmp_path) / "test.db"
    from_template = demo and config is None and start == START
    if PG_HARNESS:
        path = await _pg_location(tmp_path, from_template)
    elif from_template:
        shutil.copyfile(await _demo_template(), path)
    db = await Database.open(path)
    if demo and not from_template:
        await seed(db, world, clock, cfg.tz, cfg.duty.handoff)
    api = FakeBotApi(clock)
    api.chat_admins[WORK] = {world.chair.user_id}
    api.chat_admins[PUBLIC] = {world.chair.user_id}
    services = build_services(cfg, db, clock)
    await start_services(services)
    app = build_application(services, token="123456:TEST", request=api)
    await app.initialize()
    return Harness(app, api, clock, db, world)


async def restarted(old: Harness, tmp_path: Any) -> Harness:
    """The bot restarted: a new Application (nothing in chat_data or user_data) on the same database at
    the same moment; Telegram still shows the messages sent before. Shut it down like any harness."""
    new = await make_harness(tmp_path, demo=False, start=old.clock.now())
    new.api.messages.update(old.api.messages)
    new.api.chat_admins.update(old.api.chat_admins)
    return new
