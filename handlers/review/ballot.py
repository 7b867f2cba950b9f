"""民主测评 in the chat: /rate and its buttons `rv:g|p|l|n:…`: one colleague's card with the rating
options, the list of everyone with her current choices, and the next colleague not rated yet.
Private chat only."""

from __future__ import annotations

import re
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from handlers.commands import handles
from handlers.common import BotContext, Req, command, load_req, reply
from handlers.i18n import in_script
from handlers.review.common import args_text, member_here, role_name, target_of
from services.clean import simplified
from services.errors import Refusal
from storage.models import Member

RATE_CALLBACK = re.compile(r"^rv:(g|p|l|n):(\d+)(?::(\d+))?(?::(\d+))?$")
LIST_WORDS = ("全部", "列表", "修改", "all")

Choices = list[tuple[Member, int | None]]  # each colleague with her current choice


def _label(req: Req, label: str) -> str:
    """A rating option (stored in the rubric, in Simplified) in the reader's script."""
    return in_script(req.lang, label)


def _done(found: Choices) -> int:
    return sum(1 for _, c in found if c is not None)


def _card(req: Req, cycle_id: int, rubric: Any, colleague: Member, current: int | None, done: int,
          total: int) -> tuple[str, InlineKeyboardMarkup]:
    now_mark = req.t("rate.current", choice=_label(req, rubric.ratings[current].label)) if current is not None else ""
    text = req.t("rate.card", name=colleague.display_name, role=role_name(req, colleague.role), done=done,
                 total=total, current=now_mark)
    options = [InlineKeyboardButton(_label(req, opt.label), callback_data=f"rv:g:{cycle_id}:{colleague.id}:{i}")
               for i, opt in enumerate(rubric.ratings)]
    rows = [options[i:i + 2] for i in range(0, len(options), 2)]
    rows.append([InlineKeyboardButton(req.t("rate.btn_list"), callback_data=f"rv:l:{cycle_id}")])
    return text, InlineKeyboardMarkup(rows)


def _list_view(req: Req, cycle_id: int, rubric: Any, found: Choices) -> tuple[str, InlineKeyboardMarkup]:
    done = _done(found)
    buttons = [
        InlineKeyboardButton(
            req.t("rate.btn_person", name=m.display_name,
                  choice=_label(req, rubric.ratings[c].label) if c is not None else req.t("rate.unrated")),
            callback_data=f"rv:p:{cycle_id}:{m.id}")
        for m, c in found
    ]
    rows = [buttons[i:i + 2] for i in range(0, len(buttons), 2)]
    if done < len(found):
        rows.append([InlineKeyboardButton(req.t("rate.btn_next"), callback_data=f"rv:n:{cycle_id}")])
    return req.t("rate.list", done=done, total=len(found)), InlineKeyboardMarkup(rows)


def _next_view(req: Req, cycle_id: int, rubric: Any, found: Choices) -> tuple[str, InlineKeyboardMarkup]:
    for m, c in found:
        if c is None:
            return _card(req, cycle_id, rubric, m, None, _done(found), len(found))
    text, keyboard = _list_view(req, cycle_id, rubric, found)
    return req.t("rate.all_done", total=len(found)) + "\n\n" + text, keyboard


@handles("rate")
@command
async def rate(req: Req, context: BotContext) -> None:
    found = await member_here(req, context)
    if found is None:
        return
    _, me = found
    words = args_text(req).split()
    svc = req.services.review.ballot
    if len(words) >= 2:
        parsed = target_of(req)
        assert parsed.target is not None
        cycle, rubric, colleagues = await svc.colleagues(me)
        labels = [o.label for o in rubric.ratings]
        choice_word = parsed.rest[-1] if parsed.rest else ""
        # 優秀 typed in Traditional is 优秀
        choice = labels.index(choice_word) if choice_word in labels else (
            labels.index(simplified(choice_word)) if simplified(choice_word) in labels else None)
        if choice is None:
            await reply(req, req.t("rate.bad_word", text=choice_word,
                                   options="、".join(_label(req, x) for x in labels)))
            return
        ratee = await svc.ratee_by_name(me, parsed.target)
        colleague, new, rubric = await svc.rate(me, cycle.id, ratee.id, choice)
        await reply(req, req.t("rate.saved_new" if new else "rate.saved_changed", name=colleague.display_name,
                               choice=_label(req, labels[choice])))
        return
    cycle, rubric, colleagues = await svc.colleagues(me)
    if not colleagues:
        await reply(req, req.t("rate.nobody"))
        return
    if words and words[0] in LIST_WORDS:
        text, keyboard = _list_view(req, cycle.id, rubric, colleagues)
    elif words:
        await reply(req, req.t("rate.usage"))
        return
    else:
        text, keyboard = _next_view(req, cycle.id, rubric, colleagues)
    await reply(req, req.t("rate.intro", cycle=cycle.name) + "\n\n" + text, keyboard)


async def rate_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    req = await load_req(update, context)
    match = RATE_CALLBACK.match(query.data)
    svc = req.services.review.ballot
    cycle = await req.services.review.cycles.get(int(match.group(2))) if match else None
    me = await req.services.roster.member_of(cycle.org_id, req.user_id) if cycle else None
    if match is None or cycle is None or me is None or not req.private:
        await query.answer(req.t("rate.gone"), show_alert=True)
        return
    if not cycle.is_open:
        await query.answer(req.t("rate.closed", name=cycle.name), show_alert=True)
        await query.edit_message_reply_markup(None)
        return
    step = match.group(1)
    try:
        if step == "g":
            colleague, _new, rubric = await svc.rate(me, cycle.id, int(match.group(3)), int(match.group(4)))
            await query.answer(req.t("rate.toast", name=colleague.display_name,
                                     choice=_label(req, rubric.ratings[int(match.group(4))].label)))
            _, rubric, found = await svc.colleagues(me)
            text, keyboard = _next_view(req, cycle.id, rubric, found)
        else:
            _, rubric, found = await svc.colleagues(me)
            await query.answer()
            if step == "l":
                text, keyboard = _list_view(req, cycle.id, rubric, found)
            elif step == "n":
                text, keyboard = _next_view(req, cycle.id, rubric, found)
            else:
                target = int(match.group(3) or 0)
                pick = next(((m, c) for m, c in found if m.id == target), None)
                if pick is None:
                    raise Refusal("rate.not_colleague")
                text, keyboard = _card(req, cycle.id, rubric, pick[0], pick[1], _done(found), len(found))
    except Refusal as refusal:
        await query.answer(req.t(refusal.key, **refusal.params), show_alert=True)
        return
    await query.edit_message_text(req.t("rate.intro", cycle=cycle.name) + "\n\n" + text,
                                  reply_markup=keyboard)
