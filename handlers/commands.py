"""The command registry: who may use each command and where. The single source for the access check
run before every handler (bot/app.py), for the dispatch (each handler names its command with
`@handles`, and bot/app.py registers exactly the table's commands from it), for /help and for the
command menus; the command tables (docs/reference.md) are checked against it
(tests/test_permissions.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

from telegram import Bot, BotCommand, BotCommandScopeChat
from telegram.error import TelegramError

from handlers.common import LEVEL_ORDER, Handler, Level
from handlers.i18n import t

log = logging.getLogger(__name__)

Where = Literal["any", "group", "private"]
# Where a command is used: a private chat, an organisation's work group or public group, or a group
# no organisation is bound to yet.
ChatKind = Literal["private", "work", "public", "unbound"]


@dataclass(frozen=True)
class CommandSpec:
    name: str
    level: Level
    where: Where = "any"
    group_level: Level | None = None  # a stricter level in groups (e.g. /remind: anyone in private)
    chair_only: bool = False  # of the managers, the chair alone (the handler refuses a vice chair)


COMMANDS: list[CommandSpec] = [
    CommandSpec("start", "everyone"),
    CommandSpec("ask", "everyone"),
    CommandSpec("help", "everyone"),
    CommandSpec("whoami", "everyone"),
    CommandSpec("lang", "everyone"),
    CommandSpec("join", "everyone"),
    CommandSpec("members", "member"),
    CommandSpec("setup", "everyone", "group"),
    CommandSpec("link", "manager", "group"),
    CommandSpec("addmember", "manager", "group"),
    CommandSpec("setrole", "manager"),
    CommandSpec("removemember", "manager"),
    CommandSpec("duty", "member"),
    CommandSpec("rota", "member"),
    CommandSpec("checkin", "member"),
    CommandSpec("leave", "member"),
    CommandSpec("swap", "member"),
    CommandSpec("log", "member"),
    CommandSpec("handover", "member"),
    CommandSpec("ledger", "member"),
    CommandSpec("remind", "everyone", group_level="member"),
    CommandSpec("reminders", "everyone", group_level="member"),
    CommandSpec("cancel", "everyone", group_level="member"),
    CommandSpec("report_month", "manager"),
    CommandSpec("stats", "manager"),
    CommandSpec("report", "member", "private"),
    CommandSpec("rate", "member", "private"),
    CommandSpec("myreview", "member", "private"),
    CommandSpec("review_status", "manager", "private"),
    CommandSpec("score", "manager", "private"),
    CommandSpec("adjust", "manager", "private"),
    CommandSpec("review_start", "manager", "private", chair_only=True),
    CommandSpec("review_close", "manager", "private", chair_only=True),
    CommandSpec("review_config", "manager", "private"),
    CommandSpec("tasks", "member"),
    CommandSpec("task", "member"),
    CommandSpec("done", "member"),
    CommandSpec("overdue", "member"),
    CommandSpec("task_add", "manager"),
    CommandSpec("trainings", "member"),
    CommandSpec("attend", "member"),
    CommandSpec("training_add", "manager"),
    CommandSpec("training_cancel", "manager"),
    CommandSpec("untrained", "manager"),
    CommandSpec("rota_set", "manager"),
    CommandSpec("assign", "manager"),
    CommandSpec("dayoff", "manager"),
    CommandSpec("unanswered", "manager"),
    CommandSpec("faq_list", "manager"),
    CommandSpec("faq_add", "manager"),
    CommandSpec("faq_edit", "manager"),
    CommandSpec("faq_del", "manager"),
    CommandSpec("faq_import", "manager"),
    CommandSpec("faq_export", "manager"),
    CommandSpec("forget", "super", "private"),
    CommandSpec("orgs", "super", "private"),
    CommandSpec("holidays", "super", "private"),
    CommandSpec("holiday_set", "super", "private"),
    CommandSpec("holiday_del", "super", "private"),
    CommandSpec("status", "super", "private"),
    CommandSpec("calendar", "member"),
]


SPECS: dict[str, CommandSpec] = {c.name: c for c in COMMANDS}

_CALLBACKS: dict[str, Handler] = {}
H = TypeVar("H", bound=Handler)


def handles(name: str) -> Callable[[H], H]:
    """Declare the handler of a command of the table (a name not in the table, or a second handler for
    the same command, fails at import)."""
    if name not in SPECS:
        raise KeyError(f"/{name} is not in the command table (handlers/commands.py COMMANDS)")

    def bind(callback: H) -> H:
        if name in _CALLBACKS and _CALLBACKS[name] is not callback:
            raise RuntimeError(f"/{name} has two handlers: {_CALLBACKS[name].__qualname__}, {callback.__qualname__}")
        _CALLBACKS[name] = callback
        return callback

    return bind


def dispatch() -> list[tuple[CommandSpec, Handler]]:
    """Every command of the table with its handler, in table order (call it after importing the handler
    modules). A command without a handler fails here, at start-up."""
    missing = [c.name for c in COMMANDS if c.name not in _CALLBACKS]
    if missing:
        raise RuntimeError(f"commands without a handler (@handles): {missing}")
    return [(c, _CALLBACKS[c.name]) for c in COMMANDS]


def wrong_place(name: str, private: bool) -> str | None:
    """The locale key of the refusal when a group-only command is used in a private chat, else None.
    Enforced for every command before its handler runs (bot/app.py), from this one table. Private-only
    commands used in a group are answered by their handlers, with a button that opens the private
    chat (handlers/review/common.private_only) — friendlier than a refusal."""
    spec = SPECS.get(name)
    if spec is not None and spec.where == "group" and private:
        return "common.group_only"
    return None


def required_level(spec: CommandSpec, chat: ChatKind) -> Level:
    return spec.group_level if chat != "private" and spec.group_level is not None else spec.level


def refusal(name: str, chat: ChatKind, level: Level) -> str | None:
    """The registry's decision for a caller at `level` (her best role in this chat's organisation; in
    a private chat, over her organisations): the locale key of the refusal, or None when the handler
    runs (it then checks which organisation and which object, and may still refuse). Member commands
    in an unbound group or the women's group go on to their handler, which says how to bind the group
    or where to use the command."""
    spec = SPECS.get(name)
    if spec is None:
        return None
    place = wrong_place(name, chat == "private")
    if place is not None:
        return place
    if spec.where == "private" and chat != "private":
        return None  # the handler answers with a button that opens the private chat
    need = required_level(spec, chat)
    if LEVEL_ORDER[level] >= LEVEL_ORDER[need]:
        return None
    if need == "super":
        return "common.super_only"
    if chat == "unbound":
        return None  # the handler says how to bind this group (/link with a code checks its issuer)
    if chat == "private" and level == "everyone":
        return "common.no_org_private"
    if need == "manager":
        return "common.chair_only" if spec.chair_only else "common.managers_only"
    if chat == "public":
        return None  # the handler says the women's group is not the place for this
    return "common.not_member"


def visible(level: Level, private: bool) -> list[CommandSpec]:
    """Commands a caller at `level` can use in this kind of chat."""
    where_ok = ("any", "private") if private else ("any", "group")
    return [c for c in COMMANDS
            if LEVEL_ORDER[c.level if private or c.group_level is None else c.group_level] <= LEVEL_ORDER[level]
            and c.where in where_ok]


MenuScope = Literal["private", "groups", "work"]


def menu(lang: str | None, scope: MenuScope) -> list[BotCommand]:
    """The command menu per scope: a private chat; any group (what every woman in the women's group
    may use); an organisation's work group (every group command)."""
    def fits(c: CommandSpec) -> bool:
        if scope == "private":
            return c.where != "group"
        if c.where == "private":
            return False
        return scope == "work" or required_level(c, "public") == "everyone"

    return [BotCommand(c.name, t(lang, f"help.commands.{c.name}")[:256]) for c in COMMANDS if fits(c)]


async def publish_work_menu(bot: Bot, chat_id: int, lang: str | None) -> None:
    """The work group's own menu (every group command); a failure only costs the menu."""
    try:
        await bot.set_my_commands(menu(lang, "work"), scope=BotCommandScopeChat(chat_id))
    except TelegramError as exc:
        log.warning("could not set the work group's command menu in %s: %s", chat_id, exc)
