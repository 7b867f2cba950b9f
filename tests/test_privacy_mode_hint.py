"""After /setup and /link the chair learns when Telegram's group privacy mode hides ordinary
messages from the bot (getMe's can_read_all_group_messages), and how to fix it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import from_mapping
from bot.demo import load_world
from tests.harness import PUBLIC, WORK, Harness, make_harness

pytestmark = pytest.mark.handler

HINT = "群隐私模式"


async def test_setup_tells_the_chair_when_privacy_mode_is_on(fresh: Harness) -> None:
    fresh.api.bot_user["can_read_all_group_messages"] = False
    text = await fresh.say(WORK, "王芳", "/setup 青石村妇联")
    assert "已创建组织「青石村妇联」" in text
    assert HINT in text and "/setprivacy → 选择 @zhiwei_helper_bot → Disable" in text
    assert "移出、再重新拉进来" in text
    # getMe is asked afresh: once privacy is off, no hint.
    fresh.api.bot_user["can_read_all_group_messages"] = True
    assert HINT not in await fresh.say(PUBLIC, "县妇联周主任", "/setup 白沙村妇联")


async def test_link_tells_the_chair_in_the_work_group_not_in_the_public_notice(h: Harness) -> None:
    h.api.bot_user["can_read_all_group_messages"] = False
    async with h.db.transaction() as conn:
        await conn.execute("DELETE FROM chats WHERE chat_id = ?", (PUBLIC,))
    code = re.search(r"<code>(\d{6})</code>", await h.say(WORK, "王芳", "/link"))
    assert code is not None
    done = await h.send(PUBLIC, "王芳", f"/link {code.group(1)}")
    work = [c.text for c in done if c.chat_id == WORK]
    public = [c.text for c in done if c.chat_id == PUBLIC]
    assert any("已绑定到「青石村妇联」" in t and HINT in t and "/setprivacy" in t for t in work)
    assert public and not any(HINT in t for t in public)


async def test_no_hint_when_the_bot_is_admin_or_privacy_is_off(h: Harness) -> None:
    async def relink(harness: Harness) -> list[str]:
        async with harness.db.transaction() as conn:
            await conn.execute("DELETE FROM chats WHERE chat_id = ?", (PUBLIC,))
        code = re.search(r"<code>(\d{6})</code>", await harness.say(WORK, "王芳", "/link"))
        assert code is not None
        return [c.text for c in await harness.send(PUBLIC, "王芳", f"/link {code.group(1)}")]

    h.api.bot_user["can_read_all_group_messages"] = False
    bot_id = int(str(h.api.bot_user["id"]))
    h.api.chat_admins[PUBLIC].add(bot_id)  # an administrator sees every message
    assert not any(HINT in t for t in await relink(h))
    h.api.chat_admins[PUBLIC].discard(bot_id)
    h.api.bot_user["can_read_all_group_messages"] = True
    assert not any(HINT in t for t in await relink(h))


async def test_no_hint_when_the_bot_answers_only_mentions(tmp_path: Path) -> None:
    cfg = from_mapping({"admins": {"super_admins": load_world().super_admins}, "faq": {"auto_answer": "mention"}},
                       env={})
    harness = await make_harness(tmp_path, demo=False, config=cfg)
    try:
        harness.api.bot_user["can_read_all_group_messages"] = False
        text = await harness.say(WORK, "王芳", "/setup 青石村妇联")
        assert "已创建组织" in text and HINT not in text
    finally:
        await harness.app.shutdown()
        await harness.db.close()
