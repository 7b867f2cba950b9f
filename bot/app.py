"""Assemble the PTB Application: services, handlers in one place, error handler, bot commands."""

from __future__ import annotations

import functools
import logging
from typing import Any

from telegram import BotCommand, BotCommandScopeAllGroupChats, BotCommandScopeAllPrivateChats, Update
from telegram.constants import ChatType
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import BaseRequest

from bot.config import Config
from handlers import core, duty, faq, holidays, privacy, reminders, reports, review, roster, stats, tasks, trainings
from handlers.commands import COMMANDS, wrong_place
from handlers.common import Services, attach_services, send, services_of
from handlers.i18n import t
from handlers.scheduling import flush_after_update, scheduler_tick
from handlers.sender import OutboxSender, Pacer, PacingLimiter
from services import duty_notices
from services.clock import Clock
from services.duty import DutyService
from services.faq import FaqService
from services.handoff import HandoffService
from services.holidays import HolidayService
from services.privacy import PrivacyService
from services.reminders import ReminderService
from services.reports import ReportService
from services.retention import RetentionService
from services.review import ReviewService
from services.roster import RosterService
from services.tasks import TaskService
from services.trainings import TrainingService
from storage.db import Database

log = logging.getLogger(__name__)

App = Application[Any, Any, Any, Any, Any, Any]


def build_services(config: Config, db: Database, clock: Clock) -> Services:
    duty_config = config.duty
    admins = frozenset(config.admins.super_admins)
    grace = config.scheduler.misfire_grace_hours
    roster = RosterService(db, clock, admins)
    duty_service = DutyService(
        db, clock, config.tz, duty_config.handoff, duty_config.notice, duty_config.checkin_nudge_hours,
        duty_config.chair_alert_hours, grace,
    )
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
        review=ReviewService(db, clock, config.tz, config.review, admins),
        reports=ReportService(db, clock, config.tz, duty_service, config.scheduler.monthly_report_day,
                              config.scheduler.monthly_report_at, admins, grace),
        privacy=PrivacyService(db, clock, duty_service, admins),
        holidays=HolidayService(db, clock, config.tz, admins),
        sender=OutboxSender(db, clock, roster, tz=config.tz),
    )
    # What the scheduler tick runs, in this order (each one idempotent: see handlers/scheduling.py).
    services.producers.extend([
        functools.partial(duty_notices.produce, services.duty),
        services.reminders.produce,
        services.reports.produce,
        services.review.produce,
        services.tasks.produce,
        services.trainings.produce,
        functools.partial(services.faq.produce, tz=config.tz),
        services.holidays.produce,
        # Once a day: sent messages and duty-notice claims older than [database] keep_sent_days.
        RetentionService(db, config.tz, config.database.keep_sent_days).produce,
    ])
    services.tickers.append(scheduler_tick)
    return services


async def start_services(services: Services) -> None:
    """Work done once at start, before the first update: jieba's dictionary and the FAQ index."""
    await services.faq.load()


def _in_its_place(name: str, callback: Any) -> Any:
    """The command table's `where` enforced before the handler runs: a group-only command in a
    private chat (or the other way round) gets one clear line and nothing else happens."""

    @functools.wraps(callback)
    async def guarded(update: Update, context: Any) -> None:
        chat = update.effective_chat
        key = wrong_place(name, chat is not None and chat.type == ChatType.PRIVATE) if chat is not None else None
        if chat is not None and key is not None:
            private = chat.type == ChatType.PRIVATE
            user = update.effective_user
            lang = await services_of(context).roster.lang_for(chat.id, user.id if user else None, private)
            await send(context.bot, chat.id, t(lang, key))
            return
        await callback(update, context)

    return guarded


