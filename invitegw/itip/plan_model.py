"""The values the outbound planner reads and returns (frozen dataclasses, no I/O).

- :class:`CalendarProfile`: the sending calendar as the planner needs it (the shell makes
  it from ``[[calendars]]``).
- :class:`LedgerAttendee` and :class:`LedgerState`: what the gateway last sent for one CRM
  meeting (the ``outbound_meetings`` / ``outbound_attendees`` rows, as values).
- :class:`PlannedMessage`: one email to one recipient, with the iCalendar components it
  carries; :class:`MeetingDetails` is the meeting as every message's body shows it.
- :class:`Plan`: the messages, the new ledger state, and the notes for the CRM log.
- :class:`IdSource` / :class:`RandomIds`: UIDs, reply tokens and Message-IDs (injected, so
  tests are deterministic; the default draws from :mod:`secrets`).
"""

from __future__ import annotations

import datetime as dt
import secrets
import string
from dataclasses import dataclass, field
from typing import Protocol

from invitegw.domain.records import LogLevel, Meeting
from invitegw.ics.model import Event, Method, Organizer, PartStat, Role
from invitegw.itip.policy import MessageKind

__all__ = [
    "TOKEN_ALPHABET",
    "TOKEN_LENGTH",
    "CalendarProfile",
    "IdSource",
    "LedgerAttendee",
    "LedgerState",
    "MeetingDetails",
    "Plan",
    "PlanNote",
    "PlannedMessage",
    "RandomIds",
]

# Reply tokens: lower-case letters and digits survive every mail system and the canonical
# (lower-cased) address form; 16 of them carry about 82 bits, too many to guess.
TOKEN_ALPHABET = string.ascii_lowercase + string.digits
TOKEN_LENGTH = 16


@dataclass(frozen=True, slots=True)
class CalendarProfile:
    """A sending calendar: its identity and what its invitations carry.

    ``organizer_tokens`` selects the ``token`` organizer mode (ORGANIZER is ``address``
    plus a per-attendee token after ``token_separator``); otherwise ORGANIZER is the CRM
    user's own address. ``sender`` is the From address (of our own domain).
    """

    name: str
    address: str
    sender: str
    label: str
    reply_to: str | None = None
    organizer_tokens: bool = True
    token_separator: str = "+"  # noqa: S105 - a separator, not a password
    language: str = "en"
    time_zone: str = "UTC"
    alarm_minutes: int | None = 15
    outlook_compat: bool = False
    reminder_lead: dt.timedelta | None = None
    crm_url: str = ""

    @property
    def domain(self) -> str:
        """The domain of the From address (for UIDs and Message-IDs)."""
        return self.sender.rpartition("@")[2]


@dataclass(frozen=True, slots=True)
class LedgerAttendee:
    """One address of a ledger meeting: who, their reply token, what they got and said.

    ``removed`` marks an address no longer invited (sent a CANCEL, or silently dropped
    when its CRM record switched invitations off). ``last_sequence_sent`` is the SEQUENCE
    of the last message queued for it (``None``: nothing yet). ``resend`` asks for the
    current REQUEST again (a REFRESH, :rfc:`5546` section 3.2.6).
    """

    address: str
    name: str = ""
    party_type: str | None = None
    party_id: str | None = None
    role: Role = Role.REQ_PARTICIPANT
    token: str | None = None
    language: str | None = None
    time_zone: str | None = None
    last_sequence_sent: int | None = None
    partstat: PartStat = PartStat.NEEDS_ACTION
    removed: bool = False
    resend: bool = False
    invited_at: dt.datetime | None = None
    thread_id: str | None = None

    @property
    def internal(self) -> bool:
        """True for CRM users (staff)."""
        return self.party_type == "user"

    @property
    def invited(self) -> bool:
        """True when the address holds the meeting: it got something and was not removed."""
        return self.last_sequence_sent is not None and not self.removed


