"""Use cases on the quarantine: what was set aside and why; run it again once fixed.

The CLI's ``quarantine list|release`` and the web console's quarantine page call these.
Nothing is ever deleted by them: a release processes the stored copy again, and the row
stays with its new state.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from invitegw.errors import GatewayError
from invitegw.gateway.app.json_values import iso_utc
from invitegw.gateway.storage import QuarantinedMessage

if TYPE_CHECKING:
    from invitegw.gateway.bootstrap import Gateway
    from invitegw.gateway.inbound.model import MessageResult

__all__ = ["QuarantineEntry", "list_quarantine", "release_quarantined"]


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

    def to_json(self) -> dict[str, Any]:
        """The JSON object (keys as the fields; times ISO 8601 UTC with ``Z``)."""
        record = dataclasses.asdict(self)
        record["created_at"] = iso_utc(self.created_at)
        record["released_at"] = iso_utc(self.released_at)
        return record


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
