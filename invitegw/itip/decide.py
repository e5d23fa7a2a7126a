"""The inbound task rules, pure: what a received REQUEST, PUBLISH or CANCEL does.

The pipeline gathers the facts about one calendar event (what the ledger holds for its key,
who sent the message and what the CRM knows of them, the policies in force) into an
:class:`~invitegw.itip.task_facts.EventFacts` value; :func:`decide_event` answers with a
:class:`~invitegw.itip.task_facts.Decision` that the pipeline then applies. No I/O, no
database: every rule is tested with plain values. The values live in
:mod:`~invitegw.itip.task_facts`, the task fields an event gives in
:mod:`~invitegw.itip.task_content`.

The rules (:rfc:`5546` sections 2.1.4-2.1.5; docs/architecture.md, the inbound flow):

- **Versions.** A copy is newer when its SEQUENCE is higher, or equal with a later DTSTAMP.
  Same or older → ``duplicate``; newer with the same content → ``duplicate`` with the
  ledger brought up to date; newer with changed content → per ``inbound.duplicate_policy``
  (``update`` the task, ``skip``, or ``create`` a further task).
- **Cancels.** The task is cancelled only when the CANCEL's ORGANIZER is the one on
  record and the message comes from that organizer, or is forwarded by the task's owner;
  a CANCEL for an unknown meeting is recorded so an older or equal REQUEST arriving later
  does not resurrect it; only a higher SEQUENCE re-activates a cancelled meeting.
- **Uninvited others** (:rfc:`5546` section 3.2.5). A CANCEL without STATUS:CANCELLED
  whose attendee list names none of the addresses that speak for the task
  (:mod:`~invitegw.itip.decide_cancel`) removes other people: the task stays and its log
  names them; for a meeting not on record nothing is remembered, so the REQUEST that
  follows still makes its task.
- **Publications.** A cancelled occurrence inside a PUBLISH that also carries its series
  (same UID) is part of that publication: whoever may publish the series may cancel the
  occurrence in it (it is not judged as a separate CANCEL from the organizer).
- **Who may create.** Forwards: ``inbound.forwarders``; direct invitations from outside:
  ``inbound.external_invitations``. A message about a meeting already on record is judged
  by the version and cancel rules, and by who may change it (its organizer, or someone
  allowed to forward), not by the creation policy.
- **Loops.** Our own meeting's UID arriving as a REQUEST or CANCEL is ignored.
"""

from __future__ import annotations

from invitegw.itip.policy import DuplicatePolicy, ExternalInvitationPolicy, ForwarderPolicy
from invitegw.itip.task_facts import (
    Action,
    AddressStanding,
    Decision,
    EventFacts,
    LedgerState,
    Policies,
    Provenance,
    Version,
    compare_versions,
)

__all__ = [
    "cancel_refusal",
    "creation_refusal",
    "decide_event",
    "forwarder_refusal",
    "update_refusal",
]


def forwarder_refusal(author: AddressStanding, policy: ForwarderPolicy) -> str | None:
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
    unconfirmed = _unconfirmed(provenance)
    if unconfirmed:
        return unconfirmed
    if provenance.from_organizer:
        return None
    if provenance.forwarded and trusted_forward:
        return None
    organizer = provenance.organizer.address or "(none)"
    text = f"the message comes from {author}, not from the organizer {organizer}"
    if provenance.forwarded:
        text += ", and is not the organizer's message forwarded by the task's owner"
    return text


def _unconfirmed(provenance: Provenance) -> str | None:
    if provenance.authenticated:
        return None
    author = provenance.author.address or "an unknown sender"
    return (
        f"sender {author} is not confirmed by a trusted Authentication-Results header "
        "(inbound.require_authentication_results)"
    )


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
        return _decide_cancel(facts, policies)
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


def _cancel_refused(facts: EventFacts, policies: Policies) -> str | None:
    """Why the cancel is not believed (the quarantine reason), or None."""
    provenance = facts.provenance
    if facts.record is None and facts.other_organizer is not None:
        return (
            f"spoofed CANCEL: ORGANIZER {provenance.organizer.address or '(none)'} is not "
            f"the organizer on record ({facts.other_organizer})"
        )
    if facts.in_publication:
        refusal = _unconfirmed(provenance) or (
            update_refusal(provenance, policies)
            if _series_active(facts)
            else creation_refusal(provenance, policies)
        )
        return f"cancelled occurrence in a PUBLISH refused: {refusal}" if refusal else None
    refusal = cancel_refusal(provenance, trusted_forward=facts.trusted_forward)
    return f"spoofed CANCEL: {refusal}" if refusal else None


def _decide_removed(facts: EventFacts) -> Decision:
    """A CANCEL that uninvites only other attendees: a note, never a cancel."""
    who = ", ".join(facts.removed)
    record = facts.record
    if record is not None and record.state is LedgerState.ACTIVE and record.task_id:
        return Decision(
            Action.NOTE_REMOVED, f"the CANCEL removes other attendees ({who}); the task stays"
        )
    if record is None and facts.recurrence_id and _series_active(facts):
        return Decision(
            Action.NOTE_REMOVED,
            f"the CANCEL removes other attendees ({who}) from one occurrence; "
            "the series task stays",
            note_series=True,
        )
    return Decision(
        Action.IGNORE,
        f"the CANCEL removes other attendees ({who}); nothing of ours is cancelled",
    )


def _decide_cancel(facts: EventFacts, policies: Policies) -> Decision:
    record = facts.record
    refused = _cancel_refused(facts, policies)
    if refused:
        return Decision(Action.QUARANTINE, refused)
    if facts.removed:
        return _decide_removed(facts)
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
