"""Handler tests for organisations and the roster, with real Update objects and the fake API."""

from __future__ import annotations

import re

import pytest

from bot.simulator import Persona
from storage import audit, members, orgs
from tests.harness import PUBLIC, WORK, Harness

pytestmark = pytest.mark.handler

STRANGER = Persona(5555, "陌生人", "stranger_x")


async def test_setup_creates_org_binds_group_and_makes_caller_chair(fresh: Harness) -> None:
    text = await fresh.say(WORK, "王芳", "/setup 青石村妇联")
    assert "已创建组织「青石村妇联」" in text
    async with fresh.db.read() as conn:
        bound = await orgs.binding(conn, WORK)
        assert bound is not None and bound.kind == "work"
        roster = await members.active_in_org(conn, bound.org_id)
        log = await audit.for_org(conn, bound.org_id)
    assert [(m.display_name, m.role) for m in roster] == [("王芳", "chair")]
    assert [e.action for e in log] == ["org.setup"]


async def test_setup_refusals(fresh: Harness) -> None:
    assert "请写上组织名称" in await fresh.say(WORK, "王芳", "/setup")
    # Not a Telegram admin of the group, not a super admin.
    assert "群主或管理员" in await fresh.say(WORK, "刘敏", "/setup 刘家村妇联")
    assert "太长" in await fresh.say(WORK, "王芳", "/setup " + "长" * 41)
    assert "要在群里用" in await fresh.say(1001, "王芳", "/setup 青石村妇联")
    await fresh.say(WORK, "王芳", "/setup 青石村妇联")
    assert "已经是「青石村妇联」的群" in await fresh.say(WORK, "王芳", "/setup 另一个")
    # A super admin may set up without being a group admin; the name must be unique.
    assert "已经有叫「青石村妇联」" in await fresh.say(PUBLIC, "县妇联周主任", "/setup 青石村妇联")
    assert "已创建" in await fresh.say(PUBLIC, "县妇联周主任", "/setup 白沙村妇联")


async def test_link_binds_public_group_with_one_time_code(h: Harness) -> None:
    # Unbind the demo public group first to link it again.
    async with h.db.transaction() as conn:
        await conn.execute("DELETE FROM chats WHERE chat_id = ?", (PUBLIC,))
    text = await h.say(WORK, "王芳", "/link")
    code = re.search(r"<code>(\d{6})</code>", text)
    assert code is not None
    done = await h.send(PUBLIC, "王芳", f"/link {code.group(1)}")
    assert any("绑定为「青石村妇联」的" in c.text and c.chat_id == PUBLIC for c in done)
    assert any("已绑定到「青石村妇联」" in c.text and c.chat_id == WORK for c in done)
    async with h.db.read() as conn:
        bound = await orgs.binding(conn, PUBLIC)
    assert bound is not None and bound.kind == "public"


async def test_link_is_safe_against_strangers_wrong_and_expired_codes(h: Harness) -> None:
    async with h.db.transaction() as conn:
        await conn.execute("DELETE FROM chats WHERE chat_id = ?", (PUBLIC,))
    code = re.search(r"<code>(\d{6})</code>", await h.say(WORK, "王芳", "/link"))
    assert code is not None
    other_group = -1009999
    # A stranger with the right code binds nothing.
    assert "只有本组织的主席、副主席" in await h.say(other_group, STRANGER, f"/link {code.group(1)}")
    # An ordinary member cannot either.
    assert "只有本组织的主席、副主席" in await h.say(other_group, "刘敏", f"/link {code.group(1)}")
    assert "验证码不对或已经过期" in await h.say(PUBLIC, "王芳", "/link 000000")
    assert "请写上验证码" in await h.say(PUBLIC, "王芳", "/link")
    # Expired after 10 minutes.
    from datetime import timedelta

    h.clock.advance(timedelta(minutes=11))
    assert "过期" in await h.say(PUBLIC, "王芳", f"/link {code.group(1)}")
    async with h.db.read() as conn:
        assert await orgs.binding(conn, PUBLIC) is None
        assert await orgs.binding(conn, other_group) is None
    # A code is single-use.
    code2 = re.search(r"<code>(\d{6})</code>", await h.say(WORK, "王芳", "/link"))
    assert code2 is not None
    assert "绑定为" in await h.say(PUBLIC, "王芳", f"/link {code2.group(1)}")
    assert "验证码不对" in await h.say(-1008888, "王芳", f"/link {code2.group(1)}")


