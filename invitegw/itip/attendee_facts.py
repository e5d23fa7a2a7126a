"""What the rules for attendee messages (REPLY, COUNTER, REFRESH) share, pure.

An attendee answers one of the gateway's own invitations (:rfc:`5546` sections 3.2.3,
3.2.7, 3.2.6). The shell finds the invitation (a reply token, else the UID) and says where
the meeting and the sender stand: a :class:`MeetingStanding` (on, cancelled or deleted, its
SEQUENCE) and an :class:`InviteeStatus` (the sender's place on the meeting's ledger). The
rules of :mod:`~invitegw.itip.decide_reply` and :mod:`~invitegw.itip.decide_counter_refresh`
read these, and answer with texts and :class:`Note` values (a line for the meeting's logs)
the shell writes.

Trust rests on the From address alone (normalized; display names are never read): an
attendee message counts only when From is an ATTENDEE of it, except that a calendar service
(``inbound.calendar_services``, iCloud) answering for the one ATTENDEE it names speaks for
that attendee.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from invitegw.domain.addresses import normalize_address, same_address
from invitegw.domain.records import LogLevel
from invitegw.errors import GatewayError
from invitegw.ics.model import Attendee, Method
from invitegw.itip.keys import is_calendar_service, recurrence_text

__all__ = [
    "MAX_COMMENT",
    "WHAT",
    "InviteeStatus",
    "MeetingStanding",
    "Note",
    "answering_sender",
    "canonical_address",
    "comment_text",
    "correlation_refusal",
    "ical_recurrence_id",
    "method_refusal",
    "names_sender",
    "spoof_reason",
]

# What each attendee method is called in reasons.
WHAT = {
    Method.REPLY: "reply",
    Method.COUNTER: "counter-proposal",
    Method.REFRESH: "refresh request",
}
MAX_COMMENT = 2000


class InviteeStatus(StrEnum):
    """Where an address stands on a meeting's ledger (the invitations the gateway sent)."""

    INVITED = "invited"  # an attendee, not taken off the meeting
    NOT_INVITED = "not-invited"  # not on the ledger at all
    REMOVED = "removed"  # was invited, taken off since
    ORGANIZER = "organizer"  # the CHAIR: the organizer's own address


@dataclass(frozen=True, slots=True)
class MeetingStanding:
    """Whether the meeting an attendee message answers is still on.

    Parameters:
        cancelled: the organizer cancelled it.
        deleted: it was deleted in the CRM.
        sequence: the SEQUENCE the gateway last sent.
    """

    cancelled: bool = False
    deleted: bool = False
    sequence: int = 0

    @property
    def off(self) -> bool:
        """Cancelled or deleted."""
        return self.cancelled or self.deleted

    @property
    def state(self) -> str:
        """``deleted`` or ``cancelled`` (for a meeting that is :attr:`off`)."""
        return "deleted" if self.deleted else "cancelled"


@dataclass(frozen=True, slots=True)
class Note:
    """A line for the meeting's logs: the gateway's event log and, if ``to_crm``, the CRM's.

    Parameters:
        level: the severity.
        text: the readable line.
        kind: the event-log kind (``reply-after-cancel``, ``counter``, ``bounce`` ...).
        to_crm: also in the CRM meeting's integration log (when the meeting still exists).
    """

    level: LogLevel
    text: str
    kind: str
    to_crm: bool = True


def canonical_address(value: str | None) -> str | None:
    """``value`` in canonical form (``mailto:`` allowed); None when missing or invalid.

    Parameters:
        value: an address from a header or a calendar property.

    Returns:
        The canonical address, or None.
    """
    if not value:
        return None
    try:
        return normalize_address(value)
    except GatewayError:
        return None


def answering_sender(
    from_address: str | None, attendees: Sequence[Attendee], calendar_services: Sequence[str]
) -> str | None:
    """Who an attendee message speaks for: its From, or the attendee a calendar service names.

    iCloud answers for its user from an address of its own: when From is a calendar
    service's and the message names exactly one ATTENDEE, that attendee is who answers (a
    ledger attendee still, or the non-invitee policy applies).

    Parameters:
        from_address: the From address (canonical), or None.
        attendees: the ATTENDEEs of the VEVENT.
        calendar_services: ``inbound.calendar_services``.

    Returns:
        The canonical address answering, or None when there is no usable one.
    """
    if is_calendar_service(from_address, calendar_services) and len(attendees) == 1:
        return canonical_address(attendees[0].email)
    return from_address


def method_refusal(method: Method) -> str | None:
    """Why ``method`` is no attendee message, or None for REPLY, COUNTER and REFRESH.

    Parameters:
        method: the calendar's METHOD.

    Returns:
        The reason, or None.
    """
    return None if method in WHAT else f"unsupported method {method.value}"


def correlation_refusal(
    method: Method, uid: str, *, correlated: bool, sender: str | None
) -> str | None:
    """Why an attendee message cannot be applied to any invitation, or None when it can.

    Parameters:
        method: REPLY, COUNTER or REFRESH.
        uid: the UID the message carries.
        correlated: one of the gateway's invitations was found (by token or UID).
        sender: who answers (:func:`answering_sender`).

    Returns:
        The reason (the message is quarantined with it), or None.
    """
    what = WHAT.get(method, method.value)
    if not correlated:
        return (
            f"{what} to an unknown invitation (UID {uid!r}): "
            "the gateway sent no invitation with this UID or reply address"
        )
    if sender is None:
        return f"{what} without a single valid From address: cannot tell who sent it"
    return None


def names_sender(attendees: Sequence[Attendee], sender: str) -> bool:
    """Whether ``sender`` is one of ``attendees`` (by address, whatever the case or scheme)."""
    return any(same_address(a.email, sender) for a in attendees)


def _listed(attendees: Sequence[Attendee]) -> str:
    shown = [a.email for a in attendees[:3] if a.email]
    more = len(attendees) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def spoof_reason(what: str, sender: str, attendees: Sequence[Attendee]) -> str:
    """The quarantine reason of an attendee message whose From is none of its ATTENDEEs.

    Parameters:
        what: ``REPLY``, ``COUNTER`` or ``REFRESH``.
        sender: the From address.
        attendees: the ATTENDEEs the message names.

    Returns:
        The reason.
    """
    return (
        f"spoofed {what}: it comes from {sender}, but the attendee in it is "
        f"{_listed(attendees)}; release it only after checking with that attendee"
    )


def comment_text(comment: str) -> str:
    """An attendee's COMMENT on one line, at most :data:`MAX_COMMENT` characters.

    Parameters:
        comment: the COMMENT property's text.

    Returns:
        The text, white space collapsed, cut with an ellipsis when too long.
    """
    text = " ".join(comment.split())
    return text[: MAX_COMMENT - 1] + "…" if len(text) > MAX_COMMENT else text


def ical_recurrence_id(value: dt.date | dt.datetime | None) -> str | None:
    """A RECURRENCE-ID in its iCalendar text form (``20261201T090000Z``), None for none.

    Parameters:
        value: the RECURRENCE-ID, or None (the series).

    Returns:
        :func:`~invitegw.itip.keys.recurrence_text`, or None for the series.
    """
    return recurrence_text(value) or None
