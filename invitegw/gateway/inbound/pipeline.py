"""The inbound pipeline: one received message, end to end, in one unit of work.

:class:`InboundPipeline` is what every mail source hands its messages to (the IMAP
watchers, the SMTP listener's spool worker, ``invitegw ingest``: see
:mod:`~invitegw.gateway.inbound.source`). For one
:class:`~invitegw.gateway.inbound.model.ReceivedMessage` it

1. reads it (MIME extraction under the ``[limits]`` caps) and names it once
   (:class:`~invitegw.gateway.inbound.context.MessageIdentity`: Message-ID, key, digest);
2. skips a message handled before, answering with what was decided then, and notes one of
   the gateway's own (:mod:`~invitegw.gateway.inbound.dedupe`);
3. quarantines what cannot be read: an oversized message, MIME over a cap or broken;
4. routes the rest to its handlers (:mod:`~invitegw.gateway.inbound.routing`), each
   piece kept apart as :mod:`~invitegw.gateway.inbound.savepoints` says;
5. records it all in the same transaction as the CRM write
   (:mod:`~invitegw.gateway.inbound.recording`).

A dry run decides everything the same way in a unit of work that writes nothing (its CRM
keeps writes in memory, its session is rolled back), and records nothing.

Errors: ``CrmUnavailableError`` and ``StorageError`` mean nothing was committed; they are
raised so the caller leaves the message where it is and retries. Anything else wrong with
a message is a quarantine with a reason, never an exception: a CRM refusing one event sets
that event aside (its writes undone, the others stay), and an unexpected failure sets the
whole message aside in a fresh transaction.
"""

from __future__ import annotations

import datetime as dt
import email.parser
import email.policy
import logging

from invitegw.errors import (
    CrmError,
    CrmUnavailableError,
    MimeError,
    MimeLimitError,
    StorageDataError,
    StorageError,
)
from invitegw.gateway.inbound.config import InboundConfig
from invitegw.gateway.inbound.context import InboundMessage, MessageIdentity
from invitegw.gateway.inbound.counter_refresh import RequestResend
from invitegw.gateway.inbound.dedupe import check_seen
from invitegw.gateway.inbound.model import (
    EventResult,
    InboundOutcome,
    MessageResult,
    ReceivedMessage,
)
from invitegw.gateway.inbound.quarantine import QuarantineReleaseError, load_release
from invitegw.gateway.inbound.recording import record_message
from invitegw.gateway.inbound.routing import quarantined, route_message
from invitegw.gateway.storage import QuarantinedMessage
from invitegw.gateway.uow import UnitOfWork, UnitsOfWork
from invitegw.itip.keys import body_digest
from invitegw.itip.trust import is_authenticated
from invitegw.mailbox.mime.extract import Extraction, extract
from invitegw.mailbox.mime.headertext import normalize_message_id

__all__ = ["InboundPipeline", "QuarantineReleaseError"]

logger = logging.getLogger(__name__)


