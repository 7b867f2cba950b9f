"""A local stand-in for the Telegram Bot API, for end-to-end tests (standard library only).

Start it, point the bot at it with ``TELEGRAM_BASE_URL=stub.base_url`` (the bot must build its
PTB ``Bot`` with ``base_url=f"{url}/bot"`` and ``base_file_url=f"{url}/file/bot"``), feed it updates
with :meth:`BotApiStub.push_update` and look at what the bot called with :attr:`BotApiStub.calls`,
:meth:`BotApiStub.wait_for` and :meth:`BotApiStub.sent_messages`.

How PTB 22.x (``HTTPXRequest``) encodes a request, and how this stub decodes it:

* Every Bot method is a ``POST /bot<token>/<method>``.
* Without files the body is ``application/x-www-form-urlencoded``.  Each value is sent as-is when
  it is a ``str`` and ``json.dumps``-ed otherwise (ints, bools, lists, TelegramObjects via
  ``to_dict()``, datetimes as unix timestamps, timedeltas as seconds).  ``None`` values are left out.
  So ``text="123"`` and ``chat_id=123`` look alike on the wire; the stub decodes per field:
  fields known to be strings (:data:`STRING_FIELDS`) stay strings, everything else is JSON-decoded
  when it parses as a non-string JSON value and kept as the raw string otherwise (``"@channel"``).
* With files the body is ``multipart/form-data``: the same string values become plain parts and
  every file is a part with a filename.  A file passed directly (``document=...``) is a part named
  like the parameter and the parameter itself is not sent; files referenced from JSON (thumbnails,
  media groups) are parts named ``attached<hex>`` and the JSON says ``attach://attached<hex>``.
  Uploaded files appear in ``ApiCall.files`` and, under their part name, in ``ApiCall.params``
  as :class:`UploadedFile`.

Like Telegram, the stub also answers ``parse_mode="HTML"`` texts by parsing them (400 "can't parse
entities" for bad markup, tags stripped and ``entities`` returned otherwise), rejects texts over
4096 / captions over 1024 characters, callback_data over 64 bytes, and "message is not modified"
edits.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

JSONDict = dict[str, Any]
FaultKind = Literal["429", "500", "slow", "cut"]

__all__ = [
    "STRING_FIELDS",
    "ApiCall",
    "BotApiStub",
    "UploadedFile",
    "make_callback_update",
    "make_chat",
    "make_message_update",
    "make_user",
]

#: Parameters whose value PTB sends as a plain (not JSON-encoded) string.  They are never decoded,
#: so a text of ``"123"`` or ``"true"`` stays a string.
STRING_FIELDS = frozenset(
    {
        "action", "address", "animation", "audio", "business_connection_id", "callback_query_id",
        "caption", "currency", "custom_title", "description", "document", "emoji", "error_message",
        "explanation", "explanation_parse_mode", "file_id", "first_name", "format", "foursquare_id",
        "foursquare_type", "game_short_name", "gift_id", "google_place_id", "google_place_type",
        "inline_message_id", "inline_query_id", "invite_link", "ip_address", "language_code",
        "last_name", "message_effect_id", "name", "next_offset", "parse_mode", "payload",
        "phone_number", "photo", "png_sticker", "pre_checkout_query_id", "provider_data",
        "provider_token", "query", "question", "question_parse_mode", "secret_token",
        "shipping_query_id", "short_description", "start_parameter", "sticker", "text",
        "text_parse_mode", "thumbnail", "title", "url", "vcard", "video", "video_note", "voice",
    }
)  # fmt: skip

#: Parameters that PTB JSON-encodes (documentation; unknown non-string fields are decoded too).
JSON_FIELDS = frozenset(
    {
        "allow_sending_without_reply", "allowed_updates", "cache_time", "caption_entities",
        "chat_id", "commands", "disable_notification", "disable_web_page_preview",
        "drop_pending_updates", "entities", "from_chat_id", "limit", "link_preview_options",
        "media", "message_id", "message_ids", "message_thread_id", "offset", "permissions",
        "protect_content", "reply_markup", "reply_parameters", "reply_to_message_id", "scope",
        "show_alert", "timeout", "until_date", "user_id",
    }
)  # fmt: skip

CHAT_MEMBER_STATUSES = ("creator", "administrator", "member", "restricted", "left", "kicked")
MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
# Telegram's default when allowed_updates was never set.
_DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_TRUE_METHODS = frozenset(
    m.lower()
    for m in (
        "deleteWebhook", "setWebhook", "setMyCommands", "deleteMyCommands", "answerCallbackQuery",
        "leaveChat", "sendChatAction", "deleteMessage", "deleteMessages", "pinChatMessage",
        "unpinChatMessage", "unpinAllChatMessages", "setChatMenuButton", "setMyDescription",
        "setMyShortDescription", "setMyName", "setMyDefaultAdministratorRights", "answerInlineQuery",
        "banChatMember", "unbanChatMember", "restrictChatMember", "approveChatJoinRequest",
        "declineChatJoinRequest", "setMessageReaction", "close", "logOut",
    )
)  # fmt: skip


@dataclass(frozen=True)
class UploadedFile:
    """One file part of a multipart request."""

    part_name: str
    filename: str
    content_type: str
    data: bytes


@dataclass(eq=False)
class ApiCall:
    """One request the bot made.  ``status``/``response`` are filled in once it was answered."""

    method: str
    params: JSONDict
    time: float
    files: dict[str, UploadedFile] = field(default_factory=dict)
    status: int | None = None
    response: JSONDict | None = None
    token_ok: bool = True
    _recorded: bool = field(default=False, repr=False)

    @property
    def result(self) -> Any:
        return None if self.response is None else self.response.get("result")

    def summary(self, width: int = 200) -> str:
        shown = {k: (f"<file {v.filename}>" if isinstance(v, UploadedFile) else v)
                 for k, v in self.params.items()}  # fmt: skip
        text = json.dumps(shown, ensure_ascii=False, default=str)
        if len(text) > width:
            text = text[: width - 3] + "..."
        return f"{self.method} -> {self.status} {text}"


class _CutConnection(Exception):
    """The request was carried out, then the connection dropped before the answer went back."""


class _ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: JSONDict | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def payload(self) -> JSONDict:
        body: JSONDict = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad_request(description: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {description}")


@dataclass
class _Fault:
    kind: FaultKind
    remaining: int
    retry_after: int
    delay: float


# --------------------------------------------------------------------------------------------
# Builders


_builder_message_ids = itertools.count(1_000_000)  # far from the stub's own per-chat ids
_builder_callback_ids = itertools.count(1)
_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]+(?:@[A-Za-z0-9_]+)?")


_LIMITED_METHODS = frozenset({"sendmessage", "senddocument", "sendphoto"})


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def make_user(id: int, first_name: str, username: str | None = None, *, language_code: str | None = None) -> JSONDict:
    user: JSONDict = {"id": id, "is_bot": False, "first_name": first_name}
    if username is not None:
        user["username"] = username
    if language_code is not None:
        user["language_code"] = language_code
    return user


def make_chat(id: int, title: str | None = None) -> JSONDict:
    """A Chat dict: ids <= -10**12 (``-100…`` + 10 digits) are supergroups, other negative ids
    basic groups, positive ids private chats (``title`` is then the first name)."""
    if id < 0:
        kind = "supergroup" if id <= -1_000_000_000_000 else "group"
        return {"id": id, "type": kind, "title": title or f"Test group {id}"}
    return {"id": id, "type": "private", "first_name": title or f"User {id}"}


def make_message_update(
    chat: JSONDict,
    user: JSONDict,
    text: str,
    entities: list[JSONDict] | None = None,
    reply_to: JSONDict | None = None,
    *,
    message_id: int | None = None,
    extra: JSONDict | None = None,
) -> JSONDict:
    """An Update with a text message.  A leading ``/command`` gets a bot_command entity unless
    ``entities`` is given.  ``extra`` is merged into the message (e.g. ``{"document": ...}``)."""
    message: JSONDict = {
        "message_id": next(_builder_message_ids) if message_id is None else message_id,
        "date": int(time.time()),
        "chat": chat,
        "from": user,
        "text": text,
    }
    if entities is None:
        match = _COMMAND_RE.match(text)
        if match:
            entities = [{"type": "bot_command", "offset": 0, "length": utf16_len(match.group())}]
    if entities:
        message["entities"] = entities
    if reply_to is not None:
        message["reply_to_message"] = reply_to
    if extra:
        message.update(extra)
    return {"message": message}


def make_callback_update(user: JSONDict, message: JSONDict, data: str) -> JSONDict:
    """An Update for a press on an inline button of ``message`` (e.g. from ``sent_messages()``)."""
    number = next(_builder_callback_ids)
    return {
        "callback_query": {
            "id": str(9_000_000 + number),
            "from": user,
            "message": message,
            "chat_instance": str(abs(int(message["chat"]["id"]))),
            "data": data,
        }
    }


# --------------------------------------------------------------------------------------------
# Request decoding


def decode_param(name: str, raw: str) -> Any:
    """Undo PTB's encoding of one form value (see module docstring)."""
    if name in STRING_FIELDS or raw.startswith("attach://"):
        return raw

    def _no_constants(token: str) -> Any:
        raise ValueError(token)

    try:
        value = json.loads(raw, parse_constant=_no_constants)
    except ValueError:
        return raw
    return raw if isinstance(value, str) else value


