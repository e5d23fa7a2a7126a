"""Who a meeting's invitations go to, and how they are written (pure).

- :func:`meeting_people`: the organizer (ATTENDEE ROLE=CHAIR, so their own calendar holds
  the meeting) and every attendee address whose CRM record has invitations on, in the
  number of email fields configured per entity type (``Party.invite_emails``). Addresses
  that fail validation (email-validator, syntax only) are skipped with a note for the
  meeting's log; a record with invitations off yields its addresses as *muted* (they get
  nothing, not even a CANCEL).
- :func:`organizer_for`: ORGANIZER as one recipient sees it: the calendar's mailbox with
  that recipient's reply token (``sales+k3x9q@example.com``), or the CRM user's own
  address; CN is the user's name and SENT-BY names the From address when it differs
  (:rfc:`5545` section 3.2.18), so clients accept a sender that is not the organizer.
- :func:`ics_attendees`: the ATTENDEE list: CHAIR ACCEPTED for the organizer, the others
  RSVP=TRUE with their last answer, or NEEDS-ACTION after a change that asks again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from invitegw.domain.addresses import add_plus_token, normalize_address, validate_address
from invitegw.domain.records import LogLevel, Meeting, Party
from invitegw.errors import AddressError
from invitegw.ics.model import Attendee, Organizer, PartStat, Role
from invitegw.itip.plan_model import CalendarProfile, LedgerAttendee, PlanNote

__all__ = ["MeetingPeople", "Recipient", "ics_attendees", "meeting_people", "organizer_for"]


@dataclass(frozen=True, slots=True)
class Recipient:
    """One address listed in a meeting's invitations, from the CRM.

    ``notify`` is false for an organizer whose own record has invitations off: listed as
    CHAIR, sent nothing.
    """

    address: str
    name: str
    party_type: str
    party_id: str
    role: Role
    language: str | None
    time_zone: str | None
    notify: bool = True


@dataclass(frozen=True, slots=True)
class MeetingPeople:
    """Who a meeting's invitations list, worked out once per plan.

    ``listed`` are the recipients (organizer first, each address once); ``muted`` the
    addresses of records with invitations off (they get nothing, not even a CANCEL);
    ``notes`` what the meeting's log should say about the others (invalid addresses,
    records without one).
    """

    listed: tuple[Recipient, ...]
    muted: frozenset[str]
    notes: tuple[PlanNote, ...]

    @property
    def notified(self) -> frozenset[str]:
        """The listed addresses that are sent messages."""
        return frozenset(r.address for r in self.listed if r.notify)


def _label(party: Party) -> str:
    return f"{party.type.value} {party.name or party.id}"


def _valid(address: str, party: Party, notes: list[PlanNote]) -> str | None:
    try:
        return validate_address(address)
    except AddressError as exc:
        notes.append(
            PlanNote(
                LogLevel.WARNING,
                f"skipped the invalid address {address!r} of {_label(party)}: {exc}",
                kind="invalid-address",
            )
        )
        return None


def _muted_addresses(party: Party) -> Iterable[str]:
    for address in party.emails:
        try:
            yield normalize_address(address)
        except AddressError:
            continue


def _recipient(party: Party, address: str, role: Role, *, notify: bool = True) -> Recipient:
    return Recipient(
        address=address,
        name=party.name,
        party_type=party.type.value,
        party_id=party.id,
        role=role,
        language=party.language,
        time_zone=party.time_zone,
        notify=notify,
    )


def _organizer(organizer: Party, notes: list[PlanNote]) -> Recipient | None:
    """The organizer as CHAIR: their first invitation address (else their first address)."""
    for candidate in organizer.invite_emails[:1] or organizer.emails[:1]:
        address = _valid(candidate, organizer, notes)
        if address is not None:
            return _recipient(organizer, address, Role.CHAIR, notify=bool(organizer.invite_emails))
    return None


def _unlisted_note(party: Party) -> PlanNote | None:
    """Why an attendee record lists no address: invitations off, or none to send to."""
    if not party.sync:
        return PlanNote(
            LogLevel.INFO,
            f"{_label(party)} has invitations switched off: nothing is sent to them",
            kind="sync-off",
        )
    if not party.invite_emails:
        return PlanNote(
            LogLevel.WARNING,
            f"{_label(party)} has no email address: not invited",
            kind="no-address",
        )
    return None


def meeting_people(meeting: Meeting) -> MeetingPeople:
    """The people to list in ``meeting``'s invitations.

    Parameters:
        meeting: the CRM snapshot.

    Returns:
        The recipients (organizer first, each address once), the muted addresses, and
        notes (invalid addresses, records without an address or with invitations off).
    """
    notes: list[PlanNote] = []
    people: list[Recipient] = []
    organizer = _organizer(meeting.organizer, notes)
    if organizer is not None:
        people.append(organizer)
    seen = {person.address for person in people}
    muted: set[str] = set()
    for party in meeting.attendees:
        unlisted = _unlisted_note(party)
        if unlisted is not None:
            if not party.sync:
                muted.update(_muted_addresses(party))
            notes.append(unlisted)
            continue
        for candidate in party.invite_emails:
            address = _valid(candidate, party, notes)
            if address is None or address in seen:
                continue
            seen.add(address)
            people.append(_recipient(party, address, Role.REQ_PARTICIPANT))
    return MeetingPeople(tuple(people), frozenset(muted - seen), tuple(notes))


def organizer_for(
    calendar: CalendarProfile, *, name: str, user_address: str, token: str | None
) -> Organizer:
    """ORGANIZER in the copy one recipient gets.

    Parameters:
        calendar: the sending calendar (its organizer mode).
        name: the CRM user's name (CN).
        user_address: the CRM user's own address (the ORGANIZER in ``user`` mode).
        token: the recipient's reply token (``token`` mode).

    Returns:
        The organizer, with SENT-BY when the From address differs from it.

    Raises:
        AddressError: the tokenised address would be invalid (local part too long).
    """
    if calendar.organizer_tokens and token:
        email = add_plus_token(calendar.address, token, separator=calendar.token_separator)
    else:
        email = user_address
    sent_by = calendar.sender if calendar.sender != email else None
    return Organizer(email=email, cn=name or None, sent_by=sent_by)


def ics_attendees(rows: Iterable[LedgerAttendee], *, ask_again: bool) -> tuple[Attendee, ...]:
    """The ATTENDEE properties for ``rows``.

    Parameters:
        rows: the listed ledger rows, organizer first.
        ask_again: write NEEDS-ACTION for everyone but the organizer (after a change that
            bumps SEQUENCE, :rfc:`5546` section 2.1.4), instead of their last answer.

    Returns:
        The attendees.
    """
    out: list[Attendee] = []
    for row in rows:
        if row.role is Role.CHAIR:
            out.append(
                Attendee(
                    email=row.address,
                    cn=row.name or None,
                    role=Role.CHAIR,
                    partstat=PartStat.ACCEPTED,
                    rsvp=False,
                )
            )
            continue
        partstat = PartStat.NEEDS_ACTION if ask_again else row.partstat
        out.append(
            Attendee(
                email=row.address, cn=row.name or None, role=row.role, partstat=partstat, rsvp=True
            )
        )
    return tuple(out)
