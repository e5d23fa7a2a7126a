"""The inbound task rules, pure: what a received REQUEST, PUBLISH or CANCEL does.

The pipeline gathers the facts about one calendar event (what the ledger holds for its key,
who sent the message and what the CRM knows of them, the policies in force) into an
:class:`EventFacts` value; :func:`decide_event` answers with a :class:`Decision` that the
pipeline then applies. No I/O, no database: every rule is tested with plain values.

The rules (:rfc:`5546` sections 2.1.4-2.1.5; docs/architecture.md, the inbound flow):

- **Versions.** A copy is newer when its SEQUENCE is higher, or equal with a later DTSTAMP.
  Same or older → ``duplicate``; newer with the same content → ``duplicate`` with the
  ledger brought up to date; newer with changed content → per ``inbound.duplicate_policy``
  (``update`` the task, ``skip``, or ``create`` a further task).
- **Cancels.** The task is cancelled only when the CANCEL's ORGANIZER is the one on
  record and the message comes from that organizer, or is forwarded by the task's owner;
  a CANCEL for an unknown meeting is recorded so an older or equal REQUEST arriving later
  does not resurrect it; only a higher SEQUENCE re-activates a cancelled meeting.
- **Who may create.** Forwards: ``inbound.forwarders``; direct invitations from outside:
  ``inbound.external_invitations``. A message about a meeting already on record is judged
  by the version and cancel rules, and by who may change it (its organizer, or someone
  allowed to forward), not by the creation policy.
- **Loops.** Our own meeting's UID arriving as a REQUEST or CANCEL is ignored.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

from invitegw.domain.records import Task
from invitegw.ics.model import DateOrDateTime, Event
from invitegw.itip.policy import DuplicatePolicy, ExternalInvitationPolicy, ForwarderPolicy

__all__ = [
    "UNTITLED",
    "Action",
    "Decision",
    "EventFacts",
    "LedgerState",
    "OnRecord",
    "Person",
    "Policies",
    "Provenance",
    "TaskContent",
    "Version",
    "cancel_refusal",
    "compare_versions",
    "content_changes",
    "creation_refusal",
    "decide_event",
    "forwarder_refusal",
    "task_content",
    "update_refusal",
]

UNTITLED = "(no title)"


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
class Person:
    """An address and what the CRM and the settings say of it.

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

    author: Person
    organizer: Person
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


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with one event, and the reason to show for it.

    ``cascade``: cancelling a series also cancels its occurrences' tasks. ``note_series``:
    an occurrence's cancel is noted on the series task (which stays).
    """

    action: Action
    reason: str | None = None
    cascade: bool = False
    note_series: bool = False


@dataclass(frozen=True, slots=True)
class TaskContent:
    """The task fields an event gives: title, description, location, start and end."""

    title: str
    description: str
    location: str
    start: DateOrDateTime
    end: DateOrDateTime | None


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


def forwarder_refusal(author: Person, policy: ForwarderPolicy) -> str | None:
    """Why ``author`` may not pass on an invitation under ``inbound.forwarders``, or None.

    Parameters:
        author: the forwarder (the From).
        policy: the forwarder policy.

    Returns:
        The reason, or None when allowed.
    """
    if author.address is None:
        return "forwarded invitation without a usable From: the forwarder is unknown"
    if policy is ForwarderPolicy.ANYONE or author.is_user:
        return None
    if policy is ForwarderPolicy.INTERNAL_DOMAINS:
        if author.internal:
            return None
        return f"forwarder {author.address} is not a CRM user nor in an internal domain"
    return f"forwarder {author.address} is not a CRM user"


def creation_refusal(provenance: Provenance, policies: Policies) -> str | None:
    """Why this message may not create a new task, or None when it may.

    Parameters:
        provenance: who sent it.
        policies: the policies.

    Returns:
        The reason (a person can act on it), or None.
    """
    if provenance.forwarded:
        return forwarder_refusal(provenance.author, policies.forwarders)
    who = provenance.author if provenance.author.address else provenance.organizer
    if who.is_user or who.internal or policies.external is ExternalInvitationPolicy.ANYONE:
        return None
    name = who.address or "an unknown sender"
    if policies.external is ExternalInvitationPolicy.NONE:
        return f"invitation from outside ({name}) refused: inbound.external_invitations is 'none'"
    if who.known_party or provenance.organizer.known_party:
        return None
    return f"unknown sender {name}: not a contact, account or lead in the CRM"


def update_refusal(provenance: Provenance, policies: Policies) -> str | None:
    """Why this message may not change a meeting on record, or None when it may.

    The organizer may always change their meeting; anyone else by forwarding it as the
    forwarder policy allows, or by sending it on the organizer's behalf (a booking
    service, a calendar server) as the creation policy allows.

    Parameters:
        provenance: who sent it.
        policies: the policies.

    Returns:
        The reason, or None.
    """
    if provenance.from_organizer:
        return None
    if provenance.forwarded:
        return forwarder_refusal(provenance.author, policies.forwarders)
    return creation_refusal(provenance, policies)


def cancel_refusal(provenance: Provenance, *, trusted_forward: bool) -> str | None:
    """Why this CANCEL is not to be believed, or None.

    Parameters:
        provenance: who sent it.
        trusted_forward: it forwards the organizer's message, by the task's owner.

    Returns:
        The reason, or None.
    """
    author = provenance.author.address or "an unknown sender"
    if not provenance.authenticated:
        return (
            f"sender {author} is not confirmed by a trusted Authentication-Results header "
            "(inbound.require_authentication_results)"
        )
    if provenance.from_organizer:
        return None
    if provenance.forwarded and trusted_forward:
        return None
    organizer = provenance.organizer.address or "(none)"
    text = f"the message comes from {author}, not from the organizer {organizer}"
    if provenance.forwarded:
        text += ", and is not the organizer's message forwarded by the task's owner"
    return text


def task_content(event: Event, floating_zone: ZoneInfo | dt.tzinfo) -> TaskContent:
    """The task fields an event gives.

    Floating times (no zone) are read in ``floating_zone``; an end before the start, or of
    another kind than the start (a date against a time), is dropped.

    Parameters:
        event: the event.
        floating_zone: the zone for floating times (the owner's, or the calendar's).

    Returns:
        The content.
    """

    def aware(value: DateOrDateTime) -> DateOrDateTime:
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            return value.replace(tzinfo=floating_zone)
        return value

    start = aware(event.start)
    end = aware(event.end) if event.end is not None and event.start_given else None
    if end is not None and (
        isinstance(end, dt.datetime) != isinstance(start, dt.datetime) or end < start
    ):
        end = None
    return TaskContent(
        title=event.summary.strip() or UNTITLED,
        description=event.description,
        location=event.location,
        start=start,
        end=end,
    )


def _same_time(a: DateOrDateTime | None, b: DateOrDateTime | None) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, dt.datetime) != isinstance(b, dt.datetime):
        return False
    return a == b


def content_changes(task: Task, content: TaskContent) -> tuple[str, ...]:
    """The task fields ``content`` would change.

    Parameters:
        task: the task on record.
        content: what the newer copy gives (:func:`task_content`).

    Returns:
        The names of the changed fields, in a fixed order (``start``, ``end``,
        ``location``, ``title``, ``description``).
    """
    changed = []
    if not _same_time(task.start, content.start):
        changed.append("start")
    if not _same_time(task.end, content.end):
        changed.append("end")
    if task.location != content.location:
        changed.append("location")
    if task.title != content.title:
        changed.append("title")
    if task.description != content.description:
        changed.append("description")
    return tuple(changed)


def decide_event(facts: EventFacts, policies: Policies) -> Decision:
    """What to do with one REQUEST, PUBLISH or CANCEL event.

    Parameters:
        facts: the gathered facts.
        policies: the ``[inbound]`` policies.

    Returns:
        The decision.
    """
    if facts.our_meeting:
        return Decision(Action.IGNORE, "one of the gateway's own meetings came back (a loop)")
    if facts.cancels:
        return _decide_cancel(facts)
    return _decide_request(facts, policies)


def _series_active(facts: EventFacts) -> bool:
    return facts.series is not None and facts.series.state is LedgerState.ACTIVE


def _create(facts: EventFacts, refusal: str | None, reason: str | None = None) -> Decision:
    if refusal:
        return Decision(Action.QUARANTINE, refusal)
    if not facts.owner_found:
        return Decision(
            Action.QUARANTINE,
            "no owner for the task: the sender is not a CRM user and the mailbox it "
            "arrived in has no owner in the CRM (set the mailbox's owner, or release it "
            "with --owner)",
        )
    return Decision(Action.CREATE, reason)


def _decide_request(facts: EventFacts, policies: Policies) -> Decision:
    record, version = facts.record, facts.version
    if record is not None and record.state is LedgerState.ACTIVE and record.task_id is None:
        record = None  # an active row always has a task; read a broken one as no record
    if record is None or record.state is LedgerState.CANCEL_SEEN:
        if record is not None and version.sequence <= record.version.sequence:
            return Decision(
                Action.IGNORE,
                f"cancelled before it arrived (a CANCEL with {record.version}); "
                f"this copy ({version}) does not bring it back",
            )
        # An occurrence of a series on record is about that meeting: its organizer or a
        # permitted forwarder may add it, whatever the creation policy says.
        refusal = (
            update_refusal(facts.provenance, policies)
            if _series_active(facts)
            else creation_refusal(facts.provenance, policies)
        )
        reason = "invitation after a recorded cancel, with a higher SEQUENCE" if record else None
        return _create(facts, refusal, reason)
    if record.state is LedgerState.CANCELLED:
        if version.sequence <= record.version.sequence:
            return Decision(
                Action.IGNORE,
                f"the meeting was cancelled ({record.version}); "
                f"this copy ({version}) does not re-activate it",
            )
        refusal = update_refusal(facts.provenance, policies)
        if refusal:
            return Decision(Action.QUARANTINE, f"re-activation refused: {refusal}")
        return Decision(Action.REACTIVATE, f"re-activated by a higher SEQUENCE ({version})")
    order = compare_versions(version, record.version)
    if order == 0:
        return Decision(Action.DUPLICATE, f"already on record ({record.version})")
    if order < 0:
        return Decision(
            Action.DUPLICATE, f"older copy ({version}) than the one on record ({record.version})"
        )
    if not facts.changes:
        return Decision(Action.TOUCH, f"newer copy ({version}) with the same content")
    if policies.duplicate is DuplicatePolicy.SKIP:
        return Decision(
            Action.DUPLICATE,
            f"newer copy ({version}) not applied: inbound.duplicate_policy is 'skip'",
        )
    refusal = update_refusal(facts.provenance, policies)
    if refusal:
        return Decision(Action.QUARANTINE, f"update refused: {refusal}")
    if policies.duplicate is DuplicatePolicy.CREATE:
        return _create(
            facts,
            None,
            f"newer copy ({version}): a further task (inbound.duplicate_policy is 'create')",
        )
    what = "rescheduled" if {"start", "end"} & set(facts.changes) else "updated"
    return Decision(Action.UPDATE, f"{what} ({', '.join(facts.changes)} changed; {version})")


def _stale_cancel(new: Version, old: Version) -> bool:
    # Exchange writes no SEQUENCE in its CANCELs (read as 0): a later DTSTAMP still counts.
    if new.dtstamp is not None and old.dtstamp is not None and new.dtstamp > old.dtstamp:
        return False
    return compare_versions(new, old) < 0


def _decide_cancel(facts: EventFacts) -> Decision:
    record, provenance = facts.record, facts.provenance
    if record is None and facts.other_organizer is not None:
        return Decision(
            Action.QUARANTINE,
            f"spoofed CANCEL: ORGANIZER {provenance.organizer.address or '(none)'} is not "
            f"the organizer on record ({facts.other_organizer})",
        )
    refusal = cancel_refusal(provenance, trusted_forward=facts.trusted_forward)
    if refusal:
        return Decision(Action.QUARANTINE, f"spoofed CANCEL: {refusal}")
    unknown = "cancel for an unknown meeting recorded"
    note_series = bool(facts.recurrence_id) and _series_active(facts)
    if note_series:
        unknown = "cancel of one occurrence recorded; the series task stays"
    if record is None:
        return Decision(Action.RECORD_CANCEL, unknown, note_series=note_series)
    if record.state is LedgerState.CANCEL_SEEN:
        if compare_versions(facts.version, record.version) > 0:
            return Decision(Action.RECORD_CANCEL, unknown)
        return Decision(Action.DUPLICATE, f"cancel seen before ({record.version})")
    if record.state is LedgerState.CANCELLED:
        return Decision(Action.DUPLICATE, f"already cancelled ({record.version})")
    if _stale_cancel(facts.version, record.version):
        return Decision(
            Action.IGNORE,
            f"stale CANCEL ({facts.version}) older than the copy on record ({record.version})",
        )
    return Decision(Action.CANCEL, None, cascade=not facts.recurrence_id)
