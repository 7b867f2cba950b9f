"""Does one hostile file stall everyone? (issue #12) While a chair's /faq_import of a 2 MB file is
being read and checked, a member in the same deployment keeps asking /duty; the table shows /duty's
latency during each import beside the same command with nothing else running (same run, same
process: the ratio is what counts on a noisy machine). Target: p99 within 200 ms.

    python -m bench.import_stall_bench
"""

from __future__ import annotations

import asyncio
import io
import math
import statistics
import tempfile
import time
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from telegram import Update

from bot.app import build_application, build_services, start_services
from bot.config import from_mapping
from bot.demo import load_world, seed
from bot.fake_api import FakeBotApi
from bot.simulator import UpdateFactory
from services.clock import SimClock
from storage.db import Database

WORK = -1001000000001
START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
FILE_BYTES = 2 * 1024 * 1024 - 4096  # just under the import limit


def big_csv() -> bytes:
    """Just under 2 MB: 5,000 valid rows (the limit) with long answers — the most work a file may ask."""
    row = "村里妇女创业贷款怎么申请{n},{answer},就业\n"
    answer = "带身份证和营业执照到村委会登记，再到县妇联和人社局审核。" * 4
    out = "question,answer,tags\n" + "".join(row.format(n=n, answer=answer) for n in range(5000))
    data = out.encode()
    assert len(data) <= FILE_BYTES
    return data


def endless_csv() -> bytes:
    """2 MB of one-column rows: far over the row limit, refused while counting."""
    return b"question,answer\n" + b"q,a\n" * ((FILE_BYTES - 20) // 4)


def xlsx_bomb() -> bytes:
    """A sheet whose XML is hundreds of MB unpacked, compressed under 2 MB."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", "<row/>" * 40_000_000)
    return buffer.getvalue()[:FILE_BYTES]


def deep_jsonl() -> bytes:
    return ("[" * 900_000 + "]" * 900_000).encode()[:FILE_BYTES]


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(math.ceil(q * len(ordered)) - 1, 0)]


FILES: list[tuple[str, str, Callable[[], bytes]]] = [
    ("5,000 valid rows (CSV)", "kb.csv", big_csv),
    ("rows past the limit (CSV)", "kb.csv", endless_csv),
    ("zip bomb (XLSX)", "kb.xlsx", xlsx_bomb),
    ("nested brackets (JSONL)", "kb.jsonl", deep_jsonl),
]


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        world = load_world()
        cfg = from_mapping({"admins": {"super_admins": world.super_admins}}, env={})
        clock = SimClock(START)
        db = await Database.open(Path(tmp) / "bench.db")
        await seed(db, world, clock, cfg.tz, cfg.duty.handoff)
        api = FakeBotApi(clock)
        api.chat_admins[WORK] = {world.chair.user_id}
        services = build_services(cfg, db, clock)
        await start_services(services)
        app = build_application(services, token="123456:BENCH", request=api)
        await app.initialize()
        factory = UpdateFactory(app.bot, clock, {WORK: world.work_chat[1]})
        people = {p.persona.first_name: p.persona for p in world.people}
        member, chair = people["刘敏"], people["王芳"]

        async def duty_once() -> float:
            started = time.perf_counter()
            await app.process_update(factory.message(WORK, member, "/duty"))
            return (time.perf_counter() - started) * 1000

        def import_update(name: str, data: bytes, n: int) -> Update:
            file_id = f"B{n}"
            api.files[file_id] = data
            message: dict[str, Any] = factory.message_dict(WORK, chair, "")
            del message["text"]
            message.pop("entities", None)
            message["document"] = {"file_id": file_id, "file_unique_id": file_id, "file_name": name,
                                   "file_size": len(data)}
            message["caption"] = "/faq_import"
            message["caption_entities"] = [{"type": "bot_command", "offset": 0, "length": 11}]
            return Update.de_json({"update_id": 900_000 + n, "message": message}, app.bot)

        for _ in range(5):
            await duty_once()  # warm up
        quiet = [await duty_once() for _ in range(60)]
        print("| file (≈2 MB) | the chair is told (a preview: 保存 pressed too) | import took |"
              " /duty during it: n · p50 · p99 · max | quiet /duty p50 · p99 |")
        print("| --- | --- | --- | --- | --- |")
        for n, (label, name, make) in enumerate(FILES):
            data = make()
            update = import_update(name, data, n)
            mark = len(api.calls)
            started = time.perf_counter()
            task = asyncio.create_task(app.process_update(update))
            during: list[float] = []
            while not task.done():
                during.append(await duty_once())
                await asyncio.sleep(0.005)
            await task
            told_calls = [c for c in api.calls[mark:] if c.text and "现在值班" not in c.text]
            if told_calls and told_calls[0].params.get("reply_markup"):  # a preview: press 保存 too
                preview = told_calls[0]
                button = preview.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
                current = api.messages[(preview.result["chat"]["id"], preview.result["message_id"])]
                task = asyncio.create_task(app.process_update(factory.callback(chair, current, button)))
                while not task.done():
                    during.append(await duty_once())
                    await asyncio.sleep(0.005)
                await task
            took = time.perf_counter() - started
            told = [c.text for c in api.calls[mark:] if c.text and "现在值班" not in c.text]
            answer = " → ".join(t.splitlines()[0][:30] for t in told[:3])
            during = during or [await duty_once()]
            p99, q99 = nearest_rank(during, 0.99), nearest_rank(quiet, 0.99)
            print(f"| {label} ({len(data) / 2**20:.1f} MiB) | {answer} | {took:.2f} s | {len(during)} · "
                  f"{statistics.median(during):.1f} · {p99:.1f} · {max(during):.1f} ms | "
                  f"{statistics.median(quiet):.1f} · {q99:.1f} ms |")
        await app.shutdown()
        await db.close()


if __name__ == "__main__":
    asyncio.run(main())
