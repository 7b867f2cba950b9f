"""A person's data on request (个人信息保护法): what the bot holds about her, the JSON export, and
the erasure of /forget (super admin only). What is deleted and what is kept anonymised is listed
in ARCHITECTURE.md, "Personal data".

Two steps so that nothing is deleted before the export reached the super admin: `prepare` finds the
person and counts her data (a pending confirmation, 10 minutes), `export` builds the JSON for a
confirmed token, `forget` erases in one transaction and writes the `member.forget` audit row.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiosqlite

from services.clock import Clock
from services.duty import DutyService
from services.errors import Refusal
from services.roster import Actor
from storage import audit
from storage import privacy as store
from storage.db import Database
from storage.privacy import Subject

CONFIRM_TTL = timedelta(minutes=10)
LABEL_PREFIX = "已删除成员#"
NO_MEMBER_LABEL = "已删除的用户"
# Audit details of her own actions may hold free text she typed (a leave reason …): dropped.
_FREE_TEXT_KEYS = frozenset({"reason", "note", "text", "content"})
# Columns the free-text pass must not touch: other people's own names (hers are handled directly).
_KEEP_COLUMNS = frozenset({
    ("members", "display_name"), ("members", "username"),
    ("users", "first_name"), ("users", "last_name"), ("users", "username"),
})
_WORD = "A-Za-z0-9_"


def member_label(member_id: int) -> str:
    return f"{LABEL_PREFIX}{member_id}"


# --- pure text scrubbing -------------------------------------------------------------------------


def _protected_spans(text: str, protected: Iterable[str]) -> list[tuple[int, int]]:
    spans = []
    for longer in protected:
        start = text.find(longer)
        while start != -1:
            spans.append((start, start + len(longer)))
            start = text.find(longer, start + 1)
    return spans


def replace_name(text: str, name: str, label: str, protected: Sequence[str] = ()) -> str:
    """Replace `name` by `label`, except inside a longer protected name (王芳 in 王芳芳)."""
    if not name or name not in text:
        return text
    spans = _protected_spans(text, [p for p in protected if name in p and p != name])
    out, i = [], 0
    while True:
        j = text.find(name, i)
        if j == -1:
            out.append(text[i:])
            break
        end = j + len(name)
        if any(a <= j and end <= b for a, b in spans):
            out.append(text[i:end])
        else:
            out.append(text[i:j] + label)
        i = end
    return "".join(out)


def replace_username(text: str, username: str, label: str) -> str:
    """Replace @username (or the bare word) case-insensitively, whole words only."""
    if not username:
        return text
    pattern = re.compile(rf"(?<![{_WORD}@])@?{re.escape(username)}(?![{_WORD}])", re.IGNORECASE)
    return pattern.sub(label, text)


@dataclass(frozen=True)
class Scrubber:
    """Rewrites text that mentions her: names and @usernames → the label; inside JSON, also
    numbers equal to her Telegram id → null (the JSON stays valid)."""

    names: tuple[str, ...]
    usernames: tuple[str, ...]
    label: str
    user_id: int | None = None
    protected: tuple[str, ...] = ()

    def text(self, value: str) -> str:
        for name in sorted(self.names, key=len, reverse=True):
            value = replace_name(value, name, self.label, self.protected)
        for username in self.usernames:
            value = replace_username(value, username, self.label)
        return value

    def walk(self, data: Any, drop: frozenset[str] = frozenset()) -> Any:
        if isinstance(data, str):
            return self.text(data)
        if isinstance(data, bool):
            return data
        if isinstance(data, int):
            return None if self.user_id is not None and data == self.user_id else data
        if isinstance(data, list):
            return [self.walk(v) for v in data]
        if isinstance(data, dict):
            return {k: self.walk(v) for k, v in data.items() if k not in drop}
        return data

    def value(self, value: Any, drop: frozenset[str] = frozenset()) -> Any:
        """A column value: JSON objects/arrays are rewritten structurally, other text plainly."""
        if not isinstance(value, str):
            return value
        if value[:1] in ("{", "["):
            try:
                parsed = json.loads(value)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict | list):
                fixed = self.walk(parsed, drop)
                return value if fixed == parsed else json.dumps(fixed, ensure_ascii=False)
        return self.text(value)


# --- use cases -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    subject: Subject
    names: tuple[str, ...]
    usernames: tuple[str, ...]
    orgs: tuple[str, ...]
    shown_as: str  # how the confirmation names her

    @property
    def id_text(self) -> str:
        if self.subject.user_id is not None:
            return str(self.subject.user_id)
        return "m" + "-".join(map(str, self.subject.member_ids))


@dataclass(frozen=True)
class Pending:
    token: str
    actor_id: int
    person: Person
    counts: Mapping[str, int]
    expires_at: datetime


@dataclass(frozen=True)
class Forgotten:
    person: Person
    counts: Mapping[str, int]
    labels: Mapping[int, str]
    rewritten: int


@dataclass
class PrivacyService:
    db: Database
    clock: Clock
    duty: DutyService
    super_admins: frozenset[int]
    pending: dict[str, Pending] = field(default_factory=dict)

    def _require_super(self, actor: Actor) -> None:
        if not actor.is_super_admin:
            raise Refusal("forget.not_super")

    # --- finding her ---------------------------------------------------------------------------

    async def find(self, *, user_id: int | None = None, username: str | None = None,
                   name: str | None = None) -> Person:
        async with self.db.read() as conn:
            return await self._find(conn, user_id=user_id, username=username, name=name)

    async def _find(self, conn: aiosqlite.Connection, *, user_id: int | None, username: str | None,
                    name: str | None) -> Person:
        shown = name or (f"@{username}" if username else str(user_id or ""))
        rows: list[dict[str, Any]] = []
        if user_id is None and username:
            ids = await store.user_ids_by_username(conn, username)
            if len(ids) == 1:
                user_id = ids[0]
            rows = await store.member_rows(conn, username=username)
            linked = {r["user_id"] for r in rows if r["user_id"] is not None}
            if user_id is None and len(linked) == 1:
                user_id = linked.pop()
        if user_id is None and name:
            rows = await store.member_rows(conn, display_name=name, active_only=True)
            if not rows:
                rows = await store.member_rows(conn, display_name=name)
            people = {r["user_id"] if r["user_id"] is not None else f"m{r['id']}" for r in rows}
            if len(people) > 1:
                raise Refusal("forget.ambiguous", who=name, orgs="、".join(sorted({r["org_name"] for r in rows})))
            linked = {r["user_id"] for r in rows if r["user_id"] is not None}
            if linked:
                user_id = linked.pop()
        if user_id is not None:
            rows = [*rows, *await store.member_rows(conn, user_id=user_id)]
            if user_id in self.super_admins:
                raise Refusal("forget.is_super_admin")
        user = await store.user_row(conn, user_id) if user_id is not None else None
        if user is not None and user.get("username"):
            rows = [*rows, *(r for r in await store.member_rows(conn, username=user["username"])
                             if r["user_id"] is None)]
        rows = [r for r in rows if not str(r["display_name"]).startswith(LABEL_PREFIX)]
        if not rows and user is None:
            raise Refusal("forget.not_found", who=shown)
        by_id = {r["id"]: r for r in rows}
        names = {str(r["display_name"]) for r in by_id.values()}
        usernames = {str(r["username"]) for r in by_id.values() if r["username"]}
        if user is not None:
            full = f"{user['first_name']} {user['last_name']}".strip()
            names.update(n for n in (full, str(user["first_name"])) if n)
            if user["username"]:
                usernames.add(str(user["username"]))
        names = {n for n in names if len(n) >= 2 and not n.isdigit()}
        member_ids = tuple(sorted(by_id))
        return Person(
            Subject(user_id, member_ids), tuple(sorted(names)), tuple(sorted(usernames)),
            tuple(sorted({str(r["org_name"]) for r in by_id.values()})),
            next((str(r["display_name"]) for r in by_id.values()), _profile_name(user) or shown),
        )

    async def _check_chairs(self, conn: aiosqlite.Connection, person: Person) -> None:
        for row in await store.members_by_ids(conn, person.subject.member_ids):
            if row["active"] and row["role"] == "chair" and await store.active_chairs(conn, row["org_id"]) <= 1:
                raise Refusal("forget.only_chair", org=row["org_name"], who=row["display_name"])

    # --- the two steps -------------------------------------------------------------------------

    async def prepare(self, actor: Actor, *, user_id: int | None = None, username: str | None = None,
                      name: str | None = None) -> Pending:
        """Find her, count what would be exported/deleted, and hold a confirmation token."""
        self._require_super(actor)
        now = self.clock.now()
        async with self.db.read() as conn:
            person = await self._find(conn, user_id=user_id, username=username, name=name)
            await self._check_chairs(conn, person)
            data = await store.collect(conn, person.subject)
        self.pending = {k: p for k, p in self.pending.items() if p.expires_at > now}
        token = secrets.token_urlsafe(9)
        found = Pending(token, actor.user_id, person, {k: len(v) for k, v in data.items()}, now + CONFIRM_TTL)
        self.pending[token] = found
        return found

    def take(self, actor: Actor, token: str, *, keep: bool = True) -> Pending:
        """The pending confirmation behind a button, if this super admin may press it."""
        self._require_super(actor)
        found = self.pending.get(token)
        if found is None or found.expires_at <= self.clock.now():
            self.pending.pop(token, None)
            raise Refusal("forget.expired")
        if found.actor_id != actor.user_id:
            raise Refusal("forget.not_yours")
        if not keep:
            del self.pending[token]
        return found

    def cancel(self, actor: Actor, token: str) -> Pending:
        return self.take(actor, token, keep=False)

    async def export(self, person: Person) -> dict[str, Any]:
        """Everything the bot holds about her, as a JSON-ready dict."""
        async with self.db.read() as conn:
            data = await store.collect(conn, person.subject)
        for rows in data.values():
            for row in rows:
                for key in ("body", "detail", "data"):
                    if isinstance(row.get(key), str):
                        with contextlib.suppress(ValueError):
                            row[key] = json.loads(row[key])
        return {
            "format": "zhiwei-personal-data/1",
            "exported_at": self.clock.now().isoformat(timespec="seconds"),
            "telegram_id": person.subject.user_id,
            "names": list(person.names),
            "usernames": list(person.usernames),
            "organisations": list(person.orgs),
            "data": data,
        }

    @staticmethod
    def export_bytes(exported: Mapping[str, Any]) -> bytes:
        return json.dumps(exported, ensure_ascii=False, indent=2, default=str).encode("utf-8")

    async def forget(self, actor: Actor, token: str) -> Forgotten:
        """Erase her data in one transaction (after the export was delivered)."""
        pending = self.take(actor, token, keep=False)
        person = pending.person
        now = self.clock.now()
        s = person.subject
        labels = {m: member_label(m) for m in s.member_ids}
        label = labels[s.member_ids[0]] if s.member_ids else NO_MEMBER_LABEL
        async with self.db.erasing(), self.db.transaction() as conn:  # no trace in the file or the WAL
            await self._check_chairs(conn, person)  # the roster may have changed since the preview
            counts = {k: len(v) for k, v in (await store.collect(conn, s)).items()}
            rows = await store.members_by_ids(conn, s.member_ids)
            for row in rows:
                if row["active"]:
                    await self.duty.drop_from_rotation(conn, row["org_id"], row["id"], actor.user_id, now)
            protected: list[str] = []
            for name in person.names:
                protected += await store.names_containing(conn, name, s.member_ids)
            scrub = Scrubber(person.names, person.usernames, label, s.user_id, tuple(protected))
            rewritten = 0
            if s.user_id is not None:
                # Her own audit rows: the action stays; free text she typed goes with her id.
                for entry in await store.audit_by_actor(conn, s.user_id):
                    fixed = scrub.value(entry[1], drop=_FREE_TEXT_KEYS)
                    if fixed != entry[1]:
                        await store.set_audit_detail(conn, entry[0], fixed)
                        rewritten += 1
            await store.erase(conn, s, labels, now)
            if s.user_id is not None:
                for row_id, detail in await store.audit_rows_with_number(conn, s.user_id):
                    fixed = scrub.value(detail)
                    if fixed != detail:
                        await store.set_audit_detail(conn, row_id, fixed)
                        rewritten += 1
                for row_id, body in await store.outbox_rows_with_number(conn, s.user_id):
                    fixed = scrub.value(body)
                    if fixed != body:
                        await store.set_outbox_body(conn, row_id, fixed)
                        rewritten += 1
            rewritten += await store.rewrite_mentions(
                conn, [*person.names, *person.usernames], scrub.value, _KEEP_COLUMNS
            )
            await audit.record(
                conn, rows[0]["org_id"] if len({r["org_id"] for r in rows}) == 1 else None, actor.user_id,
                "member.forget", now, member_ids=list(s.member_ids),
                counts={k: v for k, v in counts.items() if v}, rewritten=rewritten,
            )
        return Forgotten(person, counts, labels, rewritten)


def _profile_name(user: Mapping[str, Any] | None) -> str:
    """Her Telegram name, for someone on no roster (a village woman who asked questions)."""
    if user is None:
        return ""
    return f"{user['first_name']} {user['last_name']}".strip()
