"""The composition root's last step: the scheduler ``serve`` runs, with every job and service.

:func:`build_scheduler` takes the inbound parts and the outbound side's feed, reminders and
dispatcher from the sibling modules and hands their jobs and services to a
:class:`~invitegw.gateway.scheduler.GatewayScheduler` (nothing started).
"""

from __future__ import annotations

from invitegw.gateway.bootstrap.core import Gateway
from invitegw.gateway.bootstrap.inbound import inbound_parts
from invitegw.gateway.bootstrap.outbound import build_dispatcher, build_outbound, build_reminders
from invitegw.gateway.inbound.jobs import inbound_jobs, inbound_services
from invitegw.gateway.outbound.jobs import outbound_jobs_for
from invitegw.gateway.scheduler import GatewayScheduler, Runtime

__all__ = ["build_scheduler"]


def build_scheduler(gateway: Gateway, *, runtime: Runtime | None = None) -> GatewayScheduler:
    """The scheduler with every job and service of this worker, built from its parts.

    The jobs in ``serve --once`` order: the CRM poll, the reminders, the mailbox pass and
    the spool drain (each when configured), the outbox flush; the services: the IMAP
    watchers, and the spool worker and the SMTP listener when enabled.

    Parameters:
        gateway: the assembled gateway.
        runtime: the stop event and gateway to share (default: a new one for ``gateway``).

    Returns:
        The scheduler (nothing started).

    Raises:
        ConfigError: a mailbox without a secret, a listener without addresses, an
            ``[smtp]`` that cannot make a sender.
    """
    runtime = runtime or Runtime(gateway)
    parts = inbound_parts(gateway)
    jobs = [
        *outbound_jobs_for(
            build_outbound(gateway),
            build_reminders(gateway),
            build_dispatcher(gateway),
            intervals=gateway.settings.outbound,
            wake=runtime.wake,
        ),
        *inbound_jobs(parts),
    ]
    return GatewayScheduler(runtime, jobs=jobs, services=inbound_services(parts))
