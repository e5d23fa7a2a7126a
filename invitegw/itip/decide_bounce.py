"""The delivery failure rules, pure: whose delivery a report says failed, and what to record.

A delivery status notification (:rfc:`3464`, or a mailer daemon's own format) returns one
of our messages. The shell finds the meeting it concerns (the outbox row with the returned
Message-ID, else the UID of the invitation it returns) and hands over the failed
recipients as :class:`FailedDelivery` values; these rules say which attendee each failure
was for and what the meeting's log gets:

- An outbox message has one recipient: a failure the report names is a failure to it, also
  when the report names it by another address (an alias the relay expanded)
  (:func:`outbox_failure`).
- Found by the returned invitation's UID, each failed recipient counts for the first of its
  addresses (final, then original recipient) that is an attendee of the meeting
  (:func:`attendee_failures`).
- A report about a message the gateway did not send, or not about a meeting, is ignored;
  so is a report without a permanent failure of an attendee (a delay).
  (:func:`decide_bounce`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from invitegw.domain.records import LogLevel
from invitegw.itip.attendee_facts import Note, canonical_address

__all__ = [
    "MAX_ERROR",
    "BounceDecision",
    "BounceFacts",
    "FailedDelivery",
    "Failure",
    "attendee_failures",
    "decide_bounce",
    "error_text",
    "failed_addresses",
    "outbox_failure",
]

MAX_ERROR = 1000


@dataclass(frozen=True, slots=True)
class FailedDelivery:
    """One recipient a report says could not be reached.

    Parameters:
        address: the final recipient.
        original_recipient: the recipient as first addressed, if the report says.
        status: the enhanced status code (``5.1.1``).
        diagnostic: the remote server's words.
    """

    address: str | None = None
    original_recipient: str | None = None
    status: str | None = None
    diagnostic: str | None = None


@dataclass(frozen=True, slots=True)
class Failure:
    """A failed delivery to record: to whom, and why."""

    address: str
    error: str


@dataclass(frozen=True, slots=True)
class BounceFacts:
    """What the rules read of one report.

    Parameters:
        original_message_id: the returned message's Message-ID, if any.
        meeting_id: the CRM meeting it concerns, when one was found.
        ours: an outbox row has the returned Message-ID (the gateway sent it).
        failures: the failed deliveries to the meeting's attendees.
        actions: the ``Action`` of every recipient the report lists.
    """

    original_message_id: str | None
    meeting_id: str | None
    ours: bool = False
    failures: tuple[Failure, ...] = ()
    actions: tuple[str | None, ...] = ()


@dataclass(frozen=True, slots=True)
class BounceDecision:
    """What to record: one note per failure (in order) when ``record``; the reason always."""

    record: bool
    reason: str
    notes: tuple[Note, ...] = ()


def error_text(failed: FailedDelivery | None) -> str:
    """Why a delivery failed, on one line: status and diagnostic, else ``delivery failed``.

    Parameters:
        failed: the failed recipient, if the report named one.

    Returns:
        At most :data:`MAX_ERROR` characters.
    """
    if failed is None:
        return "delivery failed"
    parts = [p for p in (failed.status, failed.diagnostic) if p]
    return (" ".join(" ".join(parts).split()) or "delivery failed")[:MAX_ERROR]


def failed_addresses(failed: FailedDelivery) -> list[str]:
    """The valid addresses a failed recipient goes by (final, then original), canonical."""
    found = [canonical_address(v) for v in (failed.address, failed.original_recipient)]
    return [a for a in found if a]


def outbox_failure(recipient: str, failed: Sequence[FailedDelivery]) -> Failure | None:
    """The failure of a message with one recipient, or None when the report names none.

    Parameters:
        recipient: the outbox message's recipient (canonical).
        failed: the failed recipients of the report.

    Returns:
        The failure to ``recipient``, with the error of the entry naming it (else the first).
    """
    if not failed:
        return None
    entry = next((f for f in failed if recipient in failed_addresses(f)), failed[0])
    return Failure(recipient, error_text(entry))


def attendee_failures(
    failed: Sequence[FailedDelivery], attendees: Collection[str]
) -> list[Failure]:
    """The failures to ``attendees``: each recipient by the first address that is one.

    Parameters:
        failed: the failed recipients of the report.
        attendees: the meeting's attendee addresses (canonical).

    Returns:
        The failures, in report order.
    """
    out = []
    for entry in failed:
        address = next((a for a in failed_addresses(entry) if a in attendees), None)
        if address is not None:
            out.append(Failure(address, error_text(entry)))
    return out


def decide_bounce(facts: BounceFacts) -> BounceDecision:
    """What a delivery failure report records (see the module docstring).

    Parameters:
        facts: the gathered facts.

    Returns:
        The decision (its outcome is always ``ignored``: nothing to do with the report
        itself).
    """
    original = facts.original_message_id or "no Message-ID"
    if facts.meeting_id is None:
        what = (
            "a message that is not about a meeting"
            if facts.ours
            else "a message the gateway did not send"
        )
        return BounceDecision(False, f"delivery failure report for {what} ({original}): ignored")
    if not facts.failures:
        states = sorted({a or "unknown" for a in facts.actions}) or ["none"]
        return BounceDecision(
            False,
            f"delivery report for meeting {facts.meeting_id} without a permanent failure of "
            f"an attendee (actions: {', '.join(states)}): nothing recorded",
        )
    notes = tuple(
        Note(LogLevel.ERROR, f"delivery to {f.address} failed: {f.error}", "bounce")
        for f in facts.failures
    )
    who = ", ".join(f.address for f in facts.failures)
    return BounceDecision(True, f"delivery failure recorded for {who}", notes)
