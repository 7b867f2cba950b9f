"""Issue #16 part 7: /calendar — her shifts as an iCalendar file (RFC 5545, checked strictly), the
whole rotation for the chair and vice chairs, leave and swaps reflected, and subscription links
served by the bot's web server. The demo rotation is daily from 11-20, 08:00: 刘敏 陈静 杨秀兰 赵霞
黄丽娟 周红 吴桂英 徐萍; the clock starts Monday 2026-11-23 09:00 Shanghai (赵霞 on duty)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config import from_mapping
from bot.demo import load_world
from bot.fake_api import ApiCall
from bot.web import WebServer
from services import ical
from tests.harness import PUBLIC, WORK, Harness, make_harness

pytestmark = pytest.mark.handler

LIUMIN, CHENJING, HUANG, CHAIR = 1004, 1005, 1008, 1001
CAL_URL = re.compile(r"https://bot\.example\.org/cal/([A-Za-z0-9_-]+)\.ics")


# ---------------------------------------------------------------- a strict little parser


def unescape(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        ch = value[i]
        if ch == "\\":
            nxt = value[i + 1]
            assert nxt in "\\;,nN", f"bad escape \\{nxt}"
            out.append("\n" if nxt in "nN" else nxt)
            i += 2
            continue
        assert ch not in ";,", f"unescaped {ch!r} in a TEXT value"
        out.append(ch)
        i += 1
    return "".join(out)


def parse(data: bytes) -> dict[str, Any]:
    """VCALENDAR → {"props": {...}, "events": [{NAME: value}]}; asserts CRLF endings, ≤ 75 octets per
    physical line, folds that never split a UTF-8 character, balanced BEGIN/END, required properties."""
    assert data.endswith(b"\r\n")
    physical = data[:-2].split(b"\r\n")
    logical: list[str] = []
    for raw in physical:
        assert b"\n" not in raw and b"\r" not in raw, raw
        assert len(raw) <= 75, (len(raw), raw)
        text = raw.decode("utf-8")  # a fold inside a character would not decode
        if text.startswith(" "):
            assert logical, "continuation line first"
            logical[-1] += text[1:]
        else:
            logical.append(text)
    stack: list[str] = []
    calendar: dict[str, Any] = {"props": {}, "events": []}
    event: dict[str, str] | None = None
    for line in logical:
        name_params, sep, value = line.partition(":")
        assert sep, line
        name = name_params.split(";")[0]
        assert re.fullmatch(r"[A-Z-]+", name), name
        if name == "BEGIN":
            stack.append(value)
            if value == "VEVENT":
                assert stack == ["VCALENDAR", "VEVENT"]
                event = {}
            continue
        if name == "END":
            assert stack and stack.pop() == value, line
            if value == "VEVENT":
                assert event is not None
                calendar["events"].append(event)
                event = None
            continue
        target = event if event is not None else calendar["props"]
        assert name not in target, f"{name} twice"
        target[name] = unescape(value) if name in ("SUMMARY", "DESCRIPTION", "X-WR-CALNAME") else value
    assert stack == [] and logical[0] == "BEGIN:VCALENDAR"
    assert calendar["props"]["VERSION"] == "2.0" and calendar["props"]["PRODID"]
    for ev in calendar["events"]:
        assert {"UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY"} <= ev.keys(), ev
        for key in ("DTSTAMP", "DTSTART", "DTEND"):
            assert re.fullmatch(r"\d{8}T\d{6}Z", ev[key]), ev[key]
        assert when(ev["DTEND"]) > when(ev["DTSTART"])
    uids = [ev["UID"] for ev in calendar["events"]]
    assert len(uids) == len(set(uids))
    return calendar


def when(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def handoff(day: date) -> str:
    """08:00 in Shanghai of that day, as a UTC stamp."""
    return f"{day:%Y%m%d}T000000Z"


def document(calls: list[ApiCall], chat_id: int) -> tuple[ApiCall, dict[str, Any]]:
    call = next(c for c in calls if c.method == "sendDocument" and c.chat_id == chat_id)
    return call, parse(call.files["document"])


def starts(cal: dict[str, Any]) -> list[str]:
    return [ev["DTSTART"] for ev in cal["events"]]


LIUMIN_DAYS = [date(2026, 11, 28) + timedelta(days=8 * k) for k in range(7)]  # to 2027-01-15 (< 60 days)


# ---------------------------------------------------------------- the format


def test_fold_at_75_octets_without_splitting_characters_and_escape() -> None:
    long_line = "SUMMARY:" + ical.escape("执委值班，青石村妇联; 备注\n第二行" * 6)
    folded = ical.fold(long_line)
    parts = folded.split("\r\n")
    assert len(parts) > 1 and all(len(p.encode()) <= 75 for p in parts)
    assert all(p.startswith(" ") for p in parts[1:])
    assert "".join([parts[0]] + [p[1:] for p in parts[1:]]) == long_line
    assert ical.escape("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne"
    assert ical.fold("short") == "short"
    data = ical.render("名,字", [ical.Event("u1@x", datetime(2026, 1, 1, tzinfo=UTC),
                                            datetime(2026, 1, 2, tzinfo=UTC), "值班；A,B")],
                       datetime(2026, 1, 1, tzinfo=UTC), "Asia/Shanghai")
    cal = parse(data)
    assert cal["props"]["X-WR-CALNAME"] == "名,字" and cal["events"][0]["SUMMARY"] == "值班；A,B"
    assert cal["props"]["METHOD"] == "PUBLISH"


# ---------------------------------------------------------------- /calendar


async def test_her_own_shifts_only_for_sixty_days(h: Harness) -> None:
    calls = await h.send(LIUMIN, "刘敏", "/calendar")
    call, cal = document(calls, LIUMIN)
    assert call.filenames["document"] == "我的值班.ics"
    assert "您接下来 60 天的值班：7 班" in call.text and "/calendar" in call.text
    assert starts(cal) == [handoff(d) for d in LIUMIN_DAYS]
    assert all(ev["DTEND"] == handoff(d + timedelta(days=1)) for ev, d in zip(cal["events"], LIUMIN_DAYS, strict=True))
    assert {ev["SUMMARY"] for ev in cal["events"]} == {"执委值班 · 青石村妇联"}
    assert "08:00 交接" in cal["events"][0]["DESCRIPTION"] and "11月28日" in cal["events"][0]["DESCRIPTION"]
    assert cal["props"]["X-WR-CALNAME"] == "青石村妇联 · 刘敏的值班"
    # UIDs are stable: the same shifts, the same UIDs.
    _, again = document(await h.send(LIUMIN, "刘敏", "/calendar"), LIUMIN)
    assert [e["UID"] for e in again["events"]] == [e["UID"] for e in cal["events"]]
    # Nobody else's shifts: 陈静's calendar has none of hers.
    _, chen = document(await h.send(CHENJING, "陈静", "/calendar"), CHENJING)
    assert not set(starts(chen)) & set(starts(cal))
    assert starts(chen)[0] == handoff(date(2026, 11, 29))


async def test_leave_and_swap_change_the_calendars(h: Harness) -> None:
    await h.say(WORK, "刘敏", "/leave 11月28日 家里有事")
    _, mine = document(await h.send(LIUMIN, "刘敏", "/calendar"), LIUMIN)
    assert handoff(date(2026, 11, 28)) not in starts(mine) and len(mine["events"]) == 6
    _, chen = document(await h.send(CHENJING, "陈静", "/calendar"), CHENJING)
    covered = next(ev for ev in chen["events"] if ev["DTSTART"] == handoff(date(2026, 11, 28)))
    assert covered["SUMMARY"] == "执委值班 · 青石村妇联（替刘敏）"
    # A swap accepted by button moves 11-24 from 黄丽娟 to 陈静.
    calls = await h.send(WORK, "黄丽娟", "/swap @chenjing 11月24日")
    request = next(c for c in calls if c.chat_id == WORK and c.params.get("reply_markup"))
    await h.press("陈静", request, 0)
    _, huang = document(await h.send(HUANG, "黄丽娟", "/calendar"), HUANG)
    _, chen = document(await h.send(CHENJING, "陈静", "/calendar"), CHENJING)
    assert handoff(date(2026, 11, 24)) not in starts(huang)
    assert handoff(date(2026, 11, 24)) in starts(chen)


async def test_whole_rotation_for_the_chair_only(h: Harness) -> None:
    calls = await h.send(CHAIR, "王芳", "/calendar 全部")
    call, cal = document(calls, CHAIR)
    assert call.filenames["document"] == "值班表.ics" and "轮值表，接下来 60 天" in call.text
    summaries = [ev["SUMMARY"] for ev in cal["events"]]
    assert summaries[:3] == ["值班：赵霞", "值班：黄丽娟", "值班：周红"]
    assert starts(cal)[0] == handoff(date(2026, 11, 23))  # the shift in progress
    assert len(cal["events"]) == 61 and cal["props"]["X-WR-CALNAME"] == "青石村妇联 值班表"
    assert all(ev["UID"].startswith("all-") for ev in cal["events"])
    refused = await h.say(LIUMIN, "刘敏", "/calendar 全部")
    assert "只有主席、副主席" in refused
    assert "/calendar 全部" in await h.say(LIUMIN, "刘敏", "/calendar 明天")
    assert "您还不是任何组织的执委" in await h.say(2001, "孙小梅", "/calendar")
    assert "妇女之家群里不处理" in await h.say(PUBLIC, "孙小梅", "/calendar")


async def test_in_the_work_group_the_file_goes_to_her_private_chat(h: Harness) -> None:
    calls = await h.send(WORK, "刘敏", "/calendar")
    document(calls, LIUMIN)
    assert not any(c.method == "sendDocument" and c.chat_id == WORK for c in calls)
    assert any("已私聊发给您" in c.text for c in calls if c.chat_id == WORK)
    h.api.unreachable.add(CHENJING)  # she never opened a private chat with the bot
    text = await h.say(WORK, "陈静", "/calendar")
    assert "请先私聊我" in text


# ---------------------------------------------------------------- subscription links


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[tuple[Harness, WebServer]]:
    world = load_world()
    cfg = from_mapping({"admins": {"super_admins": world.super_admins},
                        "web": {"listen": "127.0.0.1:8089", "public_url": "https://bot.example.org/"}}, env={})
    harness = await make_harness(tmp_path, config=cfg)
    server = WebServer(harness.services, "127.0.0.1", 0)
    await server.start()
    yield harness, server
    await server.close()
    await harness.app.shutdown()
    await harness.db.close()


async def fetch(server: WebServer, token: str) -> tuple[int, str, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(f"GET /cal/{token}.ics HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    kind = next((line.split(b": ", 1)[1].decode() for line in head.split(b"\r\n")
                 if line.startswith(b"Content-Type")), "")
    return status, kind, body


def token_of(call: ApiCall) -> str:
    match = CAL_URL.search(call.text)
    assert match, call.text
    return match.group(1)


async def test_subscription_link_serves_her_calendar_and_follows_changes(web: tuple[Harness, WebServer]) -> None:
    h, server = web
    call, _ = document(await h.send(LIUMIN, "刘敏", "/calendar"), LIUMIN)
    token = token_of(call)
    assert len(token) >= 30 and "不要转发" in call.text
    status, kind, body = await fetch(server, token)
    assert status == 200 and kind == "text/calendar; charset=utf-8"
    assert starts(parse(body)) == [handoff(d) for d in LIUMIN_DAYS]
    # The same link next time; the feed follows her leave.
    again, _ = document(await h.send(LIUMIN, "刘敏", "/calendar"), LIUMIN)
    assert token_of(again) == token
    await h.say(WORK, "刘敏", "/leave 11月28日")
    assert handoff(date(2026, 11, 28)) not in starts(parse((await fetch(server, token))[2]))
    # 重置: a new link, the old one is dead.
    reset, _ = document(await h.send(LIUMIN, "刘敏", "/calendar 重置"), LIUMIN)
    assert "旧的订阅链接已作废" in reset.text
    new = token_of(reset)
    assert new != token
    assert (await fetch(server, token))[0] == 404
    assert (await fetch(server, new))[0] == 200
    # Removed from the roster: the link finds nothing.
    await h.say(WORK, "王芳", "/removemember @liumin")
    assert (await fetch(server, new))[0] == 404


async def test_whole_rotation_link_dies_when_she_is_no_longer_a_manager(web: tuple[Harness, WebServer]) -> None:
    h, server = web
    call, _ = document(await h.send(1002, "李秀英", "/calendar 全部"), 1002)
    token = token_of(call)
    status, _, body = await fetch(server, token)
    assert status == 200 and len(parse(body)["events"]) == 61
    mine, _ = document(await h.send(1002, "李秀英", "/calendar"), 1002)
    assert token_of(mine) != token  # one link per scope
    await h.say(WORK, "王芳", "/setrole @lixiuying 执委")
    assert (await fetch(server, token))[0] == 404
    assert (await fetch(server, token_of(mine)))[0] == 200


async def test_forget_deletes_her_links(web: tuple[Harness, WebServer]) -> None:
    h, server = web
    call, _ = document(await h.send(LIUMIN, "刘敏", "/calendar"), LIUMIN)
    token = token_of(call)
    chief = next(p for p in h.people.values() if p.user_id == h.world.super_admins[0])
    preview = (await h.send(chief.user_id, chief, "/forget @liumin"))[-1]
    await h.press(chief, preview, 0)
    assert (await fetch(server, token))[0] == 404
    async with h.db.read() as conn:
        cur = await conn.execute("SELECT COUNT(*) FROM calendar_tokens")
        row = await cur.fetchone()
        assert row is not None and row[0] == 0
