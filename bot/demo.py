"""The demo world: people and groups for the shell, and seeding a database with them."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from importlib import resources
from zoneinfo import ZoneInfo

import aiosqlite

from bot.simulator import Persona
from services.clock import Clock
from storage import duty, members, orgs, tasks, trainings
from storage.db import Database


@dataclass(frozen=True)
class DemoPerson:
    persona: Persona
    role: str  # chair | vice_chair | member | guest | super_admin
    newly_elected: date | None


@dataclass(frozen=True)
class DemoWorld:
    org_name: str
    work_chat: tuple[int, str]
    public_chat: tuple[int, str]
    people: list[DemoPerson]

    @property
    def super_admins(self) -> list[int]:
        return [p.persona.user_id for p in self.people if p.role == "super_admin"]

    @property
    def chair(self) -> Persona:
        return next(p.persona for p in self.people if p.role == "chair")


def load_world() -> DemoWorld:
    text = resources.files("bot").joinpath("demo", "qingshi.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    people = [
        DemoPerson(
            Persona(int(p["id"]), str(p["name"]), p.get("username")),
            str(p["role"]),
            date.fromisoformat(p["newly_elected"]) if p.get("newly_elected") else None,
        )
        for p in data["people"]
    ]
    chats = data["chats"]
    return DemoWorld(
        data["org"]["name"],
        (int(chats["work"]["id"]), str(chats["work"]["title"])),
        (int(chats["public"]["id"]), str(chats["public"]["title"])),
        people,
    )


async def seed(db: Database, world: DemoWorld, clock: Clock, tz: ZoneInfo, handoff: time) -> int:
    """Create the demo organisation with both groups bound, the roster filled and a daily rotation
    of the eight 执委 running since three days ago; returns the org id."""
    now = clock.now()
    async with db.transaction() as conn:
        chair = world.chair
        rota: list[int] = []
        org = await orgs.create(conn, world.org_name, chair.user_id, now)
        await orgs.bind_chat(conn, world.work_chat[0], org.id, "work", world.work_chat[1], now)
        await orgs.bind_chat(conn, world.public_chat[0], org.id, "public", world.public_chat[1], now)
        for person in world.people:
            p = person.persona
            await members.upsert_user(conn, p.user_id, p.username, p.first_name, p.last_name, now)
            if person.role in ("chair", "vice_chair", "member"):
                added = await members.add(conn, org.id, p.user_id, p.username, p.first_name, person.role, now)  # type: ignore[arg-type]
                if person.newly_elected:
                    await members.set_elected(conn, added.id, True, person.newly_elected)
                if person.role == "member":
                    rota.append(added.id)
        anchor = now.astimezone(tz).date() - timedelta(days=3)
        await duty.add_version(conn, org.id, duty.VersionRow(tuple(rota), "day", anchor, handoff, False, now),
                               chair.user_id, now)
        # The notices of shifts that started before the demo began count as sent.
        for back in range(4):
            start = datetime.combine(anchor + timedelta(days=back), handoff, tz)
            if start <= now:
                for kind in ("handoff", "nudge", "chair_alert"):
                    await duty.claim_notice(conn, org.id, kind, start.isoformat(), now)
        await _seed_tasks(conn, org.id, chair.user_id, now, tz)
        await _seed_trainings(conn, org.id, chair.user_id, now, tz)
    return org.id


async def _seed_tasks(conn: aiosqlite.Connection, org_id: int, chair_id: int, now: datetime, tz: ZoneInfo) -> None:
    """The demo task list ([[tasks]] in qingshi.toml): deadlines a few days after the demo starts."""
    text = resources.files("bot").joinpath("demo", "qingshi.toml").read_text(encoding="utf-8")
    today = now.astimezone(tz).date()
    for item in tomllib.loads(text).get("tasks", []):
        hh, mm = str(item["time"]).split(":")
        deadline = datetime.combine(today + timedelta(days=int(item["days_after"])), time(int(hh), int(mm)), tz)
        owners = [m.id for u in item["owners"] if (m := await members.find_active(conn, org_id, username=u))]
        await tasks.add(conn, org_id, str(item["title"]), deadline, owners, chair_id, now)


async def _seed_trainings(conn: aiosqlite.Connection, org_id: int, chair_id: int, now: datetime,
                          tz: ZoneInfo) -> None:
    """The demo trainings ([[trainings]] in qingshi.toml): one coming up with sign-ups and one
    held before the demo started, with attendance. People are named by display name."""
    text = resources.files("bot").joinpath("demo", "qingshi.toml").read_text(encoding="utf-8")
    today = now.astimezone(tz).date()
    for item in tomllib.loads(text).get("trainings", []):
        hh, mm = str(item["time"]).split(":")
        starts = datetime.combine(today + timedelta(days=int(item["days_after"])), time(int(hh), int(mm)), tz)
        created = min(now, starts - timedelta(days=7))
        added = await trainings.add(conn, org_id, starts, starts + timedelta(hours=float(item.get("hours", 2))),
                                    str(item["place"]), str(item["topic"]), item.get("audience", "all"),
                                    chair_id, created)
        people = {key: [m.id for n in item.get(key, [])
                        if (m := await members.find_active(conn, org_id, display_name=str(n)))]
                  for key in ("signed", "leave", "attended")}
        for status in ("signed", "leave"):
            for member_id in people[status]:
                await trainings.set_signup(conn, added.id, member_id, status, created)
        for member_id in people["attended"]:
            await trainings.add_attendance(conn, added.id, member_id, chair_id, starts + timedelta(hours=1))
