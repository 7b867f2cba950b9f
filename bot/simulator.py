"""Builds real Telegram `Update` objects for the shell and the tests: messages (with command and
@mention entities, UTF-16 offsets as Telegram sends them), button presses, group migrations."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

from telegram import Bot, Update

from services.clock import Clock

_MENTION = re.compile(r"@[A-Za-z][A-Za-z0-9_]{3,31}")


@dataclass(frozen=True)
class Persona:
    user_id: int
    first_name: str
    username: str | None = None
    last_name: str = ""

    def as_dict(self) -> dict[str, Any]:
        user: dict[str, Any] = {"id": self.user_id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            user["last_name"] = self.last_name
        if self.username:
            user["username"] = self.username
        return user


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def entities_for(text: str) -> list[dict[str, Any]]:
    """bot_command at the start and @mentions anywhere, with UTF-16 offsets."""
    entities = []
    if text.startswith("/"):
        command = text.split(maxsplit=1)[0]
        entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(command)})
    for match in _MENTION.finditer(text):
        if match.start() == 0 and text.startswith("/"):
            continue
        entities.append(
            {"type": "mention", "offset": utf16_len(text[: match.start()]), "length": utf16_len(match.group())}
        )
    return entities


class UpdateFactory:
    def __init__(self, bot: Bot, clock: Clock, chat_titles: dict[int, str] | None = None) -> None:
        self.bot = bot
        self.clock = clock
        self.chat_titles = chat_titles or {}
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(100000)

    def chat(self, chat_id: int, persona: Persona | None = None) -> dict[str, Any]:
        if chat_id > 0:
            first = persona.first_name if persona else str(chat_id)
            return {"id": chat_id, "type": "private", "first_name": first}
        return {"id": chat_id, "type": "supergroup", "title": self.chat_titles.get(chat_id, f"群 {chat_id}")}

    def message_dict(
        self,
        chat_id: int,
        persona: Persona,
        text: str,
        reply_to: dict[str, Any] | None = None,
        extra_entities: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(self.clock.now().timestamp()),
            "chat": self.chat(chat_id, persona),
            "from": persona.as_dict(),
            "text": text,
        }
        entities = entities_for(text) + (extra_entities or [])
        if entities:
            message["entities"] = sorted(entities, key=lambda e: int(e["offset"]))
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        return message

    def message(
        self,
        chat_id: int,
        persona: Persona,
        text: str,
        reply_to: dict[str, Any] | None = None,
        extra_entities: list[dict[str, Any]] | None = None,
    ) -> Update:
        data = {
            "update_id": next(self._update_ids),
            "message": self.message_dict(chat_id, persona, text, reply_to, extra_entities),
        }
        update = Update.de_json(data, self.bot)
        assert update is not None
        return update

    def callback(self, persona: Persona, message: dict[str, Any], data: str) -> Update:
        payload = {
            "update_id": next(self._update_ids),
            "callback_query": {
                "id": str(next(self._update_ids)),
                "from": persona.as_dict(),
                "chat_instance": str(message["chat"]["id"]),
                "message": message,
                "data": data,
            },
        }
        update = Update.de_json(payload, self.bot)
        assert update is not None
        return update

    def migration(self, old_chat_id: int, new_chat_id: int, persona: Persona) -> Update:
        message = {
            "message_id": next(self._message_ids),
            "date": int(self.clock.now().timestamp()),
            "chat": {"id": old_chat_id, "type": "group", "title": self.chat_titles.get(old_chat_id, "群")},
            "from": persona.as_dict(),
            "migrate_to_chat_id": new_chat_id,
        }
        update = Update.de_json({"update_id": next(self._update_ids), "message": message}, self.bot)
        assert update is not None
        return update
