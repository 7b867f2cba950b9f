"""Argument parsing shared by command handlers: who a command is about, and role words."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Message, MessageEntity
from telegram import User as TgUser

from handlers.common import message_text_after_command
from services.clean import simplified
from services.roster import ROLE_WORDS, Target
from storage.models import Role


@dataclass(frozen=True)
class TargetArgs:
    target: Target | None
    rest: list[str]
    tg_user: TgUser | None  # the Telegram user, when the update carried one (reply, text mention)


def extract_target(message: Message, body: str | None = None) -> TargetArgs:
    """A reply, a text mention, an @username or a roster name (the first word), then the rest.
    `body`: the arguments to read instead of the whole text after the command."""
    body = message_text_after_command(message) if body is None else body
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.forum_topic_created is None:
        user = replied.from_user
        return TargetArgs(Target(user_id=user.id, username=user.username), body.split(), user)
    if message.text:
        found = message.parse_entities([MessageEntity.TEXT_MENTION, MessageEntity.MENTION])
    else:
        found = message.parse_caption_entities([MessageEntity.TEXT_MENTION, MessageEntity.MENTION])
    for entity, value in sorted(found.items(), key=lambda item: item[0].offset):
        rest = body.replace(value, " ", 1).split()
        if entity.type == MessageEntity.TEXT_MENTION and entity.user is not None:
            user = entity.user
            return TargetArgs(Target(user_id=user.id, username=user.username), rest, user)
        if entity.type == MessageEntity.MENTION:
            return TargetArgs(Target(username=value.lstrip("@")), rest, None)
    words = body.split()
    if not words:
        return TargetArgs(None, [], None)
    first = words[0]
    if first.startswith("@") and len(first) > 1:
        return TargetArgs(Target(username=first[1:]), words[1:], None)
    return TargetArgs(Target(name=first), words[1:], None)


def split_role(words: list[str]) -> tuple[Role | None, list[str]]:
    """Pick the first role word out of `words`; return it and the other words."""
    for i, word in enumerate(words):
        role = ROLE_WORDS.get(word) or ROLE_WORDS.get(simplified(word))  # 執委 in Traditional too
        if role is not None:
            return role, words[:i] + words[i + 1 :]
    return None, words
