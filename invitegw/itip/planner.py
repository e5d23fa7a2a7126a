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

Every message carries the recipient's own ORGANIZER (per-attendee reply token) and a
Message-ID from the injected :class:`~invitegw.itip.plan_model.IdSource`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from invitegw.domain.records import LogLevel, Meeting, MeetingOccurrence
from invitegw.ics.changes import compare_events
from invitegw.ics.model import PartStat, Role
from invitegw.itip.meeting_events import (
    base_event,
    last_end_utc,
    occurrence_key,
)
from invitegw.itip.plan_messages import (
    cancel_all,
    full_request,
    message_env,
    occurrence_message,
    summarize,
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
from invitegw.itip.policy import MessageKind
from invitegw.itip.recipients import Person, meeting_people

__all__ = ["plan_meeting"]


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
    if meeting is None:
        if ledger is None or ledger.snapshot is None or ledger.cancelled:
            # Never sent, or already cancelled: only remember that it is gone.
            state = dataclasses.replace(ledger, deleted=True) if ledger else None
            return Plan(meeting_id, "unchanged", state)
        return _withdraw(ledger.snapshot, ledger, "deleted", calendar, now, grace, ids)
    if not meeting.sync or meeting.cancelled:
        action = "cancelled" if meeting.cancelled else "sync-off"
        if ledger is not None and not ledger.cancelled and ledger.snapshot is not None:
            return _withdraw(meeting, ledger, action, calendar, now, grace, ids)
        return _record_inactive(meeting, ledger, action, meeting_id, calendar, ids)
    people, _muted, _notes = meeting_people(meeting)
    if len(people) > max_attendees:
        note = PlanNote(
            LogLevel.ERROR,
            f"invitations not sent: {len(people)} addresses, more than the {max_attendees} "
            "allowed (limits.attendees)",
            kind="too-large",
        )
        # A pending REFRESH is answered by this note: asking again must not repeat it.
        state = (
            dataclasses.replace(
                ledger,
                attendees=tuple(dataclasses.replace(r, resend=False) for r in ledger.attendees),
            )
            if ledger is not None
            else None
        )
        return Plan(meeting_id, "too-large", state, notes=(note,))
    return _plan_active(meeting, ledger, calendar, now, grace, ids)


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


def _merge_rows(
    people: Sequence[Person],
    ledger: LedgerState | None,
    ids: IdSource,
    *,
    ask_again: bool,
) -> dict[str, LedgerAttendee]:
    """The ledger rows of the people listed now, carrying over tokens and answers."""
    rows: dict[str, LedgerAttendee] = {}
    for person in people:
        old = ledger.attendee(person.address) if ledger else None
        back = old is not None and old.removed
        partstat = PartStat.NEEDS_ACTION
        if person.role is Role.CHAIR:
            partstat = PartStat.ACCEPTED
        elif old is not None and not back and not ask_again:
            partstat = old.partstat
        rows[person.address] = LedgerAttendee(
            address=person.address,
            name=person.name,
            party_type=person.party_type,
            party_id=person.party_id,
            role=person.role,
            token=old.token if old is not None and old.token else ids.token(),
            language=person.language,
            time_zone=person.time_zone,
            # Back after a removal: they hold a cancelled copy, so they start afresh.
            last_sequence_sent=None if old is None or back else old.last_sequence_sent,
            partstat=partstat,
            removed=False,
            resend=old.resend if old is not None and not back else False,
            invited_at=None if old is None or back else old.invited_at,
            thread_id=old.thread_id if old is not None else None,
        )
    return rows


def _plan_active(
    meeting: Meeting,
    ledger: LedgerState | None,
    calendar: CalendarProfile,
    now: dt.datetime,
    grace: dt.timedelta,
    ids: IdSource,
) -> Plan:
    people, muted, notes = meeting_people(meeting)
    uid = ledger.uid if ledger is not None else ids.uid(calendar.domain)
    old = ledger.snapshot if ledger is not None and not ledger.cancelled else None
    if ledger is None or old is None:
        # New, or revived after a CANCEL: everyone gets the whole meeting afresh.
        diff = _Diff(significant=ledger is not None, minor=False, occurrences=(), fields=())
        sequence = 0 if ledger is None else ledger.sequence + 1
    else:
        diff = _diff(old, meeting, uid)
        bump = diff.significant or bool(diff.occurrences)
        sequence = ledger.sequence + (1 if bump else 0)
    rows = _merge_rows(people, ledger, ids, ask_again=diff.significant)
    previous = {row.address: row for row in ledger.attendees} if ledger else {}
    roster_before = {(r.address, r.name, r.role) for r in previous.values() if not r.removed}
    roster_after = {(r.address, r.name, r.role) for r in rows.values()}
    whole = old is None or diff.significant or diff.minor or roster_before != roster_after
    env = message_env(meeting, calendar, uid, sequence, now, ids, rows.values(), diff.significant)
    notify = {person.address for person in people if person.notify}

    messages: list[PlannedMessage] = []
    for address, row in rows.items():
        if address not in notify:
            continue
        resend = row.resend
        if row.last_sequence_sent is None or old is None:
            messages.append(full_request(env, row, MessageKind.INVITATION, ()))
        elif (
            diff.occurrences
            and not whole
            and not resend
            and ledger is not None
            and row.last_sequence_sent >= ledger.sequence
        ):
            messages += [occurrence_message(env, row, o) for o in diff.occurrences]
        elif whole or diff.occurrences or resend or row.last_sequence_sent < sequence:
            messages.append(full_request(env, row, MessageKind.UPDATE, diff.fields))

    removed_rows: list[LedgerAttendee] = []
    for address, row in previous.items():
        if address in rows or row.removed:
            continue
        if row.invited and address not in muted:
            messages.append(uninvite(env, row))
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

    ends_at = last_end_utc(meeting, calendar.time_zone)
    action = _action(ledger, old, diff, roster_before != roster_after, messages)
    messages, notes = _unless_past(messages, notes, ends_at, now, grace, calendar)
    # Every REFRESH is answered now: by a message, or by none when the meeting is over.
    final_rows = [
        dataclasses.replace(row, resend=False)
        for row in _sent_rows([*rows.values(), *removed_rows], messages, now)
    ]
    state = LedgerState(
        uid=uid,
        calendar=ledger.calendar if ledger is not None else calendar.name,
        sequence=sequence,
        snapshot=meeting,
        ends_at=ends_at,
        attendees=tuple(final_rows),
    )
    return _finish(meeting.id, action, state, messages, notes)


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
    calendar: CalendarProfile,
    now: dt.datetime,
    grace: dt.timedelta,
    ids: IdSource,
) -> Plan:
    """CANCEL (STATUS:CANCELLED) to everyone who holds the meeting, SEQUENCE + 1."""
    sequence = ledger.sequence + 1
    invited = [row for row in ledger.attendees if row.invited]
    env = message_env(content, calendar, ledger.uid, sequence, now, ids, invited, False)
    messages = [cancel_all(env, row) for row in invited]
    notes: list[PlanNote] = []
    ends_at = last_end_utc(content, calendar.time_zone)
    messages, notes = _unless_past(messages, notes, ends_at, now, grace, calendar)
    rows = _sent_rows(ledger.attendees, messages, now)
    state = dataclasses.replace(
        ledger,
        sequence=sequence,
        snapshot=content,
        cancelled=True,
        deleted=action == "deleted",
        ends_at=ends_at,
        attendees=tuple(dataclasses.replace(row, resend=False) for row in rows),
    )
    return _finish(content.id, action, state, messages, notes)


