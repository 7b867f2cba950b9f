"""民主测评: the anonymous rating of colleagues, and everything that keeps it anonymous.

The privacy argument, in one place (ARCHITECTURE.md "Review privacy"):
- A rating is stored as (id, cycle, ratee, choice) with no rater and no time
  (storage/migrations/0007_review.sql). Its id is `rating_id` = HMAC-SHA256(ballot key,
  "cycle:rater:ratee"); the key is `new_key()`, 32 random bytes kept on the open cycle.
- Only this module computes ids: to show, change or count her own choices (`choices`), the bot
  recomputes them from the key. Nothing here logs or audits who rated whom or what.
- At the close the key is overwritten and dropped (storage.reviews.close_cycle) inside
  `destroying_key`, which makes SQLite zero the freed bytes and empties the WAL afterwards, so the
  key is gone from the files and the ids can never be linked to a rater again.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

import aiosqlite

from services.errors import Refusal
from services.review.common import (
    ReviewContext,
    active_participants,
    open_cycle,
    require_participant,
    resolve_participant,
    rubric_for,
)
from services.review.scoring import Rubric
from services.roster import Target
from storage import reviews
from storage.db import Database
from storage.models import Member
from storage.reviews import Cycle


def new_key() -> bytes:
    return secrets.token_bytes(32)


def rating_id(key: bytes, cycle_id: int, rater_id: int, ratee_id: int) -> str:
    return hmac.new(key, f"{cycle_id}:{rater_id}:{ratee_id}".encode(), hashlib.sha256).hexdigest()


async def choices(conn: aiosqlite.Connection, cycle: Cycle, rater: Member,
                  ratees: Iterable[Member]) -> dict[int, int | None]:
    """Her current choice for each ratee (None: not rated yet); empty once the key is gone."""
    if cycle.ballot_key is None:
        return {}
    ids = {m.id: rating_id(cycle.ballot_key, cycle.id, rater.id, m.id) for m in ratees}
    stored = await reviews.ratings_by_id(conn, cycle.id, ids.values())
    return {member_id: stored.get(i) for member_id, i in ids.items()}


@asynccontextmanager
async def destroying_key(db: Database) -> AsyncIterator[None]:
    """Around the transaction that drops a ballot key: its bytes are zeroed in the file and the WAL."""
    async with db.erasing():
        yield


class Ballot:
    def __init__(self, ctx: ReviewContext) -> None:
        self.ctx = ctx

    async def colleagues(self, member: Member) -> tuple[Cycle, Rubric, list[tuple[Member, int | None]]]:
        """The colleagues she rates in the open cycle, each with her current choice (or None)."""
        async with self.ctx.db.read() as conn:
            cycle = await open_cycle(conn, member.org_id)
            await require_participant(conn, cycle, member)
            rubric = await rubric_for(self.ctx, conn, member.org_id)
            others = [m for m in await active_participants(conn, cycle) if m.id != member.id]
            assert cycle.ballot_key is not None
            found = await choices(conn, cycle, member, others)
        return cycle, rubric, [(m, found[m.id]) for m in others]

    async def rate(self, member: Member, cycle_id: int, ratee_id: int, choice: int) -> tuple[Member, bool, Rubric]:
        """Her rating of a colleague, new or changed; returns (colleague, whether new, rubric)."""
        async with self.ctx.db.transaction() as conn:
            cycle = await reviews.get_cycle(conn, cycle_id)
            if cycle is None or cycle.org_id != member.org_id:
                raise Refusal("rate.gone")
            if not cycle.is_open or cycle.ballot_key is None:
                raise Refusal("rate.closed", name=cycle.name)
            await require_participant(conn, cycle, member)
            if ratee_id == member.id:
                raise Refusal("rate.self")
            people = {m.id: m for m in await reviews.participants(conn, cycle.id)}
            ratee = people.get(ratee_id)
            if ratee is None or not ratee.active:
                raise Refusal("rate.not_colleague")
            rubric = await rubric_for(self.ctx, conn, member.org_id)
            if not 0 <= choice < len(rubric.ratings):
                raise Refusal("rate.bad_choice")
            new = await reviews.put_rating(conn, rating_id(cycle.ballot_key, cycle.id, member.id, ratee_id), cycle.id,
                                           ratee_id, choice)
        return ratee, new, rubric

    async def ratee_by_name(self, member: Member, target: Target) -> Member:
        async with self.ctx.db.read() as conn:
            cycle = await open_cycle(conn, member.org_id)
            return await resolve_participant(conn, cycle, target)
