"""An in-process stand-in for the Telegram Bot API, plugged into PTB as its request class.

The shell and the handler tests use it: nothing touches the network, every call is recorded, and
answers are shaped like Telegram's so PTB parses them into real objects.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from telegram.request import BaseRequest, RequestData

from services.clock import Clock
from storage.db import writing_now


@dataclass
class ApiCall:
    method: str
    params: dict[str, Any]
    result: Any = None
    files: dict[str, bytes] = field(default_factory=dict)
    filenames: dict[str, str] = field(default_factory=dict)

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        return int(value) if value is not None else None

    @property
    def text(self) -> str:
        return str(self.params.get("text") or self.params.get("caption") or "")


Listener = Callable[[ApiCall], None]
_SENDS = {"sendMessage", "sendDocument", "sendPhoto"}
_EDITS = {"editMessageText", "editMessageReplyMarkup", "editMessageCaption"}


class FakeBotApi(BaseRequest):
    def __init__(self, clock: Clock, bot_id: int = 999000, bot_username: str = "zhiwei_helper_bot") -> None:
        self.clock = clock
        self.bot_user = {"id": bot_id, "is_bot": True, "first_name": "执委助手", "username": bot_username}
        self.calls: list[ApiCall] = []
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.chat_titles: dict[int, str] = {}
        self.chat_admins: dict[int, set[int]] = {}
        self.unreachable: set[int] = set()
        self.files: dict[str, bytes] = {}  # file_id → content, served by getFile + download
        self.listeners: list[Listener] = []
        self.unit_violations: list[str] = []  # API calls made while a unit of work held the writer
        self.failing_sends = 0  # the next this many sends answer 502 Bad Gateway (fault injection)
        self._next_id: dict[int, int] = {}

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    # --- helpers for tests and the shell --------------------------------------------------------

    def sent(self, chat_id: int | None = None) -> list[ApiCall]:
        """sendMessage/sendDocument/sendPhoto calls, optionally to one chat."""
        return [c for c in self.calls if c.method in _SENDS and (chat_id is None or c.chat_id == chat_id)]

    def texts(self, chat_id: int | None = None) -> list[str]:
        return [c.text for c in self.sent(chat_id)]

    def clear(self) -> None:
        self.calls.clear()

    def chat_dict(self, chat_id: int) -> dict[str, Any]:
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": self.chat_titles.get(chat_id, str(chat_id))}
        return {"id": chat_id, "type": "supergroup", "title": self.chat_titles.get(chat_id, f"群 {chat_id}")}

    def store_message(self, chat_id: int, payload: dict[str, Any]) -> dict[str, Any]:
        message_id = self._next_id.get(chat_id, 0) + 1
        self._next_id[chat_id] = message_id
        message = {
            "message_id": message_id,
            "date": int(self.clock.now().timestamp()),
            "chat": self.chat_dict(chat_id),
            **payload,
        }
        self.messages[(chat_id, message_id)] = message
        return message

    # --- the request implementation -----------------------------------------------------------

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        if writing_now():  # a network call while a command holds the writer would stall every other write
            self.unit_violations.append(url.rsplit("/", 1)[-1])
            raise AssertionError(f"{url.rsplit('/', 1)[-1]} called inside an open unit of work: commit_changes() first")
        if "/file/bot" in url:
            stored = self.files.get(url.rsplit("/", 1)[-1])
            return (200, stored) if stored is not None else (404, _error(404, "Not Found"))
        api_method = url.rsplit("/", 1)[-1]
        params: dict[str, Any] = dict(request_data.parameters) if request_data else {}
        files: dict[str, bytes] = {}
        filenames: dict[str, str] = {}
        if request_data is not None and request_data.contains_files:
            for name, part in request_data.multipart_data.items():
                content = part[1] if isinstance(part, tuple) else part
                if isinstance(content, bytes):
                    files[name] = content
                    if isinstance(part, tuple) and isinstance(part[0], str):
                        filenames[name] = part[0]
        call = ApiCall(api_method, params, files=files, filenames=filenames)
        chat_id = call.chat_id
        if api_method in _SENDS and self.failing_sends > 0:
            self.failing_sends -= 1
            call.result = "502"
            self.calls.append(call)
            return 502, _error(502, "Bad Gateway")
        if chat_id is not None and chat_id in self.unreachable:
            self.calls.append(call)
            return 403, _error(403, "Forbidden: bot was blocked by the user")
        try:
            result = self._answer(api_method, params)
        except LookupError as exc:
            self.calls.append(call)
            return 400, _error(400, f"Bad Request: {exc}")
        call.result = result
        self.calls.append(call)
        for listener in self.listeners:
            listener(call)
        return 200, json.dumps({"ok": True, "result": result}).encode()

    def _answer(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return self.bot_user
        if method in _SENDS:
            payload: dict[str, Any] = {"from": self.bot_user}
            if method == "sendMessage":
                payload["text"] = params.get("text", "")
            else:
                payload["caption"] = params.get("caption", "")
                if method == "sendDocument":
                    payload["document"] = {"file_id": "doc", "file_unique_id": "doc", "file_name": "file"}
                else:
                    payload["photo"] = [{"file_id": "photo", "file_unique_id": "photo", "width": 1, "height": 1}]
            markup = params.get("reply_markup")
            if isinstance(markup, dict) and "inline_keyboard" in markup:  # Telegram echoes only inline ones
                payload["reply_markup"] = markup
            return self.store_message(int(params["chat_id"]), payload)
        if method in _EDITS:
            key = (int(params["chat_id"]), int(params["message_id"]))
            if key not in self.messages:
                raise LookupError("message to edit not found")
            message = self.messages[key]
            if "text" in params:
                message["text"] = params["text"]
            if "caption" in params:
                message["caption"] = params["caption"]
            if params.get("reply_markup"):
                message["reply_markup"] = params["reply_markup"]
            else:
                message.pop("reply_markup", None)
            return message
        if method == "getChatMember":
            chat_id, user_id = int(params["chat_id"]), int(params["user_id"])
            user = {"id": user_id, "is_bot": False, "first_name": str(user_id)}
            if user_id in self.chat_admins.get(chat_id, set()):
                return {"status": "creator", "user": user, "is_anonymous": False}
            return {"status": "member", "user": user}
        if method == "getFile":
            file_id = str(params["file_id"])
            if file_id not in self.files:
                raise LookupError("wrong file_id")
            return {"file_id": file_id, "file_unique_id": file_id, "file_size": len(self.files[file_id]),
                    "file_path": file_id}
        if method == "getChat":
            return self.chat_dict(int(params["chat_id"]))
        if method in {"getMyCommands"}:
            return []
        return True


def _error(code: int, description: str) -> bytes:
    return json.dumps({"ok": False, "error_code": code, "description": description}).encode()
