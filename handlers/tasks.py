"""Task list commands (任务清单 · 销号): /task_add /tasks /task /done /overdue. The reminders are
produced by services/tasks.py into the outbox and sent by the paced sender."""

from __future__ import annotations

import re
from datetime import datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, MessageEntity, Update

from handlers import formats
from handlers.commands import handles
from handlers.common import (
    BotContext,
    Req,
    command,
    load_req,
    message_text_after_command,
    org_and_member,
    reply,
    settle_press,
    time_error,
)
from handlers.i18n import Raw, t
from services.clean import clean_text
from services.errors import Refusal
from services.roster import Target
from services.tasks import TaskService, days_left, days_overdue, when_params
from services.timeparse import Recurrence, TimeParseError, parse_when
from storage.models import Member
from storage.tasks import Task

ALL_WORDS = ("all", "全部", "所有", "全")


# --- helpers -----------------------------------------------------------------------------------


def _svc(req: Req) -> TaskService:
    found = req.services.tasks
    assert isinstance(found, TaskService)
    return found



def when_text(lang: str | None, moment: datetime, req: Req) -> str:
    key, params = when_params(moment, req.services.config.tz, req.services.clock.now())
    return t(lang, key, **params)


def _closed_when(req: Req, moment: datetime) -> str:
    return formats.day_time(req.lang, moment, req.services.config.tz)


def _status(req: Req, task: Task) -> str:
    tz, now = req.services.config.tz, req.services.clock.now()
    if task.deadline < now:
        late = days_overdue(task.deadline, now, tz)
        return req.t("tasks.late_days", days=late) if late > 0 else req.t("tasks.late_today")
    left = days_left(task.deadline, now, tz)
    if left <= 0:
        return req.t("tasks.left_today")
    if left == 1:
        return req.t("tasks.left_tomorrow")
    return req.t("tasks.left_days", days=left)


async def _owner_names(req: Req, tasks: list[Task]) -> dict[int, str]:
    found = await _svc(req).owners({m for task in tasks for m in task.owner_ids})
    return {k: v.display_name for k, v in found.items()}


def _owners(task: Task, names: dict[int, str]) -> str:
    return "、".join(names.get(m, "?") for m in task.owner_ids)




def _task_id(word: str) -> int | None:
    word = word.lstrip("#＃")
    return int(word) if word.isdigit() and len(word) < 10 else None


# --- owners in the /task_add text --------------------------------------------------------------


def split_mentions(message: Message) -> tuple[str, list[tuple[Target, str]]]:
    """The text after the command with every @mention / text mention cut out, and those mentions
    as (target, label) in order."""
    full = message.text or message.caption or ""
    entities = message.entities if message.text else message.caption_entities
    wanted = [e for e in entities if e.type in (MessageEntity.MENTION, MessageEntity.TEXT_MENTION)]
    raw = full.encode("utf-16-le")
    targets: list[tuple[Target, str]] = []
    pieces: list[bytes] = []
    pos = 0
    for entity in sorted(wanted, key=lambda e: e.offset):
        start, end = entity.offset * 2, (entity.offset + entity.length) * 2
        if start < pos:
            continue
        label = raw[start:end].decode("utf-16-le")
        if entity.type == MessageEntity.TEXT_MENTION and entity.user is not None:
            targets.append((Target(user_id=entity.user.id, username=entity.user.username), label))
        else:
            targets.append((Target(username=label.lstrip("@")), label))
        pieces.append(raw[pos:start] + " ".encode("utf-16-le"))
        pos = end
    pieces.append(raw[pos:])
    text = b"".join(pieces).decode("utf-16-le")
    if text.startswith("/"):
        parts = text.split(maxsplit=1)
        text = parts[1] if len(parts) > 1 else ""
    return clean_text(text), targets


# A word at the end of a task that reads as a person's name (a common surname and one or two more
# characters, not a place: 张丽, 王小红; not 王家, 李村): an owner, refused by name when not on the roster,
# rather than silently kept in the title with the chair as the owner.
_SURNAMES = frozenset("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡杜叶程苏魏吕丁"
                      "沈姚卢姜崔钟谭陆汪范廖贾夏韦邹熊秦邱薛闫段雷侯史陶黎贺顾毛郝龚邵钱严覃戴孔汤")
_NAME_LIKE = re.compile(r"[\u4e00-\u9fff]{2,3}")
_PLACE_ENDS = frozenset("村家镇乡组户队区街社屯湾庄")
_LAST_WORD = re.compile(r"[\s、，,]+([^\s、，,]+)$")  # the last word and the separator before it


def _name_like(word: str) -> bool:
    return bool(_NAME_LIKE.fullmatch(word)) and word[0] in _SURNAMES and word[-1] not in _PLACE_ENDS


