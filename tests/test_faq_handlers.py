"""Handler tests for policy questions and the knowledge-base commands."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from openpyxl import Workbook, load_workbook
from telegram import Update

from bot.fake_api import ApiCall
from bot.simulator import Persona
from services.errors import Refusal
from services.faq_engine import load_shipped_entries
from services.faq_io import MAX_FILE_BYTES, MAX_ROWS, MAX_UNPACKED_BYTES, parse_faq_file
from tests.harness import PUBLIC, WORK, Harness

pytestmark = pytest.mark.handler

GUEST = "孙小梅"
STRANGER = Persona(5555, "陌生人", "stranger_x")


async def test_private_question_gets_the_answer_with_basis_and_votes(h: Harness) -> None:
    calls = await h.send(2001, GUEST, "人身安全保护令怎么申请")
    answer = calls[-1]
    assert "依据：" in answer.text and "反家庭暴力法" in answer.text
    buttons = [b["text"] for row in answer.params["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == ["👍 有用", "👎 没用"]
    voted = await h.press(GUEST, answer, 0)
    assert any(c.method == "answerCallbackQuery" and "谢谢" in c.params.get("text", "") for c in voted)
    async with h.db.read() as conn:
        cur = await conn.execute("SELECT vote FROM faq_votes")
        assert [tuple(r) for r in await cur.fetchall()] == [(1,)]


async def test_off_topic_question_is_declined_and_reaches_the_member_on_duty(h: Harness) -> None:
    await h.say(PUBLIC, GUEST, "大家好")  # she belongs to 青石村 through its public group
    calls = await h.send(PUBLIC, GUEST, "/ask 明天天气怎么样")
    reply = next(c for c in calls if c.chat_id == PUBLIC)
    assert "这个问题我还答不好" in reply.text and "12348" in reply.text
    assert "转给今天值班的执委 <b>赵霞</b>" in reply.text
    to_duty = next(c for c in calls if c.chat_id == WORK)
    assert '请 <a href="tg://user?id=1007">赵霞</a> 帮忙回答' in to_duty.text and "明天天气怎么样" in to_duty.text
    # 赵霞 takes it and writes her answer as her next message; it reaches the asker in the public group.
    await h.press("赵霞", to_duty, 0)
    calls = await h.send(WORK, "赵霞", "明天小雨，活动改到村委会室内<办>")
    delivered = next(c for c in calls if c.chat_id == PUBLIC)
    assert "执委 <b>赵霞</b> 回复您的问题「明天天气怎么样」" in delivered.text
    assert "室内&lt;办&gt;" in delivered.text
    confirm = next(c for c in calls if c.chat_id == WORK and "已把您的回答转给提问人" in c.text)
    # A member cannot save it as an entry; the chair can.
    refused = await h.press("刘敏", confirm, 0)
    assert any("主席、副主席" in c.params.get("text", "") for c in refused)
    saved = await h.press("王芳", confirm, 0)
    entry_id = next(c for c in saved if "已存为问答" in c.text).text.split("编号 ")[1].split("）")[0]
    assert entry_id.startswith("o1-")
    again = await h.send(PUBLIC, GUEST, "/ask 明天天气怎么样")
    assert any("明天小雨" in c.text for c in again)


async def test_group_chatter_is_ignored_but_questions_and_mentions_are_answered(h: Harness) -> None:
    assert await h.send(PUBLIC, GUEST, "今天的广场舞真热闹") == []
    assert await h.send(WORK, "刘敏", "两癌筛查在哪做？") == []  # the work group answers only when asked
    calls = await h.send(WORK, "刘敏", "@zhiwei_helper_bot 两癌筛查在哪做")
    assert any("两癌" in c.text for c in calls)
    calls = await h.send(WORK, "刘敏", "/ask 两癌筛查在哪做")
    assert any("两癌" in c.text for c in calls)
    assert "请在 /ask 后面写上您的问题" in await h.say(WORK, "刘敏", "/ask")


async def test_danger_now_gets_110_first_and_alerts_the_member_on_duty(h: Harness) -> None:
    await h.say(PUBLIC, GUEST, "在吗")
    calls = await h.send(2001, GUEST, "他正在打我 我好怕")
    reply = next(c for c in calls if c.chat_id == 2001)
    assert reply.text.startswith("⚠️ <b>如果您现在有危险，请马上拨打 110 报警</b>")
    assert "12338" in reply.text and "已经通知了值班执委" in reply.text
    alert = next(c for c in calls if c.chat_id == WORK)
    assert "紧急" in alert.text and "他正在打我" in alert.text


async def _alarm(h: Harness, text: str) -> tuple[list[ApiCall], ApiCall]:
    """Her private message, and the bot's reply to her, which must open with 110."""
    calls = await h.send(2001, GUEST, text)
    reply = next(c for c in calls if c.chat_id == 2001)
    assert reply.text.startswith("⚠️ <b>如果您现在有危险，请马上拨打 110 报警</b>")
    return calls, reply


