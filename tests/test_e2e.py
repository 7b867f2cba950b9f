"""End to end: the real `python -m bot run` process, long polling a local HTTP Bot API stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.botapi_stub import ApiCall, BotApiStub, make_chat, make_message_update, make_user
from tests.e2e_process import start_bot, stop_bot, today_clear_of_midnight

pytestmark = pytest.mark.e2e

TOKEN = "123456:E2E-TOKEN"
GROUP = -1001234567890
CHAIR = make_user(501, "王芳", "wangfang_e2e")
MEMBER = make_user(502, "李秀英", "lixiuying_e2e")


@pytest.fixture
def stub() -> Iterator[BotApiStub]:
    with BotApiStub(TOKEN) as server:
        yield server


def said(stub: BotApiStub, text: str, after: int) -> ApiCall:
    return stub.wait_for(lambda c: c.method == "sendMessage" and text in str(c.params.get("text", "")),
                         timeout=20, after=after)


def test_setup_addmember_members_survive_a_restart(stub: BotApiStub, tmp_path: Path) -> None:
    db = tmp_path / "e2e.db"
    chat = make_chat(GROUP, "测试村执委工作群")
    stub.set_chat_member_status(GROUP, CHAIR["id"], "creator")
    proc = start_bot(stub, db, TOKEN)
    try:
        commands = stub.wait_for(lambda c: c.method == "setMyCommands", timeout=20)
        assert any(cmd["command"] == "members" for cmd in commands.params["commands"])
        mark = len(stub.calls)
        stub.push_update(make_message_update(chat, CHAIR, "/setup 测试村妇联"))
        reply = said(stub, "已创建组织「测试村妇联」", mark)
        assert reply.params["chat_id"] == GROUP
        stub.push_update(make_message_update(chat, MEMBER, "大家好"))
        mark = len(stub.calls)
        stub.push_update(make_message_update(chat, CHAIR, "/addmember @lixiuying_e2e 副主席"))
        said(stub, "已把 <b>李秀英</b> 加入名册，身份：副主席", mark)
        mark = len(stub.calls)
        stub.push_update(make_message_update(chat, MEMBER, "/members"))
        roster = said(stub, "测试村妇联 执委名册", mark)
        assert "（共 2 人）" in roster.params["text"] and "李秀英 @lixiuying_e2e — 副主席" in roster.params["text"]
        # Bad input answers in Chinese with the right form; names with markup stay literal.
        mark = len(stub.calls)
        stub.push_update(make_message_update(chat, CHAIR, "/setrole <b>谁</b> 副主席"))
        refusal = said(stub, "名册里没有找到", mark)
        assert "&lt;b&gt;谁&lt;/b&gt;" in refusal.params["text"]
    finally:
        stop_bot(proc)

    proc = start_bot(stub, db, TOKEN)
    try:
        mark = len(stub.calls)
        stub.push_update(make_message_update(chat, CHAIR, "/members"))
        roster = said(stub, "测试村妇联 执委名册", mark)
        assert "（共 2 人）" in roster.params["text"]
        assert "王芳 @wangfang_e2e — 主席" in roster.params["text"]
    finally:
        stop_bot(proc)


def test_telegram_faults_are_survived(stub: BotApiStub, tmp_path: Path) -> None:
    """A 429 on sendMessage is waited out and retried; a 500 is logged and the bot keeps serving."""
    chat = make_chat(GROUP, "测试群")
    stub.set_chat_member_status(GROUP, CHAIR["id"], "creator")
    proc = start_bot(stub, tmp_path / "faults.db", TOKEN)
    try:
        stub.inject_fault("sendMessage", "429", count=1, retry_after=1)
        mark = len(stub.calls)
        stub.push_update(make_message_update(chat, CHAIR, "/setup 重试村妇联"))
        first = said(stub, "已创建组织「重试村妇联」", mark)
        assert first.status == 429  # the fault happened …
        done = stub.wait_for(lambda c: c.method == "sendMessage" and c.status == 200
                             and "已创建组织「重试村妇联」" in str(c.params.get("text")), timeout=20, after=mark)
        assert done.time >= first.time + 1  # … and the same reply went out after its retry_after
        mark = len(stub.calls)
        stub.inject_fault("sendMessage", "500", count=1)
        stub.push_update(make_message_update(chat, CHAIR, "/whoami"))
        stub.wait_for(lambda c: c.method == "sendMessage" and c.status == 500, timeout=20, after=mark)
        mark = len(stub.calls)
        stub.push_update(make_message_update(chat, CHAIR, "/members"))
        said(stub, "重试村妇联 执委名册", mark)
    finally:
        stop_bot(proc)


def test_duty_flow_set_leave_swap_checkin_log_ledger(stub: BotApiStub, tmp_path: Path) -> None:
    from datetime import timedelta

    from tests.botapi_stub import make_callback_update

    today = today_clear_of_midnight()
    tomorrow = today + timedelta(days=1)
    chat = make_chat(GROUP, "测试村执委工作群")
    third = make_user(503, "刘敏", "liumin_e2e")
    stub.set_chat_member_status(GROUP, CHAIR["id"], "creator")
    proc = start_bot(stub, tmp_path / "duty.db", TOKEN)

    def step(user: dict[str, object], text: str, expect: str) -> ApiCall:
        mark = len(stub.calls)
        stub.push_update(make_message_update(chat, user, text))
        return said(stub, expect, mark)

    try:
        step(CHAIR, "/setup 轮值村妇联", "已创建组织")
        stub.push_update(make_message_update(chat, MEMBER, "到"))
        stub.push_update(make_message_update(chat, third, "到"))
        step(CHAIR, "/addmember @lixiuying_e2e", "已把 <b>李秀英</b>")
        step(CHAIR, "/addmember @liumin_e2e", "已把 <b>刘敏</b>")
        step(CHAIR, f"/rota_set 日 {today.isoformat()} @lixiuying_e2e @liumin_e2e @wangfang_e2e 00:00",
             "轮值表已设置：每日轮换，00:00 交接")
        step(third, "/duty", "现在值班：<b>李秀英</b>")
        leave = step(third, f"/leave {tomorrow.isoformat()} 去县里开会", "已登记请假")
        assert "改由 <b>王芳</b> 值班" in leave.params["text"]
        request = step(CHAIR, f"/swap @lixiuying_e2e {tomorrow.isoformat()}", "请 <b>李秀英</b> 替班")
        mark = len(stub.calls)
        stub.push_update(make_callback_update(MEMBER, request.result, request.params["reply_markup"]
                                              ["inline_keyboard"][0][0]["callback_data"]))
        stub.wait_for(lambda c: c.method == "editMessageText" and "李秀英 同意替班" in str(c.params.get("text")),
                      timeout=20, after=mark)
        rota = step(third, "/rota 3", "接下来 3 班")
        assert f"{tomorrow.month}月{tomorrow.day}日 李秀英（替刘敏）" in rota.params["text"]
        step(MEMBER, "/checkin", "签到成功")
        step(MEMBER, "/log 走访 看望了独居的李奶奶", "已记入台账")
        mark = len(stub.calls)
        ledger = step(CHAIR, "/ledger", "值班台账")
        assert "[走访] 李秀英：看望了独居的李奶奶" in ledger.params["text"]
        stub.wait_for(lambda c: c.method == "sendDocument" and "值班表" in str(c.params.get("caption")),
                      timeout=20, after=mark)
    finally:
        stop_bot(proc)


def test_faq_in_the_public_group_with_hand_off(stub: BotApiStub, tmp_path: Path) -> None:
    import re

    from tests.botapi_stub import make_callback_update

    today = today_clear_of_midnight()
    work = make_chat(GROUP, "问答村执委工作群")
    public = make_chat(GROUP - 1, "问答村网上妇女之家")
    guest = make_user(601, "孙小梅", "sunxm_e2e")
    stub.set_chat_member_status(GROUP, CHAIR["id"], "creator")
    proc = start_bot(stub, tmp_path / "faq.db", TOKEN)

    def step(chat: dict[str, object], user: dict[str, object], text: str, expect: str) -> ApiCall:
        mark = len(stub.calls)
        stub.push_update(make_message_update(chat, user, text))
        return said(stub, expect, mark)

    try:
        step(work, CHAIR, "/setup 问答村妇联", "已创建组织")
        stub.push_update(make_message_update(work, MEMBER, "到"))
        step(work, CHAIR, "/addmember @lixiuying_e2e", "已把 <b>李秀英</b>")
        step(work, CHAIR, f"/rota_set 周 {today.isoformat()} @lixiuying_e2e 00:00", "轮值表已设置")
        code = re.search(r"<code>(\d{6})</code>", step(work, CHAIR, "/link", "验证码").params["text"])
        assert code is not None
        step(public, CHAIR, f"/link {code.group(1)}", "网上妇女之家")
        answer = step(public, guest, "两癌筛查在哪里做？", "依据")
        assert answer.params["chat_id"] == public["id"]
        mark = len(stub.calls)
        mark = len(stub.calls)
        stub.push_update(make_message_update(public, guest, "/ask 明天天气怎么样？"))
        said(stub, "这个问题我还答不好", mark)
        to_duty = said(stub, "李秀英</a> 帮忙回答", mark)
        assert to_duty.params["chat_id"] == GROUP
        mark = len(stub.calls)
        button = to_duty.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        stub.push_update(make_callback_update(MEMBER, to_duty.result, button))
        said(stub, "下一条消息", mark)
        mark = len(stub.calls)
        stub.push_update(make_message_update(work, MEMBER, "明天有小雨，记得带伞"))  # no reply needed
        delivered = said(stub, "执委 <b>李秀英</b> 回复您的问题", mark)
        assert delivered.params["chat_id"] == public["id"] and "明天有小雨" in delivered.params["text"]
        # Danger in the public group: 110 at the top there, an alert naming her in the work group.
        mark = len(stub.calls)
        stub.push_update(make_message_update(public, guest, "有个男的一直跟着我 好怕"))
        assert said(stub, "110 报警", mark).params["chat_id"] == public["id"]
        alert = said(stub, "紧急", mark)
        assert alert.params["chat_id"] == GROUP and "tg://user?id=601" in alert.params["text"]
    finally:
        stop_bot(proc)
