"""The composition root's outbound side: the CRM change feed, the dispatcher, the reminders.

Builds the :class:`~invitegw.gateway.outbound.feed.Outbound` feed with the plan-apply step
it feeds, the SMTP sender of ``[smtp]``, the outbox :class:`Dispatcher` and the reminder
emails job. The outbound side's parts take a unit-of-work factory, their own settings and
their collaborators, never the gateway: these builders are where the gateway is taken
apart.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable

from invitegw.gateway.bootstrap.core import Gateway
from invitegw.gateway.config import Settings
from invitegw.gateway.mailauth import smtp_login
from invitegw.gateway.outbound.answer_links import answer_linking
from invitegw.gateway.outbound.apply import Calendars, ChangeApplier
from invitegw.gateway.outbound.dispatch import Dispatcher, DispatchOptions
from invitegw.gateway.outbound.feed import FeedOptions, Outbound
from invitegw.gateway.outbound.reminders import Reminders
from invitegw.itip.plan_model import IdSource, RandomIds
from invitegw.mailbox.transport.smtp_send import SmtpRelayConfig, SmtpSender
from invitegw.mailbox.transport.smtp_send import TlsMode as SmtpTlsMode

__all__ = [
    "build_dispatcher",
    "build_outbound",
    "build_reminders",
    "smtp_relay_config",
    "smtp_sender",
]


def smtp_relay_config(settings: Settings) -> SmtpRelayConfig:
    """The relay ``[smtp]`` names, as the sender and ``invitegw smtp check`` reach it."""
    smtp = settings.smtp
    return SmtpRelayConfig(
        host=smtp.host,
        port=smtp.port,
        tls=SmtpTlsMode(smtp.tls.value),
        username=smtp.username,
        timeout=smtp.timeout.total_seconds(),
        local_hostname=smtp.local_hostname,
        rate_limit=smtp.rate_limit or None,
    )


def smtp_sender(settings: Settings, *, ssl_context: ssl.SSLContext | None = None) -> SmtpSender:
    """The SMTP sender for ``[smtp]``: a password from the environment, or OAuth 2.0 tokens.

    Parameters:
        settings: the configuration.
        ssl_context: TLS settings for the relay and the token provider (default: the
            system's verifying context).

    Returns:
        The sender.

    Raises:
        ConfigError: a username without a password (or an OAuth 2.0 secret), clear-text
            AUTH, a value out of range.
    """
    config = smtp_relay_config(settings)
    login = smtp_login(settings.smtp, ssl_context=ssl_context)
    return SmtpSender(config, password=login, ssl_context=ssl_context)


def build_outbound(gateway: Gateway, *, ids: IdSource | None = None) -> Outbound:
    """The CRM change feed, with the plan-apply step it feeds.

    Parameters:
        gateway: the assembled gateway.
        ids: where UIDs, reply tokens and Message-IDs come from (default: random).

    Returns:
        The feed.
    """
    settings = gateway.settings
    outbound = settings.outbound
    applier = ChangeApplier(
        Calendars(settings.calendars, crm_url=settings.crm.meeting_url),
        grace=outbound.grace_period,
        max_attendees=settings.limits.attendees,
        ids=ids or RandomIds(),
        links=answer_linking(settings),
    )
    options = FeedOptions(
        batch_size=outbound.feed_batch_size,
        lease=settings.worker.lease_duration + outbound.poll_interval,
        existence_interval=outbound.existence_check_interval,
        grace=outbound.grace_period,
    )
    return Outbound(gateway.units, applier, worker=gateway.worker, options=options)


def build_dispatcher(
    gateway: Gateway,
    *,
    sender: SmtpSender | None = None,
    rng: Callable[[], float] | None = None,
) -> Dispatcher:
    """The outbox dispatcher.

    Parameters:
        gateway: the assembled gateway.
        sender: the SMTP sender (default: from ``[smtp]``, password from the environment).
        rng: uniform random numbers for the retry jitter (default: :func:`random.random`).

    Returns:
        The dispatcher.

    Raises:
        ConfigError: the ``[smtp]`` settings cannot make a sender.
    """
    settings = gateway.settings
    options = DispatchOptions(
        batch_size=settings.smtp.batch_size,
        claim_for=settings.outbound.claim_timeout,
        retry=settings.smtp.retry,
    )
    return Dispatcher(
        gateway.units,
        sender or smtp_sender(settings),
        worker=gateway.worker,
        options=options,
        rng=rng,
        instruments=gateway.instruments,
    )


def build_reminders(gateway: Gateway, *, ids: IdSource | None = None) -> Reminders:
    """The reminder emails job.

    Parameters:
        gateway: the assembled gateway.
        ids: where Message-IDs come from (default: random).

    Returns:
        The job.
    """
    settings = gateway.settings
    calendars = Calendars(settings.calendars, crm_url=settings.crm.meeting_url)
    return Reminders(
        gateway.units,
        calendars.with_reminders(),
        worker=gateway.worker,
        lease=settings.worker.lease_duration,
        ids=ids,
        links=answer_linking(settings),
    )