async def test_danger_with_a_question_gets_its_answer_under_the_alarm(h: Harness) -> None:
    """Driven out tonight and asking where to stay: 110 first, where to turn, then the shelter answer."""
    await h.say(PUBLIC, GUEST, "在吗")
    calls, reply = await _alarm(h, "他刚才又打我了，把我和孩子赶出来了，今晚没地方住，哪里能收留我们几天")
    shelter = h.services.faq.entry("dv-shelter", None)
    assert shelter is not None
    assert f"❓ <b>{shelter.questions[0]}</b>" in reply.text
    assert reply.text.index("110") < reply.text.index(shelter.questions[0])
    assert any(c.chat_id == WORK and "紧急" in c.text for c in calls)
    # her question after the alarm's words without a stop is read alone and answered too
    _, reply = await _alarm(h, "他刚才又打我了我想离婚孩子能归我吗")
    custody = h.services.faq.entry("child-custody", None)
    assert custody is not None and f"❓ <b>{custody.questions[0]}</b>" in reply.text
    # an alarm without a question of its own gets no second answer and no choices
    _, reply = await _alarm(h, "他正在打我 我好怕")
    assert "❓" not in reply.text and "您问的是不是" not in reply.text
    assert not any("还想问" in b["text"] for row in (reply.params.get("reply_markup") or {}).get("inline_keyboard", [])
                   for b in row)


async def test_danger_with_a_likely_question_shows_it_and_offers_the_others(h: Harness) -> None:
    await h.say(PUBLIC, GUEST, "在吗")
    _, reply = await _alarm(h, "他昨晚又打我了，孩子能判给我吗")  # likely, not sure
    custody = h.services.faq.entry("child-custody", None)
    assert custody is not None and f"您问的是不是：<b>{custody.questions[0]}</b>" in reply.text
    assert reply.text.index("110") < reply.text.index("您问的是不是")
    buttons = [b for row in reply.params["reply_markup"]["inline_keyboard"] for b in row]
    offered = [b for b in buttons if b["text"].startswith("还想问：")]
    assert 1 <= len(offered) <= 2 and all(b["callback_data"].startswith("faq:q:") for b in offered)
    shown = await h.press(GUEST, reply, buttons.index(offered[0]))
    assert any("依据：" in c.text for c in shown)


async def test_suggestions_are_buttons(h: Harness) -> None:
    calls = await h.send(2001, GUEST, "保护令")
    last = calls[-1]
    if "您是不是想问" in last.text:
        buttons = [b for row in last.params["reply_markup"]["inline_keyboard"] for b in row]
        assert 2 <= len(buttons) <= 4 and buttons[-1]["text"] == "都不是"
        shown = await h.press(GUEST, last, 0)
        assert any("依据：" in c.text for c in shown)
    else:
        assert "依据：" in last.text


async def test_faq_add_edit_list_delete(h: Harness) -> None:
    text = await h.say(WORK, "王芳",
                       "/faq_add 妇女之家几点开门;什么时候有人值班 | 每周二、四下午2点到5点，村委会二楼。 | 妇女之家")
    entry_id = text.split("<code>")[1].split("</code>")[0]
    assert "村委会二楼" in await h.say(PUBLIC, GUEST, "妇女之家几点开门？")
    assert "已修改" in await h.say(WORK, "王芳", f"/faq_edit {entry_id} | 每周二下午2点到5点，村委会二楼。 |")
    assert "每周二下午" in await h.say(PUBLIC, GUEST, "妇女之家几点开门？")
    listing = await h.say(WORK, "王芳", "/faq_list 妇女之家")
    assert f"<code>{entry_id}</code> 妇女之家几点开门 ⭐" in listing
    assert "已删除" in await h.say(WORK, "王芳", f"/faq_del {entry_id}")
    assert "村委会二楼" not in await h.say(PUBLIC, GUEST, "妇女之家几点开门？")


