"""Duty calendars (/calendar): a member's own shifts, or the whole rotation for the chair and vice
chairs, for the next CALENDAR_DAYS days — the same rotation engine /rota reads, so leave, swaps and
assignments are in it. Subscription tokens (one per member and scope) let a phone's calendar fetch
the feed from the bot's web server; a removed member's token, or an `all` token of someone who is
no longer a chair or vice chair, finds nothing."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from services.clock import Clock
from services.duty import DutyService
from services.errors import Refusal
from services.rotation import Shift
from storage import calendar_tokens, members, orgs
from storage.db import Database
from storage.models import Member, Org

CALENDAR_DAYS = 60
SCOPES = ("mine", "all")


@dataclass(frozen=True)
class DutyCalendar:
    org: Org
    member: Member  # whose calendar (for `all`: the manager who asked)
    scope: str  # mine | all
    shifts: list[Shift]
    names: dict[int, Member]
    has_rotation: bool


class DutyCalendarService:
    def __init__(self, db: Database, clock: Clock, tz: ZoneInfo, duty: DutyService) -> None:
        self.db = db
        self.clock = clock
        self.tz = tz
        self.duty = duty

    async def calendar(self, org: Org, member: Member, scope: str) -> DutyCalendar:
        """Her shifts (`mine`) or everybody's (`all`: chair and vice chairs only) from the shift in
        progress to CALENDAR_DAYS days ahead."""
        if scope == "all" and not member.is_manager:
            raise Refusal("calendar.all_managers_only")
        rotation = await self.duty.rotation(org.id)
        if rotation is None:
            return DutyCalendar(org, member, scope, [], {}, False)
        now = self.clock.now()
        until = now + timedelta(days=CALENDAR_DAYS)
        # At most one shift starts per day, so CALENDAR_DAYS + 2 shifts reach past `until`.
        shifts = [s for s in rotation.upcoming(now, CALENDAR_DAYS + 2) if s.start < until]
        if scope == "mine":
            shifts = [s for s in shifts if s.member_id == member.id]
        names = await self.duty.names({s.member_id for s in shifts} | {s.base_member_id for s in shifts})
        return DutyCalendar(org, member, scope, shifts, names, True)

    async def token(self, member: Member, scope: str, reset: bool = False) -> str:
        """Her subscription token for `scope` (created on first use; `reset`: a new one, the old
        link stops working)."""
        if scope not in SCOPES:
            raise ValueError(scope)
        if scope == "all" and not member.is_manager:
            raise Refusal("calendar.all_managers_only")
        async with self.db.transaction() as conn:
            found = None if reset else await calendar_tokens.find(conn, member.id, scope)
            if found is not None:
                return found
            token = secrets.token_urlsafe(24)
            await calendar_tokens.put(conn, member.id, scope, token, self.clock.now())
            return token

    async def by_token(self, token: str) -> DutyCalendar | None:
        """The calendar a subscription link shows, or None (unknown token, member removed, no longer
        a manager for `all`)."""
        if not 16 <= len(token) <= 64:
            return None
        async with self.db.read() as conn:
            found = await calendar_tokens.lookup(conn, token)
            if found is None:
                return None
            member = await members.get(conn, found.member_id)
            if member is None or not member.active:
                return None
            org = await orgs.get(conn, member.org_id)
        if org is None or (found.scope == "all" and not member.is_manager):
            return None
        return await self.calendar(org, member, found.scope)