@dataclass(frozen=True, slots=True)
class LedgerState:
    """What the gateway last sent for one CRM meeting.

    ``snapshot`` is the meeting as last planned (``None`` only for a state read from a
    ledger row that never had one). ``ends_at`` is when its last occurrence ends, in UTC
    (``None``: a series without an end). ``calendar`` is the calendar that sends for it.
    ``adopted_at`` is set while the meeting is only known from the baseline (it existed
    in the CRM before the gateway's first start, and nothing was sent for it yet);
    ``switch_on`` records that the CRM's send switch was once read on for certain (so an
    uncertain "off" later is a person's choice, not a new field's default).
    """

    uid: str
    calendar: str
    sequence: int = 0
    snapshot: Meeting | None = None
    cancelled: bool = False
    deleted: bool = False
    ends_at: dt.datetime | None = None
    attendees: tuple[LedgerAttendee, ...] = ()
    adopted_at: dt.datetime | None = None
    switch_on: bool = False

    @property
    def invited_anyone(self) -> bool:
        """True when somebody holds the meeting from the gateway (and it is not off)."""
        return not self.cancelled and any(row.invited for row in self.attendees)

    def attendee(self, address: str) -> LedgerAttendee | None:
        """The row of ``address``, if any."""
        for row in self.attendees:
            if row.address == address:
                return row
        return None


@dataclass(frozen=True, slots=True)
class MeetingDetails:
    """The meeting as the body of every message about it shows it (one per plan).

    ``organizer_email`` is the organizer's own address, shown to people; the ORGANIZER
    property may differ (the calendar's tokenised mailbox). ``attendees`` are the
    (name, address) pairs listed in the body.
    """

    meeting_id: str
    title: str
    description: str
    location: str
    organizer_name: str
    organizer_email: str
    time_zone: str
    attendees: tuple[tuple[str, str], ...]
    crm_url: str | None = None


@dataclass(frozen=True, slots=True)
class PlannedMessage:
    """One email to one recipient.

    ``events`` are the VEVENTs of its calendar object (a master and its exceptions, or
    one occurrence alone), already carrying this recipient's ORGANIZER. ``uninvite`` makes
    a CANCEL for this attendee only (no STATUS:CANCELLED, :rfc:`5546` section 3.2.5).
    ``details``, ``start``/``end``/``rrule``/``occurrence`` are what the body shows.
    """

    recipient: LedgerAttendee
    method: Method
    kind: MessageKind
    sequence: int
    events: tuple[Event, ...]
    organizer: Organizer
    details: MeetingDetails
    message_id: str
    start: dt.date | dt.datetime
    end: dt.date | dt.datetime | None
    reply_to: str
    thread_id: str | None = None
    uninvite: bool = False
    occurrence: dt.date | dt.datetime | None = None
    rrule: str | None = None
    changes: tuple[str, ...] = ()

    @property
    def recurrence_id(self) -> dt.date | dt.datetime | None:
        """The RECURRENCE-ID when the message concerns one occurrence only."""
        return self.occurrence


@dataclass(frozen=True, slots=True)
class PlanNote:
    """A line for the CRM's integration log of the meeting (and the gateway's event log)."""

    level: LogLevel
    text: str
    kind: str = "planned"


@dataclass(frozen=True, slots=True)
class Plan:
    """The planner's decision for one meeting.

    ``action`` names what happened in a word (``created``, ``updated``, ``occurrences``,
    ``attendees``, ``minor``, ``cancelled``, ``deleted``, ``unchanged``, ``past``,
    ``sync-off``, ``resent``, ``revived``, ``adopted``, ``invited``); ``ledger`` is
    ``None`` for a deletion of a meeting never seen. ``supersedes`` lists the recipients
    whose earlier messages, if still unsent, this plan makes obsolete.
    """

    meeting_id: str
    action: str
    ledger: LedgerState | None
    messages: tuple[PlannedMessage, ...] = ()
    notes: tuple[PlanNote, ...] = ()
    supersedes: frozenset[str] = field(default_factory=frozenset)


class IdSource(Protocol):
    """Where UIDs, reply tokens and Message-IDs come from."""

    def uid(self, domain: str) -> str:
        """A new, globally unique iCalendar UID."""
        ...

    def token(self) -> str:
        """A new reply token (``TOKEN_LENGTH`` characters of ``TOKEN_ALPHABET``)."""
        ...

    def message_id(self, domain: str) -> str:
        """A new Message-ID (``left@domain``, without angle brackets)."""
        ...


class RandomIds:
    """The production :class:`IdSource`: random values from :mod:`secrets`."""

    def uid(self, domain: str) -> str:
        """``invitegw-<32 hex digits>@domain``."""
        return f"invitegw-{secrets.token_hex(16)}@{domain}"

    def token(self) -> str:
        """16 random letters and digits."""
        return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))

    def message_id(self, domain: str) -> str:
        """``<24 hex digits>.invitegw@domain``."""
        return f"{secrets.token_hex(12)}.invitegw@{domain}"
