"""The CRM's records as the gateway sees them: frozen values that cross the CRM port.

A CRM adapter (:mod:`invitegw.crm_adapter`) returns and accepts only these: meetings and
their occurrences (the outbound side's input), parties (users, contacts, accounts, leads:
who an address belongs to), tasks (what an inbound invitation becomes), attendees'
answers and integration-log entries. They live here, below every layer, so that the pure
iTIP rules (:mod:`invitegw.itip`), the adapters and the shell share one vocabulary
without the rules importing the port.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "ChangeBatch",
    "EntityType",
    "LogEntry",
    "LogLevel",
    "LogTarget",
    "Meeting",
    "MeetingChange",
    "MeetingKind",
    "MeetingOccurrence",
    "NewTask",
    "Party",
    "PartyRef",
    "ResponseRecord",
    "SwitchReading",
    "Task",
    "TaskStatus",
    "TaskUpdate",
]


class EntityType(StrEnum):
    """Kinds of CRM record that have email addresses."""

    USER = "user"  # staff: internal
    CONTACT = "contact"
    ACCOUNT = "account"
    LEAD = "lead"


class MeetingKind(StrEnum):
    """Kinds of CRM meeting the gateway sends invitations for."""

    APPOINTMENT = "appointment"
    SERVICE = "service"  # a service activity (a visit, an installation ...)


class SwitchReading(StrEnum):
    """How certain a CRM is of a meeting's send switch (``Meeting.sync``).

    A CRM may be unable to tell a switch nobody ever set from one a person turned off
    (vtiger reads an untouched checkbox as ``"0"``, exactly like an unticked one: records
    older than the field, records created through its webservice). The outbound planner
    never cancels an invited meeting on an uncertain reading (docs/vtiger.md).
    """

    NO_SWITCH = "no-switch"  # the CRM has no switch, or its own is always certain
    SET = "set"  # the switch reads set: someone or something stored it
    MAYBE_DEFAULT = "maybe-default"  # reads unset: a person's choice, or never set at all


class TaskStatus(StrEnum):
    """The states of a task the gateway created from an invitation."""

    OPEN = "open"
    CANCELLED = "cancelled"
    DONE = "done"


class LogLevel(StrEnum):
    """Severity of an integration-log entry."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class LogTarget(StrEnum):
    """What an integration-log entry is about."""

    MEETING = "meeting"
    TASK = "task"
    PARTY = "party"
    GATEWAY = "gateway"  # nothing in the CRM: the gateway itself


@dataclass(frozen=True, slots=True)
class PartyRef:
    """A reference to a CRM record with addresses."""

    type: EntityType
    id: str


@dataclass(frozen=True, slots=True)
class Party:
    """A CRM user, contact, account or lead.

    ``emails`` holds every address of the record in field order (for matching inbound
    mail); ``invite_emails`` the ones invitations go to: the first N of ``emails`` as the
    adapter is configured for this entity type, and none when ``sync`` is off (the entity
    opted out of invitations).
    """

    type: EntityType
    id: str
    name: str
    emails: tuple[str, ...]
    invite_emails: tuple[str, ...] = ()
    sync: bool = True
    language: str | None = None
    time_zone: str | None = None
    account: PartyRef | None = None

    @property
    def ref(self) -> PartyRef:
        """This party as a reference."""
        return PartyRef(self.type, self.id)

    @property
    def internal(self) -> bool:
        """True for CRM users (staff)."""
        return self.type is EntityType.USER

    @property
    def primary_email(self) -> str | None:
        """The first address, if the record has any."""
        return self.emails[0] if self.emails else None


@dataclass(frozen=True, slots=True)
class MeetingOccurrence:
    """One occurrence of a recurring meeting that differs from its series.

    ``recurrence_id`` is the occurrence's original start (same type as the series start).
    ``cancelled`` removes the occurrence; otherwise ``start``/``end`` (and optionally
    ``location``) move it.
    """

    recurrence_id: dt.date | dt.datetime
    cancelled: bool = False
    start: dt.date | dt.datetime | None = None
    end: dt.date | dt.datetime | None = None
    location: str | None = None


