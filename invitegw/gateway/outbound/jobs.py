"""The outbound side's scheduler jobs: poll the CRM feed, send due reminders, flush the outbox.

:func:`outbound_jobs_for` makes the three :class:`~invitegw.gateway.scheduler.Job` objects
from the parts the composition root built (the feed, the reminders, the dispatcher). A poll
or a reminder run that queued mail wakes the outbox job at once, so an invitation does not
wait for the next flush interval.

:func:`outbound_jobs` is the entry :data:`invitegw.gateway.scheduler.JOB_FACTORIES` names
while the scheduler still finds its jobs by name and hands over the whole gateway: it has
the composition root build the parts (:mod:`invitegw.gateway.bootstrap`, "outbound parts"),
so it is the one module here that imports it. Once the scheduler takes job objects, the
composition root calls :func:`outbound_jobs_for` itself and this entry goes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from invitegw.gateway.bootstrap import build_dispatcher, build_outbound, build_reminders
from invitegw.gateway.config import OutboundSettings
from invitegw.gateway.outbound.dispatch import Dispatcher, DispatchReport
from invitegw.gateway.outbound.feed import Outbound, OutboundReport
from invitegw.gateway.outbound.reminders import Reminders
from invitegw.gateway.scheduler import Job, Runtime

__all__ = ["OUTBOX_JOB", "POLL_JOB", "REMINDER_JOB", "outbound_jobs", "outbound_jobs_for"]

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


def outbound_jobs(runtime: Runtime) -> Sequence[Job]:
    """The outbound jobs for ``runtime``'s gateway (the scheduler's registry entry).

    Parameters:
        runtime: the gateway and the stop event.

    Returns:
        The poll (first), the reminders, and the outbox flush (last).
    """
    gateway = runtime.gateway
    return outbound_jobs_for(
        build_outbound(gateway),
        build_reminders(gateway),
        build_dispatcher(gateway),
        intervals=gateway.settings.outbound,
        wake=runtime.wake,
    )