async def test_link_code_only_for_managers(h: Harness) -> None:
    assert "只有本组织的主席、副主席" in await h.say(WORK, "刘敏", "/link")


async def test_addmember_by_username_reply_and_text_mention(h: Harness) -> None:
    # @username of a person the bot has seen.
    await h.say(PUBLIC, "孙小梅", "大家好")
    assert "已把 <b>孙小梅</b> 加入名册，身份：执委" in await h.say(WORK, "王芳", "/addmember @sunxiaomei")
    # Reply to a message, with a role word and a display name.
    newcomer = Persona(7001, "Lily", "lily_w")
    replied = h.factory.message_dict(WORK, newcomer, "我想加入")
    calls = await h.send(WORK, "王芳", "/addmember 副主席 林丽", reply_to=replied)
    assert "已把 <b>林丽</b> 加入名册，身份：副主席" in calls[-1].text
    # A text mention (a user without a username).
    nameless = Persona(7002, "何桂兰")
    text = "/addmember 何桂兰"
    entities = [{"type": "text_mention", "offset": 11, "length": 3, "user": nameless.as_dict()}]
    calls = await h.send(WORK, "王芳", text, entities=entities)
    assert "已把 <b>何桂兰</b> 加入名册，身份：执委" in calls[-1].text
    async with h.db.read() as conn:
        found = await members.find_active(conn, 1, user_id=7002)
        actions = [e.action for e in await audit.for_org(conn, 1)]
    assert found is not None and found.display_name == "何桂兰"
    assert actions.count("member.add") == 3


async def test_addmember_unknown_username_links_when_she_first_writes(h: Harness) -> None:
    text = await h.say(WORK, "王芳", "/addmember @newbie_hong 执委 洪梅")
    assert "她第一次在群里发言或私聊我之后" in text
    assert "还没和我说过话" in await h.say(WORK, "王芳", "/members")
    await h.say(WORK, Persona(7100, "洪梅", "newbie_hong"), "你好")
    async with h.db.read() as conn:
        found = await members.find_active(conn, 1, user_id=7100)
    assert found is not None and found.display_name == "洪梅"


async def test_addmember_refusals(h: Harness) -> None:
    assert "请告诉我要添加谁" in await h.say(WORK, "王芳", "/addmember")
    assert "请告诉我要添加谁" in await h.say(WORK, "王芳", "/addmember 王小红")
    assert "只有本组织的主席、副主席" in await h.say(WORK, "刘敏", "/addmember @sunxiaomei")
    assert "已经在名册里了" in await h.say(WORK, "王芳", "/addmember @liumin")
    assert "只有主席" in await h.say(WORK, "李秀英", "/addmember @sunxiaomei 主席")
    assert "妇女之家群里不处理" in await h.say(PUBLIC, "王芳", "/addmember @sunxiaomei")
    bot_message = {"message_id": 1, "date": 0, "chat": {"id": WORK, "type": "supergroup", "title": "x"},
                   "from": h.api.bot_user, "text": "hi"}
    calls = await h.send(WORK, "王芳", "/addmember", reply_to=bot_message)
    assert "不能把机器人加进名册" in calls[-1].text


