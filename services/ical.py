"""iCalendar (RFC 5545) output, pure: VCALENDAR with VEVENTs in UTC, text escaped, CRLF line
endings, lines folded at 75 octets (never inside a UTF-8 character)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

PRODID = "-//zhiwei-assistant//duty calendar//ZH"
LINE_OCTETS = 75


@dataclass(frozen=True)
class Event:
    uid: str
    start: datetime  # aware
    end: datetime
    summary: str
    description: str = ""


def escape(value: str) -> str:
    """TEXT value (RFC 5545 3.3.11): backslash, semicolon, comma and line breaks escaped."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return value.replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n")


def fold(line: str) -> str:
    """A content line longer than 75 octets split with CRLF + space (3.1); a continuation line's
    leading space counts, so it carries at most 74 octets of the value."""
    if len(line.encode("utf-8")) <= LINE_OCTETS:
        return line
    parts: list[str] = []
    current: list[str] = []
    size, limit = 0, LINE_OCTETS
    for ch in line:
        width = len(ch.encode("utf-8"))
        if size + width > limit:
            parts.append("".join(current))
            current, size, limit = [], 0, LINE_OCTETS - 1
        current.append(ch)
        size += width
    parts.append("".join(current))
    return "\r\n ".join(parts)


def utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def render(name: str, events: Iterable[Event], now: datetime, tz_name: str = "",
           refresh_hours: int = 3) -> bytes:
    """The whole calendar as UTF-8 bytes. `refresh_hours`: how often a subscribed client should look
    again (REFRESH-INTERVAL, X-PUBLISHED-TTL)."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
             f"X-WR-CALNAME:{escape(name)}"]
    if tz_name:
        lines.append(f"X-WR-TIMEZONE:{tz_name}")
    lines += [f"REFRESH-INTERVAL;VALUE=DURATION:PT{refresh_hours}H", f"X-PUBLISHED-TTL:PT{refresh_hours}H"]
    stamp = utc(now)
    for event in events:
        lines += ["BEGIN:VEVENT", f"UID:{event.uid}", f"DTSTAMP:{stamp}", f"DTSTART:{utc(event.start)}",
                  f"DTEND:{utc(event.end)}", f"SUMMARY:{escape(event.summary)}"]
        if event.description:
            lines.append(f"DESCRIPTION:{escape(event.description)}")
        lines += ["TRANSP:OPAQUE", "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(fold(line) for line in lines) + "\r\n").encode("utf-8")
