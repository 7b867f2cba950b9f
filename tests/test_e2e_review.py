"""End to end: a whole 述职考评 cycle with four members, through the real `python -m bot run` process
long polling the local HTTP Bot API stand-in; the final table is checked number by number."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.botapi_stub import ApiCall, BotApiStub, make_callback_update, make_chat, make_message_update, make_user
from tests.e2e_process import today_clear_of_midnight

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:E2E-REVIEW"

GROUP = -1001234567801
CHAIR = make_user(701, "王芳", "wangfang_rv")
VICE = make_user(702, "李秀英", "lixiuying_rv")
LIU = make_user(703, "刘敏", "liumin_rv")
CHEN = make_user(704, "陈静", "chenjing_rv")
PEOPLE = {"王芳": CHAIR, "李秀英": VICE, "刘敏": LIU, "陈静": CHEN}

# Ratings (rater → ratee → choice). Each member is rated by the three others:
#   王芳   优秀 优秀 称职        = 280/3 = 93.33
#   李秀英 称职 称职 基本称职    = 220/3 = 73.33
#   刘敏   优秀 称职 优秀        = 280/3 = 93.33
#   陈静   基本称职 不称职 称职  = 180/3 = 60
RATINGS = {
    "王芳": {"李秀英": "称职", "刘敏": "优秀", "陈静": "基本称职"},
    "李秀英": {"王芳": "优秀", "刘敏": "称职", "陈静": "不称职"},
    "刘敏": {"王芳": "优秀", "李秀英": "称职", "陈静": "称职"},
    "陈静": {"王芳": "称职", "李秀英": "基本称职"},  # 刘敏: by button, first 不称职 then 优秀
}
# Hand-computed with weights chair 0.4 / peer 0.3 / duty 0.2 / training 0.1, no training held, and
# duty data for 刘敏 only (she holds the weekly shift in progress and checked in: 1/1):
#   王芳   (0.4·92 + 0.3·280/3) / 0.7        = 64.8 / 0.7 = 92.571…            → 92.6 优秀    1200.00
#   李秀英 (0.4·85 + 0.3·220/3) / 0.7        = 56 / 0.7   = 80                 → 80.0 称职     960.00
#   刘敏   (0.4·90 + 0.3·280/3 + 0.2·100)/0.9 = 84 / 0.9  = 93.333… + 2         → 95.3 优秀    1200.00
#   陈静   (0.4·70 + 0.3·60) / 0.7           = 46 / 0.7   = 65.714… − 1         → 64.7 基本称职 600.00
EXPECTED = {
    "王芳": ("92.0", "93.3", "—", "92.6", "优秀", "1200.00"),
    "李秀英": ("85.0", "73.3", "—", "80.0", "称职", "960.00"),
    "刘敏": ("90.0", "93.3", "100.0", "95.3", "优秀", "1200.00"),
    "陈静": ("70.0", "60.0", "—", "64.7", "基本称职", "600.00"),
}
TOTAL = "3960.00"


def start_bot(stub: BotApiStub, db: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "TELEGRAM_TOKEN": TOKEN, "TELEGRAM_BASE_URL": stub.base_url, "BOT_DB": str(db)}
    mark = len(stub.calls)
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    stub.wait_for(lambda c: c.method == "getUpdates", timeout=30, after=mark)
    return proc


def stop_bot(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out


@pytest.fixture
def stub() -> Iterator[BotApiStub]:
    with BotApiStub(TOKEN) as server:
        yield server


def test_whole_review_cycle_with_four_members(stub: BotApiStub, tmp_path: Path) -> None:
    today = today_clear_of_midnight()
    deadline = today + timedelta(days=30)
    group = make_chat(GROUP, "考评村执委工作群")
    stub.set_chat_member_status(GROUP, CHAIR["id"], "creator")
    proc = start_bot(stub, tmp_path / "review.db")

    def wait(predicate: object, after: int) -> ApiCall:
        return stub.wait_for(predicate, timeout=20, after=after)  # type: ignore[arg-type]

    def step(chat: dict[str, object], user: dict[str, object], text: str, expect: str) -> ApiCall:
        mark = len(stub.calls)
        stub.push_update(make_message_update(chat, user, text))
        return wait(lambda c: c.method == "sendMessage" and expect in str(c.params.get("text", ""))
                    and c.params.get("chat_id") == chat["id"], mark)

    def private(user: dict[str, object]) -> dict[str, object]:
        return make_chat(int(str(user["id"])), str(user["first_name"]))

    def pm(name: str, text: str, expect: str) -> ApiCall:
        user = PEOPLE[name]
        return step(private(user), user, text, expect)

    def press(user: dict[str, object], call: ApiCall, label: str, expect: str, method: str) -> ApiCall:
        mark = len(stub.calls)
        markup = call.params["reply_markup"]["inline_keyboard"]
        data = next(b["callback_data"] for row in markup for b in row if b["text"] == label)
        stub.push_update(make_callback_update(user, call.result, data))
        return wait(lambda c: c.method == method and expect in str(c.params.get("text", "")), mark)

    try:
        step(group, CHAIR, "/setup 考评村妇联", "已创建组织")
        for name in ("李秀英", "刘敏", "陈静"):
            stub.push_update(make_message_update(group, PEOPLE[name], "到"))
        step(group, CHAIR, "/addmember @lixiuying_rv 副主席", "已把 <b>李秀英</b>")
        step(group, CHAIR, "/addmember @liumin_rv", "已把 <b>刘敏</b>")
        step(group, CHAIR, "/addmember @chenjing_rv", "已把 <b>陈静</b>")
        step(group, CHAIR, f"/rota_set 周 {today.isoformat()} @liumin_rv @chenjing_rv 00:00", "轮值表已设置")

        # In the group a review command only gets the button to the private chat.
        button = step(group, CHAIR, f"/review_start 年度述职 {deadline.isoformat()}", "只在私聊里办")
        url = button.params["reply_markup"]["inline_keyboard"][0][0]["url"]
        assert re.fullmatch(r"https://t\.me/zhiwei_test_bot\?start=review_\d+", url)

        mark = len(stub.calls)
        started = pm("王芳", f"/review_start 年度述职 {deadline.isoformat()}", "已开始「年度述职」")
        assert "共 4 位执委参加" in started.params["text"]
        for name, user in PEOPLE.items():  # the private requests, through the outbox
            wait(lambda c, uid=user["id"], n=name: c.method == "sendMessage" and c.params.get("chat_id") == uid
                 and f"{n}，您好！「年度述职」" in str(c.params.get("text")), mark)

        step(group, LIU, "/checkin", "签到成功")
        step(group, LIU, "/log 走访 看望了独居的李奶奶", "已记入台账")
        for name in PEOPLE:
            pm(name, f"/report {name}的述职报告：今年做了很多工作。", "述职报告已收到")

        for rater, given in RATINGS.items():
            for ratee, choice in given.items():
                pm(rater, f"/rate {ratee} {choice}", f"已记录：{ratee} {choice}")
        card = pm("陈静", "/rate", "请为 <b>刘敏</b>")
        press(CHEN, card, "不称职", "评完了", "editMessageText")
        listing = press(CHEN, card, "📋 全部同事", "点名字", "editMessageText")
        again = press(CHEN, listing, "刘敏 · 不称职", "您现在选的是：不称职", "editMessageText")
        press(CHEN, again, "优秀", "评完了", "editMessageText")

        pm("王芳", "/score 王芳 99", "不能给自己评分")
        pm("李秀英", "/score 王芳 92 带头示范", "已给 <b>王芳</b> 评分：92")
        pm("王芳", "/score 李秀英 85", "已给 <b>李秀英</b> 评分：85")
        pm("王芳", "/score 刘敏 90 走访认真", "已给 <b>刘敏</b> 评分：90")
        pm("王芳", "/score 陈静 70", "已给 <b>陈静</b> 评分：70")
        pm("王芳", "/adjust 刘敏 +2 获县级表彰", "记 +2 分")
        pm("王芳", "/adjust 陈静 -1 缺席例会", "记 -1 分")
        status = pm("王芳", "/review_status", "进度")
        assert "共 4 人：报告 4 人交了，测评 4 人评完了，评分 4 人打了；收到测评共 12 份" in status.params["text"]
        pm("刘敏", "/myreview 陈静", "只能看自己的")

        ask = pm("王芳", "/review_close", "确定要结束「年度述职」吗")
        mark = len(stub.calls)
        press(CHAIR, ask, "确定结束", "已结束", "sendMessage")
        table = wait(lambda c: c.method == "sendMessage" and "考评结果" in str(c.params.get("text"))
                     and c.params.get("chat_id") == CHAIR["id"], mark).params["text"]
        doc = wait(lambda c: c.method == "sendDocument", mark)
        assert doc.params["chat_id"] == CHAIR["id"]

        blocks = {b.split("<b>")[1].split("</b>")[0]: b for b in table.split("\n\n")[1:-1]}
        assert set(blocks) == set(EXPECTED)
        for name, (chair, peer, duty, total, grade, subsidy) in EXPECTED.items():
            block = blocks[name]
            assert f"总分 <b>{total}</b> · {grade} · 误工补贴 {subsidy} 元" in block, name
            assert f"主席评分 {chair}｜民主测评 {peer}（3 人）" in block, name
            assert (f"值班 {duty}" if duty == "—" else f"值班 {duty}（签到 1/1 班）") in block, name
        assert "台账 1 条" in blocks["刘敏"] and "加减分 +2：+2（获县级表彰）" in blocks["刘敏"]
        assert "加减分 -1：-1（缺席例会）" in blocks["陈静"] and "点评：带头示范" in blocks["王芳"]
        assert f"<b>误工补贴合计：{TOTAL} 元</b>" in table

        upload = next(iter(doc.files.values()))
        rows = list(load_workbook(io.BytesIO(upload.data)).worksheets[0].iter_rows(values_only=True))
        assert rows[1][1] == "姓名" and rows[1][14] == "总分" and rows[1][17] == "误工补贴(元)"
        by_name = {r[1]: r for r in rows[2:-1]}
        for name, (chair, peer, _duty, total, grade, subsidy) in EXPECTED.items():
            row = by_name[name]
            assert (row[3], row[4], row[14], row[15], row[17]) == (
                float(chair), float(peer), float(total), grade, float(subsidy)), name
        assert rows[-1][1] == "合计（4人）" and rows[-1][17] == float(TOTAL)

        mine = pm("陈静", "/myreview", "您的考评结果")
        assert "总分 <b>64.7</b> · 基本称职 · 误工补贴 600.00 元" in mine.params["text"]
        assert "王芳" not in mine.params["text"] and "92.6" not in mine.params["text"]
        pm("陈静", "/report 补交", "已经结束了")
        pm("刘敏", "/rate 陈静 优秀", "已经结束了")
        pm("李秀英", "/score 王芳 60", "已经结束了")
        # Nothing of the review was ever posted in the group.
        group_texts = [str(c.params.get("text")) for c in stub.calls
                       if c.method == "sendMessage" and c.params.get("chat_id") == GROUP]
        assert not any("总分" in x or "93.3" in x or "不称职" in x or "述职报告：" in x for x in group_texts)
    finally:
        stop_bot(proc)
