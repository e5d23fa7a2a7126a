"""The outbound side's scheduler jobs: poll the CRM feed, send due reminders, flush the outbox.

Registered in :data:`invitegw.gateway.scheduler.JOB_FACTORIES`. A poll that queued mail
wakes the outbox job at once, so an invitation does not wait for the next flush interval.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from invitegw.gateway.outbound.dispatch import Dispatcher, DispatchReport
from invitegw.gateway.outbound.feed import Outbound, OutboundReport
from invitegw.gateway.outbound.reminders import Reminders
from invitegw.gateway.scheduler import Job, Runtime

__all__ = ["OUTBOX_JOB", "POLL_JOB", "REMINDER_JOB", "outbound_jobs"]

POLL_JOB = "crm-poll"
REMINDER_JOB = "reminders"
OUTBOX_JOB = "outbox"


def outbound_jobs(runtime: Runtime) -> Sequence[Job]:
    """The outbound jobs for ``runtime``'s gateway.

    Parameters:
        runtime: the gateway and the stop event.

    Returns:
        The poll (first), the reminders, and the outbox flush (last).
    """
    gateway = runtime.gateway
    settings = gateway.settings
    outbound = Outbound(gateway)
    reminders = Reminders(gateway)
    dispatcher = Dispatcher(gateway)

    def poll(stop: threading.Event) -> OutboundReport:
        report = outbound.poll(stop=stop)
        if report.messages:
            runtime.wake(OUTBOX_JOB)
        return report

    def remind(stop: threading.Event) -> int:
        queued = reminders.run(stop=stop)
        if queued:
            runtime.wake(OUTBOX_JOB)
        return queued

    def flush(stop: threading.Event) -> DispatchReport:
        return dispatcher.flush(stop=stop)

    return (
        Job(POLL_JOB, settings.outbound.poll_interval, poll, order=10),
        Job(REMINDER_JOB, settings.outbound.reminder_interval, remind, order=20),
        Job(OUTBOX_JOB, settings.outbound.flush_interval, flush, order=90),
    )
