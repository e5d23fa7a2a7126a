"""The inbound pipeline: one received message, end to end, in one transaction.

:class:`InboundPipeline` is what the IMAP watchers, the SMTP listener's spool worker and
``invitegw ingest`` share. For one :class:`~invitegw.gateway.inbound.model.ReceivedMessage`
it

1. skips a message handled before (same mailbox + UIDVALIDITY + UID, or the same
   Message-ID with the same body), answering with what was decided then;
2. quarantines what cannot be read: an oversized message, MIME over a cap or broken;
3. ignores the gateway's own messages (a Message-ID from the outbox) and automatic
   messages without a calendar (vacation replies);
4. hands delivery failure reports and calendar-less replies to the replies module (a
   message without a calendar that is no reply to us is quarantined);
5. parses every calendar part (a malformed one is quarantined with the reason, the others
   go on) and decides on every VEVENT (:mod:`~invitegw.gateway.inbound.events`);
6. records it all in the same transaction as the CRM write: the inbound ledger, the
   processed record, a quarantine row when anything was set aside, one event-log entry
   per outcome.

Errors: ``CrmUnavailableError`` and ``StorageError`` mean nothing was committed; they are
raised so the caller leaves the message where it is and retries. Anything else wrong with
a message is a quarantine with a reason, never an exception: a CRM refusing one event sets
that event aside (its writes are undone by a savepoint, the others stay), and an
unexpected failure sets the whole message aside in a fresh transaction.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.parser
import email.policy
import hashlib
import logging
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from invitegw.crm_adapter.port import CrmPort
from invitegw.domain.records import LogLevel
from invitegw.errors import (
    CrmError,
    CrmUnavailableError,
    GatewayError,
    IcsError,
    IcsLimitError,
    MimeError,
    MimeLimitError,
    StorageDataError,
    StorageError,
)
from invitegw.gateway.bootstrap import Gateway, mime_limits
from invitegw.gateway.dryrun import DryRunCrm
from invitegw.gateway.inbound.events import MessageContext, handle_event
from invitegw.gateway.inbound.model import (
    EventResult,
    InboundOutcome,
    MessageResult,
    ReceivedMessage,
)
from invitegw.gateway.inbound.records import event_from_record, is_our_message, seen_before
from invitegw.gateway.inbound.replies import handle_bounce, handle_human_reply
from invitegw.gateway.storage import (
    ProcessedMessage,
    QuarantinedMessage,
    append_processed,
    log_events,
    quarantine_message,
)
from invitegw.ics.limits import IcsLimits
from invitegw.ics.model import CalendarObject, Event
from invitegw.ics.parse import parse_calendars
from invitegw.itip.decide import Policies
from invitegw.itip.keys import body_digest
from invitegw.itip.trust import is_authenticated
from invitegw.mailbox.mime.calendar_part import CalendarPart
from invitegw.mailbox.mime.extract import Extraction, extract
from invitegw.mailbox.mime.headertext import normalize_message_id

__all__ = ["InboundPipeline", "QuarantineReleaseError", "received_facts"]

logger = logging.getLogger(__name__)

# Outcomes by weight: a message's overall outcome is its weightiest event's.
_WEIGHT = (
    InboundOutcome.QUARANTINED,
    InboundOutcome.CREATED,
    InboundOutcome.UPDATED,
    InboundOutcome.CANCELLED,
    InboundOutcome.REPLY_RECORDED,
    InboundOutcome.COUNTER_LOGGED,
    InboundOutcome.REFRESH_SENT,
    InboundOutcome.DUPLICATE,
    InboundOutcome.IGNORED,
)
_DROPPED = "VEVENT dropped: "


class QuarantineReleaseError(GatewayError):
    """A quarantined message cannot be released (unknown id, released, or not kept whole)."""


class _RefusedAloneError(Exception):
    """The CRM refused the only event of a message (handled without a savepoint)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InboundPipeline:
    """Received messages become CRM tasks, once (see the module docstring).

    Parameters:
        gateway: the assembled gateway (settings, store, CRM, clock).
    """

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        settings = gateway.settings
        limits = settings.limits
        self._mime_limits = mime_limits(settings)
        self._ics_limits = IcsLimits(
            max_object_bytes=2 * limits.calendar_bytes,
            max_components=limits.components,
            max_events=limits.events,
            max_attendees=limits.attendees,
            max_recurrence_instances=limits.recurrence_instances,
        )
        inbound = settings.inbound
        self._policies = Policies(
            duplicate=inbound.duplicate_policy,
            forwarders=inbound.forwarders,
            external=inbound.external_invitations,
        )
        self._zone = ZoneInfo(settings.calendars[0].time_zone)

    # -- the contract -------------------------------------------------------------------------

    def handle(self, message: ReceivedMessage, *, dry_run: bool = False) -> MessageResult:
        """One message, end to end, in one transaction.

        Parameters:
            message: what a source received.
            dry_run: decide everything, write nothing; the result is as if applied.

        Returns:
            What became of each of its events (or of the message).

        Raises:
            CrmUnavailableError: the CRM cannot be reached; nothing was committed.
            StorageError: the database failed; nothing was committed.
        """
        return self._run(message, dry_run=dry_run, release_id=None)

    def release(self, quarantine_id: int, *, owner: str | None = None) -> MessageResult:
        """Process a quarantined message again, from its stored bytes.

        The processed record that put it in quarantine is ignored. The quarantine row is
        marked released when the message no longer quarantines; otherwise its reason is
        brought up to date and it stays.

        Parameters:
            quarantine_id: the quarantine row.
            owner: the staff address owning tasks no forwarder claims, instead of the one
                the message arrived with (a file ingested without ``--owner``).

        Returns:
            The new result.

        Raises:
            QuarantineReleaseError: no such row, already released, or only part of the
                message was kept (reprocess the original instead).
            CrmUnavailableError: as :meth:`handle`.
            StorageError: as :meth:`handle`.
        """
        with self.gateway.store.session() as session:
            row = session.get(QuarantinedMessage, quarantine_id)
            if row is None:
                raise QuarantineReleaseError(f"no quarantined message with id {quarantine_id}")
            if row.released_at is not None:
                raise QuarantineReleaseError(
                    f"quarantined message {quarantine_id} was released already"
                )
            if row.raw is None or row.truncated:
                where = f" (the original: {row.reference})" if row.reference else ""
                raise QuarantineReleaseError(
                    f"quarantined message {quarantine_id} was not kept whole "
                    f"({row.size} bytes, limits.quarantine_bytes): process the original "
                    f"again instead{where}"
                )
            received = row.received or {}
            envelope_to = received.get("envelope_to")
            message = ReceivedMessage(
                raw=row.raw,
                source=row.source,
                reference=row.reference,
                envelope_from=_text(received.get("envelope_from")),
                envelope_to=tuple(str(a) for a in envelope_to)
                if isinstance(envelope_to, list)
                else (),
                owner=owner or _text(received.get("owner")) or self._mailbox_owner(row.source),
                size=row.size,
                received_at=row.created_at,
            )
        return self._run(message, dry_run=False, release_id=quarantine_id)

    # -- one message --------------------------------------------------------------------------

    def _mailbox_owner(self, source: str) -> str | None:
        for mailbox in self.gateway.settings.mailboxes:
            if mailbox.name == source:
                return mailbox.owner
        return None

    def _run(
        self, message: ReceivedMessage, *, dry_run: bool, release_id: int | None
    ) -> MessageResult:
        now = self.gateway.clock()
        try:
            with self.gateway.store.session() as session:
                try:
                    result = self._process(
                        session, self._crm(session, dry_run), message, now, dry_run, release_id
                    )
                except _RefusedAloneError as refused:
                    # The message's only event was refused, outside any savepoint: start
                    # again with it refused (nothing else was written, so the result is the
                    # one a savepoint would have given).
                    session.rollback()
                    result = self._process(
                        session,
                        self._crm(session, dry_run),
                        message,
                        now,
                        dry_run,
                        release_id,
                        refusal=refused.reason,
                    )
                if dry_run:
                    session.rollback()
                return result
        except StorageDataError as exc:
            # The database refused a value taken from the message: the same message would
            # fail the same way for ever, so it is set aside (not retried) with the reason.
            logger.warning(
                "inbound: the database refused a message from %s: %s", message.source, exc
            )
            reason = f"the database refused a value from the message ({exc})"
            return self._fail(message, now, reason, dry_run=dry_run, release_id=release_id)
        except (CrmUnavailableError, StorageError):
            raise
        except Exception as exc:
            # A bug or a CRM refusal outside any one event: the message must not come back
            # forever, so it is set aside, with the cause, in a transaction of its own.
            logger.exception("inbound: processing a message from %s failed", message.source)
            what = "the CRM refused" if isinstance(exc, CrmError) else "internal error"
            reason = f"{what} while processing the message ({type(exc).__name__}: {exc})"
            return self._fail(message, now, reason, dry_run=dry_run, release_id=release_id)

    def _crm(self, session: Session, dry_run: bool) -> CrmPort:
        crm: CrmPort = self.gateway.crm(session)
        return DryRunCrm(crm) if dry_run else crm

    def _fail(
        self,
        message: ReceivedMessage,
        now: dt.datetime,
        reason: str,
        *,
        dry_run: bool,
        release_id: int | None,
    ) -> MessageResult:
        message_id = _header_message_id(message.raw)
        events = (EventResult(InboundOutcome.QUARANTINED, reason=reason),)
        if dry_run:
            return MessageResult(message_id, events, dry_run=True)
        with self.gateway.store.session() as session:
            release_row = (
                session.get(QuarantinedMessage, release_id) if release_id is not None else None
            )
            return self._finish(session, message, now, events, message_id, release_row=release_row)

    def _process(
        self,
        session: Session,
        crm: CrmPort,
        message: ReceivedMessage,
        now: dt.datetime,
        dry_run: bool,
        release_id: int | None,
        *,
        refusal: str | None = None,
    ) -> MessageResult:
        extraction, problem = self._extract(message)
        message_id = extraction.headers.message_id if extraction is not None else None
        release_row = (
            session.get(QuarantinedMessage, release_id) if release_id is not None else None
        )
        digest = body_digest(message.raw)
        if release_row is None:
            prior, ours = seen_before(
                session,
                source=message.source,
                uidvalidity=message.uidvalidity,
                uid=message.uid,
                message_key=_message_key(message.raw, message_id),
                digest=digest,
                message_id=message_id,
            )
            if prior is not None:
                return _previous(prior, message_id, dry_run)
        else:
            ours = is_our_message(session, message_id)
        if message.oversized:
            size = message.size if message.size is not None else len(message.raw)
            limit = self.gateway.settings.limits.message_bytes
            events = [_quarantined(f"message over {limit} bytes ({size} bytes)")]
        elif extraction is None:
            events = [_quarantined(problem or "unreadable message")]
        else:
            inbound = self.gateway.settings.inbound
            author = extraction.headers.from_
            ctx = MessageContext(
                gateway=self.gateway,
                session=session,
                crm=crm,
                received=message,
                extraction=extraction,
                now=now,
                message_key=_message_key(message.raw, message_id),
                policies=self._policies,
                authenticated=not inbound.require_authentication_results
                or is_authenticated(
                    extraction.headers.authentication_results,
                    inbound.trusted_authserv_ids,
                    author.address if author is not None else None,
                ),
                floating_zone=self._zone,
                dry_run=dry_run,
            )
            events = self._message_events(ctx, ours=ours, refusal=refusal)
        if dry_run:
            return MessageResult(message_id, tuple(events), dry_run=True)
        return self._finish(
            session, message, now, tuple(events), message_id, release_row, digest=digest
        )

    def _extract(self, message: ReceivedMessage) -> tuple[Extraction | None, str | None]:
        try:
            return extract(message.raw, limits=self._mime_limits), None
        except MimeLimitError as exc:
            return None, f"message refused: {exc}"
        except MimeError as exc:
            return None, f"unreadable message: {exc}"

    def _message_events(
        self, ctx: MessageContext, *, ours: bool, refusal: str | None
    ) -> list[EventResult]:
        """The results of a readable message.

        Parameters:
            ctx: the message's context.
            ours: its Message-ID is in the outbox.
            refusal: set when its only calendar event was refused by the CRM in a first
                attempt (see :meth:`_event`): that event's result, without calling the CRM.
        """
        extraction = ctx.extraction
        headers = extraction.headers
        if ours:
            return [
                EventResult(
                    InboundOutcome.IGNORED,
                    reason="the gateway's own message came back (its Message-ID is ours)",
                )
            ]
        if extraction.bounce is not None:
            return self._guarded(
                ctx,
                lambda: [
                    handle_bounce(
                        ctx.gateway,
                        ctx.session,
                        ctx.crm,
                        received=ctx.received,
                        extraction=extraction,
                        now=ctx.now,
                        dry_run=ctx.dry_run,
                    )
                ],
                _quarantined,
            )
        if not extraction.calendar_parts:
            if headers.is_auto_generated:
                signals = ", ".join(headers.auto_signals) or "automatic"
                return [
                    EventResult(
                        InboundOutcome.IGNORED,
                        reason=f"automatic message without a calendar ({signals})",
                    )
                ]
            human = self._guarded(
                ctx,
                lambda: [
                    result
                    for result in [
                        handle_human_reply(
                            ctx.gateway,
                            ctx.session,
                            ctx.crm,
                            received=ctx.received,
                            extraction=extraction,
                            now=ctx.now,
                            dry_run=ctx.dry_run,
                        )
                    ]
                    if result is not None
                ],
                _quarantined,
            )
            if human:
                return human
            return [_quarantined(_no_calendar_reason(extraction))]
        parsed = [(part, self._parse(part)) for part in extraction.calendar_parts]
        alone = sum(len(c.events) for _, p in parsed if isinstance(p, list) for c in p) == 1
        events: list[EventResult] = []
        for part, calendars in parsed:
            if isinstance(calendars, EventResult):
                events.append(calendars)
            else:
                events.extend(self._part_events(ctx, part, calendars, alone, refusal))
        return events

    def _parse(self, part: CalendarPart) -> list[CalendarObject] | EventResult:
        """The part's calendars, or the quarantine of a part that cannot be read."""
        try:
            return parse_calendars(part.data, mime_method=part.mime_method, limits=self._ics_limits)
        except IcsLimitError as exc:
            return _quarantined(f"calendar in {_part_name(part)} is over a limit: {exc}")
        except IcsError as exc:
            return _quarantined(f"malformed calendar in {_part_name(part)}: {exc}")

    def _part_events(
        self,
        ctx: MessageContext,
        part: CalendarPart,
        calendars: list[CalendarObject],
        alone: bool,
        refusal: str | None,
    ) -> list[EventResult]:
        name = _part_name(part)
        events: list[EventResult] = []
        for calendar in calendars:
            method = calendar.method.value
            dropped = [w[len(_DROPPED) :] for w in calendar.warnings if w.startswith(_DROPPED)]
            for warning in dropped:
                events.append(_quarantined(f"malformed event in {name}: {warning}", method=method))
            if not calendar.events and not dropped:
                held = ", ".join(calendar.other_components)
                events.append(
                    _quarantined(
                        f"no event in the calendar in {name}"
                        + (f" (it holds {held})" if held else ""),
                        method=method,
                    )
                )
            for event in calendar.events:
                events.extend(self._event(ctx, calendar, event, alone, refusal))
        return events

    def _event(
        self,
        ctx: MessageContext,
        calendar: CalendarObject,
        event: Event,
        alone: bool,
        refusal: str | None,
    ) -> list[EventResult]:
        """One event, in a savepoint, unless it is the message's only one.

        The only event of a message needs no savepoint (a SAVEPOINT and its RELEASE per
        message are a measurable share of the work): nothing else in the transaction is
        written before it, so a CRM refusal raises :class:`_RefusedAloneError`, :meth:`_run`
        rolls the whole transaction back and processes the message again with
        ``refusal`` set, and the event is then refused without calling the CRM.
        """

        def refused(reason: str) -> EventResult:
            return EventResult(
                InboundOutcome.QUARANTINED,
                uid=event.uid or None,
                method=calendar.method.value,
                reason=reason,
            )

        if refusal is not None:
            return [refused(refusal)]
        if not alone:
            return self._guarded(ctx, lambda: handle_event(ctx, calendar, event), refused)
        try:
            return handle_event(ctx, calendar, event)
        except CrmUnavailableError:
            raise
        except (CrmError, IcsError) as exc:
            logger.warning("inbound: the CRM refused a change: %s", exc)
            raise _RefusedAloneError(f"the CRM refused the change: {exc}") from exc

    @staticmethod
    def _guarded(
        ctx: MessageContext,
        work: Callable[[], list[EventResult]],
        refused: Callable[[str], EventResult],
    ) -> list[EventResult]:
        """Run ``work`` in a savepoint; a CRM refusal undoes only its writes."""
        savepoint = ctx.session.begin_nested()
        try:
            results = work()
        except CrmUnavailableError:
            raise
        except (CrmError, IcsError) as exc:
            savepoint.rollback()
            logger.warning("inbound: the CRM refused a change: %s", exc)
            return [refused(f"the CRM refused the change: {exc}")]
        savepoint.commit()
        return results

    def _finish(
        self,
        session: Session,
        message: ReceivedMessage,
        now: dt.datetime,
        events: tuple[EventResult, ...],
        message_id: str | None,
        release_row: QuarantinedMessage | None,
        *,
        digest: str | None = None,
    ) -> MessageResult:
        reasons = [e.reason for e in events if e.outcome is InboundOutcome.QUARANTINED]
        quarantined = bool(reasons)
        reason = "; ".join(dict.fromkeys(r for r in reasons if r)) or None
        quarantine_id = None
        if release_row is not None:
            if quarantined:
                release_row.reason = reason or release_row.reason
                quarantine_id = release_row.id
            else:
                release_row.released_at = now
        elif quarantined:
            row = quarantine_message(
                session,
                source=message.source[:64],
                reason=reason or "set aside",
                now=now,
                raw=message.raw,
                max_bytes=self.gateway.settings.limits.quarantine_bytes,
                message_id=message_id,
                reference=message.reference[:512] if message.reference else None,
                received=received_facts(message),
            )
            quarantine_id = row.id
        outcome = _overall(events)
        first_reason = reason or next((e.reason for e in events if e.reason), None)
        append_processed(
            session,
            source=message.source[:64],
            outcome=outcome.value,
            now=now,
            uidvalidity=message.uidvalidity if release_row is None else None,
            uid=message.uid if release_row is None else None,
            message_id=_message_key(message.raw, message_id),
            reason=first_reason,
            details={
                "digest": digest if digest is not None else body_digest(message.raw),
                "events": [_stored(e) for e in events],
                "quarantine_id": quarantine_id,
                "released_from": release_row.id if release_row is not None else None,
            },
        )
        log_events(session, [_log_entry(now, event, message_id) for event in events])
        # DEBUG: the sources that run in `serve` log each message at INFO as an event with
        # stable keys and its duration (invitegw.gateway.metrics.ObservedPipeline).
        logger.debug(
            "inbound message %s from %s: %s%s",
            message_id or "(no Message-ID)",
            message.reference or message.source,
            outcome.value,
            f" ({first_reason})" if first_reason else "",
        )
        return MessageResult(message_id, events, quarantine_id=quarantine_id)


