"""Answers given on the answer page, recorded exactly as the attendee's iMIP REPLY would be.

The page (:mod:`invitegw.gateway.http.answers`) shows what :func:`show_answer` finds
(:mod:`~invitegw.gateway.app.answer_facts`) and, on the confirm button's POST only, calls
:func:`record_answer`. Recording builds the REPLY the attendee's own calendar would have
sent (:func:`~invitegw.ics.build.build_reply`: the invitation's UID, RECURRENCE-ID and
SEQUENCE, the attendee's PARTSTAT and COMMENT, DTSTAMP now) in an email from the attendee
to their reply-token address, reads it back as the inbound side reads mail
(:func:`~invitegw.mailbox.mime.extract.extract`, the calendar parser) and hands it to the
same handler every received REPLY goes through
(:func:`~invitegw.gateway.inbound.attendee_messages.handle_attendee_message`): the same
correlation, the same REPLY rules (:mod:`invitegw.itip.decide_reply`: stale answers,
cancelled meetings), the same CRM write, ledger and event log. There is no second
implementation of the rules here.

Beyond what a REPLY gets, this module

- refuses before anything is built when the link can no longer answer: the meeting or the
  occurrence is over, cancelled, the attendee was taken off it, or a newer invitation
  (SEQUENCE) went out (the page says what changed);
- is idempotent: the answer's Message-ID is derived from the token, the answer and the
  comment, and when the latest answer on record for that attendee and occurrence came
  from the same Message-ID nothing is done again (a double click, a reload of the result;
  on PostgreSQL the attendee's ledger row is locked first, so two clicks at once are
  taken one after the other);
- tells the organizer, as it tells them of counter-proposals and replies by hand: a notice
  (:mod:`~invitegw.gateway.inbound.organizer_notices`) queued in the same transaction,
  since no calendar message reaches them for an answer given on a web page.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import hashlib
import logging
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from enum import StrEnum

from sqlalchemy import select

from invitegw.domain.addresses import add_plus_token
from invitegw.domain.answer_tokens import AnswerToken
from invitegw.errors import GatewayError, IcsError, MimeError
from invitegw.gateway.app.answer_facts import AnswerFacts, AnswerState, latest_answer, look_up
from invitegw.gateway.inbound.attendee_messages import handle_attendee_message
from invitegw.gateway.inbound.config import InboundConfig
from invitegw.gateway.inbound.context import InboundMessage, MessageIdentity
from invitegw.gateway.inbound.model import Envelope, InboundOutcome, ReceivedMessage
from invitegw.gateway.inbound.organizer_notices import (
    notice_message_id,
    queue_notice,
    write_notice,
)
from invitegw.gateway.inbound.reply_correlation import organizer_on_record
from invitegw.gateway.storage import OutboundAttendee
from invitegw.gateway.uow import UnitOfWork
from invitegw.ics import build_reply, parse_calendar
from invitegw.ics.model import Attendee, Event, Organizer, PartStat
from invitegw.mailbox.mime.extract import extract
from invitegw.templates.answer_page import when_text

__all__ = [
    "ANSWERS",
    "MAX_COMMENT_CHARS",
    "AnswerOutcome",
    "AnswerResult",
    "clean_comment",
    "record_answer",
    "show_answer",
]

logger = logging.getLogger(__name__)

# The answers a link offers, by the name in the link (``?a=no``).
ANSWERS: dict[str, PartStat] = {
    "yes": PartStat.ACCEPTED,
    "maybe": PartStat.TENTATIVE,
    "no": PartStat.DECLINED,
}
# The comment field's cap (characters; the REPLY's COMMENT).
MAX_COMMENT_CHARS = 500
_SOURCE = "answer-page"
_VERBS = {
    PartStat.ACCEPTED: ("Accepted", "Yes"),
    PartStat.TENTATIVE: ("Tentative", "Maybe"),
    PartStat.DECLINED: ("Declined", "No"),
}


class AnswerOutcome(StrEnum):
    """What :func:`record_answer` did."""

    RECORDED = "recorded"
    UNCHANGED = "unchanged"  # this very answer is already the one on record
    REFUSED = "refused"  # the link can no longer answer: ``facts.state`` says why
    NOT_RECORDED = "not-recorded"  # the REPLY rules did not record it: ``reason`` says why


@dataclass(frozen=True)
class AnswerResult:
    """The outcome, the facts the page shows, and why."""

    outcome: AnswerOutcome
    facts: AnswerFacts
    partstat: PartStat | None = None
    reason: str = ""


def show_answer(unit: UnitOfWork, config: InboundConfig, token: AnswerToken) -> AnswerFacts:
    """What the page of ``token`` shows (reads only: a GET never answers).

    Parameters:
        unit: the unit of work.
        config: the inbound settings (the calendars).
        token: a verified token.

    Returns:
        The facts.
    """
    return look_up(unit, config.calendars, token)


def clean_comment(text: str) -> str:
    """The comment as the REPLY carries it: one line, at most :data:`MAX_COMMENT_CHARS`."""
    return " ".join(text.split())[:MAX_COMMENT_CHARS]


def record_answer(
    unit: UnitOfWork,
    config: InboundConfig,
    token: AnswerToken,
    partstat: PartStat,
    comment: str = "",
) -> AnswerResult:
    """Record ``partstat`` for the attendee ``token`` names (see the module docstring).

    Parameters:
        unit: the unit of work; nothing is committed here.
        config: the inbound settings.
        token: a verified token.
        partstat: ACCEPTED, TENTATIVE or DECLINED.
        comment: the attendee's comment (cut to :data:`MAX_COMMENT_CHARS`).

    Returns:
        The result.

    Raises:
        CrmUnavailableError: the CRM cannot take the answer now (nothing was written).
        StorageError: the database failed.
    """
    _lock(unit, token)
    facts = look_up(unit, config.calendars, token)
    if facts.state is not AnswerState.OPEN:
        return AnswerResult(AnswerOutcome.REFUSED, facts, partstat, f"link {facts.state}")
    comment = clean_comment(comment)
    message_id = _message_id(facts, token, partstat, comment)
    assert facts.attendee is not None
    latest = latest_answer(unit, facts.attendee, token.recurrence_id)
    if latest is not None and latest.message_id == message_id:
        return AnswerResult(AnswerOutcome.UNCHANGED, facts, partstat, "already recorded")
    try:
        raw = _reply_email(facts, token, partstat, comment, message_id, unit.now)
        message = _inbound(raw, config, message_id)
        part = message.extraction.calendar_parts[0]
        calendar = parse_calendar(part.data, mime_method=part.mime_method)
    except (IcsError, MimeError) as exc:  # the meeting's times cannot make a REPLY
        logger.warning("answer page: no REPLY for meeting %s: %s", facts.meeting, exc)
        return AnswerResult(AnswerOutcome.NOT_RECORDED, facts, partstat, str(exc))
    result = handle_attendee_message(
        unit, config, message, calendar, calendar.events[0], request_resend=_no_resend
    )
    if result.outcome is not InboundOutcome.REPLY_RECORDED:
        logger.info("answer page: not recorded: %s", result.reason)
        return AnswerResult(AnswerOutcome.NOT_RECORDED, facts, partstat, result.reason or "")
    _notify(unit, facts, partstat, comment, message_id)
    return AnswerResult(AnswerOutcome.RECORDED, facts, partstat, result.reason or "")


def _lock(unit: UnitOfWork, token: AnswerToken) -> None:
    """Hold the attendee's ledger row (PostgreSQL): two clicks at once answer one at a time."""
    if unit.session.get_bind().dialect.name != "postgresql":
        return  # SQLite has one writer at a time already
    unit.session.execute(
        select(OutboundAttendee.id)
        .where(OutboundAttendee.token == token.reply_token)
        .with_for_update()
    )


