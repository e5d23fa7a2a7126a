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

__all__ = ["Person", "ics_attendees", "meeting_people", "organizer_for"]


@dataclass(frozen=True, slots=True)
class Person:
    """One address to list in the meeting, from the CRM.

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


def meeting_people(meeting: Meeting) -> tuple[list[Person], set[str], list[PlanNote]]:
    """The people to list in ``meeting``'s invitations.

    Parameters:
        meeting: the CRM snapshot.

    Returns:
        The people (organizer first, each address once), the muted addresses, and notes
        (invalid addresses, records without an address or with invitations off).
    """
    notes: list[PlanNote] = []
    people: list[Person] = []
    seen: set[str] = set()
    organizer = meeting.organizer
    for candidate in organizer.invite_emails[:1] or organizer.emails[:1]:
        address = _valid(candidate, organizer, notes)
        if address is not None:
            people.append(
                Person(
                    address=address,
                    name=organizer.name,
                    party_type=organizer.type.value,
                    party_id=organizer.id,
                    role=Role.CHAIR,
                    language=organizer.language,
                    time_zone=organizer.time_zone,
                    notify=bool(organizer.invite_emails),
                )
            )
            seen.add(address)
    muted: set[str] = set()
    for party in meeting.attendees:
        if not party.sync:
            muted.update(_muted_addresses(party))
            notes.append(
                PlanNote(
                    LogLevel.INFO,
                    f"{_label(party)} has invitations switched off: nothing is sent to them",
                    kind="sync-off",
                )
            )
            continue
        if not party.invite_emails:
            notes.append(
                PlanNote(
                    LogLevel.WARNING,
                    f"{_label(party)} has no email address: not invited",
                    kind="no-address",
                )
            )
            continue
        for candidate in party.invite_emails:
            address = _valid(candidate, party, notes)
            if address is None or address in seen:
                continue
            seen.add(address)
            people.append(
                Person(
                    address=address,
                    name=party.name,
                    party_type=party.type.value,
                    party_id=party.id,
                    role=Role.REQ_PARTICIPANT,
                    language=party.language,
                    time_zone=party.time_zone,
                )
            )
    return people, muted - seen, notes


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
