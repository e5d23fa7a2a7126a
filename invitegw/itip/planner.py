"""The outbound planner: which iTIP message each recipient gets for a meeting change (pure).

:func:`plan_meeting` compares the CRM's new snapshot of a meeting (or its deletion) with
the ledger of what was last sent and returns a :class:`~invitegw.itip.plan_model.Plan`:
the messages, the new ledger state and the notes for the meeting's log. The rules
(:rfc:`5546`; docs/architecture.md, the outbound flow):

- a new meeting: REQUEST to every listed address (the organizer as CHAIR too);
- a significant change (start, end, duration, recurrence, location, an occurrence
  restored): SEQUENCE + 1 and a full REQUEST to everyone, answers asked again; a minor
  change (title, description, organizer's name): same SEQUENCE, newer DTSTAMP;
- one occurrence moved or cancelled (and nothing else): SEQUENCE + 1 and, per
  occurrence, a message carrying only that RECURRENCE-ID (the shape Outlook applies);
  later full REQUESTs carry the EXDATEs and exception components, so the series stays
  consistent for anyone who joins later;
- an attendee added: a REQUEST (an invitation) at the current SEQUENCE, the others an
  update with the new list; an attendee removed: a CANCEL to that attendee only, decided
  per address before any "nothing changed" shortcut, so it is never swallowed;
- cancelled, deleted, or sync switched off after invitations went out: SEQUENCE + 1 and a
  CANCEL (STATUS:CANCELLED) to everyone who had been invited; nothing further after that;
- an attendee whose record has invitations off gets nothing (not even a CANCEL);
- a REFRESH (``resend`` on the ledger row): the current REQUEST again, same SEQUENCE;
- a meeting whose last occurrence ended more than the grace period ago: no mail, the
  ledger is still updated.

The path is linear: the people of the meeting are worked out once
(:func:`~invitegw.itip.recipients.meeting_people`), the ledger rows follow from them
(:mod:`invitegw.itip.plan_rows`), the messages from the rows
(:mod:`invitegw.itip.plan_messages`). Every message carries the recipient's own ORGANIZER
(per-attendee reply token) and a Message-ID from the injected
:class:`~invitegw.itip.plan_model.IdSource`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from invitegw.domain.records import LogLevel, Meeting, MeetingOccurrence
from invitegw.ics.changes import compare_events
from invitegw.itip.meeting_events import base_event, last_end_utc, occurrence_key
from invitegw.itip.plan_messages import (
    Mailing,
    cancel_all,
    full_request,
    mailing,
    occurrence_message,
    uninvite,
)
from invitegw.itip.plan_model import (
    CalendarProfile,
    IdSource,
    LedgerAttendee,
    LedgerState,
    Plan,
    PlannedMessage,
    PlanNote,
)
from invitegw.itip.plan_rows import finish, merge_rows, sent_rows, unless_past
from invitegw.itip.policy import MessageKind
from invitegw.itip.recipients import MeetingPeople, meeting_people

__all__ = ["plan_meeting"]


@dataclass(frozen=True, slots=True)
class _Round:
    """What one planning run is given besides the meeting and its ledger."""

    calendar: CalendarProfile
    now: dt.datetime
    grace: dt.timedelta
    ids: IdSource


@dataclass(frozen=True, slots=True)
class _Diff:
    """How the new snapshot differs from the last one sent."""

    significant: bool
    minor: bool
    occurrences: tuple[MeetingOccurrence, ...]
    fields: tuple[str, ...]


def plan_meeting(
    meeting: Meeting | None,
    ledger: LedgerState | None,
    *,
    meeting_id: str,
    calendar: CalendarProfile,
    now: dt.datetime,
    grace: dt.timedelta,
    ids: IdSource,
    max_attendees: int = 500,
) -> Plan:
    """Decide every message for one meeting change (see the module docstring).

    Parameters:
        meeting: the CRM's current snapshot, or ``None`` when the meeting was deleted.
        ledger: what was last sent for it, or ``None`` for a meeting never seen.
        meeting_id: the CRM meeting id.
        calendar: the calendar that sends for it.
        now: the current time (DTSTAMP, the grace period).
        grace: how long after its last occurrence ended a meeting still gets mail.
        ids: where UIDs, tokens and Message-IDs come from.
        max_attendees: more addresses than this and nothing is sent (every message lists
            them all, so the mail grows with the square of their number): the meeting's
            log says why, and the ledger stays as it was.

    Returns:
        The plan.
    """
    given = _Round(calendar, now, grace, ids)
    if meeting is None:
        if ledger is None or ledger.snapshot is None or ledger.cancelled:
            # Never sent, or already cancelled: only remember that it is gone.
            state = dataclasses.replace(ledger, deleted=True) if ledger else None
            return Plan(meeting_id, "unchanged", state)
        return _withdraw(ledger.snapshot, ledger, "deleted", given)
    if not meeting.sync or meeting.cancelled:
        action = "cancelled" if meeting.cancelled else "sync-off"
        if ledger is not None and not ledger.cancelled and ledger.snapshot is not None:
            return _withdraw(meeting, ledger, action, given)
        return _record_inactive(meeting, ledger, action, meeting_id, given)
    people = meeting_people(meeting)
    if len(people.listed) > max_attendees:
        return _too_large(meeting_id, ledger, len(people.listed), max_attendees)
    return _plan_active(meeting, people, ledger, given)


def _too_large(meeting_id: str, ledger: LedgerState | None, count: int, limit: int) -> Plan:
    note = PlanNote(
        LogLevel.ERROR,
        f"invitations not sent: {count} addresses, more than the {limit} allowed "
        "(limits.attendees)",
        kind="too-large",
    )
    # A pending REFRESH is answered by this note: asking again must not repeat it.
    state = (
        dataclasses.replace(
            ledger, attendees=tuple(dataclasses.replace(r, resend=False) for r in ledger.attendees)
        )
        if ledger is not None
        else None
    )
    return Plan(meeting_id, "too-large", state, notes=(note,))


# -- an active meeting ---------------------------------------------------------------------


def _diff(old: Meeting, new: Meeting, uid: str) -> _Diff:
    change = compare_events(base_event(old, uid), base_event(new, uid))
    before = {occurrence_key(o.recurrence_id): o for o in old.occurrences}
    after = {occurrence_key(o.recurrence_id): o for o in new.occurrences}
    restored = any(
        key not in after or (before[key].cancelled and not after[key].cancelled) for key in before
    )
    changed = tuple(after[key] for key in sorted(after) if before.get(key) != after[key])
    fields = change.significant + change.minor
    if restored or changed:
        fields += ("exdates",)
    return _Diff(
        significant=change.bumps_sequence or restored,
        minor=bool(change.minor),
        occurrences=() if restored else changed,
        fields=fields,
    )


def _compare(
    meeting: Meeting, ledger: LedgerState | None, old: Meeting | None, uid: str
) -> tuple[_Diff, int]:
    """What changed since the last snapshot sent, and the SEQUENCE the messages carry."""
    if ledger is None or old is None:
        # New, or revived after a CANCEL: everyone gets the whole meeting afresh.
        diff = _Diff(significant=ledger is not None, minor=False, occurrences=(), fields=())
        return diff, 0 if ledger is None else ledger.sequence + 1
    diff = _diff(old, meeting, uid)
    bump = diff.significant or bool(diff.occurrences)
    return diff, ledger.sequence + (1 if bump else 0)


def _plan_active(
    meeting: Meeting, people: MeetingPeople, ledger: LedgerState | None, given: _Round
) -> Plan:
    uid = ledger.uid if ledger is not None else given.ids.uid(given.calendar.domain)
    old = ledger.snapshot if ledger is not None and not ledger.cancelled else None
    diff, sequence = _compare(meeting, ledger, old, uid)
    rows = merge_rows(people.listed, ledger, given.ids, ask_again=diff.significant)
    previous = {row.address: row for row in ledger.attendees} if ledger else {}
    roster_before = {(r.address, r.name, r.role) for r in previous.values() if not r.removed}
    roster_changed = roster_before != {(r.address, r.name, r.role) for r in rows.values()}
    whole = old is None or diff.significant or diff.minor or roster_changed
    sending = mailing(
        meeting,
        given.calendar,
        uid=uid,
        sequence=sequence,
        now=given.now,
        ids=given.ids,
        listed=rows.values(),
        ask_again=diff.significant,
    )
    messages = _requests(sending, rows, people.notified, diff, whole=whole, ledger=ledger, old=old)
    uninvites, removal_notes, removed_rows = _removals(sending, previous, rows, people.muted)
    messages += uninvites
    notes = [*people.notes, *removal_notes]
    ends_at = last_end_utc(meeting, given.calendar.time_zone)
    action = _action(ledger, old, diff, roster_changed, messages)
    messages, notes = unless_past(messages, notes, ends_at, given.now, given.grace)
    # Every REFRESH is answered now: by a message, or by none when the meeting is over.
    final_rows = [
        dataclasses.replace(row, resend=False)
        for row in sent_rows([*rows.values(), *removed_rows], messages, given.now)
    ]
    state = LedgerState(
        uid=uid,
        calendar=ledger.calendar if ledger is not None else given.calendar.name,
        sequence=sequence,
        snapshot=meeting,
        ends_at=ends_at,
        attendees=tuple(final_rows),
    )
    return finish(meeting.id, action, state, messages, notes)


def _requests(
    sending: Mailing,
    rows: dict[str, LedgerAttendee],
    notified: frozenset[str],
    diff: _Diff,
    *,
    whole: bool,
    ledger: LedgerState | None,
    old: Meeting | None,
) -> list[PlannedMessage]:
    """The REQUESTs (and cancelled occurrences) to the people listed now."""
    messages: list[PlannedMessage] = []
    for address, row in rows.items():
        if address not in notified:
            continue
        resend = row.resend
        if row.last_sequence_sent is None or old is None:
            messages.append(full_request(sending, row, MessageKind.INVITATION, ()))
        elif (
            diff.occurrences
            and not whole
            and not resend
            and ledger is not None
            and row.last_sequence_sent >= ledger.sequence
        ):
            messages += [occurrence_message(sending, row, o) for o in diff.occurrences]
        elif whole or diff.occurrences or resend or row.last_sequence_sent < sending.sequence:
            messages.append(full_request(sending, row, MessageKind.UPDATE, diff.fields))
    return messages


def _removals(
    sending: Mailing,
    previous: dict[str, LedgerAttendee],
    rows: dict[str, LedgerAttendee],
    muted: frozenset[str],
) -> tuple[list[PlannedMessage], list[PlanNote], list[LedgerAttendee]]:
    """The addresses taken off the list: a CANCEL each, or a note when their record has
    invitations off; and their rows, marked removed."""
    messages: list[PlannedMessage] = []
    notes: list[PlanNote] = []
    removed_rows: list[LedgerAttendee] = []
    for address, row in previous.items():
        if address in rows or row.removed:
            continue
        if row.invited and address not in muted:
            messages.append(uninvite(sending, row))
        elif row.invited:
            notes.append(
                PlanNote(
                    LogLevel.INFO,
                    f"{address} no longer receives invitations: taken off the list without "
                    "a cancellation",
                    kind="sync-off",
                )
            )
        removed_rows.append(dataclasses.replace(row, removed=True, resend=False))
    return messages, notes, removed_rows


def _action(
    ledger: LedgerState | None,
    old: Meeting | None,
    diff: _Diff,
    roster_changed: bool,
    messages: list[PlannedMessage],
) -> str:
    if ledger is None:
        return "created"
    if old is None:
        return "revived"
    if diff.significant:
        return "updated"
    if diff.occurrences:
        return "occurrences"
    if diff.minor:
        return "minor"
    if roster_changed:
        return "attendees"
    return "resent" if messages else "unchanged"


# -- cancelled, deleted, switched off ----------------------------------------------------


def _withdraw(content: Meeting, ledger: LedgerState, action: str, given: _Round) -> Plan:
    """CANCEL (STATUS:CANCELLED) to everyone who holds the meeting, SEQUENCE + 1."""
    sequence = ledger.sequence + 1
    invited = [row for row in ledger.attendees if row.invited]
    sending = mailing(
        content,
        given.calendar,
        uid=ledger.uid,
        sequence=sequence,
        now=given.now,
        ids=given.ids,
        listed=invited,
        ask_again=False,
    )
    messages = [cancel_all(sending, row) for row in invited]
    ends_at = last_end_utc(content, given.calendar.time_zone)
    messages, notes = unless_past(messages, [], ends_at, given.now, given.grace)
    rows = sent_rows(ledger.attendees, messages, given.now)
    state = dataclasses.replace(
        ledger,
        sequence=sequence,
        snapshot=content,
        cancelled=True,
        deleted=action == "deleted",
        ends_at=ends_at,
        attendees=tuple(dataclasses.replace(row, resend=False) for row in rows),
    )
    return finish(content.id, action, state, messages, notes)


def _record_inactive(
    meeting: Meeting, ledger: LedgerState | None, action: str, meeting_id: str, given: _Round
) -> Plan:
    """A cancelled or switched-off meeting nobody holds: remember it, send nothing."""
    if ledger is not None:
        state = dataclasses.replace(ledger, snapshot=meeting, cancelled=True)
        return Plan(meeting_id, "unchanged", state)
    people = meeting_people(meeting)
    rows = merge_rows(people.listed, None, given.ids, ask_again=False)
    state = LedgerState(
        uid=given.ids.uid(given.calendar.domain),
        calendar=given.calendar.name,
        snapshot=meeting,
        cancelled=True,
        ends_at=last_end_utc(meeting, given.calendar.time_zone),
        attendees=tuple(rows.values()),
    )
    reason = "cancelled" if action == "cancelled" else "not synchronised (sync is off)"
    notes = (*people.notes, PlanNote(LogLevel.INFO, f"not sent: the meeting is {reason}"))
    return Plan(meeting_id, action, state, notes=notes)
