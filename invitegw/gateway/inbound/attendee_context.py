"""One attendee message (REPLY, COUNTER, REFRESH) being applied, and the meeting's notes.

:class:`AttendeeMessage` carries what :func:`~invitegw.gateway.inbound.attendee_messages.
handle_attendee_message` found out (the ledger meeting it answers, who answers) with the
unit of work its writes go to; it says where the sender and the meeting stand as the pure
rules read it, builds the :class:`~invitegw.gateway.inbound.model.EventResult` values and
writes the :class:`~invitegw.itip.attendee_facts.Note` lines a decision asks for
(:func:`write_note`, which bounces and replies by hand use too).
"""

from __future__ import annotations

from dataclasses import dataclass

from invitegw.gateway.inbound.config import InboundConfig
from invitegw.gateway.inbound.context import InboundMessage
from invitegw.gateway.inbound.model import EventResult, InboundOutcome
from invitegw.gateway.inbound.reply_correlation import invitee_status, meeting_standing
from invitegw.gateway.outbound.ledger import crm_note
from invitegw.gateway.storage import OutboundMeeting
from invitegw.gateway.uow import UnitOfWork
from invitegw.ics.model import CalendarObject, Event
from invitegw.itip.attendee_facts import (
    InviteeStatus,
    MeetingStanding,
    Note,
    ical_recurrence_id,
)

__all__ = ["AttendeeMessage", "write_note"]


def write_note(
    unit: UnitOfWork,
    meeting: OutboundMeeting,
    note: Note,
    *,
    message_id: str | None,
    details: dict[str, str] | None = None,
) -> None:
    """A line in the meeting's event log and, unless deleted or ``to_crm`` is off, CRM log.

    Parameters:
        unit: the unit of work (the event log is in its session; the CRM is its CRM).
        meeting: the ledger meeting.
        note: the line.
        message_id: the received message it is about.
        details: structured extras for the event log.
    """
    crm_note(
        unit.crm if note.to_crm and not meeting.deleted else None,
        unit.session,
        meeting_id=meeting.crm_meeting_id,
        level=note.level,
        text=note.text,
        kind=note.kind,
        now=unit.now,
        message_id=message_id,
        details=details,
    )


@dataclass(frozen=True)
class AttendeeMessage:
    """One attendee message being applied, and where its writes go.

    Parameters:
        unit: the unit of work.
        config: the inbound settings.
        message: the received message.
        calendar: its calendar object (REPLY, COUNTER or REFRESH).
        event: the VEVENT (one RECURRENCE-ID) applied.
        meeting: the ledger meeting it answers (its attendees loaded).
        sender: who answers (canonical).
    """

    unit: UnitOfWork
    config: InboundConfig
    message: InboundMessage
    calendar: CalendarObject
    event: Event
    meeting: OutboundMeeting
    sender: str

    @property
    def crm_meeting_id(self) -> str:
        """The CRM meeting's id."""
        return self.meeting.crm_meeting_id

    @property
    def recurrence_id(self) -> str | None:
        """The occurrence answered (iCalendar text), None for the series."""
        return ical_recurrence_id(self.event.recurrence_id)

    @property
    def standing(self) -> MeetingStanding:
        """Whether the meeting is still on."""
        return meeting_standing(self.meeting)

    @property
    def invitee(self) -> InviteeStatus:
        """The sender's place on the meeting's ledger."""
        return invitee_status(self.meeting, self.sender)

    def result(self, outcome: InboundOutcome, reason: str | None = None) -> EventResult:
        """This event's result."""
        return EventResult(
            outcome=outcome,
            uid=self.event.uid,
            recurrence_id=self.recurrence_id,
            method=self.calendar.method.value,
            meeting_id=self.crm_meeting_id,
            reason=reason,
        )

    def note(self, note: Note | None) -> None:
        """Write ``note`` (if any) to the meeting's logs, about this message and sender."""
        if note is None:
            return
        write_note(
            self.unit,
            self.meeting,
            note,
            message_id=self.message.message_id,
            details={"uid": self.event.uid, "from": self.sender},
        )