def split_trailing_owners(rest: str, roster_names: set[str]) -> tuple[str, list[tuple[Target, str]]]:
    """Words at the end of the title that name owners: @username, a roster display name, or a word that
    reads as a name (`_name_like`: resolved by name, so one not on the roster is refused, not kept in
    the title). Names may be separated by spaces or 、，; the title's first word is never an owner."""
    remaining = rest.strip()
    owners: list[tuple[Target, str]] = []
    while (last := _LAST_WORD.search(remaining)) is not None:
        word = last.group(1)
        if word.startswith("@") and len(word) > 1:
            owners.insert(0, (Target(username=word[1:]), word))
        elif word in roster_names or _name_like(word):
            owners.insert(0, (Target(name=word), word))
        else:
            break
        remaining = remaining[:last.start()]
    return remaining.strip(), owners


# --- /task_add ---------------------------------------------------------------------------------


@handles("task_add")
@command
async def task_add(req: Req, context: BotContext) -> None:
    found = await org_and_member(req, "tasks.member_only")
    if found is None:
        return
    org, me = found
    if not (req.actor.is_super_admin or (me is not None and me.is_manager)):
        raise Refusal("roster.not_manager")
    message = req.update.effective_message
    assert message is not None
    body, mentioned = split_mentions(message)
    if not body.strip():
        await reply(req, req.t("tasks.add_usage"))
        return
    tz = req.services.config.tz
    try:
        when, rest = parse_when(body, req.services.clock.now().astimezone(tz), deadline=True)
    except TimeParseError as error:
        await reply(req, time_error(req, error) + "\n\n" + req.t("tasks.add_usage"))
        return
    if isinstance(when, Recurrence):
        await reply(req, req.t("tasks.recurring", text=body.strip().split()[0]) + "\n\n" + req.t("tasks.add_usage"))
        return
    roster = await req.services.roster.org_members(org.id)
    title, trailing = split_trailing_owners(rest, {m.display_name for m in roster})
    if not title.strip():
        await reply(req, req.t("tasks.add_usage"))
        return
    owners: list[Member] = []
    for target, label in mentioned + trailing:
        try:
            owner = await req.services.roster.resolve(org.id, target)
        except Refusal:
            await reply(req, req.t("tasks.unknown_owner", who=label))
            return
        if owner.id not in {o.id for o in owners}:
            owners.append(owner)
    try:
        task = await _svc(req).add(req.actor, org.id, when.at, title, [o.id for o in owners])
    except Refusal as refusal:
        if refusal.key in ("tasks.past", "tasks.need_owner"):
            await reply(req, req.t(refusal.key, **refusal.params) + "\n\n" + req.t("tasks.add_usage"))
            return
        if refusal.key == "tasks.already":
            data = f"tk:a:{org.id}:{refusal.params['id']}"
            again = InlineKeyboardButton(req.t("tasks.again"), callback_data=data)
            await reply(req, req.t("tasks.already", id=refusal.params["id"]), InlineKeyboardMarkup([[again]]))
            return
        raise
    await _announce(req, task)


TASK_AGAIN_CALLBACK = re.compile(r"^tk:a:(\d{1,12}):(\d{1,12})$")


async def task_again_button(update: Update, context: BotContext) -> None:
    """再布置一个 under "已经布置过了": only the person who set the task (re-checked in the service)."""
    query = update.callback_query
    assert query is not None and query.data is not None
    match = TASK_AGAIN_CALLBACK.match(query.data)
    req = await load_req(update, context)

    async def again() -> Task:
        if match is None:
            raise Refusal("tasks.again_gone")
        return await _svc(req).add_again(req.actor, int(match.group(1)), int(match.group(2)))

    task = await settle_press(req, again)
    if task is not None:
        await _announce(req, task)


async def _announce(req: Req, task: Task) -> None:
    names = await _owner_names(req, [task])
    deadline, status = when_text(req.lang, task.deadline, req), _status(req, task)
    await reply(req, req.t("tasks.added", id=task.id, title=task.title, deadline=Raw(deadline), left=status,
                           owners=_owners(task, names)))
    # each owner's 📌 note was written to the outbox with the task (services/tasks.py add)


# --- /tasks /task /overdue ---------------------------------------------------------------------


@handles("tasks")
@command
async def tasks_list(req: Req, context: BotContext) -> None:
    found = await org_and_member(req, "tasks.member_only")
    if found is None:
        return
    org, _ = found
    show_all = bool(context.args) and context.args[0].lower() in ALL_WORDS  # type: ignore[index]
    svc = _svc(req)
    open_now = await svc.open_tasks(org.id)
    closed = await svc.recently_closed(org.id) if show_all else []
    names = await _owner_names(req, open_now + closed)
    lines: list[str] = []
    if open_now:
        lines.append(req.t("tasks.list_header", count=len(open_now)))
        for task in open_now:
            lines.append(req.t("tasks.line", id=task.id, title=task.title,
                               deadline=Raw(when_text(req.lang, task.deadline, req)), status=_status(req, task),
                               owners=_owners(task, names)))
    else:
        lines.append(req.t("tasks.list_empty"))
    if show_all:
        from services.tasks import RECENTLY_CLOSED_DAYS

        if closed:
            closers = await svc.person_names(org.id, {c.closed_by for c in closed if c.closed_by is not None})
            lines.append(req.t("tasks.closed_header", days=RECENTLY_CLOSED_DAYS, count=len(closed)))
            for task in closed:
                assert task.closed_at is not None
                lines.append(req.t(
                    "tasks.closed_line", id=task.id, title=task.title,
                    who=closers.get(task.closed_by or 0, "?"), when=_closed_when(req, task.closed_at),
                    late=req.t("tasks.closed_late") if task.closed_at > task.deadline else "",
                    file=req.t("tasks.file_mark") if task.file_id else "",
                ))
        else:
            lines.append(req.t("tasks.closed_none", days=RECENTLY_CLOSED_DAYS))
    if open_now or closed:
        lines.append("")
        lines.append(req.t("tasks.list_hint"))
    await reply(req, "\n".join(lines))