async def test_members_lists_roles_and_is_for_members_only(h: Harness) -> None:
    text = await h.say(WORK, "刘敏", "/members")
    assert "<b>青石村妇联 执委名册</b>（共 11 人）" in text
    assert "1. 王芳 @wangfang — 主席" in text
    assert "赵霞 @zhaoxia — 执委（新当选）" in text
    assert "本组织的执委可以用" in await h.say(WORK, STRANGER, "/members")
    assert "妇女之家群里不处理" in await h.say(PUBLIC, "孙小梅", "/members")
    # Private chat: the caller's only organisation.
    assert "共 11 人" in await h.say(1004, "刘敏", "/members")
    assert "还不是任何组织的执委" in await h.say(5555, STRANGER, "/members")


async def test_setrole_and_newly_elected(h: Harness) -> None:
    assert "刘敏 的身份改为：副主席" in await h.say(WORK, "王芳", "/setrole @liumin 副主席")
    assert "陈静 的身份改为：副主席" in await h.say(WORK, "王芳", "/setrole 陈静 副主席")
    assert "新当选执委（当选日期 2026-11-01）" in await h.say(WORK, "王芳", "/setrole 徐萍 新当选 2026-11-01")
    assert "当选日期 2026-11-23" in await h.say(WORK, "王芳", "/setrole 周红 新当选")
    assert "取消 赵霞 的新当选" in await h.say(WORK, "王芳", "/setrole 赵霞 取消新当选")
    async with h.db.read() as conn:
        xu = await members.find_active(conn, 1, display_name="徐萍")
        zhao = await members.find_active(conn, 1, display_name="赵霞")
    assert xu is not None and xu.newly_elected and str(xu.elected_on) == "2026-11-01"
    assert zhao is not None and not zhao.newly_elected


async def test_setrole_refusals(h: Harness) -> None:
    assert "请这样写" in await h.say(WORK, "王芳", "/setrole")
    assert "请这样写" in await h.say(WORK, "王芳", "/setrole 刘敏 队长")
    assert "日期看不懂" in await h.say(WORK, "王芳", "/setrole 刘敏 新当选 十一月")
    assert "名册里没有找到「王小红」" in await h.say(WORK, "王芳", "/setrole 王小红 副主席")
    assert "名册里没有找到「@nobody_here」" in await h.say(WORK, "王芳", "/setrole @nobody_here 副主席")
    assert "只有本组织的主席、副主席" in await h.say(WORK, "刘敏", "/setrole 陈静 副主席")
    assert "只有主席" in await h.say(WORK, "李秀英", "/setrole 王芳 执委")
    assert "至少要有一位主席" in await h.say(WORK, "王芳", "/setrole 王芳 执委")


async def test_removemember_is_soft_and_guarded(h: Harness) -> None:
    assert "已把 徐萍 移出名册" in await h.say(WORK, "王芳", "/removemember @xuping")
    assert "共 10 人" in await h.say(WORK, "王芳", "/members")
    async with h.db.read() as conn:
        cur = await conn.execute("SELECT active, removed_at FROM members WHERE display_name = '徐萍'")
        row = await cur.fetchone()
    assert row is not None and row["active"] == 0 and row["removed_at"]
    assert "请告诉我要移出谁" in await h.say(WORK, "王芳", "/removemember")
    assert "至少要有一位主席" in await h.say(WORK, "王芳", "/removemember 王芳")
    assert "只有本组织的主席、副主席" in await h.say(WORK, "刘敏", "/removemember 陈静")


