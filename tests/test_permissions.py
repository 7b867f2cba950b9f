"""One registry of who may do what (issue #12): the access check before every handler follows
handlers/commands.py for every command × role (another organisation's chair included) × kind of
chat, and the command reference's tables (docs/reference.md) say what the registry says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.simulator import Persona
from handlers.commands import COMMANDS, SPECS, ChatKind, dispatch, handles, refusal
from handlers.common import Level
from handlers.i18n import t
from tests.harness import PUBLIC, WORK, Harness

pytestmark = pytest.mark.handler

OTHER_WORK = -1001000000990  # another organisation's work group
UNBOUND = -1001000000991  # a group no organisation is bound to
OTHER_CHAIR = Persona(8801, "林芳", "linfang_other")
STRANGER = Persona(8802, "外人", "outsider_perm")

# (who, her level in the demo organisation's groups, in a private chat)
ROLES: dict[str, tuple[str | Persona, Level, Level]] = {
    "super admin": ("县妇联周主任", "super", "super"),
    "chair": ("王芳", "manager", "manager"),
    "vice chair": ("李秀英", "manager", "manager"),
    "member": ("刘敏", "member", "member"),
    "outsider": (STRANGER, "everyone", "everyone"),
    "another organisation's chair": (OTHER_CHAIR, "everyone", "manager"),
}
CENTRAL = ("common.managers_only", "common.chair_only", "common.super_only", "common.group_only")


def persona(h: Harness, who: str | Persona) -> Persona:
    return h.person(who) if isinstance(who, str) else who


@pytest.mark.parametrize("role", list(ROLES))
async def test_every_command_from_every_role_in_every_chat_follows_the_registry(h: Harness, role: str) -> None:
    h.api.chat_admins[OTHER_WORK] = {OTHER_CHAIR.user_id}
    assert "已创建" in await h.say(OTHER_WORK, OTHER_CHAIR, "/setup 白沙村妇联")
    who, group_level, private_level = ROLES[role]
    me = persona(h, who)
    chats: list[tuple[int, ChatKind, Level]] = [
        (WORK, "work", group_level), (PUBLIC, "public", group_level), (me.user_id, "private", private_level),
        (UNBOUND, "unbound", "super" if group_level == "super" else "everyone"),
    ]
    central_texts = {t("zh_cn", key) for key in CENTRAL}
    checked = 0
    for spec in COMMANDS:
        for chat_id, kind, level in chats:
            key = refusal(spec.name, kind, level)
            text = await h.say(chat_id, me, f"/{spec.name}")
            where = f"/{spec.name} by {role} in {kind}"
            if key is not None:
                assert text == t("zh_cn", key), where  # refused before the handler, and nothing else said
            else:
                assert text not in central_texts, where  # the handler ran (it may still refuse on its own)
            checked += 1
    assert checked == len(COMMANDS) * 4


def test_the_decision_table_for_the_drift_cases() -> None:
    # decided on the merits (issue #12): group-only commands are refused in private; the chair's
    # commands are refused to members everywhere; the county may use every manager command.
    assert refusal("addmember", "private", "manager") == "common.group_only"
    assert refusal("link", "private", "super") == "common.group_only"
    assert refusal("stats", "private", "super") is None
    assert refusal("stats", "work", "member") == "common.managers_only"
    assert refusal("review_close", "private", "member") == "common.chair_only"
    assert refusal("forget", "private", "manager") == "common.super_only"
    assert refusal("remind", "private", "everyone") is None  # anyone, for herself
    assert refusal("remind", "work", "everyone") == "common.not_member"
    assert refusal("duty", "private", "everyone") == "common.no_org_private"
    assert refusal("score", "work", "member") is None  # private-only: its handler offers the private chat


REFERENCE = Path(__file__).resolve().parent.parent / "docs" / "reference.md"  # the command reference
WHO_WORDS: list[tuple[str, Level]] = [
    ("super admin", "super"), ("chair", "manager"), ("vice chair", "manager"), ("the person on duty", "member"),
    ("the task's owners", "member"), ("members", "member"), ("everyone", "everyone"), ("anyone", "everyone"),
    ("group owner/admin", "everyone"), ("who set it", "everyone"),
]


def readme_rows() -> list[tuple[list[str], str, str | None]]:
    """(commands, who, where) of every command-table row of the reference that has a who column."""
    rows = []
    header: list[str] = []
    for line in REFERENCE.read_text(encoding="utf-8").splitlines():
        if line.startswith("| command"):
            header = [c.strip() for c in line.strip("|").split("|")]
            continue
        if not line.startswith("| `/") or "who" not in header:
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        names = [n for n in re.findall(r"`/([a-z_]+)", cells[0]) if n in SPECS]
        where = cells[header.index("where")] if "where" in header else None
        rows.append((names, cells[header.index("who")], where))
    return rows


def level_of(who: str) -> Level:
    """The lowest role the reference's who-column names."""
    found = [level for word, level in WHO_WORDS if word in who.lower()]
    order: dict[Level, int] = {"everyone": 0, "member": 1, "manager": 2, "super": 3}
    assert found, who
    return min(found, key=lambda level: order[level])