# -- helpers -----------------------------------------------------------------------------------


def _part_name(part: CalendarPart) -> str:
    return part.filename or f"part {part.location}"


def received_facts(message: ReceivedMessage) -> dict[str, Any]:
    """What a quarantine row keeps of how ``message`` arrived, so a release replays it.

    Parameters:
        message: the message as its source received it.

    Returns:
        The JSON-able facts: owner, envelope, IMAP position.
    """
    return {
        "owner": message.owner,
        "envelope_from": message.envelope_from,
        "envelope_to": list(message.envelope_to),
        "uidvalidity": message.uidvalidity,
        "uid": message.uid,
    }


def _quarantined(reason: str, *, method: str | None = None) -> EventResult:
    return EventResult(InboundOutcome.QUARANTINED, method=method, reason=reason)


def _text(value: object) -> str | None:
    return str(value) if value is not None and value != "" else None


def _message_key(raw: bytes, message_id: str | None) -> str:
    """The Message-ID, or for a message without one a digest of its bytes."""
    if message_id:
        return message_id
    return "sha256:" + hashlib.sha256(raw.replace(b"\r\n", b"\n")).hexdigest()


def _header_message_id(raw: bytes) -> str | None:
    try:
        headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
        return normalize_message_id(headers.get("Message-ID"))
    except Exception:  # a last resort: any header, however broken, must not stop quarantining
        return None


