"""Which of our invitations a received message answers: reply tokens first, then the UID.

The gateway sends each attendee an ORGANIZER (and a Reply-To) of the calendar's address
plus that attendee's token (``sales+k3x9@example.com``, the calendar's ``token_separator``;
:mod:`invitegw.itip.recipients`). A reply travels back to that address, so the token in
the envelope recipients, To or Cc, or in the ORGANIZER of the reply's calendar, names the
ledger attendee (:class:`~invitegw.gateway.storage.OutboundAttendee`) and with it the
meeting. When no token is found (an organizer mode without tokens, a client that rewrote
every address), the UID alone names the meeting
(:class:`~invitegw.gateway.storage.OutboundMeeting`).

Only the part of an address before the token has to be a configured calendar's address:
tokens are random and unique, so a token found under another calendar's address still
names one attendee; a token under an address that is none of ours is not a token.

It also says where a sender and a meeting stand, as the pure attendee rules read it
(:func:`invitee_status`, :func:`meeting_standing`), and who the organizer on record is.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from invitegw.domain.addresses import normalize_address, split_plus_token, validate_address
from invitegw.errors import GatewayError
from invitegw.gateway.config import CalendarSettings
from invitegw.gateway.outbound.snapshot import meeting_from_json
from invitegw.gateway.storage import OutboundAttendee, OutboundMeeting
from invitegw.ics.model import Role
from invitegw.itip.attendee_facts import InviteeStatus, MeetingStanding

__all__ = [
    "Correlated",
    "attendee_row",
    "correlate",
    "find_tokens",
    "invitee_status",
    "meeting_by_uid",
    "meeting_standing",
    "organizer_on_record",
    "token_attendees",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Correlated:
    """The invitation a message answers.

    Parameters:
        meeting: the ledger meeting (its attendees loaded).
        attendee: the attendee whose reply token the message was addressed to, or
            ``None`` when it was found by UID alone.
        via: ``"token"`` or ``"uid"``.
    """

    meeting: OutboundMeeting
    attendee: OutboundAttendee | None
    via: str


def find_tokens(
    calendars: Sequence[CalendarSettings], addresses: Iterable[str | None]
) -> list[str]:
    """The reply tokens in ``addresses`` (in order, each once).

    Parameters:
        calendars: the configured calendars (their addresses and separators).
        addresses: addresses or ``mailto:`` values; ``None`` and unreadable ones are skipped.

    Returns:
        The tokens found under one of the configured calendars' addresses.
    """
    bases = []
    for calendar in calendars:
        try:
            bases.append((normalize_address(calendar.address), calendar.token_separator))
        except GatewayError:
            continue
    found: list[str] = []
    for address in addresses:
        if not address:
            continue
        for base_address, separator in bases:
            try:
                base, token = split_plus_token(address, separator=separator)
            except GatewayError:
                break  # not an address at all
            if token is not None and base == base_address and token not in found:
                found.append(token)
    return found


def token_attendees(session: Session, tokens: Sequence[str]) -> list[OutboundAttendee]:
    """The ledger attendees holding ``tokens`` (in the order of ``tokens``).

    Parameters:
        session: the unit of work.
        tokens: reply tokens (as :func:`find_tokens` returns them).

    Returns:
        The attendees found, their meetings (and the meetings' attendees) loaded.
    """
    if not tokens:
        return []
    rows = session.scalars(
        select(OutboundAttendee)
        .where(OutboundAttendee.token.in_(list(tokens)))
        .options(selectinload(OutboundAttendee.meeting).selectinload(OutboundMeeting.attendees))
    ).all()
    order = {token: index for index, token in enumerate(tokens)}
    return sorted(rows, key=lambda row: order.get(row.token or "", len(order)))


def meeting_by_uid(session: Session, uid: str) -> OutboundMeeting | None:
    """The ledger meeting with this UID, its attendees loaded, or ``None``."""
    return session.scalars(
        select(OutboundMeeting)
        .where(OutboundMeeting.uid == uid)
        .options(selectinload(OutboundMeeting.attendees))
    ).first()


def correlate(
    session: Session,
    calendars: Sequence[CalendarSettings],
    *,
    addresses: Iterable[str | None],
    uid: str | None,
    sender: str | None = None,
) -> Correlated | None:
    """The invitation a message answers (see the module docstring).

    When several tokens are found, those of the meeting with ``uid`` are preferred, and
    among them the one of ``sender``.

    Parameters:
        session: the unit of work.
        calendars: the configured calendars.
        addresses: where the message was sent (envelope recipients, To, Cc) and, for a
            calendar message, its ORGANIZER.
        uid: the UID the message's calendar carries, or ``None`` (no calendar).
        sender: the message's From address (canonical), to choose between tokens.

    Returns:
        The invitation, or ``None`` when neither a token nor the UID is ours.
    """
    candidates = token_attendees(session, find_tokens(calendars, addresses))
    if uid is not None and candidates:
        same_uid = [row for row in candidates if row.meeting.uid == uid]
        if not same_uid:
            logger.info(
                "reply tokens %s belong to other meetings than UID %s: correlated by UID",
                [row.token for row in candidates],
                uid,
            )
        candidates = same_uid
    if candidates:
        chosen = next((row for row in candidates if row.address == sender), candidates[0])
        return Correlated(meeting=chosen.meeting, attendee=chosen, via="token")
    if uid is None:
        return None
    meeting = meeting_by_uid(session, uid)
    if meeting is None:
        return None
    return Correlated(meeting=meeting, attendee=None, via="uid")


def attendee_row(meeting: OutboundMeeting, address: str | None) -> OutboundAttendee | None:
    """The meeting's ledger attendee with this address (canonical form), if any."""
    if not address:
        return None
    return next((row for row in meeting.attendees if row.address == address), None)


def organizer_on_record(meeting: OutboundMeeting) -> str | None:
    """The address of the meeting's organizer, as the gateway last sent the meeting.

    The CHAIR of the ledger (the organizer's invitation address), else the organizer's
    first address in the stored snapshot. Notices and forwarded replies go to this address
    and to no other.

    Parameters:
        meeting: the ledger meeting.

    Returns:
        The validated address, or ``None`` when the ledger knows no valid one.
    """
    chair = next((row for row in meeting.attendees if row.role == Role.CHAIR.value), None)
    candidates: list[str] = [chair.address] if chair is not None else []
    if meeting.snapshot:
        try:
            organizer = meeting_from_json(meeting.snapshot).organizer
        except GatewayError:
            organizer = None
        if organizer is not None:
            candidates.extend(organizer.invite_emails[:1] or organizer.emails[:1])
    for candidate in candidates:
        try:
            return validate_address(candidate)
        except GatewayError:
            continue
    return None


def invitee_status(meeting: OutboundMeeting, address: str | None) -> InviteeStatus:
    """Where ``address`` stands on the meeting's ledger.

    Parameters:
        meeting: the ledger meeting (its attendees loaded).
        address: a canonical address.

    Returns:
        The organizer (its CHAIR row), invited, taken off, or not on the ledger.
    """
    row = attendee_row(meeting, address)
    if row is None:
        return InviteeStatus.NOT_INVITED
    if row.role == Role.CHAIR.value:
        return InviteeStatus.ORGANIZER
    return InviteeStatus.REMOVED if row.removed else InviteeStatus.INVITED


def meeting_standing(meeting: OutboundMeeting) -> MeetingStanding:
    """Whether the ledger meeting is still on, and the SEQUENCE last sent."""
    return MeetingStanding(
        cancelled=meeting.cancelled, deleted=meeting.deleted, sequence=meeting.sequence
    )
