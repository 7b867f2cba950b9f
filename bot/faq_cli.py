"""The FAQ command-line tools: `ask`, `import-faq`, `export-faq` (same engine and texts as the bot)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from bot.app import build_services, start_services
from bot.config import Config
from handlers.common import Services
from handlers.faq import decision_text, export_headers
from handlers.i18n import t
from services.clock import SystemClock
from services.errors import Refusal
from services.faq_io import parse_faq_file, to_jsonl, to_xlsx
from services.roster import Actor
from storage.db import Database

CLI_ACTOR = Actor(0, is_super_admin=True)  # the operator at the console


async def run_faq_cli(cfg: Config, command: str, args: argparse.Namespace) -> int:
    lang = cfg.bot.locale
    db = await Database.open(cfg.database.location, backup_dir=cfg.backup.directory(cfg.database.path))
    try:
        services = build_services(cfg, db, SystemClock())
        await start_services(services)
        org_id: int | None = None
        if args.org:
            org = await services.roster.find_org(args.org)
            if org is None:
                print(t(lang, "faq_cli.unknown_org", name=args.org), file=sys.stderr)
                return 1
            org_id = org.id
        if command == "ask":
            return await _ask(services, lang, org_id, args)
        if command == "import-faq":
            return await _import(services, lang, org_id, Path(args.file))
        return await _export(services, lang, org_id, Path(args.file))
    except Refusal as refusal:
        print(t(lang, refusal.key, **refusal.params), file=sys.stderr)
        return 1
    except OSError as exc:  # a missing file, a folder that does not exist, no permission
        print(t(lang, "faq_cli.file_error", path=exc.filename or "", error=exc.strerror or exc), file=sys.stderr)
        return 1
    finally:
        await db.close()


async def _ask(services: Services, lang: str, org_id: int | None, args: argparse.Namespace) -> int:
    if args.batch:
        text = await asyncio.to_thread(Path(args.batch).read_text, encoding="utf-8")
        questions = [q.strip() for q in text.splitlines() if q.strip()]
    elif args.question:
        questions = [args.question]
    else:
        print(t(lang, "faq.ask_usage"), file=sys.stderr)
        return 2
    for question in questions:
        decision = services.faq.decide(question, org_id)
        answer = _plain(decision_text(lang, decision))
        if args.json:
            record = {
                "question": question,
                "decision": decision.kind,
                "answer": answer,
                "candidates": [{"id": c.id, "question": c.question, "score": round(c.score, 4)}
                               for c in decision.candidates[:3]],
            }
            print(json.dumps(record, ensure_ascii=False))
        else:
            print(f"❓ {question}\n[{decision.kind}] {answer}\n")
    return 0


def _plain(text: str) -> str:
    from bot.shell import html_to_plain

    return html_to_plain(text)


async def _import(services: Services, lang: str, org_id: int | None, path: Path) -> int:
    data = await asyncio.to_thread(path.read_bytes)
    rows = parse_faq_file(path.name, data)
    count = await services.faq.import_rows(CLI_ACTOR, org_id, rows)
    scope = t(lang, "faq_cli.scope_all") if org_id is None else str(org_id)
    print(t(lang, "faq_cli.imported", count=count, scope=scope))
    return 0


async def _export(services: Services, lang: str, org_id: int | None, path: Path) -> int:
    if path.suffix.lower() not in (".xlsx", ".jsonl"):
        print(t(lang, "faq_cli.bad_suffix", target=path), file=sys.stderr)
        return 2
    entries = services.faq.export_dicts(org_id)
    if path.suffix.lower() == ".xlsx":
        data = to_xlsx(entries, export_headers(lang), t(lang, "faq_export.sheet"))
    else:
        data = to_jsonl(entries)
    await asyncio.to_thread(path.write_bytes, data)
    print(t(lang, "faq_cli.exported", count=len(entries), target=path))
    return 0