async def test_join_with_approve_and_reject_buttons(h: Harness) -> None:
    applicant = Persona(7300, "郑小燕", "zheng_xy")
    calls = await h.send(PUBLIC, applicant, "/join")
    request = next(c for c in calls if c.chat_id == WORK)
    assert "郑小燕</b> 申请加入「青石村妇联」" in request.text
    assert any("已提交加入「青石村妇联」的申请" in c.text for c in calls if c.chat_id == PUBLIC)
    assert "已经提交过了" in await h.say(PUBLIC, applicant, "/join")
    # A member who is not a manager cannot decide.
    pressed = await h.press("刘敏", request, 0)
    assert any(c.method == "answerCallbackQuery" and "主席、副主席" in c.params.get("text", "") for c in pressed)
    pressed = await h.press("李秀英", request, 0)
    edited = next(c for c in pressed if c.method == "editMessageText")
    assert "郑小燕 的申请已由 李秀英 同意" in edited.text
    assert any(c.chat_id == 7300 and "申请已通过" in c.text for c in pressed)
    # A second press is harmless.
    again = await h.press("王芳", request, 1)
    assert any("已经处理过了" in c.params.get("text", "") for c in again if c.method == "answerCallbackQuery")
    async with h.db.read() as conn:
        added = await members.find_active(conn, 1, user_id=7300)
    assert added is not None and added.role == "member"
    # Rejection.
    other = Persona(7301, "钱多多")
    request2 = next(c for c in await h.send(1, other, "/join 青石村妇联") if c.chat_id == WORK)
    pressed = await h.press("王芳", request2, 1)
    assert any("钱多多 的申请已由 王芳 拒绝" in c.text for c in pressed)
    assert any(c.chat_id == 7301 and "没有通过" in c.text for c in pressed)


async def test_join_refusals(h: Harness) -> None:
    assert "请写上要加入的组织名称" in await h.say(5555, STRANGER, "/join")
    assert "没有找到叫「不存在村」的组织" in await h.say(5555, STRANGER, "/join 不存在村")
    assert "已经在这个组织的名册里" in await h.say(WORK, "刘敏", "/join")
    assert "还没有绑定组织" in await h.say(-1007777, STRANGER, "/join")


async def test_whoami_and_help_follow_the_role(h: Harness) -> None:
    assert "青石村妇联：执委" in await h.say(WORK, "刘敏", "/whoami")
    assert "新当选，2026-10-15" in await h.say(WORK, "赵霞", "/whoami")
    assert "还不是任何组织的执委" in await h.say(PUBLIC, "孙小梅", "/whoami")
    assert "超级管理员（所有组织）" in await h.say(9001, "县妇联周主任", "/whoami")
    guest_help = await h.say(PUBLIC, "孙小梅", "/help")
    assert "/join" in guest_help and "/members" not in guest_help and "/addmember" not in guest_help
    member_help = await h.say(WORK, "刘敏", "/help")
    assert "/members" in member_help and "/addmember" not in member_help
    chair_help = await h.say(WORK, "王芳", "/help")
    assert "/addmember" in chair_help and "/setup" not in chair_help
    private_chair_help = await h.say(1001, "王芳", "/help")
    assert "/setrole" in private_chair_help and "/addmember" not in private_chair_help


async def test_lang_switches_to_traditional(h: Harness) -> None:
    assert "繁體中文" in await h.say(1004, "刘敏", "/lang zh_tw")
    assert "執委名冊" in await h.say(1004, "刘敏", "/members")
    assert "請告訴我要用哪種文字" in await h.say(1004, "刘敏", "/lang klingon")
    # In a group only a manager may switch the group's language.
    assert "只有本组织的主席、副主席" in await h.say(WORK, "刘敏", "/lang zh_tw")
    assert "本群以後都用繁體中文" in await h.say(WORK, "王芳", "/lang 繁体")  # the group, not "和您說話"
    assert "執委名冊" in await h.say(WORK, "刘敏", "/members")
    assert "简体中文" in await h.say(1004, "刘敏", "/lang 簡體")


async def test_unknown_command_gets_a_hint(h: Harness) -> None:
    assert "我不认识这个命令：/dance" in await h.say(WORK, "刘敏", "/dance")
    assert await h.say(WORK, "刘敏", "/dance@some_other_bot") == ""


async def test_group_migration_keeps_bindings(h: Harness) -> None:
    new_id = -1005000000001
    await h.app.process_update(h.factory.migration(WORK, new_id, h.person("王芳")))
    async with h.db.read() as conn:
        assert await orgs.binding(conn, WORK) is None
        moved = await orgs.binding(conn, new_id)
    assert moved is not None and moved.kind == "work"
    assert "共 11 人" in await h.say(new_id, "刘敏", "/members")