def _no_calendar_reason(extraction: Extraction) -> str:
    reason = "no calendar object in the message"
    hints = [
        d
        for d in extraction.defects
        if "calendar" in d.lower() or "tnef" in d.lower() or "icalendar" in d.lower()
    ]
    if hints:
        reason += f" ({hints[0]})"
    return reason


def _overall(events: tuple[EventResult, ...]) -> InboundOutcome:
    outcomes = {e.outcome for e in events}
    return next((o for o in _WEIGHT if o in outcomes), InboundOutcome.IGNORED)


def _stored(event: EventResult) -> dict[str, Any]:
    data = dataclasses.asdict(event)
    data["outcome"] = event.outcome.value
    return data


def _previous(row: ProcessedMessage, message_id: str | None, dry_run: bool) -> MessageResult:
    details = row.details or {}
    stored = details.get("events")
    events = tuple(
        event_from_record(e)
        for e in (stored if isinstance(stored, list) else [])
        if isinstance(e, dict)
    )
    if not events:
        events = (EventResult(InboundOutcome.IGNORED, reason=row.reason),)
    quarantine_id = details.get("quarantine_id")
    return MessageResult(
        message_id=message_id,
        events=events,
        quarantine_id=quarantine_id if isinstance(quarantine_id, int) else None,
        already_processed=True,
        dry_run=dry_run,
    )


def _log_entry(now: dt.datetime, event: EventResult, message_id: str | None) -> dict[str, Any]:
    subject = " ".join(
        part
        for part in (event.method, event.uid, event.recurrence_id and f"({event.recurrence_id})")
        if part
    )
    text = f"{subject or 'message'}: {event.outcome.value}"
    if event.reason:
        text += f": {event.reason}"
    return {
        "now": now,
        "level": LogLevel.WARNING if event.outcome is InboundOutcome.QUARANTINED else LogLevel.INFO,
        "kind": f"inbound-{event.outcome.value}",
        "text": text,
        "meeting_id": event.meeting_id,
        "task_id": event.task_id,
        "message_id": message_id,
        "details": {"uid": event.uid, "recurrence_id": event.recurrence_id, "method": event.method},
    }
