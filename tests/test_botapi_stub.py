"""The Bot API stub, driven by a real python-telegram-bot ``Bot`` over HTTP."""

from __future__ import annotations

import asyncio
import datetime as dtm
import time
import warnings
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from telegram import (
    Bot,
    ChatMemberAdministrator,
    ChatMemberBanned,
    ChatMemberLeft,
    ChatMemberMember,
    ChatMemberOwner,
    ChatMemberRestricted,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MessageEntity,
    Update,
)
from telegram.error import BadRequest, EndPointNotFound, InvalidToken, NetworkError, RetryAfter, TelegramError

from tests.botapi_stub import BotApiStub, make_callback_update, make_chat, make_message_update, make_user

pytestmark = pytest.mark.e2e

TOKEN = "123456:TEST-token_abcdefghijklmnopqrstuvwxyz"
GROUP_ID = -1001234567890
USER_ID = 4242


@pytest.fixture
def stub() -> Iterator[BotApiStub]:
    with BotApiStub(TOKEN) as server:
        yield server


def make_bot(stub: BotApiStub, token: str = TOKEN) -> Bot:
    return Bot(token, base_url=stub.base_url + "/bot", base_file_url=stub.base_url + "/file/bot")


@pytest_asyncio.fixture
async def bot(stub: BotApiStub) -> AsyncIterator[Bot]:
    async with make_bot(stub) as client:  # initialize() calls getMe
        yield client


def retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


@pytest.mark.asyncio
async def test_get_me(stub: BotApiStub, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == 999000
    assert me.username == "zhiwei_test_bot"
    assert me.is_bot
    assert bot.username == "zhiwei_test_bot"
    assert [c.method for c in stub.calls] == ["getMe", "getMe"]
    assert all(c.status == 200 for c in stub.calls)


@pytest.mark.asyncio
@pytest.mark.parametrize("text", ["123", "<&>", "a <&> b && c > d", "true", "null", '"q"', "1e3", "中文 😀"])
async def test_send_message_round_trips_text_and_keyboard(stub: BotApiStub, bot: Bot, text: str) -> None:
    markup = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("确认", callback_data="vote:1"), InlineKeyboardButton("42", callback_data="42")],
            [InlineKeyboardButton("链接", url="https://example.org/?a=1&b=<2>")],
        ]
    )
    mark = stub.mark()
    message = await bot.send_message(chat_id=GROUP_ID, text=text, reply_markup=markup)

    call = stub.wait_for(lambda c: c.method == "sendMessage", after=mark)
    assert call.params["text"] == text
    assert isinstance(call.params["text"], str)
    assert call.params["chat_id"] == GROUP_ID
    assert call.params["reply_markup"] == markup.to_dict()

    assert message.text == text
    assert message.reply_markup == markup
    assert message.chat.id == GROUP_ID
    assert message.chat.type == "supergroup"
    assert message.chat.title
    assert message.from_user is not None and message.from_user.id == 999000
    assert stub.sent_messages(GROUP_ID)[-1]["text"] == text
    assert stub.sent_messages(GROUP_ID)[-1]["message_id"] == message.message_id


@pytest.mark.asyncio
async def test_message_ids_increase_per_chat_and_chat_types(stub: BotApiStub, bot: Bot) -> None:
    a1 = await bot.send_message(GROUP_ID, "x")
    a2 = await bot.send_message(GROUP_ID, "y")
    b1 = await bot.send_message(USER_ID, "z")
    small_group = await bot.send_message(-4567, "w")
    assert a2.message_id == a1.message_id + 1
    assert b1.message_id == 1
    assert b1.chat.type == "private"
    assert small_group.chat.type == "group"
    assert [m["text"] for m in stub.sent_messages(GROUP_ID)] == ["x", "y"]
    assert len(stub.sent_messages()) == 4


