"""Shared handler plumbing: the services carried by the Application, per-update request context,
safe replies (escaped, split at Telegram's 4096-character limit) and role levels."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import aiosqlite
from telegram import Bot, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType, MessageLimit, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, TimedOut
from telegram.ext import Application, CallbackContext, ExtBot

from handlers.i18n import has, t
from services.clean import clean_text
from services.clock import Clock
from services.config import Config
from services.duty import DutyService
from services.duty_calendar import DutyCalendarService
from services.errors import Refusal
from services.faq import FaqService
from services.handoff import HandoffService
from services.health import HealthService
from services.holidays import HolidayService
from services.monthly_report import MonthlyReportService
from services.ops_alerts import OperatorAlerts
from services.outbox import Outgoing, verbatim
from services.privacy import PrivacyService
from services.reminders import ReminderService
from services.review.service import ReviewService
from services.roster import Actor, ChatContext, RosterService
from services.tasks import TaskService
from services.timeparse import TimeParseError
from services.trainings import TrainingService
from services.updates import mark_in as mark_update_in
from storage import outbox as outbox_repo
from storage.db import Database, track_commits
from storage.models import Member, Org

if TYPE_CHECKING:
    from handlers.sender import OutboxSender

log = logging.getLogger(__name__)
T = TypeVar("T")

Level = Literal["everyone", "member", "manager", "super"]
LEVEL_ORDER: dict[Level, int] = {"everyone": 0, "member": 1, "manager": 2, "super": 3}


@dataclass
class Services:
    """Everything the handlers need, built once per process (bot/app.py)."""

    config: Config
    db: Database
    clock: Clock
    roster: RosterService
    duty: DutyService
    faq: FaqService
    handoff: HandoffService
    reminders: ReminderService
    tasks: TaskService
    trainings: TrainingService
    review: ReviewService
    monthly_report: MonthlyReportService
    privacy: PrivacyService
    sender: OutboxSender
    holidays: HolidayService
    health: HealthService
    alerts: OperatorAlerts
    calendars: DutyCalendarService
    tickers: list[Callable[[Any], Awaitable[None]]] = field(default_factory=list)  # run with the Application
    producers: list[Callable[[datetime], Awaitable[None]]] = field(default_factory=list)  # run every tick
    # Per producer, in the same order: no later than the first moment after `now` at which it may have
    # something (None: nothing ahead). The shell's `:advance` jumps from one to the next.
    wakeups: list[Callable[[datetime], Awaitable[datetime | None]]] = field(default_factory=list)


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """The context every handler gets (`ContextTypes(context=BotContext)` in bot/app.py): the
    deployment's services, typed, instead of a lookup in bot_data."""

    @property
    def services(self) -> Services:
        found = self.application.bot_data["services"]
        assert isinstance(found, Services)
        return found


def services_of(context: CallbackContext[Any, Any, Any, Any]) -> Services:
    if isinstance(context, BotContext):
        return context.services
    found = context.application.bot_data["services"]
    assert isinstance(found, Services)
    return found


def attach_services(app: Application[Any, Any, Any, Any, Any, Any], services: Services) -> None:
    app.bot_data["services"] = services


@dataclass(frozen=True)
class Req:
    """What a handler knows about the update it is serving."""

    update: Update
    services: Services
    user_id: int
    chat_id: int
    private: bool
    lang: str
    ctx: ChatContext
    actor: Actor
    args: list[str] = field(default_factory=list)  # context.args itself (an organisation named is taken off)

    @property
    def org(self) -> Org | None:
        return self.ctx.org

    @property
    def member(self) -> Member | None:
        return self.ctx.member

    @property
    def level(self) -> Level:
        if self.actor.is_super_admin:
            return "super"
        if self.member is None:
            return "everyone"
        return "manager" if self.member.is_manager else "member"

    def t(self, key: str, **params: Any) -> str:
        return t(self.lang, key, **params)


async def load_req(update: Update, context: BotContext) -> Req:
    svc = services_of(context)
    user = update.effective_user
    chat = update.effective_chat
    assert user is not None and chat is not None
    private = chat.type == ChatType.PRIVATE
    ctx = await svc.roster.chat_context(chat.id, user.id)
    lang = await svc.roster.lang_for(chat.id, user.id, private) or svc.config.bot.locale
    args = context.args if context.args is not None else []
    return Req(update, svc, user.id, chat.id, private, lang, ctx, svc.roster.actor(user.id), args)


