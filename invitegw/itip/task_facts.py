"""The values the inbound task rules (:mod:`invitegw.itip.decide`) read and answer with.

The shell gathers an :class:`EventFacts` for one received REQUEST, PUBLISH or CANCEL event
(what the ledger holds for its key as an :class:`OnRecord`, who sent it as a
:class:`Provenance` of two :class:`AddressStanding` values, the :class:`Version` of the
copy); the rules answer with a :class:`Decision` (an :class:`Action` and its reason). Plain
frozen values, no I/O.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from invitegw.itip.policy import DuplicatePolicy, ExternalInvitationPolicy, ForwarderPolicy

__all__ = [
    "Action",
    "AddressStanding",
    "Decision",
    "EventFacts",
    "LedgerState",
    "OnRecord",
    "Policies",
    "Provenance",
    "Version",
    "compare_versions",
]


class LedgerState(StrEnum):
    """The state of an invitation on record (the values of the ledger's ``state``)."""

    ACTIVE = "active"
    CANCELLED = "cancelled"
    CANCEL_SEEN = "cancel-seen"


class Action(StrEnum):
    """What to do with one event."""

    CREATE = "create"  # a new task (a first one, or a further one under policy 'create')
    UPDATE = "update"  # the task takes the newer content
    REACTIVATE = "reactivate"  # a cancelled task is opened again with the newer content
    TOUCH = "touch"  # newer version, same content: only the ledger's version moves
    DUPLICATE = "duplicate"  # nothing new
    CANCEL = "cancel"  # the task (and for a series, its occurrences' tasks) cancelled
    RECORD_CANCEL = "record-cancel"  # a cancel for a meeting not on record, remembered
    NOTE_REMOVED = "note-removed"  # a CANCEL uninviting others: noted on the task, which stays
    IGNORE = "ignore"
    QUARANTINE = "quarantine"


@dataclass(frozen=True, slots=True, order=False)
class Version:
    """SEQUENCE and DTSTAMP of one copy of an event."""

    sequence: int = 0
    dtstamp: dt.datetime | None = None

    def __str__(self) -> str:
        if self.dtstamp is None:
            return f"SEQUENCE {self.sequence}"
        stamp = self.dtstamp.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        return f"SEQUENCE {self.sequence}, DTSTAMP {stamp}"


def compare_versions(new: Version, old: Version) -> int:
    """Order two versions of an event (:rfc:`5546` section 2.1.5).

    Parameters:
        new: the copy received.
        old: the copy on record.

    Returns:
        1 when ``new`` is newer, -1 when older, 0 when neither (equal SEQUENCE and equal
        or missing DTSTAMPs).
    """
    if new.sequence != old.sequence:
        return 1 if new.sequence > old.sequence else -1
    if new.dtstamp is None or old.dtstamp is None or new.dtstamp == old.dtstamp:
        return 0
    return 1 if new.dtstamp > old.dtstamp else -1


@dataclass(frozen=True, slots=True)
class OnRecord:
    """What the ledger holds for an event's key.

    Parameters:
        state: active, cancelled, or a cancel seen before any invitation.
        version: the newest version applied.
        task_id: the CRM task, when one was made.
    """

    state: LedgerState
    version: Version
    task_id: str | None = None


@dataclass(frozen=True, slots=True)
class AddressStanding:
    """An address and what the CRM and the settings say of it: its standing.

    (Not a person to send to: that is :class:`invitegw.itip.recipients.Person`.)

    Parameters:
        address: the canonical address, or None when the message gave none usable.
        is_user: a CRM user (staff).
        internal: in one of ``inbound.internal_domains``.
        known_party: a contact, account or lead in the CRM.
    """

    address: str | None = None
    is_user: bool = False
    internal: bool = False
    known_party: bool = False


@dataclass(frozen=True, slots=True)
class Provenance:
    """Who a message comes from, and whose invitation it carries.

    Parameters:
        author: the From.
        organizer: the event's ORGANIZER (or, without one, the original sender).
        from_organizer: the author is the organizer (or the organizer's SENT-BY, or a
            calendar service sending for the organizer: ``inbound.calendar_services``).
        forwarded: the author forwards someone else's invitation (a forward that is not
            from the organizer). A message neither from the organizer nor a forward was
            sent on the organizer's behalf (a booking service, a calendar server) and is
            judged as a direct invitation.
        authenticated: the author is confirmed by a trusted Authentication-Results
            header, or the settings do not ask for it.
    """

    author: AddressStanding
    organizer: AddressStanding
    from_organizer: bool
    forwarded: bool
    authenticated: bool = True


@dataclass(frozen=True, slots=True)
class Policies:
    """The ``[inbound]`` policies the rules read."""

    duplicate: DuplicatePolicy = DuplicatePolicy.UPDATE
    forwarders: ForwarderPolicy = ForwarderPolicy.STAFF
    external: ExternalInvitationPolicy = ExternalInvitationPolicy.KNOWN_PARTIES


@dataclass(frozen=True, slots=True)
class EventFacts:
    """Everything the rules need about one event of a received message.

    Parameters:
        cancels: a CANCEL (or a REQUEST/PUBLISH whose STATUS is CANCELLED).
        version: the copy's SEQUENCE and DTSTAMP.
        provenance: who sent it.
        record: the ledger row for (organizer, UID, RECURRENCE-ID), if any.
        recurrence_id: the RECURRENCE-ID text, ``""`` for a master.
        other_organizer: another organizer on record for the same UID and RECURRENCE-ID
            (when ``record`` is None): a CANCEL naming a different organizer is spoofed.
        series: for an occurrence, the ledger row of its series, if any.
        our_meeting: the UID is one of the meetings the gateway sends (a loop).
        changes: the task fields the copy would change (vs the task on record).
        trusted_forward: the message forwards the organizer's own message and the
            forwarder may speak for the task (its owner; for a meeting not on record,
            someone allowed to forward).
        owner_found: a CRM user was found to own a new task.
        removed: a CANCEL that uninvites only these other attendees (:rfc:`5546` section
            3.2.5; :func:`~invitegw.itip.decide_cancel.removed_others`): the task stays.
        in_publication: a cancelled occurrence inside a PUBLISH that also carries its
            series (same UID): judged as part of that publication, not as a CANCEL.
    """

    cancels: bool
    version: Version
    provenance: Provenance
    record: OnRecord | None = None
    recurrence_id: str = ""
    other_organizer: str | None = None
    series: OnRecord | None = None
    our_meeting: bool = False
    changes: tuple[str, ...] = ()
    trusted_forward: bool = False
    owner_found: bool = True
    removed: tuple[str, ...] = ()
    in_publication: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with one event, and the reason to show for it.

    ``cascade``: cancelling a series also cancels its occurrences' tasks. ``note_series``:
    an occurrence's cancel (or, for ``note-removed``, the attendees an occurrence's CANCEL
    removes) is noted on the series task (which stays).
    """

    action: Action
    reason: str | None = None
    cascade: bool = False
    note_series: bool = False
