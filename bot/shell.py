"""`python -m bot shell`: a local chat console over the very same handlers as `run`.

No token, no network: PTB talks to `FakeBotApi`, updates are built by `UpdateFactory`, time is a
`SimClock` that `:advance` moves (running whatever fell due). Reads commands from a terminal or,
when stdin is not a terminal (or with --script), one line at a time, printing every bot reply.
"""

from __future__ import annotations

import asyncio
import html
import re
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from bot.app import App, build_application, build_services, start_services
from bot.config import Config
from bot.demo import DemoWorld, load_world, seed
from bot.fake_api import ApiCall, FakeBotApi
from bot.simulator import Persona, UpdateFactory
from handlers import formats
from handlers.i18n import t
from handlers.scheduling import next_due
from services.clock import SimClock
from storage.db import Database

_TAG = re.compile(r"<[^>]+>")
_ADVANCE = re.compile(r"^(\d+)\s*([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
_STEP = timedelta(minutes=5)  # steps end on 5-minute marks: nothing due goes out more than 5 min late


def _mark_at_or_before(moment: datetime) -> datetime:
    return moment - timedelta(minutes=moment.minute % 5, seconds=moment.second, microseconds=moment.microsecond)


def _next_mark(moment: datetime) -> datetime:
    """The first 5-minute mark after `moment`."""
    return _mark_at_or_before(moment) + _STEP


def html_to_plain(text: str) -> str:
    return html.unescape(_TAG.sub("", text))


class Shell:
    def __init__(
        self, app: App, api: FakeBotApi, clock: SimClock, world: DemoWorld, config: Config, out: TextIO,
        files_dir: Path | None = None,
    ) -> None:
        self.files_dir = files_dir or Path(tempfile.gettempdir()) / "zhiwei-shell-files"
        self.saved = 0
        self.last_bot_message: dict[int, dict[str, Any]] = {}
        self.last_in_chat: dict[int, dict[str, Any]] = {}
        self.app = app
        self.api = api
        self.clock = clock
        self.world = world
        self.config = config
        self.out = out
        self.people: dict[str, Persona] = {p.persona.first_name: p.persona for p in world.people}
        self.by_id: dict[int, Persona] = {p.persona.user_id: p.persona for p in world.people}
        self.persona = world.chair
        self.where = "work"
        titles = {world.work_chat[0]: world.work_chat[1], world.public_chat[0]: world.public_chat[1]}
        self.factory = UpdateFactory(app.bot, clock, titles)
        api.chat_titles.update(titles)
        api.chat_titles.update({p.user_id: p.first_name for p in self.by_id.values()})
        for chat_id in titles:
            api.chat_admins[chat_id] = {world.chair.user_id}
        self.last_with_buttons: dict[str, Any] | None = None
        api.listeners.append(self._show)

    # --- output ---------------------------------------------------------------------------------

    def _chat_label(self, chat_id: int) -> str:
        if chat_id == self.world.work_chat[0]:
            return t(None, "shell.chat_work")
        if chat_id == self.world.public_chat[0]:
            return t(None, "shell.chat_public")
        who = self.by_id.get(chat_id)
        return f"{t(None, 'shell.chat_private')}·{who.first_name if who else chat_id}"

    def _show(self, call: ApiCall) -> None:
        if call.method in ("sendMessage", "sendDocument", "sendPhoto", "editMessageText"):
            chat_id = call.chat_id or 0
            marker = "✏️" if call.method == "editMessageText" else "🤖"
            extra = ""
            if call.method in ("sendDocument", "sendPhoto") and call.files:
                extra = " " + t(None, "shell.file_saved", path=self._save_files(call))
            print(f"{marker} [{self._chat_label(chat_id)}]{extra}", file=self.out)
            if isinstance(call.result, dict):
                self.last_bot_message[chat_id] = call.result
            print(html_to_plain(call.text), file=self.out)
            markup = call.params.get("reply_markup")
            if isinstance(markup, dict) and markup.get("inline_keyboard"):
                buttons = [b for row in markup["inline_keyboard"] for b in row]
                print("   " + "  ".join(f"[{i}] {b['text']}" for i, b in enumerate(buttons, 1)), file=self.out)
                if isinstance(call.result, dict):
                    self.last_with_buttons = call.result
            print(file=self.out)
        elif call.method == "answerCallbackQuery" and call.params.get("text"):
            print(f"💬 {call.params['text']}\n", file=self.out)

    def _save_files(self, call: ApiCall) -> str:
        """Files the bot sends are written to a folder next to the database; returns the path(s)."""
        self.files_dir.mkdir(parents=True, exist_ok=True)
        paths = []
        for field_name, content in call.files.items():
            self.saved += 1
            name = call.filenames.get(field_name) or f"{field_name}.bin"
            path = self.files_dir / f"{self.saved:03d}-{Path(name).name}"
            path.write_bytes(content)
            paths.append(str(path))
        return "、".join(paths)

    def say(self, text: str) -> None:
        print(text, file=self.out)

    # --- input ----------------------------------------------------------------------------------

    @property
    def chat_id(self) -> int:
        if self.where == "work":
            return self.world.work_chat[0]
        if self.where == "public":
            return self.world.public_chat[0]
        return self.persona.user_id

    def prompt(self) -> str:
        label = {"work": "shell.chat_work", "public": "shell.chat_public", "private": "shell.chat_private"}
        return f"{self.persona.first_name}@{t(None, label[self.where])}> "

    async def handle_line(self, line: str) -> bool:
        """Handle one input line; False means quit."""
        line = line.rstrip("\n")
        if not line.strip():
            return True
        if line.startswith(":"):
            return await self._directive(line[1:].strip())
        update = self.factory.message(self.chat_id, self.persona, line)
        await self.app.process_update(update)
        self.last_in_chat[self.chat_id] = update.message.to_dict() if update.message else {}
        return True

    async def _directive(self, text: str) -> bool:
        name, _, arg = text.partition(" ")
        arg = arg.strip()
        if name in ("quit", "exit", "q"):
            return False
        if name == "help":
            self.say(t(None, "shell.help"))
        elif name == "as":
            self._switch_persona(arg)
        elif name == "in":
            if arg not in ("work", "public", "private"):
                self.say(t(None, "shell.bad_chat"))
            else:
                self.where = arg
                self.say(t(None, "shell.now_as", name=self.persona.first_name, chat=self._where_label()))
        elif name == "press":
            await self._press(arg)
        elif name == "reply":
            await self._reply(arg)
        elif name == "advance":
            await self._advance(arg)
        elif name == "now":
            self.say(t(None, "shell.now", now=self._local_now()))
        elif name == "who":
            for person in self.world.people:
                role = t(None, f"roles.{person.role}")
                self.say(f"  {person.persona.first_name} (id {person.persona.user_id}) {role}")
        else:
            self.say(t(None, "shell.bad_directive", text=text))
        return True

    async def _reply(self, text: str) -> None:
        """Send `text` as a Telegram reply to the last bot message in this chat (or, with none, the
        last message typed here)."""
        target = self.last_bot_message.get(self.chat_id) or self.last_in_chat.get(self.chat_id)
        if not text or not target:
            self.say(t(None, "shell.bad_reply"))
            return
        update = self.factory.message(self.chat_id, self.persona, text, reply_to=target)
        await self.app.process_update(update)

    def _where_label(self) -> str:
        return t(None, {"work": "shell.chat_work", "public": "shell.chat_public"}.get(self.where, "shell.chat_private"))

    def _switch_persona(self, who: str) -> None:
        who = who.lstrip("@")
        found = self.people.get(who) or next((p for p in self.by_id.values() if p.username == who), None)
        if found is None and who.isdigit():
            found = self.by_id.get(int(who)) or Persona(int(who), f"用户{who}")
            self.by_id[found.user_id] = found
            self.api.chat_titles[found.user_id] = found.first_name
        if found is None:
            self.say(t(None, "shell.unknown_person", who=who))
            return
        self.persona = found
        self.say(t(None, "shell.now_as", name=found.first_name, chat=self._where_label()))

    async def _press(self, arg: str) -> None:
        message = self.last_with_buttons
        if message is None:
            self.say(t(None, "shell.no_buttons"))
            return
        current = self.api.messages.get((message["chat"]["id"], message["message_id"]), message)
        buttons = [b for row in current.get("reply_markup", {}).get("inline_keyboard", []) for b in row]
        if not arg.isdigit() or not 1 <= int(arg) <= len(buttons):
            self.say(t(None, "shell.bad_button", n=arg))
            return
        button = buttons[int(arg) - 1]
        if "callback_data" not in button:
            await self._open_url(str(button.get("url", "")))
            return
        update = self.factory.callback(self.persona, current, button["callback_data"])
        await self.app.process_update(update)

    async def _open_url(self, url: str) -> None:
        """A URL button. A deep link to the bot opens the private chat with `/start <payload>`, as
        Telegram does (e.g. a review command's "continue in private" button); other links are shown."""
        match = re.match(r"^https://t\.me/\w+\?start=([\w-]+)$", url)
        if match is None:
            self.say(url)
            return
        self.where = "private"
        self.say(t(None, "shell.now_as", name=self.persona.first_name, chat=self._where_label()))
        await self.handle_line(f"/start {match.group(1)}")

    async def _advance(self, arg: str) -> None:
        match = _ADVANCE.match(arg)
        if match is None:
            self.say(t(None, "shell.bad_advance"))
            return
        target = self.clock.now() + timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        # Tick on 5-minute marks, as a running bot would, but only on those where something may fall
        # due: from each tick straight to the mark at or after the next due time (or the target).
        services = self.app.bot_data["services"]
        while self.clock.now() < target:
            now = self.clock.now()
            mark = _next_mark(now)
            due = await next_due(services, now)
            if due is None:
                mark = target
            elif due > mark:
                due = due.astimezone(UTC)
                mark = due if due == _mark_at_or_before(due) else _next_mark(due)
            self.clock.advance(min(mark, target) - now)
            await self.run_due()
        self.say(t(None, "shell.advanced", now=self._local_now()))

    async def run_due(self) -> None:
        for tick in self.app.bot_data["services"].tickers:
            await tick(self.app)

    def _local_now(self) -> str:
        local = self.clock.now().astimezone(self.config.tz)
        return f"{local:%Y-%m-%d %H:%M} {formats.weekday(None, local.date())}"


def _lines(stream: TextIO) -> Iterator[str]:
    yield from stream


async def run_shell(
    config: Config, db_path: str, fresh: bool, seed_demo: bool, script: TextIO | None, out: TextIO = sys.stdout,
    new_database: bool = False, files_dir: Path | None = None,
) -> int:
    world = load_world()
    config = _with_super_admins(config, world.super_admins)
    clock = SimClock(_start_time())
    db = await Database.open(db_path)
    if seed_demo and not fresh:
        await seed(db, world, clock, config.tz, config.duty.handoff)
    api = FakeBotApi(clock)
    services = build_services(config, db, clock)
    await start_services(services)
    app = build_application(services, token="123456:SHELL", request=api)
    shell = Shell(app, api, clock, world, config, out, files_dir=files_dir)
    await app.initialize()
    try:
        shell.say(t(None, "shell.banner", db=db_path))
        if new_database and not seed_demo:
            shell.say(t(None, "shell.new_database"))  # --db NEWFILE: say that it starts empty
        shell.say(t(None, "shell.now_as", name=shell.persona.first_name, chat=shell._where_label()))
        await shell.run_due()
        interactive = script is None and sys.stdin.isatty()
        if interactive:
            loop = asyncio.get_running_loop()
            while True:
                try:
                    line = await loop.run_in_executor(None, input, shell.prompt())
                except EOFError:
                    break
                if not await shell.handle_line(line):
                    break
        else:
            for line in _lines(script or sys.stdin):
                if line.strip():
                    print(f"{shell.prompt()}{line.rstrip()}", file=out)
                if not await shell.handle_line(line):
                    break
    finally:
        await app.shutdown()
        await db.close()
    return 0


def _with_super_admins(config: Config, ids: list[int]) -> Config:
    from dataclasses import replace

    merged = tuple(dict.fromkeys([*config.admins.super_admins, *ids]))
    return replace(config, admins=replace(config.admins, super_admins=merged))


def _start_time() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC).replace(second=0, microsecond=0)
