"""Questions and alerts passed to people: the member on duty, or the county when a woman's village is
unknown; 我来回答 (the member's next message in that chat is her answer); the village question.

Every message a person must get is an outbox row written in the same transaction as the record it
belongs to (services/outbox.py): an alert survives a restart, and a retry never doubles it (dedupe
keys). Alerts say who wrote (Telegram name with a mention link, @username), where, and the message,
with a 我来回答 button.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.clock import Clock
from services.danger import squeeze
from services.duty import DutyService
from services.errors import Refusal
from services.faq_io import MAX_ANSWER
from services.outbox import Outgoing, text
from services.roster import Actor, RosterService
from storage import faq, members, orgs, outbox
from storage.db import Database
from storage.faq import Unanswered
from storage.models import Org

# A danger alert nobody has taken (我来回答): the chair and vice chairs are called on in the work group
# after this long, the county (every super admin) after the second; alerts older than the last are
# left to /unanswered (after an outage the bot does not call people about yesterday's alarm).
ESCALATE_TO_CHAIRS = timedelta(minutes=10)
ESCALATE_TO_COUNTY = timedelta(minutes=30)
ESCALATE_WITHIN = timedelta(hours=12)
ANSWERING_FOR = timedelta(hours=2)  # after 我来回答, her next message in that chat is the answer this long
VILLAGE_ASKED_FOR = timedelta(hours=24)  # how long a woman's next private message may name her village
MAX_VILLAGE_CHOICES = 5
_ORG_SUFFIX = re.compile(r"(?:妇女联合会|妇联|妇女之家|委员会|居委会|村委会|社区|村|居|街道|镇|乡)+$")


@dataclass(frozen=True)
class Asker:
    user_id: int
    name: str
    username: str | None = None


@dataclass(frozen=True)
class Passed:
    item_id: int
    reached: str  # "duty" (the work group of her organisation), "county" (super admins), "none"
    duty_name: str = ""  # the member on duty, when known
    alarm: str = ""  # the alert's message, when what reached them is a danger alert


def _core(name: str) -> str:
    return _ORG_SUFFIX.sub("", squeeze(name))


def village_matches(text_in: str, candidates: list[Org]) -> list[Org]:
    """Organisations whose name the text names (青石, 青石村, 青石村妇联 → 青石村妇联)."""
    said = squeeze(text_in)
    said_core = _core(text_in)
    if len(said) < 2:
        return []
    found = []
    for org in candidates:
        core = _core(org.name)
        if not core:
            continue
        if core in said or (len(said_core) >= 2 and said_core in squeeze(org.name)):
            found.append(org)
    return found[:MAX_VILLAGE_CHOICES]


class HandoffService:
    def __init__(self, db: Database, clock: Clock, roster: RosterService, duty: DutyService) -> None:
        self.db = db
        self.clock = clock
        self.roster = roster
        self.duty = duty

    # --- alerts and questions for a person -------------------------------------------------------

    async def _on_duty(self, org_id: int) -> tuple[str, int | None]:
        """(name, Telegram id) of the member on duty now; ("", None) without a rotation."""
        rotation = await self.duty.rotation(org_id)
        shift = rotation.at(self.clock.now()) if rotation else None
        if shift is None:
            return "", None
        people = await self.duty.names({shift.member_id})
        member = people.get(shift.member_id)
        return (member.display_name, member.user_id) if member else ("", None)

    async def _to_work_group(self, item: Unanswered, asker: Asker, where: dict[str, object], concern: bool = False
                             ) -> tuple[list[Outgoing], str] | None:
        assert item.org_id is not None
        work = await self.roster.work_chat(item.org_id)
        if work is None:
            return None
        duty_name, duty_id = await self._on_duty(item.org_id)
        if duty_name and duty_id:
            duty = text("handoff.mention", id=duty_id, name=duty_name)
        elif duty_name:
            duty = text("handoff.plain", name=duty_name)
        else:
            duty = text("handoff.duty_anyone")
        key = "handoff.alert_danger" if item.danger else "handoff.alert_concern" if concern else "handoff.to_duty"
        msg = Outgoing(work, key, {"who": _who(asker), "where": where, "question": item.question, "duty": duty},
                       buttons=((("handoff.take", f"faq:take:{item.id}"),),), org_id=item.org_id,
                       dedupe=f"handoff:{item.id}:org{item.org_id}")
        return [msg], duty_name

    def _to_county(self, item: Unanswered, asker: Asker, where: dict[str, object], concern: bool = False
                   ) -> list[Outgoing]:
        key = "handoff.concern_county" if concern and not item.danger else "handoff.alert_county"
        return [Outgoing(admin, key, {"who": _who(asker), "where": where, "question": item.question},
                         buttons=((("handoff.take", f"faq:take:{item.id}"),),),
                         dedupe=f"handoff:{item.id}:county:{admin}")
                for admin in sorted(self.roster.super_admins)]

    async def pass_on(self, asker: Asker, org_id: int | None, chat_id: int, message_id: int | None,
                      question: str, danger: bool, group_title: str | None, concern: bool = False) -> Passed:
        """Record the question and tell a person, in one transaction. Her organisation known: its work
        group (the member on duty named and mentioned). Unknown: danger (or `concern`: a message a
        person should look at now) goes to every super admin at once; either way she is asked for her
        village (`village_answer`)."""
        now = self.clock.now()
        where = (text("handoff.where_public", title=group_title or "") if group_title is not None
                 else text("handoff.where_private"))
        async with self.db.transaction() as conn:
            item_id = await faq.add_unanswered(conn, org_id, chat_id, asker.user_id, message_id, question[:1000],
                                               danger, now, concern=concern and not danger)
            item = await faq.get_unanswered(conn, item_id)
        assert item is not None
        msgs: list[Outgoing] = []
        reached, duty_name = "none", ""
        if org_id is not None:
            routed = await self._to_work_group(item, asker, where, concern)
            if routed is not None:
                msgs, duty_name = routed
                reached = "duty"
        if not msgs and (danger or concern):
            msgs = self._to_county(item, asker, where, concern)
            reached = "county" if msgs else "none"
        async with self.db.transaction() as conn:
            await outbox.enqueue(conn, msgs, now)
            if org_id is None and chat_id == asker.user_id:
                await faq.ask_village(conn, asker.user_id, item_id, now)
        return Passed(item_id, reached, duty_name)

    # --- an alarm nobody takes ------------------------------------------------------------------------

    async def produce(self, now: datetime) -> None:
        """A danger alert still open (nobody pressed 我来回答) after ESCALATE_TO_CHAIRS: the chair and vice
        chairs are called on in the work group; after ESCALATE_TO_COUNTY: every super admin. Each once
        (dedupe keys, looked up first: an alarm already called on costs a tick one read), through the outbox."""
        async with self.db.read() as conn:
            due = [i for i in await faq.open_danger_since(conn, now - ESCALATE_WITHIN)
                   if now - i.at >= ESCALATE_TO_CHAIRS]
            sent = await outbox.known(conn, [key for i in due for key in self._escalation_keys(i, now)])
            due = [i for i in due if not set(self._escalation_keys(i, now)) <= sent]
            orgs_of = {i.org_id for i in due if i.org_id is not None}
            chairs = {org_id: [m for m in await members.active_in_org(conn, org_id)
                               if m.role in ("chair", "vice_chair")] for org_id in orgs_of}
            villages = {org_id: org.name for org_id in orgs_of if (org := await orgs.get(conn, org_id)) is not None}
            users = {i.user_id: await members.get_user(conn, i.user_id) for i in due}
        msgs: list[Outgoing] = []
        for item in due:
            waited = now - item.at
            user = users.get(item.user_id)
            asker = Asker(item.user_id, user.full_name if user else str(item.user_id), user.username if user else None)
            where = text("handoff.where_group") if item.chat_id < 0 else text("handoff.where_private")
            params: dict[str, object] = {"who": _who(asker), "where": where, "question": item.question,
                                         "minutes": int(waited.total_seconds() // 60)}
            work = await self.roster.work_chat(item.org_id) if item.org_id is not None else None
            if work is not None and item.org_id is not None:
                called = [text("handoff.mention", id=m.user_id, name=m.display_name)
                          for m in chairs.get(item.org_id, []) if m.user_id]
                msgs.append(Outgoing(work, "handoff.escalate_chairs",
                                     {**params, "chairs": called or [text("handoff.everyone")]},
                                     buttons=((("handoff.take", f"faq:take:{item.id}"),),), org_id=item.org_id,
                                     dedupe=_chairs_key(item)))
            if waited >= ESCALATE_TO_COUNTY:
                named = villages.get(item.org_id, "") if item.org_id is not None else ""
                village: object = named or text("handoff.no_village")
                msgs += [Outgoing(admin, "handoff.escalate_county", {**params, "village": village},
                                  buttons=((("handoff.take", f"faq:take:{item.id}"),),),
                                  dedupe=_county_key(item, admin))
                         for admin in sorted(self.roster.super_admins)]
        if msgs:
            async with self.db.transaction() as conn:
                await outbox.enqueue(conn, msgs, now)

    def _escalation_keys(self, item: Unanswered, now: datetime) -> list[str]:
        """The dedupe keys of the calls due for this alert by `now` (the work group's only where the
        village is known)."""
        keys = [_chairs_key(item)] if item.org_id is not None else []
        if now - item.at >= ESCALATE_TO_COUNTY:
            keys += [_county_key(item, admin) for admin in sorted(self.roster.super_admins)]
        return keys

    async def next_due(self, now: datetime) -> datetime | None:
        """The next moment an open danger alert is due to be called on again, if any."""
        async with self.db.read() as conn:
            items = await faq.open_danger_since(conn, now - ESCALATE_WITHIN)
        moments = [item.at + after for item in items for after in (ESCALATE_TO_CHAIRS, ESCALATE_TO_COUNTY)
                   if item.at + after > now]
        return min(moments, default=None)

    # --- the village question ----------------------------------------------------------------------

    async def village_pending(self, user_id: int) -> bool:
        async with self.db.read() as conn:
            asked = await faq.village_asked(conn, user_id)
        return asked is not None and self.clock.now() - asked[1] <= VILLAGE_ASKED_FOR

    async def villages_named(self, said: str) -> list[Org]:
        async with self.db.read() as conn:
            return village_matches(said, await orgs.all_orgs(conn))

    async def tie_to_village(self, asker: Asker, org_id: int) -> None:
        """She opened the bot from her village's public group (the deep link): remember the village;
        a question or alert waiting for it goes to that village now."""
        if await self.village_pending(asker.user_id):
            await self.confirm_village(asker, org_id)
            return
        async with self.db.transaction() as conn:
            await members.set_last_org(conn, asker.user_id, org_id)

    async def confirm_village(self, asker: Asker, org_id: int) -> tuple[Org, Passed | None]:
        """She confirmed her village: remember it, and pass her waiting question or alert to its member
        on duty. Refused when the bot did not ask her (a forged or stale button)."""
        now = self.clock.now()
        async with self.db.transaction() as conn:
            asked = await faq.village_asked(conn, asker.user_id)
            org = await orgs.get(conn, org_id)
            if asked is None or org is None:
                raise Refusal("handoff.village_gone")
            await members.set_last_org(conn, asker.user_id, org_id)
            await faq.village_known(conn, asker.user_id)
            item = None
            if asked[0] is not None:
                await faq.set_org(conn, asked[0], org_id)
                item = await faq.get_unanswered(conn, asked[0])
        # A danger alert reaches the village even when the county has taken it already.
        if item is None or item.org_id != org_id or (item.status != "open" and not item.danger):
            return org, None
        where = text("handoff.where_private")
        routed = await self._to_work_group(item, asker, where)
        alarm = item.question if item.danger else ""
        if routed is None:
            return org, Passed(item.id, "none", alarm=alarm)
        msgs, duty_name = routed
        async with self.db.transaction() as conn:
            await outbox.enqueue(conn, msgs, now)
        return org, Passed(item.id, "duty", duty_name, alarm=alarm)

    # --- 我来回答 ----------------------------------------------------------------------------------

    async def take(self, actor: Actor, item_id: int, chat_org_id: int | None, chat_id: int) -> Unanswered:
        """She takes the question: a member of its organisation in its work group, or a super admin
        (the county) anywhere. From now her next message in this chat is the answer."""
        async with self.db.transaction() as conn:
            item = await faq.get_unanswered(conn, item_id)
            if item is None:
                raise Refusal("faq.item_gone")
            ours = item.org_id is not None and item.org_id == chat_org_id \
                and await members.find_active(conn, item.org_id, user_id=actor.user_id) is not None
            if not (ours or actor.is_super_admin):
                raise Refusal("faq.item_gone")
            if item.status == "answered":
                raise Refusal("handoff.already_answered")
            if not await faq.take_unanswered(conn, item_id, actor.user_id) and item.taken_by != actor.user_id:
                raise Refusal("faq.already_taken")
            await faq.start_answering(conn, chat_id, actor.user_id, item_id, self.clock.now())
            taken = await faq.get_unanswered(conn, item_id)
        assert taken is not None
        return taken

    async def answering(self, chat_id: int, user_id: int) -> int | None:
        """The question her next message in this chat answers, if she pressed 我来回答 lately."""
        async with self.db.read() as conn:
            found = await faq.answering(conn, chat_id, user_id)
        if found is None or self.clock.now() - found[1] > ANSWERING_FOR:
            return None
        return found[0]

    async def cancel(self, chat_id: int, user_id: int, item_id: int) -> None:
        """She will not answer after all: the question is open again for anyone."""
        async with self.db.transaction() as conn:
            found = await faq.answering(conn, chat_id, user_id)
            if found is None or found[0] != item_id:
                raise Refusal("handoff.nothing_to_cancel")
            await faq.stop_answering(conn, chat_id, user_id)
            await faq.reopen(conn, item_id, user_id)

    async def answer(self, chat_id: int, user_id: int, answer: str, member_name: str) -> Unanswered:
        """Her message is the answer: recorded and put in the outbox for the woman, in one transaction."""
        now = self.clock.now()
        async with self.db.transaction() as conn:
            found = await faq.answering(conn, chat_id, user_id)
            item = await faq.get_unanswered(conn, found[0]) if found else None
            if item is None or item.taken_by != user_id or item.status != "taken":
                raise Refusal("faq.item_gone")
            await faq.answer_unanswered(conn, item.id, answer[:MAX_ANSWER], now)
            await faq.stop_answering(conn, chat_id, user_id)
            await outbox.enqueue(conn, [Outgoing(
                answer_chat(item), "handoff.answer_to_asker",
                {"name": member_name, "question": item.question, "answer": answer[:MAX_ANSWER]},
                org_id=item.org_id, dedupe=f"handoff:{item.id}:answer",
            )], now)
            done = await faq.get_unanswered(conn, item.id)
        assert done is not None
        return done


def _chairs_key(item: Unanswered) -> str:
    return f"handoff:{item.id}:escalate:org{item.org_id}"


def _county_key(item: Unanswered, admin: int) -> str:
    return f"handoff:{item.id}:escalate:county:{admin}"


def answer_chat(item: Unanswered) -> int:
    """Where a member's answer goes: where she asked, except that an answer to a danger message or one
    of concern (老公每天都骂我打我 我该怎么办) written in the village group goes to her alone (the group,
    where he or his family may be, does not see her disclosure again or the plan to help her)."""
    return item.user_id if (item.danger or item.concern) and item.chat_id < 0 else item.chat_id


def _who(asker: Asker) -> dict[str, object]:
    at = text("handoff.username", username=asker.username) if asker.username else ""
    return text("handoff.who", id=asker.user_id, name=asker.name or str(asker.user_id), at=at)
