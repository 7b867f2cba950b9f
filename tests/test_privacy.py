"""/forget (个人信息保护法): refusals, the confirmation buttons, the JSON export, and that afterwards
no table holds her Telegram id, name or username while the organisation's records and the rest
of the bot keep working. Demo: 青石村妇联, clock Mon 2026-11-23 09:00 Shanghai, 赵霞 on duty."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config import from_mapping
from bot.demo import load_world
from bot.fake_api import ApiCall
from bot.simulator import Persona
from services.privacy import Scrubber, replace_name, replace_username
from tests.harness import PUBLIC, WORK, Harness, make_harness
from tests.pg_support import table_names

pytestmark = pytest.mark.handler

OTHER_ADMIN = Persona(9002, "市妇联李主任", "city_admin")


def admin(h: Harness) -> Persona:
    return next(p for p in h.people.values() if p.user_id == h.world.super_admins[0])


def buttons(call: ApiCall) -> list[str]:
    return [b["text"] for row in call.params["reply_markup"]["inline_keyboard"] for b in row]


def alert(calls: list[ApiCall]) -> str:
    return " ".join(str(c.params.get("text", "")) for c in calls if c.method == "answerCallbackQuery")


async def leftovers(h: Harness, user_id: int, needles: list[str]) -> list[str]:
    """Every value of every table (read from sqlite_master) that still holds her id or a needle."""
    number = re.compile(rf"(?<!\d){user_id}(?!\d)")
    found = []
    async with h.db.read() as conn:
        tables = await table_names(conn)
        assert {"users", "members", "ledger_entries", "outbox", "audit_log", "review_results"} <= set(tables)
        for table in tables:
            cur = await conn.execute(f"SELECT * FROM {table}")
            for row in await cur.fetchall():
                for key in row.keys():  # noqa: SIM118
                    value = row[key]
                    if isinstance(value, bytes):
                        value = value.decode("utf-8", "replace")
                    if isinstance(value, int) and value == user_id:
                        found.append(f"{table}.{key} = {value}")
                    elif isinstance(value, str) and (
                        number.search(value) or any(n.lower() in value.lower() for n in needles)
                    ):
                        found.append(f"{table}.{key}: {value[:120]}")
    return found


def spy_filenames(h: Harness, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The file names of multipart uploads (the fake API keeps only the bytes)."""
    names: list[str] = []
    original = h.api.do_request

    async def spy(url: str, method: str, request_data: Any = None, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        if request_data is not None and request_data.contains_files:
            names.extend(str(p[0]) for p in request_data.multipart_data.values() if isinstance(p, tuple))
        return await original(url, method, request_data, *args, **kwargs)

    monkeypatch.setattr(h.api, "do_request", spy)
    return names


async def rows(h: Harness, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    async with h.db.read() as conn:
        cur = await conn.execute(sql, params)
        return [tuple(r) for r in await cur.fetchall()]


# --- refusals ------------------------------------------------------------------------------------


async def test_only_a_super_admin_in_a_private_chat(h: Harness) -> None:
    chair = h.person("王芳")
    assert "只有超级管理员" in await h.say(chair.user_id, chair, "/forget @zhaoxia")
    assert "只有超级管理员" in await h.say(WORK, chair, "/forget @zhaoxia")
    assert "请私聊我办理" in await h.say(WORK, admin(h), "/forget @zhaoxia")
    assert "请私聊我办理" in await h.say(PUBLIC, admin(h), "/forget @zhaoxia")
    me = admin(h)
    assert "/forget @zhaoxia" in await h.say(me.user_id, me, "/forget")
    assert "没有找到「@nobody_x」" in await h.say(me.user_id, me, "/forget @nobody_x")
    assert "没有找到「424242」" in await h.say(me.user_id, me, "/forget 424242")
    assert "没有找到「无此人」" in await h.say(me.user_id, me, "/forget 无此人")
    assert "超级管理员" in await h.say(me.user_id, me, f"/forget {me.user_id}")
    # Nothing was touched.
    assert "赵霞" in await h.say(WORK, "王芳", "/members")


async def test_the_only_chair_cannot_be_forgotten_until_another_chair_is_set(h: Harness) -> None:
    me = admin(h)
    text = await h.say(me.user_id, me, "/forget 王芳")
    assert "唯一的主席" in text and "青石村妇联" in text and "/setrole" in text
    await h.say(WORK, "王芳", "/setrole @lixiuying 主席")
    preview = await h.send(me.user_id, me, "/forget @wangfang")
    assert "删除个人信息：王芳" in preview[-1].text and buttons(preview[-1]) == ["确认删除", "取消"]


async def test_preview_counts_and_cancel_keeps_everything(h: Harness) -> None:
    me = admin(h)
    await h.say(WORK, "赵霞", "/checkin")
    calls = await h.send(me.user_id, me, "/forget @zhaoxia")
    preview = calls[-1]
    assert "个人信息保护法" in preview.text and "Telegram ID：1007" in preview.text
    assert "值班签到（保留）：1 条" in preview.text and "她负责的任务（保留）：1 条" in preview.text
    data = preview.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    assert re.fullmatch(r"fg:[A-Za-z0-9_-]+:y", data)
    pressed = await h.press(me, preview, 1)
    assert any("已取消" in c.text for c in pressed if c.method == "editMessageText")
    assert "赵霞" in await h.say(WORK, "王芳", "/members")
    # The token is gone once cancelled.
    again = await h.press(me, preview, 0)
    assert "过期或者办过了" in alert(again)
    assert not any(c.method == "sendDocument" for c in again)


async def test_expired_and_unknown_tokens(h: Harness) -> None:
    me = admin(h)
    preview = (await h.send(me.user_id, me, "/forget 赵霞"))[-1]
    h.clock.advance(timedelta(minutes=11))
    late = await h.press(me, preview, 0)
    assert "过期或者办过了" in alert(late) and not any(c.method == "sendDocument" for c in late)
    message = h.api.messages[(me.user_id, preview.result["message_id"])]
    before = len(h.api.calls)
    await h.app.process_update(h.factory.callback(me, message, "fg:nosuchtoken:y"))
    bogus = h.api.calls[before:]
    assert "过期或者办过了" in alert(bogus)
    assert "赵霞" in await h.say(WORK, "王芳", "/members")


@pytest.fixture
async def two_admins(tmp_path: Path) -> AsyncIterator[Harness]:
    world = load_world()
    cfg = from_mapping({"admins": {"super_admins": [*world.super_admins, OTHER_ADMIN.user_id]}}, env={})
    harness = await make_harness(tmp_path, config=cfg)
    yield harness
    await harness.app.shutdown()
    await harness.db.close()


async def test_only_the_same_super_admin_may_press(two_admins: Harness) -> None:
    h = two_admins
    me = admin(h)
    preview = (await h.send(me.user_id, me, "/forget @zhaoxia"))[-1]
    other = await h.press(OTHER_ADMIN, preview, 0)
    assert "另一位超级管理员" in alert(other)
    member = await h.press("赵霞", preview, 0)
    assert "只有超级管理员" in alert(member)
    assert not any(c.method == "sendDocument" for c in other + member)
    assert "赵霞" in await h.say(WORK, "王芳", "/members")
    done = await h.press(me, preview, 0)
    assert any(c.method == "sendDocument" for c in done)


async def test_export_not_delivered_means_nothing_deleted(h: Harness) -> None:
    me = admin(h)
    preview = (await h.send(me.user_id, me, "/forget @zhaoxia"))[-1]
    h.api.unreachable.add(me.user_id)
    await h.press(me, preview, 0)
    h.api.unreachable.discard(me.user_id)
    assert "赵霞" in await h.say(WORK, "王芳", "/members")
    assert await rows(h, "SELECT user_id FROM users WHERE user_id = 1007") == [(1007,)]


# --- the full forget -----------------------------------------------------------------------------


async def test_full_forget_exports_then_leaves_no_trace(h: Harness, monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    zx = h.person("赵霞")
    guest = h.person("孙小梅")
    me = admin(h)
    # Her footprint: check-in, ledger entries, a hand-over note, leave with a reason, a private
    # reminder, a policy question with a vote, an answer she gave a villager, the demo task.
    assert "签到成功" in await h.say(WORK, zx, "/checkin")
    assert "已记入台账" in await h.say(WORK, zx, "/log 求助 3组李大姐反映家暴，已联系派出所")
    assert "已记入台账" in await h.say(WORK, zx, "/log 走访 走访5组困难户")
    assert "已记入台账" in await h.say(WORK, "刘敏", "/log 走访 和赵霞一起走访3组")
    await h.say(WORK, zx, "/handover 李大姐明天要去法院，记得陪同")
    await h.say(WORK, zx, "/leave 12月10日-12月11日 去县医院复查")
    assert "提醒" in await h.say(zx.user_id, zx, "/remind 明天9点 给李大姐回电话")
    answer = (await h.send(zx.user_id, zx, "人身安全保护令怎么申请"))[-1]
    await h.press(zx, answer, 0)
    await h.say(PUBLIC, guest, "大家好")
    calls = await h.send(PUBLIC, guest, "/ask 明天天气怎么样？")
    to_duty = next(c for c in calls if c.chat_id == WORK)
    await h.press(zx, to_duty, 0)
    await h.send(WORK, zx, "明天小雨，活动改到村委会室内")
    await h.advance_to(h.clock.now() + timedelta(hours=24, minutes=30))  # her reminder went out
    member_id = (await rows(h, "SELECT id FROM members WHERE user_id = 1007"))[0][0]
    label = f"已删除成员#{member_id}"
    before = await leftovers(h, 1007, ["赵霞", "zhaoxia"])
    assert {v.split(" ")[0].split(":")[0].split(".")[0] for v in before} >= {
        "users", "members", "reminders", "faq_asked", "faq_votes", "faq_unanswered", "audit_log", "outbox",
        "ledger_entries"}

    uploads = spy_filenames(h, monkeypatch)
    preview = (await h.send(me.user_id, me, "/forget @zhaoxia"))[-1]
    done = await h.press(me, preview, 0)
    doc = next(c for c in done if c.method == "sendDocument")
    summary = next(c for c in done if c.method == "sendMessage")
    assert done.index(doc) < done.index(summary)
    assert uploads == ["forget-1007-2026-11-24.json"]
    exported = json.loads(next(iter(doc.files.values())).decode("utf-8"))
    assert exported["telegram_id"] == 1007 and "赵霞" in exported["names"] and "zhaoxia" in exported["usernames"]
    data = exported["data"]
    assert {e["content"] for e in data["ledger_entries"]} == {"3组李大姐反映家暴，已联系派出所", "走访5组困难户"}
    assert len(data["checkins"]) == 1 and data["user"][0]["username"] == "zhaoxia"
    assert [r["text"] for r in data["reminders"]] == ["给李大姐回电话"]
    assert [q["question"] for q in data["faq_asked"]] == ["人身安全保护令怎么申请"] and len(data["faq_votes"]) == 1
    assert [t["title"] for t in data["tasks"]] == ["走访3组困难妇女家庭并登记"]
    assert data["handover_notes"][0]["content"] == "李大姐明天要去法院，记得陪同"
    assert "去县医院复查" in {o["note"] for o in data["duty_overrides"]}
    assert "已删除" in summary.text and label in summary.text

    # No table keeps her id, her name or her username; nor do the database file and its WAL, while
    # the bot keeps running (secure_delete zeroes freed pages, the WAL is checkpointed and truncated).
    assert await leftovers(h, 1007, ["赵霞", "zhaoxia"]) == []
    db_file = tmp_path / "test.db"
    for path in (db_file, db_file.with_name(db_file.name + "-wal")):
        if path.exists():
            raw = path.read_bytes()
            assert "赵霞".encode() not in raw and b"zhaoxia" not in raw, path.name
            assert "给李大姐回电话".encode() not in raw, path.name
    # The organisation's records stay, authored by the anonymised member.
    assert await rows(h, "SELECT content FROM ledger_entries l JOIN members m ON m.id = l.member_id"
                         " WHERE m.display_name = ? ORDER BY l.id", label) == [
        ("3组李大姐反映家暴，已联系派出所",), ("走访5组困难户",)]
    assert await rows(h, "SELECT content FROM ledger_entries WHERE content LIKE '和%'") == [(f"和{label}一起走访3组",)]
    assert await rows(h, "SELECT count(*) FROM checkins WHERE member_id = ?", member_id) == [(1,)]
    assert await rows(h, "SELECT count(*) FROM task_owners WHERE member_id = ?", member_id) == [(1,)]
    assert await rows(h, "SELECT count(*) FROM handover_notes") == [(0,)]
    assert await rows(h, "SELECT active, user_id, username FROM members WHERE id = ?", member_id) == [(0, None, None)]
    audit = await rows(h, "SELECT actor_id, detail FROM audit_log WHERE action = 'member.forget'")
    assert len(audit) == 1 and audit[0][0] == me.user_id
    detail = json.loads(audit[0][1])
    assert detail["member_ids"] == [member_id] and detail["counts"]["ledger_entries"] == 2
    # Her audit rows keep the action without her.
    assert await rows(h, "SELECT count(*) FROM audit_log WHERE action = 'duty.checkin' AND actor_id IS NULL") == [(1,)]

    # The rest keeps working.
    assert "赵霞" not in await h.say(WORK, "王芳", "/members")
    duty = await h.say(WORK, "刘敏", "/duty")
    assert "下一班" in duty and "赵霞" not in duty
    ledger = await h.say(WORK, "王芳", "/ledger")
    assert label in ledger and "3组李大姐反映家暴" in ledger
    assert "已记入台账" in await h.say(WORK, "刘敏", "/log 宣传 发放反家暴宣传单")
    rota = await h.say(WORK, "刘敏", "/rota 10")  # she is out of the future rotation
    assert "10. " in rota and label not in rota and "赵霞" not in rota
    await h.advance_to(h.clock.now() + timedelta(days=2))
    assert await leftovers(h, 1007, ["赵霞", "zhaoxia"]) == []


async def test_confirm_word_forgets_at_once(h: Harness) -> None:
    me = admin(h)
    calls = await h.send(me.user_id, me, "/forget 1008 确认")
    assert [c.method for c in calls if c.method.startswith("send")] == ["sendDocument", "sendMessage"]
    assert "黄丽娟" not in await h.say(WORK, "王芳", "/members")
    assert await leftovers(h, 1008, ["黄丽娟", "huanglijuan"]) == []


async def test_a_guest_who_asked_questions(h: Harness) -> None:
    guest = h.person("孙小梅")
    me = admin(h)
    await h.say(guest.user_id, guest, "人身安全保护令怎么申请")
    calls = await h.send(me.user_id, me, f"/forget {guest.user_id} 确认")
    assert any(c.method == "sendDocument" for c in calls)
    assert "不在任何组织的名册上" not in calls[-1].text
    assert await leftovers(h, guest.user_id, ["孙小梅", "sunxiaomei"]) == []


# --- pure text scrubbing -------------------------------------------------------------------------


@pytest.mark.unit
def test_replace_name_protects_longer_names() -> None:
    assert replace_name("王芳和王芳芳一起走访", "王芳", "X#1", ["王芳芳"]) == "X#1和王芳芳一起走访"
    assert replace_name("没有提到", "王芳", "X#1") == "没有提到"


@pytest.mark.unit
def test_replace_username_whole_words_only() -> None:
    assert replace_username("请 @ZhaoXia 和 zhaoxia2 看", "zhaoxia", "X#1") == "请 X#1 和 zhaoxia2 看"


@pytest.mark.unit
def test_scrubber_keeps_json_valid_and_drops_her_id() -> None:
    scrub = Scrubber(("赵霞",), ("zhaoxia",), "X#7", 1007)
    fixed = scrub.value('{"name": "赵霞", "user_id": 1007, "count": 3, "note": "去医院", "l": ["@zhaoxia"]}',
                        drop=frozenset({"note"}))
    assert json.loads(fixed) == {"name": "X#7", "user_id": None, "count": 3, "l": ["X#7"]}
    assert scrub.value("赵霞值班 {not json") == "X#7值班 {not json"
    assert scrub.value(42) == 42


async def test_forget_after_a_closed_review_keeps_the_results_anonymised(h: Harness) -> None:
    def pm(who: str, text: str) -> Any:
        return h.say(h.person(who).user_id, who, text)

    me = admin(h)
    await pm("王芳", "/review_start 2026年度述职 11月25日前")
    await pm("赵霞", "/report 今年走访困难户20户，赵霞负责3组")
    for rater in ("李秀英", "张丽", "陈静"):
        await pm(rater, "/rate 赵霞 优秀")
    await pm("王芳", "/score 赵霞 90")
    await pm("王芳", "/adjust 赵霞 +5 获县级表彰")
    ask = (await h.send(h.person("王芳").user_id, "王芳", "/review_close"))[-1]
    await h.press("王芳", ask, 0)
    await h.tick()
    assert await rows(h, "SELECT count(*) FROM review_results WHERE data LIKE '%赵霞%'") == [(1,)]
    calls = await h.send(me.user_id, me, "/forget 赵霞 确认")
    exported = json.loads(next(iter(next(c for c in calls if c.method == "sendDocument").files.values())))
    assert exported["data"]["review_reports"][0]["content"] == "今年走访困难户20户，赵霞负责3组"
    assert len(exported["data"]["review_results"]) == 1
    assert await leftovers(h, 1007, ["赵霞", "zhaoxia"]) == []
    assert await rows(h, "SELECT count(*) FROM review_reports") == [(0,)]
    member_id = (await rows(h, "SELECT member_id FROM review_scores"))[0][0]
    result = json.loads((await rows(h, "SELECT data FROM review_results WHERE member_id = ?", member_id))[0][0])
    assert result["name"] == f"已删除成员#{member_id}"
    # The ratings about her stay anonymous and counted.
    assert await rows(h, "SELECT count(*) FROM review_ratings WHERE ratee_id = ?", member_id) == [(3,)]


@pytest.mark.e2e
def test_cli_forget_exports_first_and_deletes_only_with_yes(tmp_path: Path) -> None:
    import asyncio
    import subprocess
    import sys
    from datetime import UTC, datetime

    from bot.demo import seed
    from services.clock import SimClock
    from storage.db import Database

    db_path = tmp_path / "cli.db"

    async def prepare() -> None:
        cfg = from_mapping({}, env={})
        db = await Database.open(db_path)
        await seed(db, load_world(), SimClock(datetime.now(UTC)), cfg.tz, cfg.duty.handoff)
        await db.close()

    async def count(sql: str) -> int:
        db = await Database.open(db_path)
        async with db.read() as conn:
            cur = await conn.execute(sql)
            row = await cur.fetchone()
        await db.close()
        return int(row[0]) if row else 0

    asyncio.run(prepare())
    root = Path(__file__).resolve().parent.parent
    env = {"PATH": "/usr/bin:/bin", "BOT_DB": str(db_path)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot", "forget", *args], capture_output=True, text=True,
                              cwd=root, env=env)

    first = tmp_path / "a.json"
    dry = cli("1007", "--export", str(first))
    assert dry.returncode == 0, dry.stderr
    assert "赵霞" in dry.stdout and "--yes" in dry.stdout
    assert json.loads(first.read_text(encoding="utf-8"))["telegram_id"] == 1007
    assert asyncio.run(count("SELECT count(*) FROM members WHERE user_id = 1007")) == 1
    assert cli("1007", "--export", str(first)).returncode == 1  # never overwrites
    assert "没有找到" in cli("424242", "--export", str(tmp_path / "x.json")).stderr
    done = cli("1007", "--export", str(tmp_path / "b.json"), "--yes")
    assert done.returncode == 0, done.stderr
    assert "已删除成员#" in done.stdout
    assert asyncio.run(count("SELECT count(*) FROM members WHERE user_id = 1007 OR display_name = '赵霞'")) == 0
    assert asyncio.run(count("SELECT count(*) FROM users WHERE user_id = 1007")) == 0
    assert asyncio.run(count("SELECT count(*) FROM audit_log WHERE action = 'member.forget'")) == 1


async def test_a_roster_row_added_by_username_only(h: Harness) -> None:
    me = admin(h)
    assert "已把 <b>新来的</b> 加入名册" in await h.say(WORK, "王芳", "/addmember @newbie_x 执委 新来的")
    text = (await h.send(me.user_id, me, "/forget @newbie_x"))[-1].text
    assert "删除个人信息：新来的" in text and "Telegram ID：—" in text
    calls = await h.send(me.user_id, me, "/forget @newbie_x 确认")
    assert any(c.method == "sendDocument" for c in calls)
    assert "新来的" not in await h.say(WORK, "王芳", "/members")
    assert await leftovers(h, -1, ["新来的", "newbie_x"]) == []


async def test_forget_a_village_woman_not_on_any_roster(h: Harness) -> None:
    admin = h.person("县妇联周主任")
    await h.say(PUBLIC, "孙小梅", "妇女之家几点开门？")
    preview = await h.say(admin.user_id, admin, "/forget 2001")
    assert "删除个人信息：孙小梅" in preview
    done = await h.say(admin.user_id, admin, "/forget 2001 确认")
    assert "已删除 孙小梅 的个人信息" in done
    assert "改成 —" not in done and "名册上她的记录" not in done
    assert "没有名册记录要改" in done
