"""Callback data is a claim, never a proof: every button prefix the bot uses, forged by someone who
has no business with the objects behind the ids (a stranger, from her own private chat), changes
nothing in the database and sends nothing to anyone else; an entry button never shows another
organisation's own entry. The wrong member of the right organisation and another organisation's chair,
from a real group message and from their own chats, change nothing either (more per feature:
reminders, imports, 再记一条, 再布置一个, 都不是, votes, 我来回答.)"""

from __future__ import annotations

import pytest

from bot.simulator import Persona
from tests.harness import PUBLIC, WORK, Harness
from tests.pg_support import table_names

pytestmark = pytest.mark.handler

STRANGER = Persona(7777, "外人", "outsider_x")
# Every prefix registered in bot/app.py, with ids that exist in the demo world or after setup below.
FORGED = [
    "join:1:yes", "fg:abcdEFGH1234:y", "swap:1:yes", "rs:done", "rs:p:day", "faq:take:1", "faq:save:1",
    "faq:cancel:1", "faq:none:1", "faq:v:1:1", "vil:1", "fi:ok:1", "fi:no:1", "rm:d:1",
    "rm:s:1", "rvc:1:yes", "rv:g:1:2", "rv:p:1", "tr:1:s", "tr:1:l", "lg:a:1", "tk:a:1:1",
]


async def snapshot(h: Harness) -> dict[str, list[tuple[object, ...]]]:
    """Every table's rows, but the users table (pressing a button records that the user exists)."""
    out: dict[str, list[tuple[object, ...]]] = {}
    async with h.db.read() as conn:
        for table in await table_names(conn):
            if table in ("users", "schema_migrations"):
                continue
            cur = await conn.execute(f"SELECT * FROM {table}")
            out[table] = sorted(tuple(r) for r in await cur.fetchall())
    return out


async def make_objects(h: Harness) -> None:
    """Something behind each id: a question passed on, a reminder, a ledger entry, a task."""
    guest = h.person("孙小梅")
    await h.say(PUBLIC, guest, "大家好")
    await h.send(PUBLIC, guest, "/ask 明天天气怎么样？")  # faq_unanswered #1 and faq_asked
    await h.say(guest.user_id, guest, "/remind 明天上午9点 去卫生院")  # a private reminder
    await h.say(WORK, "赵霞", "/log 走访 看望3组独居老人")  # ledger entry


@pytest.mark.parametrize("data", FORGED)
async def test_a_forged_button_from_a_stranger_changes_nothing(h: Harness, data: str) -> None:
    await make_objects(h)
    before = await snapshot(h)
    own = (await h.send(STRANGER.user_id, STRANGER, "/start"))[-1].result  # a message in her own chat
    calls_before = len(h.api.calls)
    await h.app.process_update(h.factory.callback(STRANGER, own, data))
    calls = h.api.calls[calls_before:]
    assert await snapshot(h) == before, data
    sent_elsewhere = [c for c in calls if c.method in ("sendMessage", "sendDocument")
                      and c.chat_id not in (STRANGER.user_id,)]
    assert sent_elsewhere == [], (data, [c.text[:60] for c in sent_elsewhere])


async def test_a_forged_entry_button_never_shows_another_organisations_own_entry(h: Harness) -> None:
    text = await h.say(WORK, "王芳", "/faq_add 村里的秘密联系电话 | 内部电话13900000000 | 内部")
    entry_id = text.split("<code>")[1].split("</code>")[0]
    own = (await h.send(STRANGER.user_id, STRANGER, "/start"))[-1].result
    before = len(h.api.calls)
    await h.app.process_update(h.factory.callback(STRANGER, own, f"faq:q:{entry_id}"))
    assert not any("13900000000" in c.text for c in h.api.calls[before:])


# A member of the right organisation may press what is hers to press (sign herself up for a training,
# take a question on duty …); these are not hers: a join or a swap meant for someone else, another
# woman's erasure or reminder, the chair's import, rotation wizard and review close, someone else's
# 都不是 / 存为问答 / 再记一条 / 再布置一个.
NOT_HERS = [d for d in FORGED if not d.startswith(("tr:", "faq:take:", "faq:v:", "rv:"))]


OTHER_WORK = -1001000000880
OTHER_CHAIR = Persona(7788, "林芳", "linfang_x")


@pytest.mark.parametrize("data", NOT_HERS)
async def test_a_forged_button_from_the_wrong_member_changes_nothing(h: Harness, data: str) -> None:
    await make_objects(h)
    before = await snapshot(h)
    member = h.person("刘敏")
    for chat in (WORK, member.user_id):  # pressed on a real message in the work group, and in her own chat
        own = (await h.send(chat, member, "/whoami"))[-1].result
        await h.app.process_update(h.factory.callback(member, own, data))
    assert await snapshot(h) == before, data


@pytest.mark.parametrize("data", FORGED)
async def test_a_forged_button_from_another_organisations_chair_changes_nothing_here(h: Harness, data: str) -> None:
    h.api.chat_admins[OTHER_WORK] = {OTHER_CHAIR.user_id}
    assert "已创建" in await h.say(OTHER_WORK, OTHER_CHAIR, "/setup 白沙村妇联")
    await make_objects(h)
    before = await snapshot(h)
    for chat in (OTHER_WORK, OTHER_CHAIR.user_id):  # from her own work group and her private chat
        own = (await h.send(chat, OTHER_CHAIR, "/whoami"))[-1].result
        await h.app.process_update(h.factory.callback(OTHER_CHAIR, own, data))
    assert await snapshot(h) == before, data
