"""How the inbound ledger names an invitation: its key, fingerprint and idempotency key.

Pure functions over parsed values (no I/O). An invitation occurrence is known by
(organizer, UID, RECURRENCE-ID) (:rfc:`5545` section 3.8.4.4 makes UID plus RECURRENCE-ID
the identity of an occurrence; the organizer is added so that another organizer's
calendar cannot reach ours by reusing a UID). An event without a UID is keyed by a
fingerprint of organizer, normalized summary and start instead.

The CRM idempotency key is derived from the same triple, so a crash between a remote CRM's
write and our commit is reconciled by looking the key up before creating again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Sequence
from typing import NamedTuple

from invitegw.domain.addresses import normalize_address
from invitegw.errors import AddressError
from invitegw.ics.model import DateOrDateTime, Event

__all__ = [
    "MAX_ORGANIZER",
    "MAX_UID",
    "EventKey",
    "body_digest",
    "event_key",
    "fingerprint",
    "is_calendar_service",
    "key_address",
    "recurrence_text",
    "task_key",
]

# Column widths of inbound_events (storage.models): longer values are stored hashed.
MAX_UID = 512
MAX_ORGANIZER = 320
_SPACE_RE = re.compile(r"\s+")
_HEADER_END_RE = re.compile(rb"\r?\n\r?\n")
_DIGEST_CHUNK = 1 << 20


def recurrence_text(value: DateOrDateTime | None) -> str:
    """The iCalendar text form of a RECURRENCE-ID, ``""`` for none (the master).

    Aware times are written in UTC (``20261201T090000Z``), floating times without a zone
    (``20261201T090000``), dates as ``20261201``: the same instant always gives the same
    text whatever zone the producer wrote it in.

    Parameters:
        value: the RECURRENCE-ID, or None.

    Returns:
        The text.
    """
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            return value.strftime("%Y%m%dT%H%M%S")
        return value.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return value.strftime("%Y%m%d")


def key_address(value: str | None) -> str:
    """An address in the ledger's form: canonical, or lower-cased when not an address.

    Parameters:
        value: an ORGANIZER or header address (``mailto:`` allowed), or None.

    Returns:
        The canonical address; ``""`` for none; an over-long value is hashed to fit.
    """
    if not value:
        return ""
    try:
        text = normalize_address(value)
    except AddressError:
        text = value.strip().lower()
    if len(text) > MAX_ORGANIZER:
        text = "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
    return text


def is_calendar_service(address: str | None, services: Sequence[str]) -> bool:
    """Whether ``address`` belongs to a calendar service that sends for others.

    Such a service (Apple iCloud) mails invitations, cancellations and answers on behalf of
    the organizer or attendee named in the calendar, from an address of its own.

    Parameters:
        address: a canonical address (:func:`key_address`), or None.
        services: ``inbound.calendar_services``: addresses, or domains for all of theirs.

    Returns:
        True when listed.
    """
    if not address:
        return False
    domain = address.rpartition("@")[2]
    return any(
        address == key_address(entry) if "@" in entry else domain == entry.lower()
        for entry in services
    )


def fingerprint(organizer: str, event: Event) -> str:
    """A stable name for an event without a UID: organizer, normalized summary, start.

    Parameters:
        organizer: the ledger form of the organizer's address.
        event: the event.

    Returns:
        ``fp:`` and 40 hex digits.
    """
    summary = _SPACE_RE.sub(" ", event.summary).strip().casefold()
    start = event.start
    if isinstance(start, dt.datetime) and start.tzinfo is not None:
        start = start.astimezone(dt.UTC)
    text = "\x1f".join((organizer, summary, start.isoformat()))
    return "fp:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:40]


class EventKey(NamedTuple):
    """(organizer, uid, recurrence_id) as the ledger stores them.

    ``organizer`` is ``""`` when there is none; ``uid`` is the UID (hashed when over-long)
    or the fingerprint of an event without one; ``recurrence_id`` is ``""`` for a master.
    """

    organizer: str
    uid: str
    recurrence_id: str


def event_key(organizer: str, event: Event) -> EventKey:
    """The ledger key of ``event`` sent by ``organizer``.

    Parameters:
        organizer: the ledger form of the organizer's address (:func:`key_address`).
        event: the event.

    Returns:
        The key.
    """
    uid = event.uid.strip()
    if not uid:
        uid = fingerprint(organizer, event)
    elif len(uid) > MAX_UID:
        uid = "sha256:" + hashlib.sha256(uid.encode("utf-8")).hexdigest()
    return EventKey(organizer, uid, recurrence_text(event.recurrence_id))


def task_key(key: EventKey, *, generation: str | None = None) -> str:
    """The CRM idempotency key of the task made from the invitation ``key``.

    Parameters:
        key: the ledger key.
        generation: set when ``inbound.duplicate_policy = create`` makes a further task
            for a newer version (e.g. ``"s3-20260601T080000Z"``).

    Returns:
        ``inbound:`` and 40 hex digits (a deterministic function of its inputs).
    """
    text = "\x1f".join((*key, generation or ""))
    return "inbound:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:40]


def _rstripped_end(raw: bytes, start: int) -> int:
    """Where ``raw[start:].rstrip()`` ends, looking back a piece at a time."""
    end = len(raw)
    while end > start:
        begin = max(start, end - _DIGEST_CHUNK)
        kept = len(raw[begin:end].rstrip())
        if kept:
            return begin + kept
        end = begin
    return start


def body_digest(raw: bytes) -> str:
    """A digest of a message's body (after the header block), line endings aside.

    Two deliveries of one message differ in their trace headers, not in their body: this
    tells "the same Message-ID with the same content" from a reused Message-ID.

    Parameters:
        raw: the message.

    Returns:
        Hex SHA-256 of the body with CRLF turned into LF and trailing white space dropped.
    """
    match = _HEADER_END_RE.search(raw)
    start = match.end() if match else len(raw)
    end = _rstripped_end(raw, start)  # what rstrip() keeps: no CRLF straddles the end
    # In pieces, not as replace() and rstrip() of the whole body: those are three copies
    # of a 25 MiB message. A CR ending a piece waits for the next one's first byte.
    digest = hashlib.sha256()
    view = memoryview(raw)
    carry = b""
    for offset in range(start, end, _DIGEST_CHUNK):
        piece = carry + bytes(view[offset : min(offset + _DIGEST_CHUNK, end)])
        carry = b"\r" if piece.endswith(b"\r") else b""
        digest.update((piece[:-1] if carry else piece).replace(b"\r\n", b"\n"))
    digest.update(carry)
    return digest.hexdigest()
