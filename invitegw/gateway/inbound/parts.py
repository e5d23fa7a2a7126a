"""The inbound side of one worker: its pipeline and the mail sources that feed it.

The composition root (:func:`invitegw.gateway.bootstrap.inbound_parts`) builds one
:class:`InboundParts` per gateway; :mod:`~invitegw.gateway.inbound.jobs` makes the
scheduler's services and jobs from it, and keeps the services it made here, so the mailbox
job can tell which mailboxes this worker already watches.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from invitegw.gateway.inbound.imap_service import MailboxService
from invitegw.gateway.inbound.imap_source import ImapSource
from invitegw.gateway.inbound.smtp_listener import ListenerService
from invitegw.gateway.inbound.smtp_source import SpoolService, SpoolWorker
from invitegw.gateway.inbound.source import Pipeline

__all__ = ["InboundParts"]


@dataclass
class InboundParts:
    """The inbound side of one worker: its pipeline and the mail sources that feed it.

    Parameters:
        pipeline: the inbound pipeline.
        imap: one source per ``[[mailboxes]]``.
        spool: the SMTP spool's source, when ``[listener] enabled``.
        listener: builds the SMTP listener, waking the function it is given after each
            spooled message (when ``[listener] enabled``).
    """

    pipeline: Pipeline
    imap: tuple[ImapSource, ...] = ()
    spool: SpoolWorker | None = None
    listener: Callable[[Callable[[], None]], ListenerService] | None = None
    watchers: list[MailboxService] = field(default_factory=list)
    spool_service: SpoolService | None = None
    listener_service: ListenerService | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def watching(self, mailbox: str) -> bool:
        """Whether this worker's watcher service runs for ``mailbox``."""
        return any(s.mailbox.name == mailbox and s.running for s in self.watchers)
