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
  ledger is still updated;
- a meeting adopted at the baseline (:func:`adopt_meeting`: it was in the CRM before the
  gateway's first start; nothing was sent for it): nothing while it does not change (a
  save that changes nothing, its send switch set by a mass update); its first real change
  (time, place, recurrence, an occurrence, title or description, an attendee added or
  removed) sends every listed address the whole meeting as an invitation, since none of
  them has it from the gateway; cancelled or deleted, nothing (nobody holds it);
  :func:`invite_adopted` sends the invitations on the administrator's request;
- the send switch (``sync``) read off on a CRM that cannot tell "never set" from "turned
  off" (:class:`~invitegw.domain.records.SwitchReading`): a meeting already invited whose
  switch was never seen on is *held* (not cancelled, a warning in its log, updates go on);
  once the switch was seen on, turning it off is a person's choice: logged as such, and a
  CANCEL to everyone invited.

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

from invitegw.domain.records import LogLevel, Meeting, MeetingOccurrence, SwitchReading
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

__all__ = ["adopt_meeting", "invite_adopted", "plan_meeting"]


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
    switch: SwitchReading = SwitchReading.NO_SWITCH,
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
        switch: how certain ``meeting.sync`` is (the CRM's
            :class:`~invitegw.crm_adapter.port.ReadsSendSwitch`; ``NO_SWITCH``: certain).

    Returns:
        The plan.
    """
    given = _Round(calendar, now, grace, ids)
    if meeting is None:
        if ledger is None or ledger.snapshot is None or ledger.cancelled or ledger.adopted_at:
            # Never sent, adopted, or already cancelled: only remember that it is gone.
            state = dataclasses.replace(ledger, deleted=True) if ledger else None
            return Plan(meeting_id, "unchanged", state)
        return _withdraw(ledger.snapshot, ledger, "deleted", given, ())
    plan = _plan_snapshot(meeting, ledger, meeting_id, given, max_attendees, switch)
    if plan.ledger is None:
        return plan
    seen_on = plan.ledger.switch_on or (meeting.sync and switch is SwitchReading.SET)
    return dataclasses.replace(plan, ledger=dataclasses.replace(plan.ledger, switch_on=seen_on))


def _plan_snapshot(
    meeting: Meeting,
    ledger: LedgerState | None,
    meeting_id: str,
    given: _Round,
    max_attendees: int,
    switch: SwitchReading,
) -> Plan:
    if not meeting.sync and not meeting.cancelled and _uncertain_off(ledger, switch):
        assert ledger is not None
        kept_on = dataclasses.replace(meeting, sync=True)
        held = _plan_snapshot(kept_on, ledger, meeting_id, given, max_attendees, switch)
        return _held(held, meeting, ledger)
    if not meeting.sync or meeting.cancelled:
        action = "cancelled" if meeting.cancelled else "sync-off"
        if (
            ledger is not None
            and not ledger.cancelled
            and ledger.snapshot is not None
            and ledger.adopted_at is None
        ):
            return _withdraw(meeting, ledger, action, given, _switch_off_notes(action, switch))
        return _record_inactive(meeting, ledger, action, meeting_id, given)
    people = meeting_people(meeting)
    if len(people.listed) > max_attendees:
        return _too_large(meeting_id, ledger, len(people.listed), max_attendees)
    return _plan_active(meeting, people, ledger, given)


# -- the baseline: meetings the CRM had before the gateway's first start ------------------


def adopt_meeting(
    meeting: Meeting,
    *,
    meeting_id: str,
    calendar: CalendarProfile,
    now: dt.datetime,
    ids: IdSource,
    switch: SwitchReading = SwitchReading.NO_SWITCH,
) -> Plan:
    """Adopt a meeting at the baseline: known from now on, nothing sent.

    Its attendees get ledger rows (and reply tokens) but no SEQUENCE sent; the snapshot is
    what later changes are compared with (see the module docstring).

    Parameters:
        meeting: the CRM's snapshot.
        meeting_id: the CRM meeting id.
        calendar: the calendar that would send for it.
        now: the time of the baseline.
        ids: where the UID and tokens come from.
        switch: how certain ``meeting.sync`` is.

    Returns:
        The plan (action ``adopted``, no messages, no notes).
    """
    people = meeting_people(meeting)
    rows = merge_rows(people.listed, None, ids, ask_again=False)
    state = LedgerState(
        uid=ids.uid(calendar.domain),
        calendar=calendar.name,
        snapshot=meeting,
        cancelled=meeting.cancelled or not meeting.sync,
        ends_at=last_end_utc(meeting, calendar.time_zone),
        attendees=tuple(rows.values()),
        adopted_at=now,
        switch_on=meeting.sync and switch is SwitchReading.SET,
    )
    return Plan(meeting_id, "adopted", state)


def invite_adopted(
    meeting: Meeting,
    ledger: LedgerState,
    *,
    calendar: CalendarProfile,
    now: dt.datetime,
    grace: dt.timedelta,
    ids: IdSource,
    max_attendees: int = 500,
    switch: SwitchReading = SwitchReading.NO_SWITCH,
) -> Plan:
    """Invite everyone to a meeting adopted at the baseline (the administrator asked).

    The meeting is planned as if the gateway had always known it but never sent it: every
    listed address that is notified gets the whole meeting as an invitation.

    Parameters:
        meeting: the CRM's current snapshot.
        ledger: its ledger (adopted).
        calendar: the calendar that sends for it.
        now: the current time.
        grace: the grace period (a meeting over gets nothing).
        ids: where Message-IDs come from.
        max_attendees: the cap on addresses.
        switch: how certain ``meeting.sync`` is.

    Returns:
        The plan (action ``invited`` when it sends anything).
    """
    plan = plan_meeting(
        meeting,
        dataclasses.replace(ledger, adopted_at=None),
        meeting_id=meeting.id,
        calendar=calendar,
        now=now,
        grace=grace,
        ids=ids,
        max_attendees=max_attendees,
        switch=switch,
    )
    if not plan.messages:
        return dataclasses.replace(plan, ledger=ledger)  # still adopted: nothing went out
    note = PlanNote(
        LogLevel.INFO,
        "invited on the administrator's request (invite-upcoming): the meeting was in the "
        f"CRM before the gateway's first start (adopted {_day(ledger.adopted_at)})",
        kind="invited",
    )
    return dataclasses.replace(plan, action="invited", notes=(note, *plan.notes))


def _day(moment: dt.datetime | None) -> str:
    return moment.date().isoformat() if moment is not None else "at the baseline"


def _still_adopted(meeting: Meeting, ledger: LedgerState, given: _Round) -> Plan:
    """An adopted meeting that did not really change: remember the snapshot, send nothing."""
    state = dataclasses.replace(
        ledger,
        snapshot=meeting,
        cancelled=False,
        ends_at=last_end_utc(meeting, given.calendar.time_zone),
    )
    return Plan(meeting.id, "unchanged", state)


# -- the send switch ------------------------------------------------------------------------


def _uncertain_off(ledger: LedgerState | None, switch: SwitchReading) -> bool:
    """Off on a reading that may be nobody's choice, for a meeting people hold from us."""
    return (
        switch is SwitchReading.MAYBE_DEFAULT
        and ledger is not None
        and ledger.snapshot is not None
        and ledger.invited_anyone
        and not ledger.switch_on
    )


