"""The outbound side's scheduler jobs: poll the CRM feed, send due reminders, flush the outbox.

:func:`outbound_jobs_for` makes the three :class:`~invitegw.gateway.scheduler.Job` objects
from the parts the composition root built (the feed, the reminders, the dispatcher). A poll
or a reminder run that queued mail wakes the outbox job at once, so an invitation does not
wait for the next flush interval.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from invitegw.gateway.config import OutboundSettings
from invitegw.gateway.outbound.dispatch import Dispatcher, DispatchReport
from invitegw.gateway.outbound.feed import Outbound, OutboundReport
from invitegw.gateway.outbound.reminders import Reminders
from invitegw.gateway.scheduler import Job

__all__ = ["OUTBOX_JOB", "POLL_JOB", "REMINDER_JOB", "outbound_jobs_for"]

POLL_JOB = "crm-poll"
REMINDER_JOB = "reminders"
OUTBOX_JOB = "outbox"


def outbound_jobs_for(
    outbound: Outbound,
    reminders: Reminders,
    dispatcher: Dispatcher,
    *,
    intervals: OutboundSettings,
    wake: Callable[[str], None],
) -> tuple[Job, ...]:
    """The outbound jobs over the given parts.

    Parameters:
        outbound: the CRM feed.
        reminders: the reminder emails.
        dispatcher: the outbox.
        intervals: ``[outbound]`` (``poll_interval``, ``reminder_interval``,
            ``flush_interval``).
        wake: runs a job by name as soon as possible (the scheduler's).

    Returns:
        The poll (first), the reminders, and the outbox flush (last).
    """

    def poll(stop: threading.Event) -> OutboundReport:
        report = outbound.poll(stop=stop)
        if report.messages:
            wake(OUTBOX_JOB)
        return report

    def remind(stop: threading.Event) -> int:
        queued = reminders.run(stop=stop)
        if queued:
            wake(OUTBOX_JOB)
        return queued

    def flush(stop: threading.Event) -> DispatchReport:
        return dispatcher.flush(stop=stop)

    return (
        Job(POLL_JOB, intervals.poll_interval, poll, order=10),
        Job(REMINDER_JOB, intervals.reminder_interval, remind, order=20),
        Job(OUTBOX_JOB, intervals.flush_interval, flush, order=90),
    )
