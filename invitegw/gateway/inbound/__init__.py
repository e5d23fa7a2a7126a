"""The inbound side: received, forwarded and cancelled invitations become CRM tasks, once.

:mod:`~invitegw.gateway.inbound.model` holds the values every part shares (what was
received, what became of each event); the pipeline, the pure decision rules and the
services that feed them (IMAP watchers, the SMTP listener, files) build on it.
"""

from __future__ import annotations