async def test_editing_a_shipped_entry_overrides_it_for_the_org_only(h: Harness) -> None:
    await h.say(WORK, "王芳", "/faq_edit hotline-12338 | 本村妇联电话 5551234，也可以打12338。 |")
    assert "5551234" in await h.say(PUBLIC, GUEST, "12338是什么电话")
    assert "不是本组织自己添加的" in await h.say(WORK, "王芳", "/faq_del two-cancers-screening")


async def test_faq_command_refusals(h: Harness) -> None:
    assert "请这样添加问答" in await h.say(WORK, "王芳", "/faq_add 只有问题")
    assert "只有本组织的主席、副主席" in await h.say(WORK, "刘敏", "/faq_add 问 | 答")
    assert "请这样修改" in await h.say(WORK, "王芳", "/faq_edit")
    assert "没有编号为 nope 的问答" in await h.say(WORK, "王芳", "/faq_edit nope | 答 |")
    assert "请写要删除的编号" in await h.say(WORK, "王芳", "/faq_del")
    assert "妇女之家群里不处理" in await h.say(PUBLIC, "王芳", "/faq_list")
    assert "请把问答文件作为<b>文件</b>发给我" in await h.say(WORK, "王芳", "/faq_import")
    assert "只有本组织的主席、副主席" in await h.say(WORK, "刘敏", "/unanswered")


async def _send_file(h: Harness, who: str, name: str, data: bytes) -> list[ApiCall]:
    file_id = f"F{len(h.api.files) + 1}"
    h.api.files[file_id] = data
    message = h.factory.message_dict(WORK, h.person(who), "")
    del message["text"]
    message.pop("entities", None)
    message["document"] = {"file_id": file_id, "file_unique_id": file_id, "file_name": name, "file_size": len(data)}
    message["caption"] = "/faq_import"
    message["caption_entities"] = [{"type": "bot_command", "offset": 0, "length": 11}]
    before = len(h.api.calls)
    await h.app.process_update(Update.de_json({"update_id": 777 + len(h.api.calls), "message": message}, h.app.bot))
    return h.api.calls[before:]


async def _import(h: Harness, who: str, name: str, data: bytes) -> list[ApiCall]:
    """Send the file, then press 保存 under the preview."""
    calls = await _send_file(h, who, name, data)
    preview = calls[-1]
    assert "还没有保存" in preview.text, preview.text
    return await h.press(who, preview, 0)