@pytest.mark.asyncio
async def test_html_parse_mode_is_parsed_like_telegram(bot: Bot) -> None:
    message = await bot.send_message(USER_ID, "<b>粗</b> &lt;&amp;&gt; 😀 <i>x</i> & >", parse_mode="HTML")
    assert message.text == "粗 <&> 😀 x & >"
    assert [(e.type, e.offset, e.length) for e in message.entities] == [
        (MessageEntity.BOLD, 0, 1),
        (MessageEntity.ITALIC, 9, 1),  # the emoji counts as two UTF-16 units
    ]
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(USER_ID, "a <&> b", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)end tag"):
        await bot.send_message(USER_ID, "<b>open", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)too long"):
        await bot.send_message(USER_ID, "长" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="数" * 22)]])
        await bot.send_message(USER_ID, "x", reply_markup=markup)


@pytest.mark.asyncio
async def test_get_updates_long_polls_and_honours_offset(stub: BotApiStub, bot: Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == ()
    assert time.monotonic() - started >= 0.9

    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.3)
    assert not poll.done()
    chat, user = make_chat(GROUP_ID, "妇联执委群"), make_user(USER_ID, "小红", "xiaohong")
    update_id = stub.push_update(make_message_update(chat, user, "/start@zhiwei_test_bot 你好"))
    updates = await asyncio.wait_for(poll, 3)
    assert time.monotonic() - started < 5
    assert [u.update_id for u in updates] == [update_id]
    message = updates[0].message
    assert message is not None and message.text == "/start@zhiwei_test_bot 你好"
    assert message.chat.title == "妇联执委群"
    assert message.parse_entities([MessageEntity.BOT_COMMAND]).popitem()[1] == "/start@zhiwei_test_bot"

    # not confirmed yet: delivered again
    assert [u.update_id for u in await bot.get_updates(timeout=0)] == [update_id]
    second = stub.push_update(make_message_update(chat, user, "第二条"))
    assert [u.update_id for u in await bot.get_updates(limit=1)] == [update_id]
    assert [u.update_id for u in await bot.get_updates(offset=update_id + 1)] == [second]
    assert await bot.get_updates(offset=second + 1, timeout=0) == ()
    assert stub.pending_updates() == []


@pytest.mark.asyncio
async def test_callback_update_and_edit(stub: BotApiStub, bot: Bot) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("是", callback_data="yes")]])
    sent = await bot.send_message(GROUP_ID, "确认？", reply_markup=markup)
    user = make_user(USER_ID, "小红")
    stub.push_update(make_callback_update(user, stub.sent_messages(GROUP_ID)[-1], "yes"))
    (update,) = await bot.get_updates()
    assert isinstance(update, Update) and update.callback_query is not None
    assert update.callback_query.data == "yes"
    assert update.callback_query.message is not None
    assert update.callback_query.message.message_id == sent.message_id
    assert await bot.answer_callback_query(update.callback_query.id, "好")

    edited = await bot.edit_message_text("已确认", chat_id=GROUP_ID, message_id=sent.message_id)
    assert not isinstance(edited, bool)
    assert edited.text == "已确认" and edited.reply_markup is None and edited.edit_date is not None
    with pytest.raises(BadRequest, match=r"(?i)not modified"):
        await bot.edit_message_text("已确认", chat_id=GROUP_ID, message_id=sent.message_id)
    assert [m["text"] for m in stub.sent_messages(GROUP_ID)] == ["确认？", "已确认"]


@pytest.mark.asyncio
async def test_send_document_multipart_and_download(stub: BotApiStub, bot: Bot) -> None:
    content = bytes(range(256)) + b"\r\n--boundary\r\n" + "表格".encode()
    message = await bot.send_document(GROUP_ID, document=content, filename='执委 "名单".xlsx', caption="123 <&>")
    call = stub.wait_for(lambda c: c.method == "sendDocument")
    upload = call.files["document"]
    assert upload.data == content
    assert upload.filename == '执委 "名单".xlsx'
    assert call.params["caption"] == "123 <&>" and call.params["chat_id"] == GROUP_ID
    assert message.caption == "123 <&>"
    assert message.document is not None and message.document.file_name == '执委 "名单".xlsx'

    file = await bot.get_file(message.document.file_id)
    assert bytes(await file.download_as_bytearray()) == content

    photo = await bot.send_photo(USER_ID, photo=b"\x89PNG fake", caption="<b>图</b>", parse_mode="HTML")
    assert photo.caption == "图" and photo.photo