def _no_resend(*_args: object, **_kwargs: object) -> bool:  # a REPLY never asks for one
    return False


def _message_id(facts: AnswerFacts, token: AnswerToken, partstat: PartStat, comment: str) -> str:
    assert facts.calendar is not None
    key = f"{token.payload}\0{partstat.value}\0{comment}".encode()
    digest = hashlib.sha256(key).hexdigest()[:32]
    return f"answer-{digest}@{facts.calendar.sender.rpartition('@')[2]}"


def _reply_event(facts: AnswerFacts, token: AnswerToken, organizer: str) -> Event:
    """The invitation as the attendee's calendar holds it: what a REPLY echoes."""
    assert facts.attendee is not None
    assert facts.meeting is not None
    assert facts.start is not None
    return Event(
        uid=facts.meeting.uid,
        start=facts.start,
        end=facts.end,
        summary=facts.title,
        organizer=Organizer(email=organizer),
        attendees=(Attendee(email=facts.attendee.address, cn=facts.attendee.name or None),),
        sequence=token.sequence,
        recurrence_id=facts.occurrence,
    )


def _reply_email(
    facts: AnswerFacts,
    token: AnswerToken,
    partstat: PartStat,
    comment: str,
    message_id: str,
    now: dt.datetime,
) -> bytes:
    """The REPLY email the attendee's calendar would have sent, to their reply address."""
    assert facts.attendee is not None
    assert facts.calendar is not None
    calendar = facts.calendar
    reply_address = add_plus_token(
        calendar.address, token.reply_token, separator=calendar.token_separator
    )
    ics = build_reply(
        _reply_event(facts, token, reply_address),
        facts.attendee.address,
        partstat,
        comment=comment or None,
        now=now,
    )
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = facts.attendee.address
    message["To"] = reply_address
    message["Subject"] = f"{_VERBS[partstat][0]}: {facts.title}"
    message["Date"] = format_datetime(now)
    message["Message-ID"] = f"<{message_id}>"
    message.set_content(
        ics.decode(), subtype="calendar", charset="utf-8", params={"method": "REPLY"}
    )
    return message.as_bytes()