_PART_PARAM_RE = re.compile(r';\s*([A-Za-z0-9_*-]+)="((?:[^"\\]|\\.)*)"|;\s*([A-Za-z0-9_*-]+)=([^;\s]+)')
_HTML5_ESCAPE_RE = re.compile(r"%(22|[01][0-9A-Fa-f])")


def _disposition_params(header: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for match in _PART_PARAM_RE.finditer(header):
        key = (match.group(1) or match.group(3)).lower()
        value = match.group(2) if match.group(1) else match.group(4)
        if key.endswith("*"):  # RFC 5987: utf-8''percent-encoded
            _, _, encoded = value.partition("''")
            params[key[:-1]] = unquote(encoded)
            continue
        # httpx uses HTML5 form encoding: '"' -> %22, control chars -> %XX, '\' -> '\\'
        value = _HTML5_ESCAPE_RE.sub(lambda m: chr(int(m.group(1), 16)), value).replace("\\\\", "\\")
        params.setdefault(key, value)
    return params


def parse_multipart(body: bytes, boundary: str) -> tuple[dict[str, str], dict[str, UploadedFile]]:
    fields: dict[str, str] = {}
    files: dict[str, UploadedFile] = {}
    delimiter = b"--" + boundary.encode("latin-1")
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk.removeprefix(b"\r\n").removesuffix(b"\r\n")
        head, _, content = chunk.partition(b"\r\n\r\n")
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, sep, value = line.partition(":")
            if sep:
                headers[key.strip().lower()] = value.strip()
        params = _disposition_params(headers.get("content-disposition", ""))
        name = params.get("name", "")
        if "filename" in params:
            files[name] = UploadedFile(
                name, params["filename"], headers.get("content-type", "application/octet-stream"), content
            )
        else:
            fields[name] = content.decode("utf-8")
    return fields, files


# --------------------------------------------------------------------------------------------
# Telegram HTML


_HTML_TAGS = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "tg-spoiler": "spoiler", "span": "spoiler", "a": "text_link", "code": "code", "pre": "pre",
    "blockquote": "blockquote", "tg-emoji": "custom_emoji",
}  # fmt: skip
_HTML_ENTITY_RE = re.compile(r"&(lt|gt|amp|quot|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});")
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ATTR_NAME_RE = re.compile(r"[A-Za-z0-9_-]+")


