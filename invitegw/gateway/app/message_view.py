"""A stored message as a person may safely read it: headers, plain text, calendar events.

The console's quarantine page and the CLI's ``quarantine show`` show received mail, which
may be hostile. :func:`view_message` reads only what is safe to print: the header fields
(decoded, capped), the text of the first ``text/plain`` part (capped), and the events the
gateway's own MIME and iCalendar readers find. An HTML part is never returned, raw or
rendered: only its presence is noted. Nothing here raises on bad input: what cannot be
read is named in ``problems``.
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from invitegw.errors import GatewayError
from invitegw.ics import CalendarObject, parse_calendar_objects
from invitegw.mailbox.mime import extract

__all__ = ["MAX_HEADERS", "MAX_TEXT", "EventView", "MessageView", "view_message"]

MAX_HEADERS = 100
"""Header fields shown at most (a hostile message may carry thousands)."""
MAX_TEXT = 20_000
"""Characters of the plain-text part shown at most."""
_MAX_VALUE = 2_000


@dataclass(frozen=True, slots=True)
class EventView:
    """One VEVENT the parser found, in words."""

    method: str
    uid: str
    sequence: int
    summary: str
    start: str
    organizer: str | None
    attendees: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MessageView:
    """What :func:`view_message` read (see the module docstring)."""

    headers: tuple[tuple[str, str], ...] = ()
    text: str = ""
    text_truncated: bool = False
    has_html: bool = False
    events: tuple[EventView, ...] = ()
    problems: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The JSON object (headers as ``[name, value]`` pairs)."""
        return dataclasses.asdict(self)


def view_message(raw: bytes | None) -> MessageView:
    """Read ``raw`` for showing (see the module docstring).

    Parameters:
        raw: the stored message, or None when it was not kept.

    Returns:
        The view; ``problems`` says what could not be read.
    """
    if raw is None:
        return MessageView(problems=("the message was not kept",))
    problems: list[str] = []
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
    except Exception as exc:  # the stdlib parser is lenient; a fault is reported, not raised
        return MessageView(problems=(f"unreadable message: {type(exc).__name__}",))
    assert isinstance(message, EmailMessage)
    headers = _headers(message, problems)
    text, truncated, has_html = _text(message, problems)
    events = _events(raw, problems)
    return MessageView(headers, text, truncated, has_html, events, tuple(problems))


def _headers(message: EmailMessage, problems: list[str]) -> tuple[tuple[str, str], ...]:
    out = []
    for index, (name, value) in enumerate(message.raw_items()):
        if index == MAX_HEADERS:
            problems.append(f"only the first {MAX_HEADERS} header fields are shown")
            break
        try:
            shown = str(message.policy.header_fetch_parse(name, value))
        except Exception:  # an undecodable header: shown as received
            shown = str(value)
        out.append((name[:200], " ".join(shown.split())[:_MAX_VALUE]))
    return tuple(out)


def _text(message: EmailMessage, problems: list[str]) -> tuple[str, bool, bool]:
    has_html = any(part.get_content_type() == "text/html" for part in message.walk())
    try:
        part = message.get_body(preferencelist=("plain",))
        text = part.get_content() if part is not None else ""
    except Exception as exc:  # a broken charset or transfer encoding
        problems.append(f"the text part cannot be decoded: {type(exc).__name__}")
        text = ""
    if not isinstance(text, str):
        text = ""
    return text[:MAX_TEXT], len(text) > MAX_TEXT, has_html


def _events(raw: bytes, problems: list[str]) -> tuple[EventView, ...]:
    try:
        found = extract(raw)
    except GatewayError as exc:
        problems.append(f"calendar parts not read: {exc}")
        return ()
    events: list[EventView] = []
    for part in found.calendar_parts:
        for outcome in parse_calendar_objects(part.data, mime_method=part.mime_method):
            if isinstance(outcome, CalendarObject):
                events.extend(_event_views(outcome))
            else:
                problems.append(f"calendar in part {part.location}: {outcome.reason}")
    return tuple(events)


def _event_views(calendar: CalendarObject) -> list[EventView]:
    return [
        EventView(
            method=calendar.method.value,
            uid=event.uid,
            sequence=event.sequence,
            summary=event.summary,
            start=event.start.isoformat(),
            organizer=event.organizer.email if event.organizer else None,
            attendees=tuple(a.email for a in event.attendees),
        )
        for event in calendar.events
    ]