async def test_names_are_shown_literally_and_safely(h: Harness) -> None:
    nasty = Persona(7400, "<b>坏</b> & 🌸" + "长" * 30, "nasty_name")
    await h.say(PUBLIC, nasty, "hi")
    text = await h.say(WORK, "王芳", "/addmember @nasty_name")
    assert "&lt;b&gt;坏&lt;/b&gt; &amp; 🌸" in text
    roster = await h.say(WORK, "王芳", "/members")
    assert "&lt;b&gt;坏&lt;/b&gt; &amp; 🌸" in roster and "<b>坏</b>" not in roster
    unknown = await h.say(WORK, "王芳", "/setrole <script>x</script> 副主席")
    assert "&lt;script&gt;x&lt;/script&gt;" in unknown


async def test_very_long_org_list_is_split_not_cut(h: Harness) -> None:
    from handlers.common import split_text

    long_text = "\n".join(f"{i}. " + "名" * 50 for i in range(200))
    parts = split_text(long_text)
    assert len(parts) > 1 and all(len(p) <= 4096 for p in parts)
    assert "\n".join(parts) == long_text


async def test_errors_are_reported_without_internals(h: Harness, monkeypatch) -> None:
    async def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(h.services.roster, "org_members", boom)
    text = await h.say(WORK, "王芳", "/members")
    assert "出了点问题" in text and "secret" not in text


async def test_help_lists_only_what_works_where_she_is(h: Harness) -> None:
    # In the public group work commands are refused, so /help does not offer them, even to the chair.
    public_chair = await h.say(PUBLIC, "王芳", "/help")
    assert "/ask" in public_chair and "/lang" in public_chair
    for name in ("/members", "/duty", "/ledger", "/addmember", "/rota_set", "/faq_add", "/join"):
        assert name not in public_chair, name
    assert "/members" not in await h.say(PUBLIC, "刘敏", "/help")
    # A member already on the roster is not offered /join there, nor the group's language switch.
    member_work = await h.say(WORK, "刘敏", "/help")
    assert "/join" not in member_work and "/lang" not in member_work and "/duty" in member_work
    assert "/join" not in await h.say(WORK, "王芳", "/help")
    # In private her role comes from the roster, not "群众".
    private_member = await h.say(1004, "刘敏", "/help")
    assert "您的身份：执委" in private_member and "/duty" in private_member and "/lang" in private_member
    assert "您的身份：主席" in await h.say(1001, "王芳", "/help")
    assert "您的身份：群众" in await h.say(PUBLIC, "孙小梅", "/help")


async def test_a_name_two_members_share_is_not_guessed(h: Harness) -> None:
    await h.say(WORK, "王芳", "/addmember @second_liumin 执委 刘敏")
    refused = await h.say(WORK, "王芳", "/removemember 刘敏")
    assert "不止一位叫「刘敏」" in refused and "@用户名" in refused
    assert "不止一位叫「刘敏」" in await h.say(WORK, "王芳", "/setrole 刘敏 副主席")
    assert "不止一位叫「刘敏」" in await h.say(WORK, "王芳", "/rota_set 周 2026-11-30 刘敏 陈静")
    roster = await h.say(WORK, "王芳", "/members")
    assert roster.count("刘敏") == 2 and "共 12 人" in roster
    # The @username still names exactly one of them.
    assert "已把 刘敏 移出名册" in await h.say(WORK, "王芳", "/removemember @second_liumin")
    assert "共 11 人" in await h.say(WORK, "王芳", "/members")


async def test_addmember_refuses_a_too_long_name_instead_of_cutting_it(h: Harness) -> None:
    text = await h.say(WORK, "王芳", "/addmember @long_one 执委 " + "长" * 41)
    assert "姓名太长了" in text and "/addmember @用户名 执委 李秀英" in text
    assert "共 11 人" in await h.say(WORK, "王芳", "/members")
    assert "已把" in await h.say(WORK, "王芳", "/addmember @long_one 执委 " + "长" * 40)