def test_the_reference_command_tables_agree_with_the_registry() -> None:
    rows = readme_rows()
    documented = {name for names, _, _ in rows for name in names}
    assert documented >= {"addmember", "duty", "review_close", "forget", "stats", "task_add"}
    order: dict[Level, int] = {"everyone": 0, "member": 1, "manager": 2, "super": 3}
    exact: set[str] = set()
    for names, who, where in rows:
        for name in names:
            spec = SPECS[name]
            # a row may document a stricter form (/attend <编号> @甲: managers), never a looser one
            assert order[level_of(who)] >= order[spec.level], f"/{name}: reference says {who!r}, registry {spec.level}"
            if level_of(who) == spec.level:
                exact.add(name)
            if where is not None and spec.where != "any":
                wanted = "private" if spec.where == "private" else "group"
                assert wanted in where.lower(), f"/{name}: the reference says {where!r}, the registry {spec.where}"
                if spec.where == "group":
                    assert "private" not in where.lower(), f"/{name}: group-only, the reference says {where!r}"
    assert exact == documented, f"no reference row at the registry's level: {sorted(documented - exact)}"


async def test_menus_per_scope_show_each_chat_what_its_people_may_use(h: Harness) -> None:
    import json

    from bot.app import publish_commands

    mark = len(h.api.calls)
    await publish_commands(h.app)
    menus: dict[str, set[str]] = {}
    for call in h.api.calls[mark:]:
        if call.method == "setMyCommands":
            scope = call.params["scope"]
            scope = json.loads(scope) if isinstance(scope, str) else scope
            commands = call.params["commands"]
            commands = json.loads(commands) if isinstance(commands, str) else commands
            key = scope["type"] + (f":{scope['chat_id']}" if "chat_id" in scope else "")
            menus[key] = {c["command"] for c in commands}
    groups, work, private = menus["all_group_chats"], menus[f"chat:{WORK}"], menus["all_private_chats"]
    assert {"ask", "help", "join"} <= groups and not groups & {"duty", "log", "task_add", "addmember", "rota_set"}
    assert {"duty", "log", "task_add", "addmember", "rota_set", "ask"} <= work and "report" not in work
    assert {"ask", "report", "rate", "myreview"} <= private and "addmember" not in private
    # a new organisation's work group gets its menu at /setup
    h.api.chat_admins[OTHER_WORK] = {OTHER_CHAIR.user_id}
    calls = await h.send(OTHER_WORK, OTHER_CHAIR, "/setup 白沙村妇联")
    assert any(c.method == "setMyCommands" and str(OTHER_WORK) in str(c.params.get("scope")) for c in calls)


def test_the_dispatch_is_the_registry_with_one_handler_each() -> None:
    import bot.app  # noqa: F401  (imports every handler module, which register their commands)

    pairs = dispatch()
    assert [spec.name for spec, _ in pairs] == [c.name for c in COMMANDS]
    assert len({id(callback) for _, callback in pairs}) == len(COMMANDS)  # no handler serves two commands


def test_a_handler_for_a_command_outside_the_table_or_a_second_one_fails_at_import() -> None:
    with pytest.raises(KeyError):
        handles("no_such_command")

    async def another(update: object, context: object) -> None:
        return None

    with pytest.raises(RuntimeError, match="two handlers"):
        handles("duty")(another)


async def test_the_application_registers_exactly_the_registrys_commands(h: Harness) -> None:
    from telegram.ext import CommandHandler

    names = [name for group in h.app.handlers.values() for handler in group
             if isinstance(handler, CommandHandler) for name in handler.commands]
    assert sorted(names) == sorted(SPECS)