def _inbound(raw: bytes, config: InboundConfig, message_id: str) -> InboundMessage:
    """The REPLY email as the inbound pipeline reads a received one."""
    extraction = extract(raw, limits=config.mime_limits)
    received = ReceivedMessage(
        raw=raw,
        source=_SOURCE,
        reference=_SOURCE,
        envelope=Envelope(recipients=tuple(m.address for m in extraction.headers.to)),
    )
    return InboundMessage(received, extraction, MessageIdentity.of(raw, message_id))


def _notice_text(facts: AnswerFacts, partstat: PartStat, comment: str) -> str:
    assert facts.attendee is not None
    assert facts.start is not None
    who = facts.attendee.address
    if facts.attendee.name:
        who = f"{facts.attendee.name} <{who}>"
    when, zone = when_text(facts.start, facts.end, facts.time_zone, "en")
    occurrence = " (this occurrence only)" if facts.occurrence is not None else ""
    lines = [
        f'{who} answered {_VERBS[partstat][1]} ({partstat.value}) to "{facts.title}"'
        f"{occurrence} on the answer page of the invitation.",
        "",
        f"When: {when}" + (f" ({zone})" if zone else ""),
    ]
    if comment:
        lines += ["", f"Comment: {comment}"]
    lines += ["", "The answer is recorded in the CRM, as a reply from their calendar would be."]
    return "\n".join(lines) + "\n"


def _notify(
    unit: UnitOfWork, facts: AnswerFacts, partstat: PartStat, comment: str, message_id: str
) -> None:
    """Queue the organizer's notice of the answer (once per recorded answer)."""
    assert facts.meeting is not None
    assert facts.calendar is not None
    assert facts.attendee is not None
    organizer = organizer_on_record(facts.meeting)
    if organizer is None:
        return
    calendar = facts.calendar
    notice_id = notice_message_id(
        "answer", f"<{message_id}>\0{unit.now.isoformat()}", calendar.sender.rpartition("@")[2]
    )
    try:
        raw = write_notice(
            calendar=calendar,
            organizer=organizer,
            subject=f"{_VERBS[partstat][0]}: {facts.title}",
            text=_notice_text(facts, partstat, comment),
            message_id=notice_id,
            now=unit.now,
            reply_to=facts.attendee.address,
        )
    except (MimeError, GatewayError) as exc:
        logger.warning("meeting %s: answer notice not written: %s", facts.meeting.id, exc)
        return
    queue_notice(
        unit.session,
        message_id=notice_id,
        raw=raw,
        sender=calendar.sender,
        organizer=organizer,
        kind="answer-notice",
        meeting_row_id=facts.meeting.id,
        now=unit.now,
    )
