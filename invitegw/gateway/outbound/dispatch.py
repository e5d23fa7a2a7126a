"""The outbox dispatcher: claim due messages, send them, record how it went (the shell).

Each batch is claimed in one transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
several workers share the outbox), then sent over ONE SMTP connection at the configured
rate, and each message's outcome is committed right after the relay answers it:

- accepted → ``sent``; the attendee's delivery state ``sent``;
- a temporary failure (4xx for the recipient) → retried after an exponentially growing
  delay with jitter (``[smtp.retry]``); when the relay itself is unreachable the rest of
  the batch waits the same delay, rather than trying each message in turn;
- a permanent failure (5xx for the recipient, an unusable address) → ``dead`` at once;
- attempts or age exhausted → ``dead``.

A final state after a failure (dead, or delivered after retries) and the first delay are
written to the meeting's CRM integration log and to the gateway's event log, every delay
to the event log; a plain delivery is recorded by the outbox row (``sent``, ``sent_at``).
A crash after the relay's OK and before the commit leaves that one message claimed: when
the claim expires it is sent again with the same bytes, hence the same Message-ID. A
graceful stop finishes the message in flight and hands the rest of the batch back unsent.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from invitegw.domain.backoff import backoff
from invitegw.domain.records import LogLevel
from invitegw.errors import AddressError, DeliveryError, MimeError, TransientDeliveryError
from invitegw.gateway.config import RetrySettings
from invitegw.gateway.metrics import Instruments
from invitegw.gateway.outbound.ledger import crm_note
from invitegw.gateway.storage import (
    DeliveryState,
    OutboundAttendee,
    OutboundMeeting,
    claim_due,
    mark_dead,
    mark_retry,
    mark_sent,
    release_claims,
)
from invitegw.gateway.uow import UnitOfWork, UnitsOfWork
from invitegw.mailbox.transport.smtp_send import SmtpSender, SmtpSession

__all__ = ["DispatchOptions", "DispatchReport", "Dispatcher", "retry_delay"]

logger = logging.getLogger(__name__)


def retry_delay(attempt: int, retry: RetrySettings, rng: Callable[[], float]) -> dt.timedelta:
    """The wait before attempt ``attempt + 1``: exponential, capped, with jitter.

    Parameters:
        attempt: attempts made so far (1 after the first failure).
        retry: the schedule.
        rng: a uniform random number in [0, 1) (injected in tests).

    Returns:
        ``first_delay * factor ** (attempt - 1)``, at most ``max_delay``, spread by
        ``± jitter`` of itself.
    """
    seconds = backoff(
        attempt,
        first=retry.first_delay.total_seconds(),
        cap=retry.max_delay.total_seconds(),
        factor=retry.factor,
        jitter=retry.jitter,
        draw=rng(),
    )
    return dt.timedelta(seconds=seconds)


@dataclass(frozen=True, slots=True)
class DispatchOptions:
    """How the outbox is sent (from ``[smtp]`` and ``[outbound]``).

    Parameters:
        batch_size: messages claimed, and sent over one connection, at a time.
        claim_for: how long a claim lasts before another worker may take the message.
        retry: the backoff schedule after a temporary failure (``[smtp.retry]``).
    """

    batch_size: int = 50
    claim_for: dt.timedelta = dt.timedelta(minutes=5)
    retry: RetrySettings = field(default_factory=RetrySettings)


@dataclass
class DispatchReport:
    """What one flush did."""

    sent: int = 0
    retried: int = 0
    dead: int = 0
    released: int = 0
    batches: int = 0
    lost_claims: int = 0

    @property
    def handled(self) -> int:
        """Messages that reached a state this flush (sent, retried or dead)."""
        return self.sent + self.retried + self.dead


@dataclass(frozen=True, slots=True)
class _Claimed:
    """A claimed outbox row, detached from its session."""

    id: int
    message_id: str
    sender: str
    recipient: str
    raw: bytes
    attempts: int
    created_at: dt.datetime
    kind: str
    attendee_id: int | None
    crm_meeting_id: str | None
    # It was held up before (tried and failed, or waiting behind a message that failed).
    delayed: bool = False


class Dispatcher:
    """Sends the outbox of one gateway (see the module docstring).

    Parameters:
        units: starts the units of work (session, CRM for the logs).
        sender: the SMTP sender.
        worker: this worker's name (its claims).
        options: batch size, claim duration, retry schedule.
        rng: uniform random numbers for the jitter (injected in tests).
    """

    def __init__(
        self,
        units: UnitsOfWork,
        sender: SmtpSender,
        *,
        worker: str,
        options: DispatchOptions | None = None,
        rng: Callable[[], float] | None = None,
        instruments: Instruments | None = None,
    ) -> None:
        self.units = units
        self.sender = sender
        self.worker = worker
        self.options = options or DispatchOptions()
        self._rng = rng or random.random
        self.instruments = instruments or Instruments(enabled=False)

    def flush(
        self, *, stop: threading.Event | None = None, limit: int | None = None
    ) -> DispatchReport:
        """Send every message due now, batch by batch, until none is left.

        Parameters:
            stop: set to stop after the message in flight (the rest is handed back).
            limit: send at most this many (default: all that are due).

        Returns:
            What was done.

        Raises:
            StorageError: the database failed.
        """
        report = DispatchReport()
        batch_size = self.options.batch_size
        while not (stop and stop.is_set()):
            room = batch_size if limit is None else min(batch_size, limit - report.handled)
            if room <= 0:
                break
            claimed = self._claim(room)
            if not claimed:
                break
            report.batches += 1
            if not self._send_batch(claimed, report, stop):
                break  # the relay is unreachable: the rest waits for the retry delay
        return report

    def _claim(self, limit: int) -> list[_Claimed]:
        with self.units.start() as uow:
            session = uow.session
            rows = claim_due(
                session,
                worker=self.worker,
                now=uow.now,
                limit=limit,
                claim_for=self.options.claim_for,
            )
            meetings = {r.meeting_id for r in rows if r.meeting_id is not None}
            crm_ids: dict[int, str] = {
                row_id: crm_id
                for row_id, crm_id in session.execute(
                    select(OutboundMeeting.id, OutboundMeeting.crm_meeting_id).where(
                        OutboundMeeting.id.in_(sorted(meetings))
                    )
                )
            }
            return [
                _Claimed(
                    id=r.id,
                    message_id=r.message_id,
                    sender=r.sender,
                    recipient=r.recipient,
                    raw=r.raw or b"",
                    attempts=r.attempts,
                    created_at=r.created_at,
                    kind=r.kind,
                    attendee_id=r.attendee_id,
                    crm_meeting_id=crm_ids.get(r.meeting_id) if r.meeting_id else None,
                    delayed=r.last_error is not None,
                )
                for r in rows
            ]

    def _send_batch(
        self, claimed: list[_Claimed], report: DispatchReport, stop: threading.Event | None
    ) -> bool:
        """Send one claimed batch over one connection; False when the relay is unreachable."""
        with self.sender.session() as smtp, self.units.start() as uow:
            session = uow.session
            for index, row in enumerate(claimed):
                if stop is not None and stop.is_set():
                    rest = [r.id for r in claimed[index:]]
                    report.released += release_claims(
                        session, rest, worker=self.worker, now=self.units.now()
                    )
                    session.commit()
                    return True
                unreachable = self._send_one(smtp, uow, row, report)
                session.commit()
                if unreachable is not None:
                    self._defer_rest(uow, claimed[index + 1 :], report, unreachable)
                    session.commit()
                    return False
        return True

    def _send_one(
        self, smtp: SmtpSession, uow: UnitOfWork, row: _Claimed, report: DispatchReport
    ) -> DeliveryError | None:
        """Send one message and record the outcome; the error when the relay is unreachable."""
        started = time.perf_counter()
        try:
            if not row.raw:
                raise MimeError("the outbox row has no message bytes")
            smtp.send_bytes(
                row.raw, mail_from=row.sender, rcpt_to=[row.recipient], message_id=row.message_id
            )
        except TransientDeliveryError as exc:
            self._observe(row, "temporary", started, exc)
            self._failed(uow, row, report, exc, permanent=False)
            # No recipient named: the connection, TLS or AUTH failed, not this message.
            return exc if exc.recipient is None else None
        except (DeliveryError, AddressError, MimeError) as exc:
            reason = (
                "address"
                if isinstance(exc, AddressError)
                else "mime"
                if isinstance(exc, MimeError)
                else "rejected"
            )
            self._observe(row, reason, started, exc)
            self._failed(uow, row, report, exc, permanent=True)
            return None
        self._observe(row, "sent", started, None)
        self._sent(uow, row, report)
        return None

    def _observe(
        self, row: _Claimed, outcome: str, started: float, error: Exception | None
    ) -> None:
        self.instruments.delivery(
            row.kind,
            outcome,
            time.perf_counter() - started,
            message_id=row.message_id,
            meeting=row.crm_meeting_id,
            error=str(error) if error is not None else None,
        )

    # -- outcomes ----------------------------------------------------------------------------

    def _sent(self, uow: UnitOfWork, row: _Claimed, report: DispatchReport) -> None:
        session, now = uow.session, self.units.now()
        if not mark_sent(session, row.id, worker=self.worker, now=now):
            report.lost_claims += 1
            logger.warning("outbox %d sent, but its claim had been taken over", row.id)
            return
        report.sent += 1
        self._attendee(session, row, DeliveryState.SENT, None, now)
        if row.attempts > 1 or row.delayed:
            # A plain delivery is recorded by the outbox row itself (state, sent_at); one
            # after failures ends a story the logs told, so they say how it ended.
            plural = "s" if row.attempts != 1 else ""
            text = f"{row.kind} to {row.recipient} delivered after {row.attempts} attempt{plural}"
            self._note(uow, row, LogLevel.INFO, text, "sent", crm=True)

    def _failed(
        self,
        uow: UnitOfWork,
        row: _Claimed,
        report: DispatchReport,
        error: Exception,
        *,
        permanent: bool,
    ) -> None:
        session, now = uow.session, self.units.now()
        retry = self.options.retry
        worker = self.worker
        exhausted = (
            row.attempts >= retry.max_attempts or now - row.created_at >= retry.give_up_after
        )
        if permanent or exhausted:
            why = "permanent failure" if permanent else f"gave up after {row.attempts} attempts"
            if not mark_dead(session, row.id, worker=worker, now=now, error=str(error)):
                report.lost_claims += 1
                return
            report.dead += 1
            self._attendee(session, row, DeliveryState.FAILED, str(error), now)
            text = f"{row.kind} to {row.recipient} could not be delivered ({why}): {error}"
            logger.warning("outbox %d dead: %s", row.id, text)
            self._note(uow, row, LogLevel.ERROR, text, "dead", crm=True)
            return
        delay = retry_delay(row.attempts, retry, self._rng)
        next_at = now + delay
        if not mark_retry(
            session, row.id, worker=worker, now=now, error=str(error), next_attempt_at=next_at
        ):
            report.lost_claims += 1
            return
        report.retried += 1
        text = (
            f"{row.kind} to {row.recipient} delayed (attempt {row.attempts}): {error}; "
            f"next attempt at {next_at:%Y-%m-%d %H:%M:%S} UTC"
        )
        self._note(uow, row, LogLevel.WARNING, text, "retry", crm=row.attempts == 1)

    def _defer_rest(
        self, uow: UnitOfWork, rest: list[_Claimed], report: DispatchReport, cause: Exception
    ) -> None:
        """The relay is unreachable: the rest of the batch waits like the failed message.

        They were not tried, so they spend no attempt (their claim counted one, given
        back here) and none of them can be given up for it.
        """
        now = self.units.now()
        retry = self.options.retry
        for row in rest:
            error = f"not tried: {cause}"
            next_at = now + retry_delay(max(1, row.attempts - 1), retry, self._rng)
            if not mark_retry(
                uow.session,
                row.id,
                worker=self.worker,
                now=now,
                error=error,
                next_attempt_at=next_at,
                tried=False,
            ):
                report.lost_claims += 1
                continue
            report.retried += 1
            self._note(
                uow,
                row,
                LogLevel.WARNING,
                f"{row.kind} to {row.recipient} delayed (not tried: {cause}); "
                f"next attempt at {next_at:%Y-%m-%d %H:%M:%S} UTC",
                "retry",
                crm=row.attempts <= 1,
            )

    def _attendee(
        self,
        session: Session,
        row: _Claimed,
        state: DeliveryState,
        error: str | None,
        now: dt.datetime,
    ) -> None:
        if row.attendee_id is None:
            return
        values: dict[str, object] = {"delivery_state": state, "delivery_error": error}
        if state is DeliveryState.SENT:
            values["last_sent_at"] = now
        session.execute(
            update(OutboundAttendee)
            .where(OutboundAttendee.id == row.attendee_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )

    def _note(
        self,
        uow: UnitOfWork,
        row: _Claimed,
        level: LogLevel,
        text: str,
        kind: str,
        *,
        crm: bool = False,
    ) -> None:
        """The event log always; the meeting's CRM log too when ``crm`` (and it has one)."""
        crm_note(
            uow.crm if crm else None,
            uow.session,
            meeting_id=row.crm_meeting_id,
            level=level,
            text=text,
            kind=kind,
            now=self.units.now(),
            message_id=row.message_id,
            details={"message_id": row.message_id, "recipient": row.recipient},
        )