def split_text(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """Split at line breaks into chunks of at most `limit` characters; never cut inside an
    HTML entity (lines longer than the limit are split at a safe character position)."""
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            cut = limit
            amp = line.rfind("&", 0, cut)
            if amp != -1 and ";" not in line[amp:cut]:
                cut = amp
            head, line = line[:cut], line[cut:]
            if current:
                chunks.append(current)
                current = ""
            chunks.append(head)
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current or not chunks:
        chunks.append(current)
    return chunks


async def send(
    bot: Bot, chat_id: int, text: str, keyboard: InlineKeyboardMarkup | None = None
) -> Message | None:
    """Send HTML text, split if long (the keyboard goes on the last part). Returns the last
    message, or None when the chat cannot be reached (blocked, removed, not found)."""
    parts = split_text(text)
    last: Message | None = None
    try:
        for i, part in enumerate(parts):
            last = await bot.send_message(
                chat_id, part, parse_mode=ParseMode.HTML,
                reply_markup=keyboard if i == len(parts) - 1 else None,
            )
    except Forbidden as exc:
        log.warning("cannot send to %s: %s", chat_id, exc)
        return None
    except BadRequest as exc:
        if "chat not found" in str(exc).lower():
            log.warning("chat %s not found", chat_id)
            return None
        raise
    return last


async def reply(req: Req, text: str, keyboard: InlineKeyboardMarkup | None = None) -> Message | None:
    """Answer in the chat. After the command has changed something (its unit of work is writing), the
    answer confirms that change: it becomes an outbox row in the change's own transaction, sent right
    after the commit (`changes`) and retried until Telegram takes it (returns None then). Otherwise it is
    sent directly; if Telegram cannot be reached even after the rate limiter's retries, it goes to the
    outbox and is delivered when it can be: what she did is never reported lost."""
    if req.services.db.writing():
        await deliver_later(req.services, req.chat_id, text, keyboard)
        return None
    bot = req.update.get_bot()
    try:
        return await send(bot, req.chat_id, text, keyboard)
    except (TimedOut, NetworkError) as exc:
        if isinstance(exc, BadRequest):
            raise
        log.warning("reply to %s failed (%s): queued in the outbox", req.chat_id, exc)
        await deliver_later(req.services, req.chat_id, text, keyboard)
        return None


async def deliver_later(services: Services, chat_id: int, html: str,
                        keyboard: InlineKeyboardMarkup | None = None, fallback_chat_id: int | None = None) -> int:
    """Put already rendered text into the outbox (kept until Telegram takes it) and wake the sender.
    Inside a command's unit of work the row joins the change's transaction and goes out after its commit.
    Returns the row's id."""
    buttons = tuple(tuple((b.text, b.callback_data) for b in row if isinstance(b.callback_data, str))
                    for row in keyboard.inline_keyboard) if keyboard is not None else ()
    message = Outgoing(chat_id, "outbox.verbatim", verbatim(html), buttons=buttons, fallback_chat_id=fallback_chat_id)
    async with services.db.transaction() as conn:
        await outbox_repo.enqueue(conn, [message], services.clock.now())
        row_id = await outbox_repo.last_id(conn)
    if services.sender.background and not services.db.writing():
        services.sender.wake()
    return row_id


class _UnitOfWork:
    """The hooks of a command's unit of work (`storage.db.Database.unit`): the journaled update is
    marked in the change's transaction, and the outbox rows that transaction wrote (the confirmation,
    notes to others) are sent as soon as it has committed."""

    def __init__(self, services: Services, bot: Bot, chat_id: int) -> None:
        self.services = services
        self.bot = bot
        self.chat_id = chat_id
        self.first = 0
        self.last = 0

    async def begun(self, conn: aiosqlite.Connection) -> None:
        await mark_update_in(conn, self.services.clock.now())
        self.first = await outbox_repo.last_id(conn)

    async def committing(self, conn: aiosqlite.Connection) -> None:
        self.last = await outbox_repo.last_id(conn)

    async def committed(self) -> None:
        if self.last > self.first:
            await self.services.sender.deliver_now(self.bot, self.first, self.last, self.chat_id)


@asynccontextmanager
async def changes(req: Req) -> AsyncIterator[None]:
    """Everything the block writes — the change, its confirmation (`reply`), notes to others, the
    update's journal row — in one transaction: all stored or none, and the messages sent right after
    the commit (then retried from the outbox until delivered). `@command` and `settle_press` open it;
    before a slow call (a file, a pin, getMe) use `commit_changes`."""
    async with req.services.db.unit(_UnitOfWork(req.services, req.update.get_bot(), req.chat_id)):
        yield


async def commit_changes(req: Req) -> None:
    """Commit what the command has written so far and send its messages, before a network call other
    than a reply (which must never happen while the writer is held)."""
    await req.services.db.commit_unit()


_FULL_WIDTH = str.maketrans({"＠": "@", **{chr(0xFF10 + i): str(i) for i in range(10)}})


async def settle_press(req: Req, action: Callable[[], Awaitable[T]]) -> T | None:
    """Run the action a button press asks for: a Refusal is shown as an alert and the buttons stay;
    otherwise the press is acknowledged and the buttons are removed. None when refused."""
    query = req.update.callback_query
    assert query is not None
    try:
        async with changes(req):
            result = await action()
    except Refusal as refusal:
        await query.answer(req.t(refusal.key, **refusal.params), show_alert=True)
        return None
    await query.answer()
    await query.edit_message_reply_markup(None)
    return result


def message_text_after_command(message: Message) -> str:
    """The text (or caption) after the leading /command, keeping inner spacing."""
    # Nothing a user typed is stored uncleaned; the full-width ＠ and digits of Chinese input methods
    # are read as @ and 0-9 (the rest of her punctuation is kept as she typed it).
    text = clean_text(message.text or message.caption or "").translate(_FULL_WIDTH)
    if text.startswith("/"):
        parts = text.split(maxsplit=1)
        return parts[1] if len(parts) > 1 else ""
    return text


Handler = Callable[[Update, BotContext], Awaitable[None]]  # a PTB callback
CommandFn = Callable[[Req, BotContext], Awaitable[None]]


def command(fn: CommandFn) -> Handler:
    """Wrap `async fn(req, context)`: build the Req, run it as one unit of work (`changes`: what it
    writes, its confirmation and its journal row in one transaction), turn a Refusal into its locale
    reply (after the rollback: a refused command has changed nothing)."""
    from functools import wraps

    @wraps(fn)
    async def wrapper(update: Update, context: BotContext) -> None:
        track_commits()  # the error handler needs to know whether this command changed anything
        req = await load_req(update, context)
        try:
            async with changes(req):
                await fn(req, context)
        except Refusal as refusal:
            await reply(req, req.t(refusal.key, **refusal.params))

    return wrapper


async def org_for_management(req: Req) -> Org | None:
    """The organisation a work command applies to: this work group's, or in a private chat the
    caller's only organisation. Replies with the reason and returns None otherwise."""
    if not req.private:
        if req.org is None:
            await reply(req, req.t("common.not_bound"))
            return None
        if req.ctx.kind == "public":
            await reply(req, req.t("common.work_group_only"))
            return None
        return req.org
    if req.actor.is_super_admin:
        # The county names the organisation: /members 青石村妇联, /report_month 青石村妇联 11月.
        named = await req.services.roster.org_named(req.args)
        if named is not None:
            del req.args[: named[1]]  # the command reads the rest of its arguments as usual
            return named[0]
    found = await req.services.roster.memberships(req.user_id)
    if len(found) == 1:
        return found[0][0]
    if not found and req.actor.is_super_admin:
        await reply(req, req.t("common.name_the_org"))
    elif not found:
        await reply(req, req.t("common.no_org_private"))
    else:
        await reply(req, req.t("common.many_orgs_private", orgs="、".join(o.name for o, _ in found)))
    return None


async def org_and_member(req: Req, refusal_key: str, *, managers: bool = False) -> tuple[Org, Member | None] | None:
    """`org_for_management`, then the caller's roster row there (in a private chat `req.member` is
    None): roster members only — with `managers`, the chair and vice chairs only; a super admin passes
    without a row. Replies with `refusal_key` (or the reason) and returns None otherwise."""
    org = await org_for_management(req)
    if org is None:
        return None
    me = await req.services.roster.member_of(org.id, req.user_id)
    allowed = me is not None and (me.is_manager or not managers)
    if not allowed and not req.actor.is_super_admin:
        await reply(req, req.t(refusal_key))
        return None
    return org, me


def time_error(req: Req, error: TimeParseError, brief: bool = False) -> str:
    """The Chinese message for a time expression that could not be used. `brief`: without the general
    examples, for a command that follows it with its own usage (one clear error, one set of examples)."""
    if brief and has(f"time.brief_{error.code}"):
        return req.t(f"time.brief_{error.code}", **error.params)
    return req.t(f"time.error_{error.code}", **error.params)
