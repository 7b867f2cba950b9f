"""Assemble the PTB Application: services, handlers in one place, error handler, bot commands."""

from __future__ import annotations

import functools
import gc
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from telegram import BotCommandScopeAllGroupChats, BotCommandScopeAllPrivateChats, Update
from telegram.constants import ChatType, ParseMode
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import BaseRequest

from bot.config import Config
from handlers import (
    calendar,
    core,
    duty,
    faq,
    holidays,
    monthly_report,
    ops,
    privacy,
    reminders,
    review,
    roster,
    stats,
    tasks,
    trainings,
)
from handlers.commands import ChatKind, dispatch, menu, publish_work_menu, refusal
from handlers.common import BotContext, Level, Services, attach_services, send, services_of
from handlers.i18n import t
from handlers.scheduling import flush_after_update, scheduler_tick
from handlers.sender import OutboxSender, Pacer, PacingLimiter, PollingRequest
from services import duty_notices, updates
from services.clock import Clock
from services.duty import DutyService
from services.duty_calendar import DutyCalendarService
from services.faq import FaqService
from services.handoff import HandoffService
from services.health import HealthService
from services.holidays import HolidayService
from services.monthly_report import MonthlyReportService
from services.ops_alerts import OperatorAlerts
from services.privacy import PrivacyService
from services.reminders import ReminderService
from services.retention import RetentionService
from services.review.service import ReviewService
from services.roster import RosterService
from services.tasks import TaskService
from services.trainings import TrainingService
from services.updates import UpdateJournal
from storage.db import Database

log = logging.getLogger(__name__)

# Importing a handler module registers its commands (@handles); dispatch() then fails at start-up on
# a command of the table that no module handles.
HANDLER_MODULES = (calendar, core, duty, faq, holidays, monthly_report, ops, privacy, reminders, review,
                   roster, stats, tasks, trainings)

App = Application[Any, Any, Any, Any, Any, Any]


Producer = Callable[[datetime], Awaitable[None]]  # the tick's work: enqueue what fell due by then
Wakeup = Callable[[datetime], Awaitable[datetime | None]]  # its next due moment after a tick at then

def build_services(config: Config, db: Database, clock: Clock) -> Services:
    duty_config = config.duty
    admins = frozenset(config.admins.super_admins)
    grace = config.scheduler.misfire_grace_hours
    roster = RosterService(db, clock, admins)
    duty_service = DutyService(
        db, clock, config.tz, duty_config.handoff, duty_config.notice, duty_config.checkin_nudge_hours,
        duty_config.chair_alert_hours, grace,
    )
    health = HealthService(db, clock, timedelta(seconds=config.scheduler.tick_seconds),
                           timedelta(minutes=config.ops.outbox_stuck_minutes))
    alerts = OperatorAlerts(db, clock, config.ops.operator_chat_id,
                            timedelta(minutes=config.ops.alert_interval_minutes), health)
    services = Services(
        config=config,
        db=db,
        clock=clock,
        roster=roster,
        duty=duty_service,
        faq=FaqService(db, clock, admins),
        handoff=HandoffService(db, clock, roster, duty_service),
        reminders=ReminderService(db, clock, config.tz, grace),
        tasks=TaskService(db, clock, config.tz, config.tasks.remind_days_before),
        trainings=TrainingService(db, clock, config.tz, config.training.window_years),
        review=ReviewService(db, clock, config.tz, config.review),
        monthly_report=MonthlyReportService(db, clock, config.tz, duty_service, config.scheduler.monthly_report_day,
                                            config.scheduler.monthly_report_at, admins, grace),
        privacy=PrivacyService(db, clock, duty_service, admins),
        holidays=HolidayService(db, clock, config.tz, admins),
        sender=OutboxSender(db, clock, roster, tz=config.tz, stale_after=timedelta(hours=grace),
                            max_in_flight=in_flight_limit(config)),
        health=health,
        alerts=alerts,
        calendars=DutyCalendarService(db, clock, config.tz, duty_service),
    )
    services.sender.listener = health.note_outcome  # failed attempts no rate limiter counted
    retention = RetentionService(db, config.tz, config.database.keep_sent_days)
    # What the scheduler tick runs, in this order, each with its wake-up: no later than the next moment
    # it may have something to do (each producer idempotent: see handlers/scheduling.py).
    scheduled: list[tuple[Producer, Wakeup]] = [
        (functools.partial(duty_notices.produce, services.duty),
         functools.partial(duty_notices.next_due, services.duty)),
        (services.reminders.produce, services.reminders.next_due),
        (services.monthly_report.produce, services.monthly_report.next_due),
        (services.review.notices.produce, services.review.notices.next_due),
        (services.tasks.produce, services.tasks.next_due),
        (services.trainings.produce, services.trainings.next_due),
        (functools.partial(services.faq.produce, tz=config.tz),
         functools.partial(services.faq.next_due, tz=config.tz)),
        (services.holidays.produce, services.holidays.next_due),
        (services.handoff.produce, services.handoff.next_due),  # a danger alert nobody has taken
        (alerts.produce, alerts.next_due),  # the outbox stuck / moving again, to the operator
        # Once a day: sent messages and duty-notice claims older than [database] keep_sent_days.
        (retention.produce, retention.next_due),
    ]
    for produce, wakeup in scheduled:
        services.producers.append(produce)
        services.wakeups.append(wakeup)
    services.tickers.append(scheduler_tick)
    return services