def parse_html(source: str) -> tuple[str, list[JSONDict]]:
    """Parse Telegram-flavoured HTML like the Bot API: returns (plain text, entities) or raises
    a 400 "can't parse entities" error for markup Telegram rejects."""

    def fail(reason: str) -> _ApiError:
        return _bad_request(f"can't parse entities: {reason}")

    def byte_offset(index: int) -> int:
        return len(source[:index].encode("utf-8"))

    out: list[str] = []
    length = 0
    stack: list[tuple[str, int, dict[str, str]]] = []
    entities: list[JSONDict] = []
    pre_language: dict[int, str] = {}
    i, n = 0, len(source)
    while i < n:
        char = source[i]
        if char == "&":
            match = _HTML_ENTITY_RE.match(source, i)
            if match:
                ref = match.group(1)
                if ref.startswith("#"):
                    code = int(ref[2:], 16) if ref[1] in "xX" else int(ref[1:])
                    decoded = chr(code) if 0 < code <= 0x10FFFF else "\ufffd"
                else:
                    decoded = _NAMED_ENTITIES[ref]
                out.append(decoded)
                length += utf16_len(decoded)
                i = match.end()
                continue
        if char != "<":
            out.append(char)
            length += utf16_len(char)
            i += 1
            continue
        begin = byte_offset(i)
        if source.startswith("</", i):
            end = source.find(">", i)
            if end < 0:
                raise fail(f"Unclosed end tag at byte offset {begin}")
            name = source[i + 2 : end].strip().lower()
            if not stack:
                raise fail(f"Unexpected end tag at byte offset {begin}")
            open_name, start, attrs = stack.pop()
            if name != open_name:
                raise fail(f'Unmatched end tag at byte offset {begin}, expected "</{open_name}>", found "</{name}>"')
            entity: JSONDict = {"type": _HTML_TAGS[name], "offset": start, "length": length - start}
            if name == "a":
                entity["url"] = attrs.get("href", "")
            elif name == "tg-emoji":
                entity["custom_emoji_id"] = attrs.get("emoji-id", "")
            language = attrs.get("class", "")
            if name == "code" and stack and stack[-1][0] == "pre" and language.startswith("language-"):
                pre_language[stack[-1][1]] = language.removeprefix("language-")
            elif entity["length"] > 0 and not (name == "a" and not entity["url"]):
                entities.append(entity)
            i = end + 1
            continue
        j = i + 1
        while j < n and not source[j].isspace() and source[j] != ">":
            j += 1
        if j >= n:
            raise fail(f"Unclosed start tag at byte offset {begin}")
        name = source[i + 1 : j].lower()
        if name not in _HTML_TAGS:
            raise fail(f'Unsupported start tag "{name}" at byte offset {begin}')
        attrs = {}
        while True:
            while j < n and source[j].isspace():
                j += 1
            if j >= n:
                raise fail(f'Unclosed start tag "{name}" at byte offset {begin}')
            if source[j] == ">":
                break
            match = _ATTR_NAME_RE.match(source, j)
            if not match:
                raise fail(f'Empty attribute name in the tag "{name}" at byte offset {byte_offset(j)}')
            attr, j = match.group().lower(), match.end()
            value = ""
            if j < n and source[j] == "=":
                j += 1
                if j < n and source[j] in "\"'":
                    close = source.find(source[j], j + 1)
                    if close < 0:
                        raise fail(f'Unclosed start tag "{name}" at byte offset {begin}')
                    value, j = source[j + 1 : close], close + 1
                else:
                    k = j
                    while k < n and not source[k].isspace() and source[k] != ">":
                        k += 1
                    value, j = source[j:k], k
                value = _HTML_ENTITY_RE.sub(lambda m: parse_html(m.group())[0], value)
            attrs[attr] = value
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise fail(f'Tag "span" must have class "tg-spoiler" at byte offset {begin}')
        stack.append((name, length, attrs))
        i = j + 1
    if stack:
        raise fail(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    for entity in entities:
        if entity["type"] == "pre" and entity["offset"] in pre_language:
            entity["language"] = pre_language[entity["offset"]]
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


# --------------------------------------------------------------------------------------------
# The stub


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    stub: BotApiStub


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def setup(self) -> None:
        super().setup()
        self.server.stub._track_connection(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.stub._track_connection(self.connection, add=False)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(body)
                body += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _handle(self) -> None:
        try:
            body = self._read_body()
            status, payload, content_type = self.server.stub._handle_http(
                self.command, self.path, self.headers.get("Content-Type", ""), body
            )
        except _CutConnection:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, OSError):
            self.close_connection = True
            return
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, OSError):
            self.close_connection = True


