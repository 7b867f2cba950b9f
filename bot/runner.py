"""`python -m bot run`: long polling against Telegram (or TELEGRAM_BASE_URL), or a webhook when
`telegram.webhook_url` is set; graceful stop."""

from __future__ import annotations

import logging
import secrets
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from telegram import Update

from bot.app import (
    App,
    build_application,
    build_services,
    publish_commands,
    register_update_journal,
    start_services,
)
from bot.config import Config
from bot.web import WebServer
from handlers.common import attach_services
from handlers.scheduling import TICK_LOOP, TickLoop
from handlers.sender import Pacer, PacingLimiter
from services.backups import BackupService
from services.clock import SystemClock
from services.outbox import bot_id_of, run_as_bot
from services.updates import UpdateJournal
from storage import pg_dump
from storage.backup import run_lock
from storage.db import Database
from storage.send_journal import SendJournal

log = logging.getLogger(__name__)


def run_bot(config: Config) -> None:
    """Blocks until SIGINT/SIGTERM. The database opens before polling starts and closes after.
    `<db>.lock` is held meanwhile, so `restore` (or a second bot on the same database) refuses. On
    PostgreSQL (`database.url`) several workers may run: nothing to lock, the server coordinates them."""
    if config.database.shared:
        _run_bot(config)
        return
    with run_lock(config.database.path):
        _run_bot(config)


def _run_bot(config: Config) -> None:
    clock = SystemClock()
    state: dict[str, Any] = {}

    async def post_init(app: App) -> None:
        backups = config.backup
        folder = backups.directory(config.database.path)
        db = await Database.open(config.database.location, backup_dir=folder)
        state["db"] = db
        await run_as_bot(db, bot_id_of(config.telegram.token))  # its rows, its organisations
        services = build_services(config, db, clock)
        # The daily checked backup ([backup] time), run by the tick like every scheduled thing.
        backup_service = BackupService(
            db, config.tz, folder, backups.at, (backups.keep_daily, backups.keep_weekly, backups.keep_monthly),
            on_failure=services.alerts.backup_failed,
        )
        if backups.at is not None and config.database.shared and shutil.which("pg_dump") is None:
            log.warning("scheduled backups skipped: pg_dump is not on PATH (install the PostgreSQL client, e.g."
                        " apt-get install postgresql-client; or back up from elsewhere: %s)",
                        pg_dump.shown(pg_dump.dump_command(config.database.url, folder / "zhiwei.dump")))
        elif backups.at is not None:  # PostgreSQL: pg_dump -Fc, one worker at a time (storage/pg_dump.py)
            services.producers.append(backup_service.produce)
            services.wakeups.append(backup_service.next_due)
            services.health.backups = backup_service
        await start_services(services)
        attach_services(app, services)
        register_update_journal(app, UpdateJournal(db, clock))  # an update re-sent after a crash: once
        await publish_commands(app)
        # The outbox sender runs for the life of the process, paced to Telegram's limits; the tick
        # (first one right away: what fell due while the bot was down) runs the producers and wakes it.
        # One pacer for everything: the Application's rate limiter paces replies and the outbox alike,
        # so the outbox sender does not pace again. Its group windows come back from the journal.
        limiter = app.bot.rate_limiter
        if isinstance(limiter, PacingLimiter):
            limiter.listener = services.health.note_outcome  # send errors in the last hour
            limiter.pacer.journal = SendJournal(Path(config.database.path).with_suffix(".sends"))
            limiter.pacer.preload(limiter.pacer.journal.recent())
            services.sender.pacer = Pacer(enabled=False)
        else:
            services.sender.pacer = Pacer()
        state["sender"] = app.create_task(
            services.sender.run_forever(app.bot, idle=config.scheduler.tick_seconds), name="outbox-sender"
        )
        if services.tickers:

            async def tick() -> None:
                for ticker in services.tickers:
                    try:
                        await ticker(app)
                    except Exception:
                        log.exception("ticker %r failed", ticker)

            # The first tick right away; then at the producers' next due time (at most tick_seconds
            # apart), sooner when an update writes something due earlier (handlers/scheduling.py).
            loop = TickLoop(services, tick, timedelta(seconds=config.scheduler.tick_seconds))
            app.bot_data[TICK_LOOP] = loop
            state["ticks"] = app.create_task(loop.run_forever(), name="scheduler")
        address = config.web.address
        if address is not None:  # /health and the calendar feeds
            web = WebServer(services, *address)
            await web.start()
            state["web"] = web
        # Every FAQ phrasing through the sentence encoder once, in a worker thread, so no village's
        # first question waits for it (about 100 s of one core for a county's 100,000 entries).
        state["embed"] = app.create_task(services.faq.embed_all(), name="faq-embed")
        log.info("bot ready: %s", (await app.bot.get_me()).username)

    async def post_stop(app: App) -> None:
        for name in ("ticks", "sender", "embed"):
            task = state.get(name)
            if task is not None:
                task.cancel()

    async def post_shutdown(app: App) -> None:
        web = state.get("web")
        if web is not None:
            await web.close()
        db = state.get("db")
        if db is not None:
            await db.close()

    app = build_application(
        None, token=config.telegram.token, base_url=config.telegram.base_url, rate_limit=True
    )
    app.post_init = post_init
    app.post_stop = post_stop
    app.post_shutdown = post_shutdown
    hook = config.telegram
    if hook.webhook_url:
        # Webhook: Telegram POSTs updates to webhook_url (usually a reverse proxy with TLS in front
        # of webhook_listen:webhook_port). The secret token makes a forged POST bounce (403).
        secret = hook.webhook_secret or secrets.token_urlsafe(32)
        app.run_webhook(
            listen=hook.webhook_listen, port=hook.webhook_port,
            url_path=urlsplit(hook.webhook_url).path.lstrip("/"), webhook_url=hook.webhook_url,
            secret_token=secret, allowed_updates=Update.ALL_TYPES, drop_pending_updates=False,
        )
    else:
        app.run_polling(allowed_updates=Update.ALL_TYPES, drop_pending_updates=False)
