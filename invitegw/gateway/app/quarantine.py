"""Use cases on the quarantine: what was set aside and why; run it again once fixed.

The CLI's ``quarantine list|show|release|discard`` and the web console's quarantine page
call these. A release processes the stored copy again, and the row stays with its new
state. A discard is the one deletion: the stored copy goes, and an audit entry in the
event log (kind ``quarantine-discarded``) keeps who discarded what, when, and why it had
been set aside.

:func:`quarantine_detail` shows a message as a person may safely read it: its headers, the
text of its plain-text part (never an HTML part), the calendar events the parser finds in
it, and the reason.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from invitegw.domain.records import LogLevel
from invitegw.errors import GatewayError
from invitegw.gateway.app.json_values import iso_utc
from invitegw.gateway.app.message_view import MessageView, view_message
from invitegw.gateway.app.status_report import quarantine_cause
from invitegw.gateway.storage import QuarantinedMessage, log_event

if TYPE_CHECKING:
    from invitegw.gateway.bootstrap import Gateway
    from invitegw.gateway.inbound.model import MessageResult

__all__ = [
    "DISCARD_KIND",
    "QuarantineDetail",
    "QuarantineEntry",
    "QuarantineError",
    "by_cause",
    "discard_quarantined",
    "list_quarantine",
    "quarantine_detail",
    "release_quarantined",
]

DISCARD_KIND = "quarantine-discarded"
"""The event log kind of a discard's audit entry."""


class QuarantineError(GatewayError):
    """No such quarantined message (or it was released already)."""


@dataclass(frozen=True, slots=True)
class QuarantineEntry:
    """One quarantined message as a person or a script sees it."""

    id: int
    created_at: dt.datetime | None
    source: str
    reference: str | None
    message_id: str | None
    size: int
    truncated: bool
    reason: str
    released_at: dt.datetime | None

    @classmethod
    def of(cls, row: QuarantinedMessage) -> QuarantineEntry:
        """The entry of a quarantine row.

        Parameters:
            row: the row.

        Returns:
            The entry.
        """
        return cls(
            id=row.id,
            created_at=row.created_at,
            source=row.source,
            reference=row.reference,
            message_id=row.message_id,
            size=row.size,
            truncated=row.truncated,
            reason=row.reason,
            released_at=row.released_at,
        )

    @property
    def cause(self) -> str:
        """The reason's bounded cause (``no_owner``, ``malformed`` ...)."""
        return quarantine_cause(self.reason)

    def to_json(self) -> dict[str, Any]:
        """The JSON object (keys as the fields; times ISO 8601 UTC with ``Z``)."""
        record = dataclasses.asdict(self)
        record["created_at"] = iso_utc(self.created_at)
        record["released_at"] = iso_utc(self.released_at)
        record["cause"] = self.cause
        return record


@dataclass(frozen=True, slots=True)
class QuarantineDetail:
    """One quarantined message in full, safe to show: the entry and what it holds."""

    entry: QuarantineEntry
    view: MessageView
    received: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The JSON object: the entry's keys plus ``message`` and ``received``."""
        return {**self.entry.to_json(), "message": self.view.to_json(), "received": self.received}


def by_cause(entries: list[QuarantineEntry]) -> dict[str, list[QuarantineEntry]]:
    """The entries grouped by cause, the largest group first (ties by name).

    Parameters:
        entries: the entries.

    Returns:
        cause -> its entries, in the order given.
    """
    groups: dict[str, list[QuarantineEntry]] = {}
    for entry in entries:
        groups.setdefault(entry.cause, []).append(entry)
    return dict(sorted(groups.items(), key=lambda item: (-len(item[1]), item[0])))


def list_quarantine(
    gateway: Gateway, *, include_released: bool = False, limit: int = 100
) -> list[QuarantineEntry]:
    """The messages set aside, newest first.

    Parameters:
        gateway: the assembled gateway.
        include_released: also those released since.
        limit: at most this many.

    Returns:
        The entries.

    Raises:
        GatewayError: a limit below 1.
    """
    if limit < 1:
        raise GatewayError("limit: expected a positive number")
    query = select(QuarantinedMessage).order_by(QuarantinedMessage.id.desc()).limit(limit)
    if not include_released:
        query = query.where(QuarantinedMessage.released_at.is_(None))
    with gateway.store.session() as session:
        return [QuarantineEntry.of(row) for row in session.scalars(query)]


def release_quarantined(
    gateway: Gateway, quarantine_id: int, *, owner: str | None = None
) -> MessageResult:
    """Process a quarantined message again from its stored copy.

    Parameters:
        gateway: the assembled gateway.
        quarantine_id: the quarantine row.
        owner: the staff address owning tasks no forwarder claims, instead of the one the
            message arrived with.

    Returns:
        The new result (``quarantined`` again when the cause is still there).

    Raises:
        QuarantineReleaseError: no such row, released already, or not kept whole.
        CrmUnavailableError: the CRM cannot be reached; nothing changed.
        StorageError: the database failed; nothing changed.
    """
    # The pipeline is built on first use: listing needs none of it.
    from invitegw.gateway.bootstrap import inbound_pipeline

    return inbound_pipeline(gateway).release(quarantine_id, owner=owner)


def quarantine_detail(gateway: Gateway, quarantine_id: int) -> QuarantineDetail:
    """A quarantined message: its headers, text, calendar events and reason.

    Parameters:
        gateway: the assembled gateway.
        quarantine_id: the quarantine row.

    Returns:
        The detail (released rows too: their history stays readable).

    Raises:
        QuarantineError: no such row.
    """
    with gateway.store.session() as session:
        row = session.get(QuarantinedMessage, quarantine_id)
        if row is None:
            raise QuarantineError(f"no quarantined message with id {quarantine_id}")
        entry = QuarantineEntry.of(row)
        raw, received = row.raw, dict(row.received or {})
    return QuarantineDetail(entry, view_message(raw), received)


def discard_quarantined(gateway: Gateway, quarantine_id: int, *, by: str) -> QuarantineEntry:
    """Delete a quarantined message for good, leaving an audit entry in the event log.

    Parameters:
        gateway: the assembled gateway.
        quarantine_id: the quarantine row.
        by: who discards it (the console's user, or ``cli:<login>``), for the audit entry.

    Returns:
        The entry as it was before it went.

    Raises:
        QuarantineError: no such row, or it was released already (a released message
            was applied: its row is the record of that, and it stays).
    """
    with gateway.store.session() as session:
        row = session.get(QuarantinedMessage, quarantine_id)
        if row is None:
            raise QuarantineError(f"no quarantined message with id {quarantine_id}")
        if row.released_at is not None:
            raise QuarantineError(
                f"quarantined message {quarantine_id} was released already: it stays as "
                "the record of that"
            )
        entry = QuarantineEntry.of(row)
        log_event(
            session,
            now=gateway.clock(),
            level=LogLevel.INFO,
            kind=DISCARD_KIND,
            text=f"quarantined message {quarantine_id} discarded by {by}: {entry.reason}",
            message_id=entry.message_id,
            details={**entry.to_json(), "discarded_by": by},
        )
        session.delete(row)
    return entry
