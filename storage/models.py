"""Plain records returned by the repositories, and UTC time (de)serialisation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

Role = Literal["chair", "vice_chair", "member"]
ChatKind = Literal["work", "public"]
MANAGER_ROLES: frozenset[str] = frozenset({"chair", "vice_chair"})


def to_db(moment: datetime) -> str:
    """Aware datetime → UTC ISO text (sortable)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def from_db(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def date_from_db(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


@dataclass(frozen=True)
class Org:
    id: int
    name: str
    created_at: datetime
    created_by: int


@dataclass(frozen=True)
class ChatBinding:
    chat_id: int
    org_id: int
    kind: ChatKind
    title: str


@dataclass(frozen=True)
class User:
    user_id: int
    username: str | None
    first_name: str
    last_name: str
    lang: str | None
    last_org_id: int | None

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or (self.username or str(self.user_id))


@dataclass(frozen=True)
class Member:
    id: int
    org_id: int
    user_id: int | None
    username: str | None
    display_name: str
    role: Role
    newly_elected: bool
    elected_on: date | None
    active: bool

    @property
    def is_manager(self) -> bool:
        return self.role in MANAGER_ROLES


@dataclass(frozen=True)
class JoinRequest:
    id: int
    org_id: int
    user_id: int
    display_name: str
    status: str


@dataclass(frozen=True)
class AuditEntry:
    id: int
    org_id: int | None
    actor_id: int | None
    action: str
    detail: str
    at: datetime