async def test_a_file_the_reader_cannot_finish_in_time_is_refused_and_nothing_saved(
        h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    from handlers import faq as faq_handlers
    from tests.test_offload import slow_parse

    monkeypatch.setattr(faq_handlers, "parse_faq_file", slow_parse)
    monkeypatch.setattr(faq_handlers, "PARSE_SECONDS", 1)
    calls = await _send_file(h, "王芳", "kb.csv", "question,answer\n问,答\n".encode())
    assert "1 秒内没能读完，没有导入任何内容" in calls[-1].text
    assert "还没有保存" not in calls[-1].text


async def test_import_csv_jsonl_xlsx_all_or_nothing(h: Harness) -> None:
    csv_data = "question,answer,tags\n村里有没有免费体检,每年5月卫生院免费体检。,健康\n".encode()
    calls = await _send_file(h, "王芳", "kb.csv", csv_data)
    assert "还没有保存" in calls[-1].text and "只写了一种问法" in calls[-1].text
    assert "卫生院免费体检" not in await h.say(PUBLIC, GUEST, "村里有没有免费体检？")  # not saved yet
    calls = await h.press("王芳", calls[-1], 0)
    assert "已导入 1 条问答" in calls[-1].text
    assert "卫生院免费体检" in await h.say(PUBLIC, GUEST, "村里有没有免费体检？")
    bad = "\n".join([json.dumps({"question": "好问题", "answer": "好答案"}, ensure_ascii=False),
                     json.dumps({"question": "没有答案"}, ensure_ascii=False)]).encode()
    calls = await _send_file(h, "王芳", "kb.jsonl", bad)
    assert "第 2 行有问题：缺少 answer" in calls[-1].text
    assert "好答案" not in await h.say(PUBLIC, GUEST, "好问题？")
    book = Workbook()
    sheet = book.active
    sheet.append(["问题", "答案", "标签"])
    sheet.append(["腊月村里有什么活动", "腊月二十有年货市集。", "活动"])
    buffer = io.BytesIO()
    book.save(buffer)
    calls = await _import(h, "王芳", "kb.xlsx", buffer.getvalue())
    assert "已导入 1 条问答" in calls[-1].text
    calls = await _send_file(h, "王芳", "kb.txt", b"hello")
    assert "只支持 CSV、JSONL、XLSX" in calls[-1].text
    calls = await _send_file(h, "王芳", "big.csv", b"question,answer\n" + b"x" * (3 * 1024 * 1024))
    assert "文件太大了" in calls[-1].text
    calls = await _send_file(h, "刘敏", "kb.csv", csv_data)
    assert "只有本组织的主席、副主席" in calls[-1].text


async def test_import_preview_warns_of_near_duplicates_and_tries_other_phrasings(h: Harness) -> None:
    rows = "\n".join([
        "question,answer",
        "离婚了孩子归谁？,本村的说明。",  # nearly a shipped entry
        "妇女之家几点开门|妇女之家啥时候有人|晚上妇女之家开门吗,每周二四下午开门。",
        "妇女之家几点开门,重复的一行。",  # the same question as row 2, in the same file
    ]).encode()
    calls = await _send_file(h, "王芳", "kb.csv", rows)
    preview = calls[-1].text
    assert "第 1 条「离婚了孩子归谁？」和已有的" in preview
    assert "第 3 条「妇女之家几点开门」和已有的" in preview and "（#2）" in preview
    assert "第 2 条换个问法「晚上妇女之家开门吗」→" in preview
    # Only the chair who sent it may save or cancel; a forged press by another member does nothing.
    other = await h.press("李秀英", calls[-1], 0)
    assert any("只有发文件的人" in str(c.params.get("text", "")) for c in other)
    assert "每周二四下午开门" not in await h.say(PUBLIC, GUEST, "妇女之家几点开门")
    cancelled = await h.press("王芳", calls[-1], 1)
    assert "已取消，没有导入任何问答" in cancelled[-1].text
    again = await h.press("王芳", calls[-1], 0)
    assert any("已经保存、取消或过期" in str(c.params.get("text", "")) for c in again)
    assert "每周二四下午开门" not in await h.say(PUBLIC, GUEST, "妇女之家几点开门")


async def test_export_and_unanswered(h: Harness) -> None:
    calls = await h.send(WORK, "王芳", "/faq_export")
    doc = next(c for c in calls if c.method == "sendDocument")
    rows = list(load_workbook(io.BytesIO(next(iter(doc.files.values())))).active.iter_rows(values_only=True))
    assert rows[0] == ("编号", "问题", "答案", "标签", "依据", "求助渠道") and len(rows) > 50
    assert "没有待回答的问题" in await h.say(WORK, "王芳", "/unanswered")
    await h.say(PUBLIC, Persona(2003, "路人"), "/ask 明天天气怎么样？")
    text = await h.say(WORK, "王芳", "/unanswered")
    assert "待回答的问题</b>（共 1 个）" in text and "明天天气怎么样" in text


async def test_danger_in_the_public_group_is_never_ignored(h: Harness) -> None:
    calls = await h.send(PUBLIC, GUEST, "他正在打我")  # no question mark, no question word
    reply = next(c for c in calls if c.chat_id == PUBLIC)
    assert reply.text.startswith("⚠️ <b>如果您现在有危险，请马上拨打 110 报警</b>")
    assert any(c.chat_id == WORK and "紧急" in c.text for c in calls)
    # Ordinary chatter is still left alone.
    assert await h.send(PUBLIC, GUEST, "今天的广场舞真热闹") == []


async def test_faq_del_of_an_unknown_id_says_not_found(h: Harness) -> None:
    assert "没有编号为 nope 的问答" in await h.say(WORK, "王芳", "/faq_del nope")


# --- hostile files: read with limits ----------------------------------------------------------------


def _xlsx(sheet_xml: str, extra: dict[str, bytes] | None = None) -> bytes:
    """A minimal xlsx written by hand (to forge headers openpyxl would never write)."""
    parts = {
        "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/'
        'workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.worksheet+xml"/></Types>',
        "_rels/.rels": '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
        'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
        '2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
        '<sheet name="s" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
        'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml": sheet_xml,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in parts.items():
            archive.writestr(name, body)
        for name, raw in (extra or {}).items():
            archive.writestr(name, raw)
    return buffer.getvalue()


def _sheet(rows: int, dimension: str) -> str:
    cells = "".join(
        f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>{"问题" if n == 1 else f"问{n}"}</t></is></c>'
        f'<c r="B{n}" t="inlineStr"><is><t>{"答案" if n == 1 else "答"}</t></is></c></row>'
        for n in range(1, rows + 1))
    return ('<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            f'<dimension ref="{dimension}"/><sheetData>{cells}</sheetData></worksheet>')


def test_a_wrong_size_header_neither_drops_rows_nor_lets_too_many_through() -> None:
    rows = parse_faq_file("kb.xlsx", _xlsx(_sheet(10, "A1:B2")))  # says 2 rows, has 10
    assert len(rows) == 9
    with pytest.raises(Refusal) as caught:
        parse_faq_file("kb.xlsx", _xlsx(_sheet(MAX_ROWS + 50, "A1:B2")))
    assert caught.value.key == "faq_import.too_many"


def test_a_small_file_that_unpacks_to_a_huge_one_is_refused_before_reading() -> None:
    bomb = _xlsx(_sheet(3, "A1:B3"), {"xl/padding.bin": b"\0" * (MAX_UNPACKED_BYTES + 1)})
    assert len(bomb) < MAX_FILE_BYTES
    with pytest.raises(Refusal) as caught:
        parse_faq_file("kb.xlsx", bomb)
    assert caught.value.key == "faq_import.too_big"


def test_csv_and_jsonl_stop_counting_at_the_limit() -> None:
    with pytest.raises(Refusal) as caught:
        parse_faq_file("kb.csv", b"question,answer\n" + b"q,a\n" * (MAX_ROWS + 1))
    assert caught.value.key == "faq_import.too_many"
    with pytest.raises(Refusal):
        parse_faq_file("kb.jsonl", b'{"question": "q", "answer": "a"}\n' * (MAX_ROWS + 1))
    deep = ("[" * 100_000 + "]" * 100_000).encode()
    with pytest.raises(Refusal) as caught:
        parse_faq_file("kb.jsonl", deep)
    assert caught.value.key == "faq_import.bad_row"


async def test_two_questions_get_the_first_answered_and_the_second_offered(h: Harness) -> None:
    calls = await h.send(PUBLIC, GUEST, "怀孕了有免费产检吗？另外生了以后能休多久")  # both answered at once
    reply = next(c for c in calls if c.chat_id == PUBLIC)
    assert reply.text.index("孕产妇健康管理") < reply.text.index("98天")  # in the order she asked

    calls = await h.send(PUBLIC, GUEST, "怀孕了有免费产检吗？另外喂奶咋弄")
    reply = next(c for c in calls if c.chat_id == PUBLIC)
    assert "孕产妇健康管理" in reply.text and "哺乳" not in reply.text
    labels = [b["text"] for row in reply.params["reply_markup"]["inline_keyboard"] for b in row]
    assert any(label.startswith("还想问：") for label in labels)
    pressed = await h.press(GUEST, reply, labels.index(next(lb for lb in labels if lb.startswith("还想问："))))
    assert any("哺乳" in str(c.params.get("text", "")) for c in pressed)  # the breastfeeding answer


async def test_two_questions_both_clear_get_both_answers(h: Harness) -> None:
    calls = await h.send(PUBLIC, GUEST, "怀孕了有免费产检吗？备孕能免费领叶酸吗？")
    text = "\n".join(c.text for c in calls if c.chat_id == PUBLIC)
    assert text.index("孕产妇健康管理") < text.index("免费提供叶酸")  # both, in the order she asked


def test_control_characters_are_cleaned_at_the_door_and_exports_never_break() -> None:
    from services.clean import clean_text
    from services.exports import xlsx_bytes

    rows = parse_faq_file("kb.jsonl", json.dumps({"question": "响铃\x07问\u202e题", "answer": "答\x1b案"}).encode())
    assert rows[0]["questions"] == ["响铃问题"] and rows[0]["answer"] == "答案"
    assert clean_text("第一行\n第二行\t制表\x00\x7f\u200b") == "第一行\n第二行\t制表"
    data = xlsx_bytes("表", ["内容"], [["\x01\x07坏字符"], ["=1+1"], ["+86 138"]])
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    assert [c.value for c in sheet["A"]][1:] == ["坏字符", "=1+1", "+86 138"]  # as typed, no apostrophe
    assert sheet["A3"].data_type == "s"  # text, never a formula


def test_malformed_files_are_refused_clearly() -> None:
    text = "question,answer\n妇女之家几点开门,每周二下午。\n"
    chinese = "问题,答案\n妇女之家几点开门,每周二下午。\n"
    for encoded in (text.encode("utf-16-le"), text.encode("utf-16-be"), text.encode("utf-16"),
                    chinese.encode("utf-16-le"), chinese.encode("utf-16-be")):
        assert parse_faq_file("kb.csv", encoded)[0]["questions"] == ["妇女之家几点开门"]
    with pytest.raises(Refusal) as caught:
        parse_faq_file("kb.csv", b"question,answer\nq," + b"a" * 200_000 + b"\n")
    assert caught.value.key == "faq_import.unreadable"
    with pytest.raises(Refusal) as caught:
        parse_faq_file("kb.xlsx", b"PK\x03\x04 not really a workbook")
    assert caught.value.key == "faq_import.unreadable"


async def test_faq_add_with_full_width_separators(h: Harness) -> None:
    text = await h.say(WORK, "王芳", "/faq_add 妇女之家几点开门；什么时候有人值班 ｜ 每周二下午，村委会二楼。")
    assert "<code>" in text
    assert "村委会二楼" in await h.say(PUBLIC, GUEST, "/ask 什么时候有人值班")  # the second phrasing


async def test_a_likely_suggestion_shows_the_answer_under_the_question_it_answers(h: Harness) -> None:
    calls = await h.send(PUBLIC, GUEST, "前夫纏著我不放怎麼辦")
    reply = next(c for c in calls if c.chat_id == PUBLIC)
    stalking = h.services.faq.entry("stalking-protection-order", None)
    assert stalking is not None
    assert reply.text.startswith(f"您问的是不是：<b>{stalking.questions[0]}</b>") and stalking.answer[:20] in reply.text
    labels = [b["text"] for row in reply.params["reply_markup"]["inline_keyboard"] for b in row]
    assert labels[-1] == "都不是" and all(lb.startswith("不是，我想问：") for lb in labels[:-1])


async def test_a_long_shot_in_private_offers_choices_and_passes_the_question_on(h: Harness) -> None:
    guest = h.person(GUEST)
    await h.say(PUBLIC, guest, "大家好")  # she belongs to the village
    calls = await h.send(guest.user_id, guest, "调解书签了他不认账咋办")
    reply = next(c for c in calls if c.chat_id == guest.user_id)
    assert "不太有把握" in reply.text and "值班的执委" in reply.text
    assert reply.params["reply_markup"]["inline_keyboard"]  # the choices, as buttons
    assert any(c.chat_id == WORK and "认账" in c.text for c in calls)  # and a person has it


async def test_a_long_shot_in_the_group_offers_choices_there_and_passes_the_question_on(h: Harness) -> None:
    # Declined at the group's bar it would get a reply and go to a person anyway: the closest entries
    # come with that reply, at no extra message.
    calls = await h.send(PUBLIC, GUEST, "调解书签了他不认账咋办")
    reply = next(c for c in calls if c.chat_id == PUBLIC)
    assert "不太有把握" in reply.text and "值班的执委" in reply.text
    assert reply.params["reply_markup"]["inline_keyboard"]
    assert any(c.chat_id == WORK and "认账" in c.text for c in calls)
    assert len([c for c in calls if c.chat_id == PUBLIC]) == 1  # one reply in the group


async def test_answers_are_shown_in_traditional_under_zh_tw(h: Harness) -> None:
    guest = h.person(GUEST)
    await h.say(guest.user_id, guest, "/lang 繁體")
    text = await h.say(guest.user_id, guest, "離婚後孩子歸誰")
    assert "撫養" in text and "抚养" not in text  # the answer body, not only the frame
    assert "依據" in text and "《民法典》" in text


async def test_faq_list_is_for_managers_like_the_other_faq_commands(h: Harness) -> None:
    for who in ("刘敏", STRANGER):
        text = await h.say(WORK, who, "/faq_list")
        assert "只有本组织的主席、副主席" in text
        assert "问答库</b>（共" not in text
    assert "问答库</b>（共" in await h.say(WORK, "李秀英", "/faq_list")
    assert "问答库</b>（共" in await h.say(1001, "王芳", "/faq_list")


async def test_save_as_faq_pressed_twice_saves_one_entry(h: Harness) -> None:
    calls = await h.send(PUBLIC, "孙小梅", "/ask 明天村里放电影吗？")
    to_duty = next(c for c in calls if c.chat_id == WORK)
    await h.press("赵霞", to_duty, 0)
    calls = await h.send(WORK, "赵霞", "晚上7点在村委会门口放")
    confirm = next(c for c in calls if c.chat_id == WORK and "已把您的回答转给提问人" in c.text)
    first = await h.press("王芳", confirm, 0)
    assert any("已存为问答" in c.text for c in first)
    second = await h.press("王芳", confirm, 0)  # a stale client still shows the button
    assert not any("已存为问答" in c.text for c in second)
    assert any("已经存为问答" in c.params.get("text", "") for c in second)
    async with h.db.read() as conn:
        cur = await conn.execute("SELECT COUNT(*) FROM faq_entries WHERE org_id IS NOT NULL")
        row = await cur.fetchone()
    assert row is not None and row[0] == 1


async def test_none_of_these_passes_on_her_question_not_the_bots_prompt(h: Harness) -> None:
    guest = h.person("孙小梅")
    await h.say(PUBLIC, guest, "大家好")  # she belongs to 青石村 through its public group
    calls = await h.send(guest.user_id, guest, "保护令?")
    suggest = next(c for c in calls if "您是不是想问" in c.text or "您问的是不是" in c.text)
    rows = suggest.params["reply_markup"]["inline_keyboard"]
    pressed = await h.press(guest, suggest, len(rows) - 1)  # 都不是
    to_duty = next(c for c in pressed if c.chat_id == WORK)
    assert "「保护令?」" in to_duty.text
    assert "您是不是想问" not in to_duty.text and "您问的是不是" not in to_duty.text


async def test_a_village_copy_of_a_shipped_entry_keeps_its_variants_unshown(h: Harness) -> None:
    shipped = next(e for e in load_shipped_entries() if e.id == "hotline-12338")
    await h.say(WORK, "王芳", "/faq_edit hotline-12338 | 本村妇联电话 5551234，也可以打12338。 |")
    copy = h.services.faq.entry("hotline-12338", 1)  # the harness's village
    assert copy is not None and copy.org_id == 1 and "5551234" in copy.answer
    assert copy.questions == shipped.questions and copy.shown == shipped.shown > 0  # variants stay unshown


async def test_a_question_announced_is_invited_and_distress_gets_a_kind_word_and_a_person(h: Harness) -> None:
    """我想问个事 is not a question yet: she is asked to go on, nothing is passed on. 心里难受 without a danger
    signal or a question for the base gets a kind word, 12356, and the member on duty asked to look."""
    await h.say(PUBLIC, GUEST, "大家好")
    calls = await h.send(2001, GUEST, "你好 我想问个事")
    assert [c.text for c in calls if c.chat_id == 2001] == [calls[0].text] and "您请说" in calls[0].text
    assert not any(c.chat_id == WORK for c in calls)
    calls = await h.send(2001, GUEST, "我心里很难受 不知道跟谁说")
    reply = next(c for c in calls if c.chat_id == 2001)
    assert "抱抱您" in reply.text and "12356" in reply.text and "离婚" not in reply.text
    assert any(c.chat_id == WORK and "我心里很难受" in c.text for c in calls)


async def test_an_answer_that_did_not_help_goes_to_a_person_once(h: Harness) -> None:
    await h.say(PUBLIC, GUEST, "大家好")
    calls = await h.send(2001, GUEST, "离婚了孩子归谁")
    answer = next(c for c in calls if c.chat_id == 2001 and "依据：" in c.text)
    pressed = await h.press(GUEST, answer, 1)  # 👎 没用
    assert any("抱歉没帮上您" in c.text and "赵霞" in c.text for c in pressed if c.chat_id == 2001)
    assert any(c.chat_id == WORK and "离婚了孩子归谁" in c.text for c in pressed)
    again = await h.press(GUEST, answer, 1)  # pressed again: not passed on twice
    assert not any(c.chat_id == WORK for c in again)


async def test_a_question_of_the_message_the_base_does_not_answer_goes_to_a_person(h: Harness) -> None:
    """Two questions, one the base does not cover: in private the covered one is answered and the other
    passed to the member on duty (she is told); a follow-up (要带啥材料) is not passed on; in the group
    nothing is passed on (questions there that are not for us stay with the people in it)."""
    await h.say(PUBLIC, GUEST, "大家好")
    calls = await h.send(2001, GUEST, "离婚冷静期多久 还有低保怎么申请")
    reply = next(c for c in calls if c.chat_id == 2001)
    assert "冷静期" in reply.text and "「低保怎么申请」我这里没有现成的答案" in reply.text and "赵霞" in reply.text
    assert any(c.chat_id == WORK and "低保怎么申请" in c.text for c in calls)
    calls = await h.send(2001, GUEST, "离婚冷静期多久？要带啥材料")
    assert not any(c.chat_id == WORK for c in calls) and "没有现成的答案" not in calls[0].text
    calls = await h.send(PUBLIC, GUEST, "离婚冷静期多久 还有低保怎么申请")
    assert any(c.chat_id == PUBLIC and "冷静期" in c.text for c in calls)
    assert not any(c.chat_id == WORK for c in calls) and all("没有现成的答案" not in c.text for c in calls)


async def test_the_villages_own_help_entry_follows_the_help_under_an_alarm(h: Harness) -> None:
    """A chair's own entry on where to turn for violence (her village's people and phones) is shown under
    the alarm after the general help, and after a direct answer on where to turn; not for other alarms,
    and not for a woman of no village."""
    saved = await h.say(WORK, "王芳", "/faq_add 本村遇到家庭暴力，首先应该找谁？ | "
                                     "先找村妇联主席王芳，电话 13800001234；夜里直接去村委会值班室，有人。 | 家暴")
    assert "<code>" in saved and "遭受家暴" in saved  # the chair is told it follows the help
    await h.say(PUBLIC, GUEST, "在吗")  # she belongs to 青石村 through its public group
    _, reply = await _alarm(h, "他正在打我 我好怕")
    assert "本村的求助办法" in reply.text and "13800001234" in reply.text
    assert reply.text.index("110") < reply.text.index("本村的求助办法") < reply.text.index("13800001234")
    # a direct answer on where to turn gets the village's entry after it
    answer = (await h.send(2001, GUEST, "家暴可以找妇联吗？"))[-1]
    help_entry = h.services.faq.entry("dv-where-to-get-help", None)
    assert help_entry is not None and answer.text.startswith(help_entry.answer[:20])
    assert answer.text.index("依据：") < answer.text.index("本村的求助办法") < answer.text.index("13800001234")
    # another kind of alarm does not show it
    calls = await h.send(2001, GUEST, "我不想活了")
    assert not any("13800001234" in c.text for c in calls)
    # a woman of no village gets the general help only
    calls = await h.send(STRANGER.user_id, STRANGER, "他正在打我 我好怕")
    reply = next(c for c in calls if c.chat_id == STRANGER.user_id)
    assert "110" in reply.text and "13800001234" not in reply.text and "本村的求助办法" not in reply.text


async def test_the_villages_own_version_follows_a_shipped_answer_on_its_matter(h: Harness) -> None:
    """A chair's own entry on a shipped entry's matter (its opening hours, for the women's home) follows
    the shipped answer where the question ranks it too; not under an answer on another matter, and not
    in another village's chats."""
    saved = await h.say(WORK, "王芳", "/faq_add 本村妇女之家什么时候开放？ | "
                                     "每周二、周四下午 2:30—5:30，在村委会二楼，找王芳 13800001234。 | 妇女之家")
    assert "<code>" in saved and "本村版本" in saved  # the chair is told where it will be shown
    dance = await h.say(WORK, "王芳", "/faq_add 村舞蹈队什么时候练，怎么加入？ | 每晚七点在文化广场。 | 活动")
    assert "<code>" in dance and "本村版本" not in dance
    answer = (await h.send(PUBLIC, GUEST, "村里妇女之家能干些啥"))[-1]
    shipped = h.services.faq.entry("womens-home", None)
    assert shipped is not None and answer.text.startswith(shipped.answer[:20])
    assert answer.text.index("依据：") < answer.text.index("本村的具体安排") < answer.text.index("13800001234")
    other = (await h.send(PUBLIC, GUEST, "离婚后孩子归谁"))[-1]
    assert "本村的具体安排" not in other.text and "13800001234" not in other.text
    calls = await h.send(STRANGER.user_id, STRANGER, "妇女之家是干什么的")
    assert all("13800001234" not in c.text for c in calls)
    # the shipped entry chosen on a button (no question to rank by): its village version follows too
    assert isinstance(answer.result, dict)
    shown_on = h.api.messages[(answer.result["chat"]["id"], answer.result["message_id"])]

    async def press(data: str) -> str:
        before = len(h.api.calls)
        await h.app.process_update(h.factory.callback(h.person(GUEST), shown_on, data))
        return "\n".join(c.text for c in h.api.calls[before:] if c.method == "sendMessage")

    chosen = await press("faq:q:womens-home")
    assert chosen.index("依据：") < chosen.index("本村的具体安排") < chosen.index("13800001234")
    assert "本村的具体安排" not in await press("faq:q:child-custody")
    # the village's own copy of the shipped entry (same id) is shown instead of it: nobody's version
    edited = await h.say(WORK, "王芳", "/faq_edit womens-home 妇女之家能干些啥 | 本村妇女之家能读书、学手艺。 |")
    assert "已修改" in edited and "本村版本" not in edited
