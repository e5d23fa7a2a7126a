"""The ledger side of a plan: attendee rows before and after the messages (pure).

The planner (:mod:`invitegw.itip.planner`) decides the messages; these steps keep the
ledger's attendee rows in line with them:

- :func:`merge_rows`: the rows of the people listed now, carrying over reply tokens,
  answers and what each was last sent (an address back after a removal starts afresh);
- :func:`unless_past`: no mail for a meeting whose last occurrence ended more than the
  grace period ago, with a note saying so;
- :func:`sent_rows`: the rows with what was queued for them (SEQUENCE, first invitation,
  the thread later messages refer to);
- :func:`finish`: the :class:`~invitegw.itip.plan_model.Plan`, with the one-line summary
  of what it queues for the meeting's log.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence

from invitegw.domain.records import LogLevel
from invitegw.ics.model import PartStat, Role
from invitegw.itip.plan_messages import summarize
from invitegw.itip.plan_model import (
    IdSource,
    LedgerAttendee,
    LedgerState,
    Plan,
    PlannedMessage,
    PlanNote,
)
from invitegw.itip.recipients import Recipient

__all__ = ["finish", "merge_rows", "sent_rows", "unless_past"]


def merge_rows(
    people: Sequence[Recipient],
    ledger: LedgerState | None,
    ids: IdSource,
    *,
    ask_again: bool,
) -> dict[str, LedgerAttendee]:
    """The ledger rows of the people listed now, carrying over tokens and answers.

    Parameters:
        people: the people listed now (organizer first).
        ledger: what was last sent, or ``None`` for a meeting never seen.
        ids: where new reply tokens come from (one per address without one).
        ask_again: answers are asked again (a significant change): NEEDS-ACTION for all
            but the organizer.

    Returns:
        The rows by address, in the order of ``people``.
    """
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


def unless_past(
    messages: list[PlannedMessage],
    notes: list[PlanNote],
    ends_at: dt.datetime | None,
    now: dt.datetime,
    grace: dt.timedelta,
) -> tuple[list[PlannedMessage], list[PlanNote]]:
    """``messages`` and ``notes``, or none and a note when the meeting is long over.

    Parameters:
        messages: what the plan would send.
        notes: its notes so far.
        ends_at: when the meeting's last occurrence ends (``None``: never).
        now: the current time.
        grace: how long after the end mail is still sent.

    Returns:
        The messages to send and the notes.
    """
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


def sent_rows(
    rows: Iterable[LedgerAttendee], messages: Sequence[PlannedMessage], now: dt.datetime
) -> list[LedgerAttendee]:
    """The rows with what was queued for them: SEQUENCE, first invitation, thread.

    Parameters:
        rows: the ledger rows.
        messages: the messages the plan queues.
        now: the current time (when a first invitation went out).

    Returns:
        The rows, in the same order.
    """
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


def finish(
    meeting_id: str,
    action: str,
    state: LedgerState,
    messages: list[PlannedMessage],
    notes: list[PlanNote],
) -> Plan:
    """The plan, with a note summing up what it queues.

    Parameters:
        meeting_id: the CRM meeting id.
        action: what happened, in a word.
        state: the new ledger state.
        messages: the messages to queue.
        notes: the notes so far.

    Returns:
        The plan; it supersedes the unsent messages of every recipient of a whole-meeting
        message.
    """
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