@handles("overdue")
@command
async def overdue(req: Req, context: BotContext) -> None:
    found = await org_and_member(req, "tasks.member_only")
    if found is None:
        return
    org, _ = found
    late = await _svc(req).overdue(org.id)
    if not late:
        await reply(req, req.t("tasks.overdue_empty"))
        return
    names = await _owner_names(req, late)
    lines = [req.t("tasks.overdue_header", count=len(late))]
    for task in late:
        lines.append(req.t("tasks.overdue_item", id=task.id, title=task.title,
                           deadline=Raw(when_text(req.lang, task.deadline, req)), late=_status(req, task),
                           owners=_owners(task, names)))
    await reply(req, "\n".join(lines))


@handles("task")
@command
async def task_detail(req: Req, context: BotContext) -> None:
    found = await org_and_member(req, "tasks.member_only")
    if found is None:
        return
    org, me = found
    args = context.args or []
    task_id = _task_id(args[0]) if args else None
    if task_id is None:
        await reply(req, req.t("tasks.task_usage"))
        return
    svc = _svc(req)
    task = await svc.get(org.id, task_id)
    names = await _owner_names(req, [task])
    people = await svc.person_names(org.id, {task.created_by} | ({task.closed_by} if task.closed_by else set()))
    lines = [req.t("tasks.detail", id=task.id, title=task.title, deadline=Raw(when_text(req.lang, task.deadline, req)),
                   owners=_owners(task, names), creator=people.get(task.created_by, "?"),
                   created=_closed_when(req, task.created_at))]
    if task.closed_at is None:
        lines.append(req.t("tasks.detail_open", status=_status(req, task)))
    else:
        lines.append(req.t("tasks.detail_closed", who=people.get(task.closed_by or 0, "?"),
                           when=_closed_when(req, task.closed_at),
                           late=req.t("tasks.closed_late") if task.closed_at > task.deadline else ""))
        if task.note:
            lines.append(req.t("tasks.detail_note", note=task.note))
        if task.file_id:
            lines.append(req.t(f"tasks.detail_file_{task.file_kind or 'document'}"))
    await reply(req, "\n".join(lines))
    # The evidence itself goes to the chairs and the task's owners only.
    may_see = req.actor.is_super_admin or (me is not None and (me.is_manager or me.id in task.owner_ids))
    if task.file_id and may_see:
        caption = req.t("tasks.evidence_caption", id=task.id)
        if task.file_kind == "photo":
            await context.bot.send_photo(req.chat_id, task.file_id, caption=caption)
        else:
            await context.bot.send_document(req.chat_id, task.file_id, caption=caption)


# --- /done -------------------------------------------------------------------------------------


@handles("done")
@command
async def done(req: Req, context: BotContext) -> None:
    found = await org_and_member(req, "tasks.member_only")
    if found is None:
        return
    org, _ = found
    message = req.update.effective_message
    assert message is not None
    first, _, note = message_text_after_command(message).strip().partition(" ")
    task_id = _task_id(first)
    if task_id is None:
        await reply(req, req.t("tasks.done_usage"))
        return
    file_id, file_kind = None, None
    if message.photo:
        file_id, file_kind = message.photo[-1].file_id, "photo"
    elif message.document is not None:
        file_id, file_kind = message.document.file_id, "document"
    try:
        task = await _svc(req).close(req.actor, org.id, task_id, note, file_id, file_kind, here=req.chat_id)
    except Refusal as refusal:
        if refusal.key == "tasks.already_closed":  # the service gives the moment, shown here
            at = refusal.params.pop("at")
            refusal.params["when"] = _closed_when(req, at)
        raise
    assert task.closed_at is not None
    who = (await _svc(req).person_names(org.id, {req.user_id}))[req.user_id]
    when = _closed_when(req, task.closed_at)
    extra = ""
    if task.note:
        extra += req.t("tasks.done_note", note=task.note)
    if file_id:
        extra += req.t("tasks.done_file")
    if task.closed_at > task.deadline:
        extra += req.t("tasks.done_late")
    await reply(req, req.t("tasks.done", id=task.id, title=task.title, who=who, when=when, extra=Raw(extra)))
    # the work group's note went to the outbox with the close (services/tasks.py close)