def _held(plan: Plan, meeting: Meeting, ledger: LedgerState) -> Plan:
    """The plan of a meeting kept on although its switch reads off (see the docstring)."""
    if plan.ledger is None:
        return plan
    # The real reading is kept: the warning is written once, when it first reads off.
    state = dataclasses.replace(plan.ledger, snapshot=meeting)
    if ledger.snapshot is None or not ledger.snapshot.sync:
        return dataclasses.replace(plan, ledger=state)
    note = PlanNote(
        LogLevel.WARNING,
        "the send switch reads off, but it was never seen on for this meeting since its "
        "invitations went out (a field added later, or its default): nothing cancelled, "
        "updates go on. To stop them, turn the switch on and then off, or cancel the meeting",
        kind="switch-held",
    )
    return dataclasses.replace(plan, ledger=state, notes=(note, *plan.notes))


def _switch_off_notes(action: str, switch: SwitchReading) -> tuple[PlanNote, ...]:
    if action != "sync-off":
        return ()
    how = (
        "it was seen on before, so a person turned it off"
        if switch is SwitchReading.MAYBE_DEFAULT
        else "a deliberate change"
    )
    text = f"invitations turned off after they went out ({how}): cancelled for everyone invited"
    return (PlanNote(LogLevel.INFO, text, kind="switch-off"),)


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
    # An adopted meeting is compared with its adopted snapshot even when it was off.
    known = ledger is not None and (not ledger.cancelled or ledger.adopted_at is not None)
    old = ledger.snapshot if ledger is not None and known else None
    diff, sequence = _compare(meeting, ledger, old, uid)
    rows = merge_rows(people.listed, ledger, given.ids, ask_again=diff.significant)
    previous = {row.address: row for row in ledger.attendees} if ledger else {}
    roster_before = {(r.address, r.name, r.role) for r in previous.values() if not r.removed}
    roster_changed = roster_before != {(r.address, r.name, r.role) for r in rows.values()}
    whole = old is None or diff.significant or diff.minor or roster_changed
    if ledger is not None and ledger.adopted_at is not None and not (whole or diff.occurrences):
        return _still_adopted(meeting, ledger, given)
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
    notes = [*people.notes, *removal_notes, *_taken_over(ledger, messages)]
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
        adopted_at=ledger.adopted_at if ledger is not None and not messages else None,
        switch_on=ledger.switch_on if ledger is not None else False,
    )
    return finish(meeting.id, action, state, messages, notes)


def _taken_over(ledger: LedgerState | None, messages: list[PlannedMessage]) -> list[PlanNote]:
    """The note of the first messages for a meeting adopted at the baseline."""
    if ledger is None or ledger.adopted_at is None or not messages:
        return []
    text = (
        "the first invitations from the gateway for this meeting (it was in the CRM before "
        f"the gateway's first start, adopted {_day(ledger.adopted_at)}): everyone listed "
        "gets the whole meeting"
    )
    return [PlanNote(LogLevel.INFO, text, kind="adopted-changed")]


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


def _withdraw(
    content: Meeting,
    ledger: LedgerState,
    action: str,
    given: _Round,
    notes_before: tuple[PlanNote, ...],
) -> Plan:
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
    messages, notes = unless_past(messages, list(notes_before), ends_at, given.now, given.grace)
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
        if ledger.adopted_at is None or ledger.cancelled:
            return Plan(meeting_id, "unchanged", state)
        note = PlanNote(
            LogLevel.INFO,
            f"not sent: the meeting is {_reason(action)}, and nobody holds it from the gateway "
            "(it was in the CRM before the gateway's first start and never changed since)",
            kind="adopted-off",
        )
        return Plan(meeting_id, action, state, notes=(note,))
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
    notes = (*people.notes, PlanNote(LogLevel.INFO, f"not sent: the meeting is {_reason(action)}"))
    return Plan(meeting_id, action, state, notes=notes)


def _reason(action: str) -> str:
    return "cancelled" if action == "cancelled" else "not synchronised (sync is off)"