def _record_inactive(
    meeting: Meeting,
    ledger: LedgerState | None,
    action: str,
    meeting_id: str,
    calendar: CalendarProfile,
    ids: IdSource,
) -> Plan:
    """A cancelled or switched-off meeting nobody holds: remember it, send nothing."""
    if ledger is not None:
        state = dataclasses.replace(ledger, snapshot=meeting, cancelled=True)
        return Plan(meeting_id, "unchanged", state)
    people, _muted, notes = meeting_people(meeting)
    rows = _merge_rows(people, None, ids, ask_again=False)
    state = LedgerState(
        uid=ids.uid(calendar.domain),
        calendar=calendar.name,
        snapshot=meeting,
        cancelled=True,
        ends_at=last_end_utc(meeting, calendar.time_zone),
        attendees=tuple(rows.values()),
    )
    notes.append(PlanNote(LogLevel.INFO, f"not sent: the meeting is {_inactive_reason(action)}"))
    return Plan(meeting_id, action, state, notes=tuple(notes))


def _inactive_reason(action: str) -> str:
    return "cancelled" if action == "cancelled" else "not synchronised (sync is off)"


# -- finishing -------------------------------------------------------------------------------


def _unless_past(
    messages: list[PlannedMessage],
    notes: list[PlanNote],
    ends_at: dt.datetime | None,
    now: dt.datetime,
    grace: dt.timedelta,
    calendar: CalendarProfile,
) -> tuple[list[PlannedMessage], list[PlanNote]]:
    if ends_at is None or ends_at >= now - grace or not messages:
        return messages, notes
    when = ends_at.strftime("%Y-%m-%d %H:%M UTC")
    note = PlanNote(
        LogLevel.INFO,
        f"not sent: the meeting ended on {when}, more than {_hours(grace)} ago "
        f"({len(messages)} message(s) withheld)",
        kind="past",
    )
    return [], [*notes, note]


def _hours(value: dt.timedelta) -> str:
    hours = value.total_seconds() / 3600
    return f"{hours:g} hour" + ("" if hours == 1 else "s")


def _sent_rows(
    rows: Iterable[LedgerAttendee], messages: Sequence[PlannedMessage], now: dt.datetime
) -> list[LedgerAttendee]:
    """The rows with what was queued for them: SEQUENCE, first invitation, thread."""
    last: dict[str, PlannedMessage] = {}
    first: dict[str, PlannedMessage] = {}
    for message in messages:
        first.setdefault(message.recipient.address, message)
        last[message.recipient.address] = message
    out = []
    for row in rows:
        latest = last.get(row.address)
        if latest is None:
            out.append(row)
            continue
        out.append(
            dataclasses.replace(
                row,
                last_sequence_sent=latest.sequence,
                removed=row.removed or latest.uninvite,
                resend=False,
                invited_at=row.invited_at or now,
                thread_id=row.thread_id or first[row.address].message_id,
            )
        )
    return out


def _finish(
    meeting_id: str,
    action: str,
    state: LedgerState,
    messages: list[PlannedMessage],
    notes: list[PlanNote],
) -> Plan:
    summary = summarize(messages)
    if summary:
        notes = [*notes, PlanNote(LogLevel.INFO, summary, kind="queued")]
    supersedes = frozenset(m.recipient.address for m in messages if m.occurrence is None)
    return Plan(
        meeting_id=meeting_id,
        action=action,
        ledger=state,
        messages=tuple(messages),
        notes=tuple(notes),
        supersedes=supersedes,
    )