@pytest.mark.asyncio
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_429_fault_raises_retry_after(stub: BotApiStub, bot: Bot) -> None:
    stub.inject_fault("sendMessage", "429", retry_after=7)
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(USER_ID, "hi")
    assert retry_seconds(info.value) == 7
    assert stub.calls[-1].status == 429
    assert (await bot.send_message(USER_ID, "hi")).text == "hi"  # count=1: only once


@pytest.mark.asyncio
async def test_500_fault_raises_network_error(stub: BotApiStub, bot: Bot) -> None:
    stub.inject_fault("sendMessage", "500", count=2)
    for _ in range(2):
        with pytest.raises(NetworkError) as info:
            await bot.send_message(USER_ID, "hi")
        assert isinstance(info.value, TelegramError)
    assert await bot.send_message(USER_ID, "hi")
    assert [c.status for c in stub.calls_to("sendMessage")] == [500, 500, 200]


@pytest.mark.asyncio
async def test_slow_fault_delays_answer(stub: BotApiStub, bot: Bot) -> None:
    stub.inject_fault("getMe", "slow", delay=0.6)
    started = time.monotonic()
    assert (await bot.get_me()).username == "zhiwei_test_bot"
    assert time.monotonic() - started >= 0.55


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("status", "cls"),
    [
        ("creator", ChatMemberOwner),
        ("administrator", ChatMemberAdministrator),
        ("member", ChatMemberMember),
        ("restricted", ChatMemberRestricted),
        ("left", ChatMemberLeft),
        ("kicked", ChatMemberBanned),
    ],
)
async def test_get_chat_member_status(stub: BotApiStub, bot: Bot, status: str, cls: type) -> None:
    stub.set_chat_member_status(GROUP_ID, USER_ID, status)
    member = await bot.get_chat_member(GROUP_ID, USER_ID)
    assert isinstance(member, cls)
    assert member.status == status
    assert member.user.id == USER_ID
    default = await bot.get_chat_member(GROUP_ID, USER_ID + 1)
    assert isinstance(default, ChatMemberMember)


@pytest.mark.asyncio
async def test_wrong_token_is_invalid_token(stub: BotApiStub) -> None:
    wrong = make_bot(stub, "654321:WRONG-token")
    with pytest.raises(InvalidToken):
        await wrong.get_me()
    assert stub.calls[-1].status == 401 and not stub.calls[-1].token_ok


@pytest.mark.asyncio
async def test_misc_methods(stub: BotApiStub, bot: Bot) -> None:
    stub.push_update(make_message_update(make_chat(USER_ID), make_user(USER_ID, "a"), "old"))
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert stub.pending_updates() == []
    assert await bot.get_my_commands() == ()
    assert await bot.set_my_commands([("start", "开始"), ("help", "帮助")])
    assert [c.command for c in await bot.get_my_commands()] == ["start", "help"]
    assert await bot.send_chat_action(USER_ID, "typing")
    assert await bot.leave_chat(GROUP_ID)
    chat = await bot.get_chat(GROUP_ID)
    assert chat.id == GROUP_ID and chat.type == "supergroup"
    # Telegram answers an unknown method with HTTP 404, which PTB turns into InvalidToken;
    # do_api_request re-raises that as EndPointNotFound.
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("noSuchMethod", api_kwargs={"x": 1})
    assert stub.calls[-1].status == 404
    assert stub.calls[-1].response == {
        "ok": False,
        "error_code": 404,
        "description": "Not Found: method not found",
    }


def test_wait_for_times_out_with_summary(stub: BotApiStub) -> None:
    with pytest.raises(AssertionError, match="no matching Bot API call"):
        stub.wait_for(lambda c: c.method == "sendMessage", timeout=0.2)


@pytest.mark.asyncio
async def test_stop_releases_long_poll(stub: BotApiStub, bot: Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    # wait_for blocks: from async code run it in a thread so the event loop keeps going
    await asyncio.to_thread(stub.wait_for, lambda c: c.method == "getUpdates" and c.status is None, 5)
    started = time.monotonic()
    await asyncio.to_thread(stub.stop)
    assert await asyncio.wait_for(poll, 3) == ()
    assert time.monotonic() - started < 3