def register_handlers(app: App) -> None:
    app.add_handler(TypeHandler(object, core.remember_user), group=-1)
    handlers: dict[str, Any] = {
        "start": core.start,
        "help": core.help_command,
        "whoami": core.whoami,
        "lang": core.lang,
        "setup": roster.setup,
        "link": roster.link,
        "addmember": roster.addmember,
        "members": roster.members_list,
        "setrole": roster.setrole,
        "removemember": roster.removemember,
        "forget": privacy.forget,
        "orgs": roster.orgs_list,
        "join": roster.join,
        "rota_set": duty.rota_set,
        "duty": duty.duty_now,
        "rota": duty.rota,
        "leave": duty.leave,
        "swap": duty.swap,
        "assign": duty.assign,
        "checkin": duty.checkin,
        "log": duty.log,
        "handover": duty.handover,
        "ledger": duty.ledger,
        "dayoff": duty.dayoff,
        "ask": faq.ask,
        "faq_add": faq.faq_add,
        "faq_edit": faq.faq_edit,
        "faq_del": faq.faq_del,
        "faq_list": faq.faq_list,
        "faq_import": faq.faq_import,
        "faq_export": faq.faq_export,
        "unanswered": faq.unanswered,
        "remind": reminders.remind,
        "reminders": reminders.reminders_list,
        "cancel": reminders.cancel,
        "report_month": reports.report_month,
        "stats": stats.stats,
        "review_start": review.review_start,
        "report": review.report,
        "review_status": review.review_status,
        "rate": review.rate,
        "score": review.score,
        "adjust": review.adjust,
        "review_close": review.review_close,
        "myreview": review.myreview,
        "review_config": review.review_config,
        "task_add": tasks.task_add,
        "tasks": tasks.tasks_list,
        "task": tasks.task_detail,
        "done": tasks.done,
        "overdue": tasks.overdue,
        "training_add": trainings.training_add,
        "trainings": trainings.trainings_list,
        "attend": trainings.attend,
        "untrained": trainings.untrained,
        "training_cancel": trainings.training_cancel,
        "holidays": holidays.holidays_list,
        "holiday_set": holidays.holiday_set,
        "holiday_del": holidays.holiday_del,
    }
    missing = {c.name for c in COMMANDS} ^ handlers.keys()
    if missing:  # the command table (handlers/commands.py) and this dispatch must name the same commands
        raise RuntimeError(f"commands in only one of the table and the dispatch: {sorted(missing)}")
    for name, callback in handlers.items():
        app.add_handler(CommandHandler(name, _in_its_place(name, callback)))
    app.add_handler(CallbackQueryHandler(roster.join_decision, pattern=roster.JOIN_CALLBACK))
    app.add_handler(CallbackQueryHandler(privacy.forget_button, pattern=privacy.FORGET_CALLBACK))
    app.add_handler(CallbackQueryHandler(duty.swap_decision, pattern=duty.SWAP_CALLBACK))
    app.add_handler(CallbackQueryHandler(duty.rota_flow, pattern=duty.ROTA_FLOW_CALLBACK))
    app.add_handler(CallbackQueryHandler(duty.log_again_button, pattern=duty.LOG_AGAIN_CALLBACK))
    app.add_handler(CallbackQueryHandler(tasks.task_again_button, pattern=tasks.TASK_AGAIN_CALLBACK))
    app.add_handler(MessageHandler(
        filters.CaptionRegex(r"^/log(@\w+)?(\s|$)") & (filters.PHOTO | filters.Document.ALL), duty.log
    ))
    app.add_handler(MessageHandler(
        filters.CaptionRegex(r"^/done(@\w+)?(\s|$)") & (filters.PHOTO | filters.Document.ALL), tasks.done
    ))
    app.add_handler(CallbackQueryHandler(faq.faq_button, pattern=faq.FAQ_CALLBACK))
    app.add_handler(CallbackQueryHandler(reminders.reminder_button, pattern=reminders.REMINDER_CALLBACK))
    app.add_handler(CallbackQueryHandler(review.rate_button, pattern=review.RATE_CALLBACK))
    app.add_handler(CallbackQueryHandler(review.close_button, pattern=review.CLOSE_CALLBACK))
    app.add_handler(MessageHandler(
        filters.CaptionRegex(r"^/report(@\w+)?(\s|$)") & filters.Document.ALL, review.report
    ))
    app.add_handler(CallbackQueryHandler(trainings.training_button, pattern=trainings.TRAINING_CALLBACK))
    app.add_handler(MessageHandler(
        filters.CaptionRegex(r"^/faq_import(@\w+)?(\s|$)") & filters.Document.ALL, faq.faq_import
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
    """setMyCommands per scope: what a private chat and a group each offer in the menu."""
    lang = services_of_app(app).config.bot.locale
    private = [BotCommand(c.name, t(lang, f"help.commands.{c.name}")[:256]) for c in COMMANDS if c.where != "group"]
    groups = [BotCommand(c.name, t(lang, f"help.commands.{c.name}")[:256]) for c in COMMANDS if c.where != "private"]
    await app.bot.set_my_commands(private, scope=BotCommandScopeAllPrivateChats())
    await app.bot.set_my_commands(groups, scope=BotCommandScopeAllGroupChats())


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
    if base_url:
        root = base_url.rstrip("/")
        builder = builder.base_url(f"{root}/bot").base_file_url(f"{root}/file/bot")
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    if rate_limit:
        builder = builder.rate_limiter(PacingLimiter(Pacer()))  # the one pacer for everything sent
    app: App = builder.build()
    if services is not None:
        attach_services(app, services)
    register_handlers(app)
    return app


__all__ = ["App", "build_application", "build_services", "publish_commands", "services_of", "start_services"]