class BotApiStub:
    """A fake Bot API server on ``127.0.0.1:<free port>`` (bound at construction)."""

    def __init__(self, token: str, bot_username: str = "zhiwei_test_bot", bot_id: int = 999000,
                 enforce_limits: bool = False) -> None:
        self.token = token
        #: Like Telegram: more than 30 sends in a second, 20 a minute into one group or one a second
        #: into one private chat is answered 429 with retry_after (and counted in limit_violations).
        self.enforce_limits = enforce_limits
        self.limit_violations = 0
        #: Seconds every answer is held back (a network round trip; the request arrives at once).
        self.latency = 0.0
        self._accepted_sends: list[tuple[float, int]] = []  # (time, chat_id) of every accepted send
        self.bot_user: JSONDict = {
            "id": bot_id,
            "is_bot": True,
            "first_name": "执委助手 (test)",
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self._cond = threading.Condition(threading.RLock())
        self._calls: list[ApiCall] = []
        self._updates: list[JSONDict] = []  # pending, ascending update_id
        self._last_update_id = 0
        self._allowed_updates: list[str] = []
        self._webhook_url = ""
        self._chats: dict[int, JSONDict] = {}
        self._users: dict[int, JSONDict] = {bot_id: self._public_bot_user()}
        self._next_message_id: dict[int, int] = {}
        self._messages: dict[tuple[int, int], JSONDict] = {}
        self._sent: list[JSONDict] = []
        self._member_status: dict[tuple[int, int], str] = {}
        self._member_rights: dict[tuple[int, int], JSONDict] = {}
        self._gone_chats: set[int] = set()
        self._webhook_error = ""
        self._commands: dict[str, list[JSONDict]] = {}
        self._files: dict[str, tuple[str, UploadedFile]] = {}  # file_id -> (file_path, file)
        self._file_counter = itertools.count(1)
        self._faults: dict[str, list[_Fault]] = {}
        self._down_until = 0.0
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.stub = self
        self.port: int = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="botapi-stub", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving: pending long polls return at once and open connections are closed."""
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
            self._thread = None
        with self._cond:
            connections = list(self._connections)
        time.sleep(0.05)  # let woken long polls write their (empty) answer
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._server.server_close()

    def __enter__(self) -> BotApiStub:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ---- test-facing API -------------------------------------------------------------------

    @property
    def calls(self) -> list[ApiCall]:
        """A snapshot of every request so far, in the order they were answered (``getUpdates``:
        in the order received)."""
        with self._cond:
            return list(self._calls)

    def mark(self) -> int:
        """The current number of calls, for ``wait_for(..., after=stub.mark())``."""
        with self._cond:
            return len(self._calls)

    def calls_to(self, method: str) -> list[ApiCall]:
        return [c for c in self.calls if c.method.lower() == method.lower()]

    def push_update(self, update: JSONDict) -> int:
        update = copy.deepcopy(update)
        with self._cond:
            if "update_id" not in update:
                update["update_id"] = self._last_update_id + 1
            update_id = int(update["update_id"])
            self._last_update_id = max(self._last_update_id, update_id)
            self._learn(update)
            self._updates.append(update)
            self._updates.sort(key=lambda u: int(u["update_id"]))
            self._cond.notify_all()
        return update_id

    def pending_updates(self) -> list[JSONDict]:
        """Updates not yet confirmed by the bot (via a later ``offset``)."""
        with self._cond:
            return copy.deepcopy(self._updates)

    def sent_messages(self, chat_id: int | None = None) -> list[JSONDict]:
        with self._cond:
            return [copy.deepcopy(m) for m in self._sent if chat_id is None or m["chat"]["id"] == chat_id]

    def wait_for(self, predicate: Callable[[ApiCall], bool], timeout: float = 10.0, after: int = 0) -> ApiCall:
        deadline = time.monotonic() + timeout
        index = after
        while True:
            with self._cond:
                fresh = self._calls[index:]
                index = max(index, len(self._calls))
            for call in fresh:
                if predicate(call):
                    return call
            with self._cond:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    recent = self._calls[after:][-20:]
                    first = len(self._calls) - len(recent)
                    lines = [f"  #{first + k} {c.summary()}" for k, c in enumerate(recent)]
                    raise AssertionError(
                        f"no matching Bot API call within {timeout}s (after #{after}); recent calls:\n"
                        + ("\n".join(lines) or "  (none)")
                    )
                if len(self._calls) <= index:
                    self._cond.wait(remaining)

    def set_chat_member_status(self, chat_id: int, user_id: int, status: str) -> None:
        if status not in CHAT_MEMBER_STATUSES:
            raise ValueError(f"status must be one of {CHAT_MEMBER_STATUSES}, not {status!r}")
        with self._cond:
            self._member_status[(chat_id, user_id)] = status

    def set_privacy(self, enabled: bool) -> None:
        """BotFather's /setprivacy: with privacy on, getMe says can_read_all_group_messages=false."""
        with self._cond:
            self.bot_user["can_read_all_group_messages"] = not enabled

    def set_chat_member_rights(self, chat_id: int, user_id: int, **rights: bool) -> None:
        """Override single rights of a member's ChatMember (e.g. ``can_pin_messages=False`` for an
        administrator, ``can_send_messages=False`` for a restricted member)."""
        with self._cond:
            self._member_rights.setdefault((chat_id, user_id), {}).update(rights)

    def remove_chat(self, chat_id: int) -> None:
        """The group is gone for the bot (deleted, or the bot was never added): getChat and
        getChatMember answer 400 "chat not found", sends too."""
        with self._cond:
            self._gone_chats.add(chat_id)

    def set_webhook_error(self, message: str) -> None:
        """getWebhookInfo reports this as the last delivery error (empty: none)."""
        with self._cond:
            self._webhook_error = message

    def inject_fault(
        self, method: str, kind: FaultKind, count: int = 1, retry_after: int = 1, delay: float = 2.0
    ) -> None:
        """Make the next ``count`` calls of ``method`` (``"*"``: any method) fail, be slow (answered
        ``delay`` seconds late), or be cut (carried out, then the connection drops unanswered)."""
        if kind not in ("429", "500", "slow", "cut"):
            raise ValueError(f"unknown fault kind {kind!r}")
        with self._cond:
            self._faults.setdefault(method.lower(), []).append(_Fault(kind, count, retry_after, delay))

    def clear_faults(self) -> None:
        """Forget every fault still waiting to be injected."""
        with self._cond:
            self._faults.clear()

    def outage(self, seconds: float) -> None:
        """Telegram unreachable for ``seconds`` from now: every request is answered 502 Bad Gateway (as
        a proxy in front of a dead server would) and nothing is carried out."""
        with self._cond:
            self._down_until = time.monotonic() + seconds

    def add_file(
        self, content: bytes, file_name: str = "file.bin", mime_type: str = "application/octet-stream"
    ) -> JSONDict:
        """Store a file as if a user had uploaded it; returns a Document dict to put in a message
        (``make_message_update(..., extra={"document": doc})``).  ``getFile`` + download work."""
        with self._cond:
            return self._store_file(UploadedFile("document", file_name, mime_type, content), "documents")

    # ---- internals: bookkeeping ------------------------------------------------------------

    def _public_bot_user(self) -> JSONDict:
        return {k: self.bot_user[k] for k in ("id", "is_bot", "first_name", "username")}

    def _track_connection(self, conn: socket.socket, add: bool) -> None:
        with self._cond:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _learn(self, obj: Any) -> None:
        """Remember chats, users and messages mentioned in a pushed update."""
        if isinstance(obj, list):
            for item in obj:
                self._learn(item)
            return
        if not isinstance(obj, dict):
            return
        chat = obj.get("chat")
        if isinstance(chat, dict) and isinstance(chat.get("id"), int):
            self._chats.setdefault(chat["id"], copy.deepcopy(chat))
            message_id = obj.get("message_id")
            if isinstance(message_id, int) and "date" in obj:
                # keep the stub's own (possibly edited) version of a message the test quotes back
                self._messages.setdefault((chat["id"], message_id), copy.deepcopy(obj))
                if message_id < 1_000_000:  # ids in the stub's own range: don't collide later
                    current = self._next_message_id.get(chat["id"], 1)
                    self._next_message_id[chat["id"]] = max(current, message_id + 1)
        user = obj.get("from")
        if isinstance(user, dict) and isinstance(user.get("id"), int):
            self._users.setdefault(user["id"], copy.deepcopy(user))
        for value in obj.values():
            self._learn(value)

    def _chat(self, chat_id: Any) -> JSONDict:
        if isinstance(chat_id, str):
            if chat_id.startswith("@"):
                for chat in self._chats.values():
                    if chat.get("username") == chat_id[1:]:
                        return copy.deepcopy(chat)
                fake_id = -1_000_000_000_000 - len(self._chats) - 1
                chat = {"id": fake_id, "type": "channel", "title": chat_id[1:], "username": chat_id[1:]}
                self._chats[fake_id] = chat
                return copy.deepcopy(chat)
            try:
                chat_id = int(chat_id)
            except ValueError:
                raise _bad_request("chat not found") from None
        if not isinstance(chat_id, int) or chat_id == 0 or chat_id in self._gone_chats:
            raise _bad_request("chat not found")
        if chat_id not in self._chats:
            self._chats[chat_id] = make_chat(chat_id)
        return copy.deepcopy(self._chats[chat_id])

    def _user(self, user_id: int) -> JSONDict:
        return copy.deepcopy(self._users.get(user_id) or make_user(user_id, f"User {user_id}"))

    def _new_message(self, params: JSONDict, content: JSONDict) -> JSONDict:
        chat = self._chat(params.get("chat_id"))
        message_id = self._next_message_id.get(chat["id"], 1)
        self._next_message_id[chat["id"]] = message_id + 1
        message: JSONDict = {
            "message_id": message_id,
            "from": self._public_bot_user(),
            "date": int(time.time()),
            "chat": chat,
        }
        if isinstance(params.get("message_thread_id"), int):
            message["message_thread_id"] = params["message_thread_id"]
        reply = params.get("reply_parameters")
        reply_id = reply.get("message_id") if isinstance(reply, dict) else params.get("reply_to_message_id")
        replied = self._messages.get((chat["id"], reply_id)) if isinstance(reply_id, int) else None
        if replied is not None:
            message["reply_to_message"] = {k: v for k, v in replied.items() if k != "reply_to_message"}
        message.update(content)
        self._store_sent(message)
        return message

    def _store_sent(self, message: JSONDict) -> None:
        self._messages[(message["chat"]["id"], message["message_id"])] = copy.deepcopy(message)
        self._sent.append(copy.deepcopy(message))

    def _store_file(self, upload: UploadedFile, folder: str) -> JSONDict:
        number = next(self._file_counter)
        file_id = f"STUBFILE{number:06d}"
        suffix = upload.filename.rsplit(".", 1)[-1] if "." in upload.filename else "bin"
        self._files[file_id] = (f"{folder}/file_{number}.{suffix}", upload)
        return {
            "file_id": file_id,
            "file_unique_id": f"U{number:06d}",
            "file_name": upload.filename,
            "mime_type": upload.content_type,
            "file_size": len(upload.data),
        }

    # ---- internals: HTTP -------------------------------------------------------------------

    def _handle_http(self, command: str, path: str, content_type: str, body: bytes) -> tuple[int, bytes, str]:
        url = urlsplit(path)
        path = unquote(url.path)  # PTB percent-encodes file URLs (the ':' of the token too)
        file_match = re.fullmatch(r"/file/bot([^/]+)/(.+)", path)
        if file_match:
            return self._download(file_match.group(1), file_match.group(2))
        match = re.fullmatch(r"/bot([^/]+)/([A-Za-z0-9_]+)/?", path)
        if not match:
            return self._json(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        token, method = match.group(1), match.group(2)
        received = time.time()
        try:
            params, files = self._decode(url.query, content_type, body)
        except ValueError as exc:  # includes UnicodeDecodeError and json.JSONDecodeError
            error = _bad_request(f"stub could not decode request: {exc}")
            return self._finish(ApiCall(method, {}, received), error.payload(), 400)
        call = ApiCall(method, params, received, files=files, token_ok=token == self.token)
        if not call.token_ok:
            return self._finish(call, {"ok": False, "error_code": 401, "description": "Unauthorized"}, 401)

        if time.monotonic() < self._down_until:
            return self._finish(call, {"ok": False, "error_code": 502, "description": "Bad Gateway"}, 502)
        fault = self._take_fault(method)
        if fault is not None:
            if fault.kind == "429":
                error = _ApiError(
                    429,
                    f"Too Many Requests: retry after {fault.retry_after}",
                    {"retry_after": fault.retry_after},
                )
                return self._finish(call, error.payload(), 429)
            if fault.kind == "500":
                return self._finish(call, {"ok": False, "error_code": 500, "description": "Internal Server Error"}, 500)
            if fault.kind == "slow":
                self._stopping.wait(fault.delay)

        if method.lower() in _LIMITED_METHODS:
            wait = self._limit_wait(params.get("chat_id"), received)
            if wait > 0:
                error = _ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
                return self._finish(call, error.payload(), 429)

        try:
            if method.lower() == "getupdates":
                return self._finish(call, {"ok": True, "result": self._get_updates(call)}, 200)
            with self._cond:
                result = self._dispatch(method.lower(), params)
            if fault is not None and fault.kind == "cut":
                self._finish(call, {"ok": True, "result": result}, 200)  # delivered …
                call.status = 0  # … but the bot never heard back
                raise _CutConnection
            if self.latency > 0:
                self._stopping.wait(self.latency)
            return self._finish(call, {"ok": True, "result": result}, 200)
        except _ApiError as error:
            return self._finish(call, error.payload(), error.code)

    def _limit_wait(self, chat: Any, now: float) -> int:
        """0 if this send is within the limits (and records it), else the seconds to wait."""
        chat_id = chat if isinstance(chat, int) else 0
        with self._cond:
            sends = self._accepted_sends
            if self.enforce_limits:
                last_second = [t for t, _ in sends[-31:] if t > now - 1.0]
                waits = []
                if len(last_second) >= 30:
                    waits.append(last_second[-30] + 1.0 - now)
                if chat_id < 0:
                    in_chat = [t for t, c in sends if c == chat_id and t > now - 60.0]
                    if len(in_chat) >= 20:
                        waits.append(in_chat[-20] + 60.0 - now)
                elif chat_id > 0:
                    in_chat = [t for t, c in sends[-200:] if c == chat_id and t > now - 1.0]
                    if in_chat:
                        waits.append(in_chat[-1] + 1.0 - now)
                if waits:
                    self.limit_violations += 1
                    return max(1, int(max(waits) + 0.999))
            sends.append((now, chat_id))
            return 0

    def send_rate_violations(self) -> int:
        """How many accepted sends broke a limit (checked after the fact, whatever enforce_limits says)."""
        with self._cond:
            sends = list(self._accepted_sends)
        bad = 0
        per_chat: dict[int, list[float]] = {}
        for i, (t, chat) in enumerate(sends):
            in_second = sum(1 for s in sends[max(0, i - 40): i + 1] if s[0] > t - 1.0)
            mine = per_chat.setdefault(chat, [])
            mine.append(t)
            in_minute = sum(1 for x in mine[-21:] if x > t - 60.0) if chat < 0 else 0
            if in_second > 30 or in_minute > 20:
                bad += 1
        return bad

    def _decode(self, query: str, content_type: str, body: bytes) -> tuple[JSONDict, dict[str, UploadedFile]]:
        raw: dict[str, str] = dict(parse_qsl(query, keep_blank_values=True))
        files: dict[str, UploadedFile] = {}
        mime = content_type.split(";")[0].strip().lower()
        if mime == "multipart/form-data":
            boundary = _disposition_params(content_type).get("boundary", "")
            fields, files = parse_multipart(body, boundary)
            raw.update(fields)
        elif mime == "application/json" and body:  # not used by PTB, but Telegram accepts it
            loaded = json.loads(body)
            if not isinstance(loaded, dict):
                raise ValueError("JSON body must be an object")
            params: JSONDict = {k: decode_param(k, v) for k, v in raw.items()}
            params.update(loaded)
            return params, files
        elif body:
            raw.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False))
        decoded: JSONDict = {k: decode_param(k, v) for k, v in raw.items()}
        decoded.update(files)
        return decoded, files

    def _take_fault(self, method: str) -> _Fault | None:
        with self._cond:
            for key in (method.lower(), "*"):
                queue = self._faults.get(key)
                if queue:
                    fault = queue[0]
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        queue.pop(0)
                    return fault
        return None

    def _finish(self, call: ApiCall, payload: JSONDict, status: int) -> tuple[int, bytes, str]:
        with self._cond:
            call.status, call.response = status, payload
            if not call._recorded:
                call._recorded = True
                self._calls.append(call)
            self._cond.notify_all()
        return self._json(status, payload)

    @staticmethod
    def _json(status: int, payload: JSONDict) -> tuple[int, bytes, str]:
        return status, json.dumps(payload, ensure_ascii=False).encode("utf-8"), "application/json"

    def _download(self, token: str, file_path: str) -> tuple[int, bytes, str]:
        with self._cond:
            found = [f for path, f in self._files.values() if path == file_path]
        if token != self.token or not found:
            return self._json(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        return 200, found[0].data, found[0].content_type

    # ---- internals: methods ----------------------------------------------------------------

    def _get_updates(self, call: ApiCall) -> list[JSONDict]:
        params = call.params
        offset = params.get("offset")
        raw_limit, raw_timeout = params.get("limit"), params.get("timeout")
        limit = min(max(raw_limit, 1), 100) if isinstance(raw_limit, int) else 100
        timeout = float(raw_timeout) if isinstance(raw_timeout, int | float) else 0.0
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._cond:
            if self._webhook_url:
                raise _ApiError(
                    409, "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first"
                )  # fmt: skip
            allowed = params.get("allowed_updates")
            if isinstance(allowed, list):
                self._allowed_updates = [str(a) for a in allowed]
            if isinstance(offset, int):
                if offset < 0:
                    self._updates = self._updates[offset:]
                else:
                    self._updates = [u for u in self._updates if int(u["update_id"]) >= offset]
            call._recorded = True
            self._calls.append(call)  # visible while it waits
            self._cond.notify_all()
            while True:
                ready = [u for u in self._updates if self._is_allowed(u)][:limit]
                remaining = deadline - time.monotonic()
                if ready or remaining <= 0 or self._stopping.is_set():
                    return copy.deepcopy(ready)
                self._cond.wait(remaining)

    def _is_allowed(self, update: JSONDict) -> bool:
        kinds = set(update) - {"update_id"}
        if self._allowed_updates:
            return bool(kinds & set(self._allowed_updates))
        return not kinds <= _DEFAULT_EXCLUDED_UPDATES

    def _dispatch(self, method: str, params: JSONDict) -> Any:
        if method == "getme":
            return copy.deepcopy(self.bot_user)
        if method == "sendmessage":
            return self._new_message(params, self._text_content(params, "text", "entities"))
        if method == "senddocument":
            return self._send_media(params, "document")
        if method == "sendphoto":
            return self._send_media(params, "photo")
        if method == "editmessagetext":
            return self._edit(params, text=True)
        if method == "editmessagereplymarkup":
            return self._edit(params, text=False)
        if method == "getchatmember":
            return self._chat_member(params)
        if method == "getchat":
            return self._chat_full_info(params)
        if method == "getfile":
            return self._get_file(params)
        if method == "getmycommands":
            return copy.deepcopy(self._commands.get(self._commands_key(params), []))
        if method == "getwebhookinfo":
            info: JSONDict = {"url": self._webhook_url, "has_custom_certificate": False,
                              "pending_update_count": len(self._updates)}  # fmt: skip
            if self._webhook_url and self._webhook_error:
                info.update(last_error_date=int(time.time()) - 60, last_error_message=self._webhook_error)
            return info
        if method in _TRUE_METHODS:
            if method == "deletewebhook":
                self._webhook_url = ""
                if params.get("drop_pending_updates") is True:
                    self._updates.clear()
            elif method == "setwebhook":
                self._webhook_url = str(params.get("url", ""))
            elif method == "setmycommands":
                self._commands[self._commands_key(params)] = list(params.get("commands") or [])
            elif method == "deletemycommands":
                self._commands.pop(self._commands_key(params), None)
            return True
        raise _ApiError(404, "Not Found: method not found")

    @staticmethod
    def _commands_key(params: JSONDict) -> str:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps([scope, params.get("language_code") or ""], sort_keys=True)

    def _text_content(self, params: JSONDict, text_key: str, entities_key: str) -> JSONDict:
        """Text/caption and entities as Telegram would store them, plus an echoed inline keyboard."""
        content: JSONDict = {}
        raw = params.get(text_key)
        limit = MAX_TEXT_LENGTH if text_key == "text" else MAX_CAPTION_LENGTH
        if raw is not None:
            text = str(raw)
            entities = params.get(entities_key)
            parse_mode = str(params.get("parse_mode") or "").lower()
            if entities is None and parse_mode == "html":
                text, entities = parse_html(text)
            if text_key == "text" and not text.strip():
                raise _bad_request("message text is empty")
            if utf16_len(text) > limit:
                raise _bad_request("message is too long" if text_key == "text" else "message caption is too long")
            if text:
                content[text_key] = text
            if entities:
                content[entities_key] = entities
        elif text_key == "text":
            raise _bad_request("message text is empty")
        content.update(self._markup(params))
        return content

    @staticmethod
    def _markup(params: JSONDict) -> JSONDict:
        markup = params.get("reply_markup")
        if not isinstance(markup, dict) or "inline_keyboard" not in markup:
            return {}  # Telegram only echoes inline keyboards in the Message
        for row in markup["inline_keyboard"]:
            for button in row:
                data = button.get("callback_data")
                if data is not None and len(str(data).encode("utf-8")) > MAX_CALLBACK_DATA_BYTES:
                    raise _bad_request("BUTTON_DATA_INVALID")
        return {"reply_markup": markup}

    def _send_media(self, params: JSONDict, kind: str) -> JSONDict:
        content = self._text_content(params, "caption", "caption_entities")
        media = params.get(kind)
        if isinstance(media, UploadedFile):
            stored = self._store_file(media, "documents" if kind == "document" else "photos")
        elif isinstance(media, str) and media in self._files:
            _, upload = self._files[media]
            stored = {"file_id": media, "file_unique_id": "U" + media[-6:], "file_name": upload.filename,
                      "mime_type": upload.content_type, "file_size": len(upload.data)}  # fmt: skip
        elif isinstance(media, str) and media:  # URL or foreign file_id
            name = media.rsplit("/", 1)[-1] or kind
            stored = self._store_file(UploadedFile(kind, name, "application/octet-stream", b""), kind + "s")
        else:
            raise _bad_request(f"there is no {kind} in the request")
        if kind == "photo":
            sizes = [(90, 90), (320, 320)]
            content["photo"] = [
                {"file_id": stored["file_id"], "file_unique_id": stored["file_unique_id"],
                 "width": w, "height": h, "file_size": stored["file_size"]}
                for w, h in sizes
            ]  # fmt: skip
        else:
            content["document"] = stored
        return self._new_message(params, content)

    def _edit(self, params: JSONDict, text: bool) -> JSONDict | bool:
        if params.get("inline_message_id"):
            return True
        chat = self._chat(params.get("chat_id"))
        message_id = params.get("message_id")
        if not isinstance(message_id, int):
            raise _bad_request("message identifier is not specified")
        old = self._messages.get((chat["id"], message_id))
        if old is None:  # lenient: a bot message the stub has not seen (e.g. hand-built in a test)
            old = {"message_id": message_id, "from": self._public_bot_user(), "date": int(time.time()),
                   "chat": chat, "text": ""}  # fmt: skip
        if old.get("from", {}).get("id") != self.bot_user["id"]:
            raise _bad_request("message can't be edited")
        new = copy.deepcopy(old)
        new.pop("reply_markup", None)
        if text:
            new.pop("entities", None)
            new.pop("text", None)
            new.update(self._text_content(params, "text", "entities"))
        else:
            new.update(self._markup(params))
        same = all(new.get(k) == old.get(k) for k in ("text", "entities", "reply_markup"))
        if same:
            raise _bad_request(
                "message is not modified: specified new message content and reply markup are exactly "
                "the same as a current content and reply markup of the message"
            )
        new["edit_date"] = int(time.time())
        self._store_sent(new)
        return new

    def _chat_member(self, params: JSONDict) -> JSONDict:
        chat = self._chat(params.get("chat_id"))
        user_id = params.get("user_id")
        if not isinstance(user_id, int):
            raise _bad_request("invalid user_id specified")
        member = self._chat_member_plain(chat, user_id)
        member.update(self._member_rights.get((chat["id"], user_id), {}))
        return member

    def _chat_member_plain(self, chat: JSONDict, user_id: int) -> JSONDict:
        status = self._member_status.get((chat["id"], user_id), "member")
        member: JSONDict = {"status": status, "user": self._user(user_id)}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member.update(
                can_be_edited=False, is_anonymous=False, can_manage_chat=True, can_delete_messages=True,
                can_manage_video_chats=True, can_restrict_members=True, can_promote_members=False,
                can_change_info=True, can_invite_users=True, can_post_stories=False,
                can_edit_stories=False, can_delete_stories=False, can_pin_messages=True,
                can_manage_topics=False,
            )  # fmt: skip
        elif status == "restricted":
            member.update(
                is_member=True, can_change_info=False, can_invite_users=False, can_pin_messages=False,
                can_send_messages=False, can_send_polls=False, can_send_other_messages=False,
                can_add_web_page_previews=False, can_manage_topics=False, until_date=0,
                can_send_audios=False, can_send_documents=False, can_send_photos=False,
                can_send_videos=False, can_send_video_notes=False, can_send_voice_notes=False,
                can_edit_tag=False,
                can_react_to_messages=False,
            )  # fmt: skip
        elif status == "kicked":
            member["until_date"] = 0
        return member

    def _chat_full_info(self, params: JSONDict) -> JSONDict:
        info = self._chat(params.get("chat_id"))
        own = self._member_status.get((info["id"], self.bot_user["id"]))
        if own in ("kicked", "left") and info["type"] != "private":
            kind = "supergroup chat" if info["type"] == "supergroup" else "group chat"
            reason = "bot was kicked from the" if own == "kicked" else "bot is not a member of the"
            raise _ApiError(403, f"Forbidden: {reason} {kind}")
        info.update(
            accent_color_id=0,
            max_reaction_count=11,
            accepted_gift_types={"unlimited_gifts": False, "limited_gifts": False, "unique_gifts": False,
                                 "premium_subscription": False, "gifts_from_channels": False},
        )  # fmt: skip
        return info

    def _get_file(self, params: JSONDict) -> JSONDict:
        file_id = params.get("file_id")
        if not isinstance(file_id, str) or file_id not in self._files:
            raise _bad_request("invalid file_id")
        path, upload = self._files[file_id]
        return {"file_id": file_id, "file_unique_id": "U" + file_id[-6:], "file_size": len(upload.data),
                "file_path": path}  # fmt: skip
