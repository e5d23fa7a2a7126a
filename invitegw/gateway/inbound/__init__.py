"""The inbound side: received, forwarded and cancelled invitations become CRM tasks, once.

:mod:`~invitegw.gateway.inbound.model` holds the values every part shares (what was
received, what became of each event); the pipeline, the pure decision rules and the
services that feed them (IMAP watchers, the SMTP listener, files) build on it.

- :mod:`~invitegw.gateway.inbound.pipeline`: :class:`InboundPipeline` (``handle``,
  ``release``), one message end to end in one transaction.
- :mod:`~invitegw.itip.decide` (pure): the REQUEST/PUBLISH/CANCEL task rules;
  :mod:`~invitegw.itip.keys` (pure): ledger and idempotency keys;
  :mod:`~invitegw.itip.trust` (pure): Authentication-Results.
- :mod:`~invitegw.gateway.inbound.events`: gathers the facts of one event and applies the
  decision; :mod:`~invitegw.gateway.inbound.records`: the ledger and processed records;
  :mod:`~invitegw.gateway.inbound.dryrun`: the CRM port a dry run writes to.
"""

from __future__ import annotations