def in_flight_limit(config: Config) -> int:
    """Outbox sends in flight at once (`telegram.max_in_flight`; 0 = auto). On PostgreSQL auto is one:
    several workers share the outbox, a worker's death is an expected event there, and another
    worker then sends again what was in flight."""
    if config.telegram.max_in_flight:
        return config.telegram.max_in_flight
    return 1 if config.database.shared else 0


async def start_services(services: Services) -> None:
    """Work done once at start, before the first update: jieba's dictionary and the FAQ index."""
    await services.faq.load()
    # The dictionary and the index are millions of long-lived objects: out of the collector's way,
    # so a full collection during a busy tick does not walk them each time (~80 ms at a time).
    gc.freeze()


async def caller_level(services: Services, chat_id: int, user_id: int, private: bool) -> tuple[ChatKind, Level]:
    """Where the command is used and the caller's best role there (in a private chat: over all her
    organisations; which one a command acts on is the handler's business)."""
    super_admin = services.roster.actor(user_id).is_super_admin
    if private:
        found = [] if super_admin else await services.roster.memberships(user_id)
        kind: ChatKind = "private"
        members = [m for _, m in found]
    else:
        ctx = await services.roster.chat_context(chat_id, user_id)
        kind = "unbound" if ctx.org is None else ("public" if ctx.kind == "public" else "work")
        members = [ctx.member] if ctx.member is not None else []
    if super_admin:
        return kind, "super"
    if any(m.is_manager for m in members):
        return kind, "manager"
    return kind, "member" if members else "everyone"


def _guarded(name: str, callback: Any) -> Any:
    """The registry's decision enforced before the handler runs (handlers/commands.refusal): the wrong
    kind of chat or too low a role gets one clear line and nothing else happens."""

    @functools.wraps(callback)
    async def guarded(update: Update, context: Any) -> None:
        chat, user = update.effective_chat, update.effective_user
        if chat is not None and user is not None:
            private = chat.type == ChatType.PRIVATE
            services = services_of(context)
            kind, level = await caller_level(services, chat.id, user.id, private)
            key = refusal(name, kind, level)
            if key is not None:
                lang = await services.roster.lang_for(chat.id, user.id, private)
                await send(context.bot, chat.id, t(lang, key))
                return
        await callback(update, context)

    return guarded


def register_update_journal(app: App, journal: UpdateJournal) -> None:
    """`run` only: an update Telegram sends again after a crash, already handled, is skipped. A command
    marks its update in the transaction of its change (services.updates.mark_in, from its unit of
    work); any other is marked when every handler has run (group 101, after the outbox flush)."""

    async def skip_if_handled(update: object, context: Any) -> None:
        if not isinstance(update, Update):
            updates.handling(None)
            return
        if await journal.seen(update.update_id):
            log.info("update %s was already handled before a restart: skipped", update.update_id)
            raise ApplicationHandlerStop
        updates.handling(update.update_id)

    async def mark_handled(update: object, context: Any) -> None:
        if isinstance(update, Update):
            await journal.mark(update.update_id)

    app.add_handler(TypeHandler(object, skip_if_handled), group=-2)
    app.add_handler(TypeHandler(object, mark_handled), group=101)