@dataclass(frozen=True, slots=True)
class Meeting:
    """A snapshot of a CRM meeting, as the outbound planner needs it.

    ``start``/``end`` are aware datetimes, or dates for an all-day meeting. ``time_zone``
    is the IANA zone the meeting is planned in (the organizer's): it becomes the TZID.
    ``rrule`` is an :rfc:`5545` RRULE value (``FREQ=WEEKLY;BYDAY=MO``) or ``None``.
    ``organizer`` is a CRM user; ``attendees`` are the other parties (users are internal,
    contacts/leads/accounts external) and never include the organizer.
    """

    id: str
    kind: MeetingKind
    title: str
    start: dt.date | dt.datetime
    end: dt.date | dt.datetime
    organizer: Party
    attendees: tuple[Party, ...] = ()
    description: str = ""
    location: str = ""
    time_zone: str | None = None
    rrule: str | None = None
    occurrences: tuple[MeetingOccurrence, ...] = ()
    cancelled: bool = False
    calendar: str | None = None
    sync: bool = True
    modified_at: dt.datetime | None = None

    @property
    def all_day(self) -> bool:
        """True for a meeting on whole days."""
        return not isinstance(self.start, dt.datetime)


@dataclass(frozen=True, slots=True)
class MeetingChange:
    """One entry of the change feed: a meeting changed (``meeting`` set) or deleted."""

    meeting_id: str
    meeting: Meeting | None

    @property
    def deleted(self) -> bool:
        """True when the meeting no longer exists in the CRM."""
        return self.meeting is None


@dataclass(frozen=True, slots=True)
class ChangeBatch:
    """A page of the change feed and the cursor to ask for the next one."""

    changes: tuple[MeetingChange, ...]
    cursor: str
    more: bool = False


@dataclass(frozen=True, slots=True)
class NewTask:
    """A task to create from an inbound invitation.

    ``idempotency_key`` identifies the invitation occurrence (the gateway derives it from
    organizer, UID and RECURRENCE-ID); creating twice with the same key yields one task.
    """

    idempotency_key: str
    title: str
    start: dt.date | dt.datetime
    end: dt.date | dt.datetime | None
    owner: PartyRef
    description: str = ""
    location: str = ""
    organizer_email: str | None = None
    party: PartyRef | None = None
    source_uid: str | None = None
    recurrence_id: str | None = None
    sequence: int = 0


@dataclass(frozen=True, slots=True)
class TaskUpdate:
    """Changes to a task; ``None`` leaves a field as it is."""

    title: str | None = None
    description: str | None = None
    location: str | None = None
    start: dt.date | dt.datetime | None = None
    end: dt.date | dt.datetime | None = None
    sequence: int | None = None


@dataclass(frozen=True, slots=True)
class Task:
    """A CRM task as the gateway sees it."""

    id: str
    title: str
    start: dt.date | dt.datetime
    end: dt.date | dt.datetime | None
    status: TaskStatus
    owner: PartyRef
    description: str = ""
    location: str = ""
    organizer_email: str | None = None
    party: PartyRef | None = None
    source_uid: str | None = None
    recurrence_id: str | None = None
    sequence: int = 0
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class ResponseRecord:
    """An attendee's answer to a meeting invitation, to record on the CRM meeting.

    ``partstat`` is the :rfc:`5545` value (``ACCEPTED``, ``DECLINED``, ``TENTATIVE``,
    ``DELEGATED``, ``NEEDS-ACTION``); ``delegated_to`` names the delegate for DELEGATED.
    """

    meeting_id: str
    attendee_email: str
    partstat: str
    recurrence_id: str | None = None
    delegated_to: str | None = None
    comment: str = ""
    received_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class LogEntry:
    """An integration-log line the CRM's users see next to the record it concerns."""

    target: LogTarget
    target_id: str | None
    level: LogLevel
    message: str
    created_at: dt.datetime | None = None
    details: dict[str, str] = field(default_factory=dict)