async def test_first_steps_for_a_new_county_and_an_unbound_group(fresh: Harness) -> None:
    county = Persona(9001, "县妇联周主任")  # the demo world's super admin; no organisation exists yet
    assert "第一步" in await fresh.say(9001, county, "/start")
    assert "/setup 组织名称" in await fresh.say(9001, county, "/help")
    text = await fresh.say(WORK, "王芳", "/help")  # the committee's group, not bound yet
    assert "群众" not in text and "还没有绑定组织" in text and "/setup 组织名称" in text
    await fresh.say(WORK, "王芳", "/setup 新村妇联")
    assert "第一步" not in await fresh.say(9001, county, "/start")


async def test_group_only_commands_are_refused_in_a_private_chat_from_the_one_table(h: Harness) -> None:
    from handlers.commands import COMMANDS

    chair = h.person("王芳")
    for spec in [c for c in COMMANDS if c.where == "group"]:
        text = await h.say(chair.user_id, chair, f"/{spec.name} 测试")
        assert "这个命令要在群里用" in text, spec.name
    async with h.db.read() as conn:
        cur = await conn.execute("SELECT COUNT(*) FROM orgs")
        row = await cur.fetchone()
    assert row is not None and row[0] == 1  # nothing was created by /setup in private


async def test_addmember_with_a_name_only_says_what_is_missing(fresh: Harness) -> None:
    await fresh.say(WORK, "王芳", "/setup 新村妇联")
    text = await fresh.say(WORK, "王芳", "/addmember 陈静")
    assert "只写名字「陈静」" in text and "回复她" in text
    await fresh.say(WORK, "王芳", "/addmember @someone_new")
    roster = await fresh.say(WORK, "王芳", "/members")
    assert "@someone_new @someone_new" not in roster and "@someone_new" in roster


async def test_the_county_lists_organisations_and_names_one_in_a_private_chat(h: Harness) -> None:
    county = Persona(9001, "县妇联周主任")
    listing = await h.say(9001, county, "/orgs")
    assert "全部组织</b>（1 个）" in listing and "青石村妇联" in listing and "主席：王芳" in listing
    assert "请在命令后面写上组织名称" in await h.say(9001, county, "/members")
    assert "执委名册</b>（共 11 人）" in await h.say(9001, county, "/members 青石村妇联")
    report = await h.say(9001, county, "/report_month 青石村妇联 11月")
    assert "2026年11月" in report
    assert "只有超级管理员" in await h.say(h.person("王芳").user_id, "王芳", "/orgs")
    # /ledger names the organisation too: the entries, and the two Excel files in her private chat
    await h.say(WORK, "赵霞", "/log 走访 看望独居老人")
    assert "请在命令后面写上组织名称" in await h.say(9001, county, "/ledger 11月")
    calls = await h.send(9001, county, "/ledger 青石村妇联 11月")
    assert any("青石村妇联" in c.text and "看望独居老人" in c.text for c in calls if c.method == "sendMessage")
    docs = [c for c in calls if c.method == "sendDocument"]
    assert len(docs) == 2 and all(d.chat_id == 9001 for d in docs)
    assert "2026年10月 还没有台账记录" in await h.say(9001, county, "/ledger 青石村妇联 2026-10")


async def test_help_footer_explains_only_the_notation_it_uses(h: Harness) -> None:
    for chat, who in ((WORK, "王芳"), (PUBLIC, "孙小梅"), (1004, "刘敏")):
        text = await h.say(chat, who, "/help")
        body, footer = text.rsplit("\n", 1)
        assert "&lt;" not in body  # no command description uses <尖括号>
        assert "尖括号" not in footer
        assert "[方括号]" in footer


async def test_help_states_the_one_rule_for_a_day_without_a_time(h: Harness) -> None:
    text = await h.say(WORK, "王芳", "/help")
    assert "截止时间（任务、述职报告）算到那天 23:59" in text and "提醒和培训是那天上午 9:00" in text
    assert "23:59" in await h.say(1004, "刘敏", "/help")  # /remind is there in private too