def register_handlers(app: App) -> None:
    app.add_handler(TypeHandler(object, core.remember_user), group=-1)
    for spec, callback in dispatch():  # every command of the registry, each with its @handles handler
        app.add_handler(CommandHandler(spec.name, _guarded(spec.name, callback)))
    app.add_handler(CallbackQueryHandler(roster.join_decision, pattern=roster.JOIN_CALLBACK))
    app.add_handler(CallbackQueryHandler(privacy.forget_button, pattern=privacy.FORGET_CALLBACK))
    app.add_handler(CallbackQueryHandler(duty.swap_decision, pattern=duty.SWAP_CALLBACK))
    app.add_handler(CallbackQueryHandler(duty.rota_flow, pattern=duty.ROTA_FLOW_CALLBACK))
    app.add_handler(CallbackQueryHandler(duty.log_again_button, pattern=duty.LOG_AGAIN_CALLBACK))
    app.add_handler(CallbackQueryHandler(tasks.task_again_button, pattern=tasks.TASK_AGAIN_CALLBACK))
    app.add_handler(MessageHandler(
        filters.CaptionRegex(r"^/log(@\w+)?(\s|$)") & (filters.PHOTO | filters.Document.ALL), _guarded("log", duty.log)
    ))
    app.add_handler(MessageHandler(
        filters.CaptionRegex(r"^/done(@\w+)?(\s|$)") & (filters.PHOTO | filters.Document.ALL),
        _guarded("done", tasks.done)
    ))
    app.add_handler(CallbackQueryHandler(faq.faq_button, pattern=faq.FAQ_CALLBACK))
    app.add_handler(CallbackQueryHandler(reminders.reminder_button, pattern=reminders.REMINDER_CALLBACK))
    app.add_handler(CallbackQueryHandler(review.rate_button, pattern=review.RATE_CALLBACK))
    app.add_handler(CallbackQueryHandler(review.close_button, pattern=review.CLOSE_CALLBACK))
    app.add_handler(MessageHandler(
        filters.CaptionRegex(r"^/report(@\w+)?(\s|$)") & filters.Document.ALL, _guarded("report", review.report)
    ))
    app.add_handler(CallbackQueryHandler(trainings.training_button, pattern=trainings.TRAINING_CALLBACK))
    app.add_handler(MessageHandler(
        filters.CaptionRegex(r"^/faq_import(@\w+)?(\s|$)") & filters.Document.ALL,
        _guarded("faq_import", faq.faq_import)
    ))
    app.add_handler(CallbackQueryHandler(faq.village_button, pattern=faq.VILLAGE_CALLBACK))
    app.add_handler(CallbackQueryHandler(faq.import_button, pattern=faq.IMPORT_CALLBACK))
    app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, core.chat_migrated))
    app.add_handler(MessageHandler(filters.StatusUpdate.NEW_CHAT_MEMBERS, faq.welcome_public))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, faq.on_text))
    app.add_handler(MessageHandler(filters.COMMAND, core.unknown_command))
    app.add_handler(TypeHandler(object, flush_after_update), group=100)
    app.add_error_handler(core.on_error)


async def publish_commands(app: App) -> None:
    """setMyCommands per scope: a private chat, any group, and each organisation's work group."""
    services = services_of_app(app)
    lang = services.config.bot.locale
    await app.bot.set_my_commands(menu(lang, "private"), scope=BotCommandScopeAllPrivateChats())
    # Any group (the women's groups): only what every woman may use; each work group: every group command.
    await app.bot.set_my_commands(menu(lang, "groups"), scope=BotCommandScopeAllGroupChats())
    for chat_id in await services.roster.work_chats():
        await publish_work_menu(app.bot, chat_id, lang)


def services_of_app(app: App) -> Services:
    found = app.bot_data["services"]
    assert isinstance(found, Services)
    return found


def build_application(
    services: Services | None,
    *,
    token: str,
    base_url: str = "",
    request: BaseRequest | None = None,
    rate_limit: bool = False,
) -> App:
    builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = ApplicationBuilder().token(token)
    # Every text we send is HTML (user values escaped by handlers.i18n.t); the job queue in local time.
    tz = services.config.tz if services is not None else None
    builder = builder.defaults(Defaults(parse_mode=ParseMode.HTML, tzinfo=tz or UTC))
    builder = builder.context_types(ContextTypes(context=BotContext))  # handlers get `context.services`
    if base_url:
        root = base_url.rstrip("/")
        builder = builder.base_url(f"{root}/bot").base_file_url(f"{root}/file/bot")
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    if rate_limit:
        limiter = PacingLimiter(Pacer())
        builder = builder.rate_limiter(limiter)  # the one pacer for everything sent
        if request is None:  # polls go around the limiter: they report reachability to it
            builder = builder.get_updates_request(PollingRequest(limiter, connection_pool_size=1))
    app: App = builder.build()
    if services is not None:
        attach_services(app, services)
    register_handlers(app)
    return app


__all__ = ["App", "build_application", "build_services", "publish_commands", "services_of", "start_services"]
