"""Organisations and the roster: setup, linking the public group, members, roles, join requests.

Every management action is checked against the bot's own roster (never Telegram admin status
alone) and written to the audit log in the same transaction as the change.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, timedelta

import aiosqlite

from services.clean import clean_text, simplified
from services.clock import Clock
from services.errors import Refusal
from storage import audit, members, orgs, outbox
from storage.db import Database
from storage.models import ChatKind, JoinRequest, Member, Org, Role, User
from storage.outbox import Outgoing

LINK_CODE_TTL = timedelta(minutes=10)
MAX_ORG_NAME = 40
MAX_DISPLAY_NAME = 40
ROLE_WORDS: dict[str, Role] = {
    "主席": "chair",
    "副主席": "vice_chair",
    "执委": "member",
    "委员": "member",
    "chair": "chair",
    "vice_chair": "vice_chair",
    "member": "member",
}


@dataclass(frozen=True)
class OrgOverview:
    org: Org
    work_title: str | None
    public_title: str | None
    chairs: list[str]
    members: int
    last_activity: str | None  # a date, from the audit log


@dataclass(frozen=True)
class Actor:
    user_id: int
    is_super_admin: bool = False


@dataclass(frozen=True)
class Target:
    """Who a command is about: a known Telegram user, an @username, or a roster display name."""

    user_id: int | None = None
    username: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class ChatContext:
    chat_id: int
    org: Org | None
    kind: ChatKind | None
    member: Member | None


async def require_manager(conn: aiosqlite.Connection, actor: Actor, org_id: int) -> Member | None:
    """The actor's roster row if she may manage `org_id` (chair, vice chair, super admin)."""
    me = await members.find_active(conn, org_id, user_id=actor.user_id)
    if actor.is_super_admin or (me is not None and me.is_manager):
        return me
    raise Refusal("roster.not_manager")


