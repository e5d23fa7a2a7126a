"""Quarantine storage: messages set aside with a reason, and released again by hand.

- :func:`set_aside` keeps a message that could not be applied (at most
  ``limits.quarantine_bytes`` of it) with the reason and :func:`received_facts`: how it
  arrived (owner, envelope, source position), so a release replays it as received.
- :func:`load_release` reads a quarantined message back for ``invitegw quarantine
  release``: refused when unknown, released already, or not kept whole.
- :func:`settle_release` brings the row up to date after the release ran: released when the
  message no longer quarantines, else the new reason (it stays).

The JSON keys of :func:`received_facts` are stored in the database: they keep the names
they were first written with (``uidvalidity``/``uid`` for the source position).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from invitegw.errors import GatewayError
from invitegw.gateway.inbound.model import Envelope, ReceivedMessage
from invitegw.gateway.storage import QuarantinedMessage, quarantine_message

__all__ = [
    "QuarantineReleaseError",
    "load_release",
    "received_facts",
    "set_aside",
    "settle_release",
]


class QuarantineReleaseError(GatewayError):
    """A quarantined message cannot be released (unknown id, released, or not kept whole)."""


def received_facts(message: ReceivedMessage) -> dict[str, Any]:
    """What a quarantine row keeps of how ``message`` arrived, so a release replays it.

    Parameters:
        message: the message as its source received it.

    Returns:
        The JSON-able facts: owner, envelope, source position.
    """
    position = message.position
    return {
        "owner": message.owner,
        "envelope_from": message.envelope.sender,
        "envelope_to": list(message.envelope.recipients),
        "uidvalidity": position.epoch if position is not None else None,
        "uid": position.number if position is not None else None,
    }


def _text(value: object) -> str | None:
    return str(value) if value is not None and value != "" else None


def load_release(
    session: Session, quarantine_id: int, *, owner: str | None, mailbox_owner: str | None
) -> ReceivedMessage:
    """The quarantined message ``quarantine_id``, as it was received, to process again.

    Parameters:
        session: the session to read it in.
        quarantine_id: the quarantine row.
        owner: the owner to give it instead of the one it arrived with, if any.
        mailbox_owner: the owner of the mailbox it came from (when it kept none).

    Returns:
        The message (its source position is not replayed: it is processed anew).

    Raises:
        QuarantineReleaseError: no such row, already released, or only part of the
            message was kept.
    """
    row = session.get(QuarantinedMessage, quarantine_id)
    if row is None:
        raise QuarantineReleaseError(f"no quarantined message with id {quarantine_id}")
    if row.released_at is not None:
        raise QuarantineReleaseError(f"quarantined message {quarantine_id} was released already")
    if row.raw is None or row.truncated:
        where = f" (the original: {row.reference})" if row.reference else ""
        raise QuarantineReleaseError(
            f"quarantined message {quarantine_id} was not kept whole "
            f"({row.size} bytes, limits.quarantine_bytes): process the original "
            f"again instead{where}"
        )
    received = row.received or {}
    recipients = received.get("envelope_to")
    return ReceivedMessage(
        raw=row.raw,
        source=row.source,
        reference=row.reference,
        envelope=Envelope(
            sender=_text(received.get("envelope_from")),
            recipients=tuple(str(a) for a in recipients) if isinstance(recipients, list) else (),
        ),
        owner=owner or _text(received.get("owner")) or mailbox_owner,
        size=row.size,
        received_at=row.created_at,
    )


def set_aside(
    session: Session,
    message: ReceivedMessage,
    *,
    reason: str,
    now: dt.datetime,
    max_bytes: int,
    message_id: str | None,
) -> int:
    """Quarantine ``message`` with ``reason`` in the session's transaction.

    Parameters:
        session: the unit of work's session.
        message: the message as received.
        reason: what a person must fix before releasing it.
        now: the current time.
        max_bytes: ``limits.quarantine_bytes``: the most of it kept.
        message_id: its Message-ID.

    Returns:
        The quarantine row's id.
    """
    row = quarantine_message(
        session,
        source=message.source[:64],
        reason=reason,
        now=now,
        raw=message.raw,
        max_bytes=max_bytes,
        message_id=message_id,
        reference=message.reference[:512] if message.reference else None,
        received=received_facts(message),
    )
    return row.id


def settle_release(
    row: QuarantinedMessage, *, quarantined: bool, reason: str | None, now: dt.datetime
) -> int | None:
    """Bring a released row up to date: released, or still set aside with the new reason.

    Parameters:
        row: the quarantine row the message was released from.
        quarantined: the message quarantines again.
        reason: the new reason, if one was given (else the row keeps its own).
        now: the current time.

    Returns:
        The row's id when it stays in quarantine, else None.
    """
    if not quarantined:
        row.released_at = now
        return None
    row.reason = reason or row.reason
    return row.id