class InboundPipeline:
    """Received messages become CRM tasks, once (see the module docstring).

    Parameters:
        units: starts the unit of work of each message (database, CRM, clock).
        config: the inbound settings.
        request_resend: what a REFRESH asks the outbound side for
            (:func:`~invitegw.gateway.outbound.feed.request_resend`).
    """

    def __init__(
        self, units: UnitsOfWork, config: InboundConfig, *, request_resend: RequestResend
    ) -> None:
        self.units = units
        self.config = config
        self.request_resend = request_resend

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
        with self.units.store.session() as session:
            row = session.get(QuarantinedMessage, quarantine_id)
            mailbox_owner = self.config.mailbox_owner(row.source) if row is not None else None
            message = load_release(session, quarantine_id, owner=owner, mailbox_owner=mailbox_owner)
        return self._run(message, dry_run=False, release_id=quarantine_id)

    # -- one message --------------------------------------------------------------------------

    def _run(
        self, message: ReceivedMessage, *, dry_run: bool, release_id: int | None
    ) -> MessageResult:
        digest = body_digest(message.raw)
        now: dt.datetime | None = None
        try:
            with self.units.start(dry_run=dry_run) as unit:
                now = unit.now
                return self._process(unit, message, digest, release_id)
        except StorageDataError as exc:
            # The database refused a value taken from the message: the same message would
            # fail the same way for ever, so it is set aside (not retried) with the reason.
            logger.warning(
                "inbound: the database refused a message from %s: %s", message.source, exc
            )
            reason = f"the database refused a value from the message ({exc})"
        except (CrmUnavailableError, StorageError):
            raise
        except Exception as exc:
            # A bug or a CRM refusal outside any one event: the message must not come back
            # forever, so it is set aside, with the cause, in a transaction of its own.
            logger.exception("inbound: processing a message from %s failed", message.source)
            what = "the CRM refused" if isinstance(exc, CrmError) else "internal error"
            reason = f"{what} while processing the message ({type(exc).__name__}: {exc})"
        failed = EventResult(InboundOutcome.QUARANTINED, reason=reason)
        identity = MessageIdentity.of(message.raw, _header_message_id(message.raw), digest=digest)
        if dry_run:
            return MessageResult(identity.message_id, (failed,), dry_run=True)
        return self._record_apart(message, (failed,), identity, now, release_id)

    def _record_apart(
        self,
        message: ReceivedMessage,
        events: tuple[EventResult, ...],
        identity: MessageIdentity,
        now: dt.datetime | None,
        release_id: int | None,
    ) -> MessageResult:
        """Record ``events`` in a transaction of their own (the message's own failed)."""
        with self.units.store.session() as session:
            release_row = (
                session.get(QuarantinedMessage, release_id) if release_id is not None else None
            )
            return record_message(
                session,
                message,
                events,
                identity,
                now=now or self.units.now(),
                quarantine_bytes=self.config.limits.quarantine_bytes,
                release_row=release_row,
            )

    def _process(
        self, unit: UnitOfWork, message: ReceivedMessage, digest: str, release_id: int | None
    ) -> MessageResult:
        session = unit.session
        extraction, problem = self._extract(message)
        message_id = extraction.headers.message_id if extraction is not None else None
        identity = MessageIdentity.of(message.raw, message_id, digest=digest)
        release_row = (
            session.get(QuarantinedMessage, release_id) if release_id is not None else None
        )
        seen = check_seen(
            session, message, identity, release=release_row is not None, dry_run=unit.dry_run
        )
        if seen.previous is not None:
            return seen.previous
        events = self._events(unit, message, extraction, problem, identity, ours=seen.ours)
        if unit.dry_run:
            return MessageResult(identity.message_id, events, dry_run=True)
        return record_message(
            session,
            message,
            events,
            identity,
            now=unit.now,
            quarantine_bytes=self.config.limits.quarantine_bytes,
            release_row=release_row,
        )

    def _events(
        self,
        unit: UnitOfWork,
        message: ReceivedMessage,
        extraction: Extraction | None,
        problem: str | None,
        identity: MessageIdentity,
        *,
        ours: bool,
    ) -> tuple[EventResult, ...]:
        """What became of the message's events (its transaction undone if it must be)."""
        if message.oversized:
            size = message.size if message.size is not None else len(message.raw)
            limit = self.config.limits.message_bytes
            return (quarantined(f"message over {limit} bytes ({size} bytes)"),)
        if extraction is None:
            return (quarantined(problem or "unreadable message"),)
        readable = InboundMessage(
            message, extraction, identity, authenticated=self._authenticated(extraction)
        )
        routed = route_message(
            unit, self.config, readable, ours=ours, request_resend=self.request_resend
        )
        if routed.undo:
            # The only event was refused outside a savepoint: undo its writes; nothing
            # else of the message was written (the result is the one a savepoint gives).
            unit.session.rollback()
        return tuple(routed.events)

    def _extract(self, message: ReceivedMessage) -> tuple[Extraction | None, str | None]:
        try:
            return extract(message.raw, limits=self.config.mime_limits), None
        except MimeLimitError as exc:
            return None, f"message refused: {exc}"
        except MimeError as exc:
            return None, f"unreadable message: {exc}"

    def _authenticated(self, extraction: Extraction) -> bool:
        inbound = self.config.inbound
        if not inbound.require_authentication_results:
            return True
        author = extraction.headers.from_
        return is_authenticated(
            extraction.headers.authentication_results,
            inbound.trusted_authserv_ids,
            author.address if author is not None else None,
        )


def _header_message_id(raw: bytes) -> str | None:
    try:
        headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
        return normalize_message_id(headers.get("Message-ID"))
    except Exception:  # a last resort: any header, however broken, must not stop quarantining
        return None
