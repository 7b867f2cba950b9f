"""The bot's small web server ([web] listen), asyncio streams only, GET and HEAD:

- `/health`: JSON (services.health.Status.as_json): uptime, last tick, outbox backlog and its oldest
  unsent message, send errors in the last hour, the scheduled backup; 200 when all is well, 503
  when the outbox is stuck or the scheduler stopped ticking (for a Docker or load-balancer check).
- `/cal/<token>.ics`: a member's duty calendar (handlers/calendar.py), 404 for an unknown token.

HTTP/1.1 with `Connection: close`, one request per connection; request heads over 8 KB or slower
than 10 s are dropped. Meant to sit behind a reverse proxy with TLS.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from urllib.parse import urlsplit

from handlers.calendar import feed
from handlers.common import Services

log = logging.getLogger(__name__)

MAX_HEAD = 8192
READ_TIMEOUT = 10.0
CAL_PATH = re.compile(r"^/cal/([A-Za-z0-9_-]{16,64})\.ics$")
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 500: "Internal Server Error",
           503: "Service Unavailable"}
Response = tuple[int, str, bytes]


class WebServer:
    def __init__(self, services: Services, host: str, port: int) -> None:
        self.services = services
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, limit=MAX_HEAD)
        sockets = self._server.sockets
        if sockets:
            self.port = int(sockets[0].getsockname()[1])  # port 0: the one the system chose
        log.info("web server on %s:%s (/health, /cal/…)", self.host, self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def route(self, method: str, target: str) -> Response:
        if method not in ("GET", "HEAD"):
            return 405, "text/plain; charset=utf-8", b"method not allowed\n"
        path = urlsplit(target).path
        if path == "/health":
            status = await self.services.health.status()
            body = json.dumps(status.as_json(), ensure_ascii=False).encode("utf-8")
            return (200 if status.state == "ok" else 503), "application/json; charset=utf-8", body
        match = CAL_PATH.match(path)
        if match:
            data = await feed(self.services, match.group(1))
            if data is not None:
                return 200, "text/calendar; charset=utf-8", data
        return 404, "text/plain; charset=utf-8", b"not found\n"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError):
                return
            parts = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
            if len(parts) != 3 or not parts[2].startswith("HTTP/"):
                code, kind, body = 400, "text/plain; charset=utf-8", b"bad request\n"
                method = "GET"
            else:
                method = parts[0]
                try:
                    code, kind, body = await self.route(method, parts[1])
                except Exception:
                    log.exception("web request %s %s failed", method, parts[1][:80])
                    code, kind, body = 500, "text/plain; charset=utf-8", b"internal error\n"
            head_out = (f"HTTP/1.1 {code} {REASONS.get(code, '')}\r\nContent-Type: {kind}\r\n"
                        f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\n"
                        "X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n")
            writer.write(head_out.encode("latin-1") + (b"" if method == "HEAD" else body))
            with contextlib.suppress(ConnectionError):
                await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