class RosterService:
    def __init__(self, db: Database, clock: Clock, super_admins: frozenset[int]) -> None:
        self.db = db
        self.clock = clock
        self.super_admins = super_admins

    def actor(self, user_id: int) -> Actor:
        return Actor(user_id, user_id in self.super_admins)

    # --- reading -------------------------------------------------------------------------------

    async def touch_user(self, user_id: int, username: str | None, first_name: str, last_name: str) -> None:
        async with self.db.transaction() as conn:
            await members.upsert_user(conn, user_id, username, clean_text(first_name), clean_text(last_name),
                                      self.clock.now())

    async def chat_context(self, chat_id: int, user_id: int) -> ChatContext:
        async with self.db.read() as conn:
            bound = await orgs.binding(conn, chat_id)
            if bound is None:
                return ChatContext(chat_id, None, None, None)
            org = await orgs.get(conn, bound.org_id)
            member = await members.find_active(conn, bound.org_id, user_id=user_id)
        return ChatContext(chat_id, org, bound.kind, member)

    async def memberships(self, user_id: int) -> list[tuple[Org, Member]]:
        async with self.db.read() as conn:
            found = []
            for m in await members.memberships(conn, user_id):
                org = await orgs.get(conn, m.org_id)
                if org is not None:
                    found.append((org, m))
        return found

    async def org_members(self, org_id: int) -> list[Member]:
        async with self.db.read() as conn:
            return await members.active_in_org(conn, org_id)

    async def find_org(self, name_or_id: str) -> Org | None:
        async with self.db.read() as conn:
            if name_or_id.isdigit():
                found = await orgs.get(conn, int(name_or_id))
                if found:
                    return found
            return await orgs.by_name(conn, name_or_id)

    async def work_chat(self, org_id: int) -> int | None:
        async with self.db.read() as conn:
            bound = await orgs.chat_of(conn, org_id, "work")
        return bound.chat_id if bound else None

    async def work_chats(self) -> list[int]:
        """Every organisation's work group."""
        async with self.db.read() as conn:
            found = [await orgs.chat_of(conn, o.id, "work") for o in await orgs.all_orgs(conn)]
        return [b.chat_id for b in found if b is not None]

    async def public_chat(self, org_id: int) -> int | None:
        async with self.db.read() as conn:
            bound = await orgs.chat_of(conn, org_id, "public")
        return bound.chat_id if bound else None

    async def user(self, user_id: int) -> User | None:
        async with self.db.read() as conn:
            return await members.get_user(conn, user_id)

    async def last_org(self, user_id: int) -> int | None:
        """The organisation whose public group she last wrote in."""
        async with self.db.read() as conn:
            user = await members.get_user(conn, user_id)
        return user.last_org_id if user else None

    async def member_of(self, org_id: int, user_id: int) -> Member | None:
        async with self.db.read() as conn:
            return await members.find_active(conn, org_id, user_id=user_id)

    async def lang_for(self, chat_id: int, user_id: int | None, private: bool) -> str | None:
        async with self.db.read() as conn:
            if private and user_id is not None:
                user = await members.get_user(conn, user_id)
                return user.lang if user else None
            return await orgs.chat_lang(conn, chat_id)

    # --- guards --------------------------------------------------------------------------------

    async def _require_manager(self, conn: aiosqlite.Connection, actor: Actor, org_id: int) -> Member | None:
        return await require_manager(conn, actor, org_id)

    async def _resolve(self, conn: aiosqlite.Connection, org_id: int, target: Target) -> Member:
        found = None
        if target.user_id is not None:
            found = await members.find_active(conn, org_id, user_id=target.user_id)
        if found is None and target.username:
            found = await members.find_active(conn, org_id, username=target.username)
            if found is None:
                user = await members.user_by_username(conn, target.username)
                if user is not None:
                    found = await members.find_active(conn, org_id, user_id=user.user_id)
        # Telegram usernames are Latin letters, digits and _: "@刘敏" is a chair naming 刘敏 by her name.
        name = target.name or (target.username if target.username and not target.username.isascii() else None)
        if found is None and name:
            if await members.count_active_named(conn, org_id, name) > 1:
                raise Refusal("roster.ambiguous_name", who=name)
            found = await members.find_active(conn, org_id, display_name=name)
            if found is None:  # 趙霞 typed in Traditional names 赵霞 (and the other way round)
                wanted = simplified(name)
                alike = [m for m in await members.active_in_org(conn, org_id) if simplified(m.display_name) == wanted]
                found = alike[0] if len(alike) == 1 else None
        if found is None:
            label = target.name or (f"@{target.username}" if target.username else str(target.user_id or ""))
            raise Refusal("roster.not_found", who=label)
        return found

    async def overview(self) -> list[OrgOverview]:
        """Every organisation for the county: its groups, chair(s), members and last recorded activity."""
        async with self.db.read() as conn:
            found = []
            for org in await orgs.all_orgs(conn):
                work = await orgs.chat_of(conn, org.id, "work")
                public = await orgs.chat_of(conn, org.id, "public")
                people = await members.active_in_org(conn, org.id)
                cur = await conn.execute("SELECT MAX(at) FROM audit_log WHERE org_id = ?", (org.id,))
                row = await cur.fetchone()
                found.append(OrgOverview(org, work.title if work else None, public.title if public else None,
                                         [m.display_name for m in people if m.role == "chair"], len(people),
                                         str(row[0])[:10] if row and row[0] else None))
        return found

    async def org_named(self, words: list[str]) -> tuple[Org, int] | None:
        """The organisation the first words name exactly (a super admin's /members 青石村妇联), and how
        many words that took."""
        async with self.db.read() as conn:
            for n in range(min(len(words), 4), 0, -1):
                org = await orgs.by_name(conn, " ".join(words[:n]))
                if org is not None:
                    return org, n
        return None

    async def any_org(self) -> bool:
        """Is there any organisation at all (a new deployment has none)?"""
        async with self.db.read() as conn:
            cur = await conn.execute("SELECT 1 FROM orgs LIMIT 1")
            return await cur.fetchone() is not None

    async def resolve(self, org_id: int, target: Target) -> Member:
        """The active member a target names, or Refusal('roster.not_found')."""
        async with self.db.read() as conn:
            return await self._resolve(conn, org_id, target)

    # --- organisations -------------------------------------------------------------------------

    async def setup(self, actor: Actor, chat_id: int, title: str, name: str, is_group_admin: bool) -> Org:
        name = " ".join(name.split())
        if not name:
            raise Refusal("setup.usage")
        if len(name) > MAX_ORG_NAME:
            raise Refusal("setup.name_too_long", limit=MAX_ORG_NAME)
        if not (actor.is_super_admin or is_group_admin):
            raise Refusal("setup.not_admin")
        now = self.clock.now()
        async with self.db.transaction() as conn:
            bound = await orgs.binding(conn, chat_id)
            if bound is not None:
                existing = await orgs.get(conn, bound.org_id)
                raise Refusal("setup.already_bound", org=existing.name if existing else "")
            if await orgs.by_name(conn, name) is not None:
                raise Refusal("setup.name_taken", name=name)
            org = await orgs.create(conn, name, actor.user_id, now)
            await orgs.bind_chat(conn, chat_id, org.id, "work", title, now)
            user = await members.get_user(conn, actor.user_id)
            display = (user.full_name if user else str(actor.user_id))[:MAX_DISPLAY_NAME]
            await members.add(conn, org.id, actor.user_id, user.username if user else None, display, "chair", now)
            await audit.record(conn, org.id, actor.user_id, "org.setup", now, name=name, chat_id=chat_id)
        return org

    async def new_link_code(self, actor: Actor, org_id: int) -> tuple[str, int]:
        """A one-time 6-digit code for binding the public group; returns (code, minutes valid)."""
        now = self.clock.now()
        async with self.db.transaction() as conn:
            await self._require_manager(conn, actor, org_id)
            code = f"{secrets.randbelow(900000) + 100000}"
            await orgs.add_link_code(conn, code, org_id, actor.user_id, now, now + LINK_CODE_TTL)
            await audit.record(conn, org_id, actor.user_id, "org.link_code", now)
        return code, int(LINK_CODE_TTL.total_seconds() // 60)

    async def link_public(self, actor: Actor, chat_id: int, title: str, code: str) -> Org:
        now = self.clock.now()
        async with self.db.transaction() as conn:
            bound = await orgs.binding(conn, chat_id)
            if bound is not None:
                raise Refusal("link.already_bound")
            org_id = await orgs.peek_link_code(conn, code.strip(), now)
            if org_id is None:
                raise Refusal("link.bad_code")
            # Only a manager of the code's own organisation may use it: a leaked code is useless
            # to a stranger.
            await self._require_manager(conn, actor, org_id)
            if await orgs.chat_of(conn, org_id, "public") is not None:
                raise Refusal("link.public_exists")
            await orgs.take_link_code(conn, code.strip(), now)
            await orgs.bind_chat(conn, chat_id, org_id, "public", title, now)
            await audit.record(conn, org_id, actor.user_id, "org.link_public", now, chat_id=chat_id)
            org = await orgs.get(conn, org_id)
        assert org is not None
        return org

    async def migrate_chat(self, old_chat_id: int, new_chat_id: int) -> bool:
        async with self.db.transaction() as conn:
            bound = await orgs.binding(conn, old_chat_id)
            moved = await orgs.move_chat(conn, old_chat_id, new_chat_id)
            if moved and bound is not None:
                await audit.record(
                    conn, bound.org_id, None, "org.chat_migrated", self.clock.now(), old=old_chat_id, new=new_chat_id
                )
        return moved

    # --- roster --------------------------------------------------------------------------------

    async def add_member(
        self, actor: Actor, org_id: int, target: Target, role: Role, display_name: str
    ) -> Member:
        display_name = " ".join(display_name.split())
        if len(display_name) > MAX_DISPLAY_NAME:
            raise Refusal("addmember.name_too_long", limit=MAX_DISPLAY_NAME)
        now = self.clock.now()
        async with self.db.transaction() as conn:
            me = await self._require_manager(conn, actor, org_id)
            if role == "chair" and not actor.is_super_admin and (me is None or me.role != "chair"):
                raise Refusal("roster.only_chair_appoints_chair")
            user_id, username = target.user_id, target.username
            if user_id is None and username:
                known = await members.user_by_username(conn, username)
                if known is not None:
                    user_id, username = known.user_id, known.username
            if user_id is not None:
                known_user = await members.get_user(conn, user_id)
                if known_user is not None:
                    username = username or known_user.username
                    display_name = display_name or known_user.full_name[:MAX_DISPLAY_NAME]
                existing = await members.find_active(conn, org_id, user_id=user_id)
            elif username:
                existing = await members.find_active(conn, org_id, username=username)
            else:
                raise Refusal("addmember.usage")
            if existing is not None:
                raise Refusal("roster.already_member", who=existing.display_name)
            display_name = display_name or (f"@{username}" if username else str(user_id))
            added = await members.add(conn, org_id, user_id, username, display_name, role, now)
            await audit.record(
                conn, org_id, actor.user_id, "member.add", now,
                member_id=added.id, user_id=user_id, username=username, role=role, name=display_name,
            )
        return added

    async def set_role(self, actor: Actor, org_id: int, target: Target, role: Role) -> Member:
        now = self.clock.now()
        async with self.db.transaction() as conn:
            me = await self._require_manager(conn, actor, org_id)
            who = await self._resolve(conn, org_id, target)
            chair_involved = role == "chair" or who.role == "chair"
            if chair_involved and not actor.is_super_admin and (me is None or me.role != "chair"):
                raise Refusal("roster.only_chair_appoints_chair")
            if who.role == "chair" and role != "chair" and await self._is_last_chair(conn, org_id):
                raise Refusal("roster.last_chair")
            await members.set_role(conn, who.id, role)
            await audit.record(
                conn, org_id, actor.user_id, "member.role", now, member_id=who.id, old=who.role, new=role
            )
        return Member(**{**who.__dict__, "role": role})

    async def set_newly_elected(self, actor: Actor, org_id: int, target: Target, on: date | None) -> Member:
        now = self.clock.now()
        async with self.db.transaction() as conn:
            await self._require_manager(conn, actor, org_id)
            who = await self._resolve(conn, org_id, target)
            await members.set_elected(conn, who.id, on is not None, on)
            await audit.record(conn, org_id, actor.user_id, "member.elected", now, member_id=who.id, on=on)
        return Member(**{**who.__dict__, "newly_elected": on is not None, "elected_on": on})

    async def remove_member(self, actor: Actor, org_id: int, target: Target) -> Member:
        now = self.clock.now()
        async with self.db.transaction() as conn:
            me = await self._require_manager(conn, actor, org_id)
            who = await self._resolve(conn, org_id, target)
            if who.role == "chair":
                if not actor.is_super_admin and (me is None or me.role != "chair"):
                    raise Refusal("roster.only_chair_appoints_chair")
                if await self._is_last_chair(conn, org_id):
                    raise Refusal("roster.last_chair")
            await members.deactivate(conn, who.id, now)
            await audit.record(
                conn, org_id, actor.user_id, "member.remove", now, member_id=who.id, name=who.display_name
            )
        return who

    async def _is_last_chair(self, conn: aiosqlite.Connection, org_id: int) -> bool:
        return sum(1 for m in await members.active_in_org(conn, org_id) if m.role == "chair") <= 1

    # --- join requests -------------------------------------------------------------------------

    async def request_join(self, org_id: int, user_id: int, display_name: str) -> JoinRequest:
        now = self.clock.now()
        async with self.db.transaction() as conn:
            if await members.find_active(conn, org_id, user_id=user_id) is not None:
                raise Refusal("join.already_member")
            if await members.pending_join_request(conn, org_id, user_id) is not None:
                raise Refusal("join.already_pending")
            request = await members.add_join_request(conn, org_id, user_id, display_name[:MAX_DISPLAY_NAME], now)
            await audit.record(conn, org_id, user_id, "join.request", now, request_id=request.id)
            # The managers' 批准/拒绝 message goes out with the request itself (to the work group).
            work = await orgs.chat_of(conn, org_id, "work")
            org = await orgs.get(conn, org_id)
            if work is not None and org is not None:
                buttons = ((("join.approve", f"join:{request.id}:yes"), ("join.reject", f"join:{request.id}:no")),)
                await outbox.enqueue(conn, [Outgoing(work.chat_id, "join.request",
                                                     {"name": request.display_name, "org": org.name},
                                                     buttons=buttons, org_id=org_id)], now)
        return request

    async def decide_join(self, actor: Actor, request_id: int, approve: bool) -> tuple[JoinRequest, Member | None]:
        now = self.clock.now()
        async with self.db.transaction() as conn:
            request = await members.get_join_request(conn, request_id)
            if request is None:
                raise Refusal("join.gone")
            await self._require_manager(conn, actor, request.org_id)
            if not await members.decide_join_request(
                conn, request_id, "approved" if approve else "rejected", actor.user_id, now
            ):
                raise Refusal("join.already_decided")
            added = None
            if approve and await members.find_active(conn, request.org_id, user_id=request.user_id) is None:
                user = await members.get_user(conn, request.user_id)
                added = await members.add(
                    conn, request.org_id, request.user_id, user.username if user else None,
                    request.display_name, "member", now,
                )
            await audit.record(
                conn, request.org_id, actor.user_id, "join.approve" if approve else "join.reject", now,
                request_id=request_id, user_id=request.user_id,
            )
            org = await orgs.get(conn, request.org_id)  # she is told with the decision itself
            await outbox.enqueue(conn, [Outgoing(request.user_id, "join.approved_user" if approve
                                                 else "join.rejected_user", {"org": org.name if org else ""},
                                                 org_id=request.org_id)], now)
        return request, added

    # --- preferences ---------------------------------------------------------------------------

    async def set_lang(self, actor: Actor, chat_id: int, private: bool, lang: str) -> None:
        now = self.clock.now()
        async with self.db.transaction() as conn:
            if private:
                await members.set_user_lang(conn, actor.user_id, lang)
                return
            bound = await orgs.binding(conn, chat_id)
            if bound is not None:
                await self._require_manager(conn, actor, bound.org_id)
            await orgs.set_chat_lang(conn, chat_id, lang)
            await audit.record(conn, bound.org_id if bound else None, actor.user_id, "chat.lang", now, lang=lang)

    async def remember_public_visit(self, user_id: int, org_id: int) -> None:
        async with self.db.transaction() as conn:
            await members.set_last_org(conn, user_id, org_id)
