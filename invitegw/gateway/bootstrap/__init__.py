"""The composition root: build the gateway's parts from the settings, once, at start.

:func:`build_gateway` opens the database (checking its schema, or upgrading the embedded
SQLite default), builds the configured CRM adapter (found by name in
:mod:`invitegw.crm_adapter.registry`: nothing here knows any adapter) and the clock, and
returns a :class:`Gateway` holding them. Commands, the pipelines and the scheduler take what
they need from it; tests pass their own ``crm``, ``clock`` or ``store``. Nothing here runs
at import.

The package's modules, each a step of the assembly:

- :mod:`~invitegw.gateway.bootstrap.core`: the :class:`Gateway`, its database, CRM
  binding and worker id, and :func:`build_gateway`;
- :mod:`~invitegw.gateway.bootstrap.inbound`: the inbound pipeline, the mail sources
  (IMAP, SMTP spool and listener, files) and the inbound parts they make together;
- :mod:`~invitegw.gateway.bootstrap.outbound`: the CRM change feed, the SMTP sender, the
  outbox dispatcher and the reminders;
- :mod:`~invitegw.gateway.bootstrap.scheduler`: the scheduler ``serve`` runs.

Callers import the names from here; the modules import each other's, never this package's.
"""

from __future__ import annotations

from invitegw.gateway.bootstrap.core import (
    Gateway,
    build_crm,
    build_gateway,
    crm_build_context,
    crm_options,
    open_settings_store,
    utc_now,
    worker_id,
)
from invitegw.gateway.bootstrap.inbound import (
    file_source,
    imap_source,
    inbound_config,
    inbound_parts,
    inbound_pipeline,
    listener_service,
    mime_limits,
    spool_worker,
    worker_context,
)
from invitegw.gateway.bootstrap.outbound import (
    build_dispatcher,
    build_outbound,
    build_reminders,
    smtp_relay_config,
    smtp_sender,
)
from invitegw.gateway.bootstrap.scheduler import build_scheduler
from invitegw.gateway.inbound.jobs import inbound_jobs, inbound_services

__all__ = [
    "Gateway",
    "build_crm",
    "build_dispatcher",
    "build_gateway",
    "build_outbound",
    "build_reminders",
    "build_scheduler",
    "crm_build_context",
    "crm_options",
    "file_source",
    "imap_source",
    "inbound_config",
    "inbound_jobs",
    "inbound_parts",
    "inbound_pipeline",
    "inbound_services",
    "listener_service",
    "mime_limits",
    "open_settings_store",
    "smtp_relay_config",
    "smtp_sender",
    "spool_worker",
    "utc_now",
    "worker_context",
    "worker_id",
]
