"""The mail I/O's persistence hooks, backed by the store.

The IMAP watcher and the SMTP listener (``invitegw.mailbox``) take their storage as
injected callables so that they know nothing of the database; these are the database
versions the gateway injects:

- :class:`StoreCheckpoint` is the watcher's ``Checkpoint`` (``load``/``save`` of
  UIDVALIDITY and the last UID handled, one short transaction each);
- :class:`StoreSpool` is the listener's ``Spool``: it commits the received message before
  returning, so the listener's ``250`` follows a durable write.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from invitegw.gateway.storage.inbox import spool_message
from invitegw.gateway.storage.state import get_checkpoint, set_checkpoint
from invitegw.gateway.storage.store import Store

__all__ = ["StoreCheckpoint", "StoreSpool"]

logger = logging.getLogger(__name__)


class StoreCheckpoint:
    """IMAP checkpoints in the ``imap_checkpoints`` table.

    Parameters:
        store: the database.
        clock: returns the current aware time.
    """

    def __init__(self, store: Store, clock: Callable[[], dt.datetime]) -> None:
        self._store = store
        self._clock = clock

    def load(self, mailbox: str) -> tuple[int, int] | None:
        """(uidvalidity, last_uid) saved for ``mailbox``, or ``None``.

        Raises:
            StorageError: the database failed.
        """
        with self._store.session() as session:
            row = get_checkpoint(session, mailbox)
            return (row.uidvalidity, row.last_uid) if row is not None else None

    def save(self, mailbox: str, uidvalidity: int, last_uid: int) -> None:
        """Store (uidvalidity, last_uid) for ``mailbox`` (never moving back within one).

        Raises:
            StorageError: the database failed.
        """
        with self._store.session() as session:
            set_checkpoint(
                session, mailbox, uidvalidity=uidvalidity, last_uid=last_uid, now=self._clock()
            )


class StoreSpool:
    """The SMTP listener's spool in the ``inbound_spool`` table.

    Parameters:
        store: the database.
        clock: returns the current aware time.
    """

    def __init__(self, store: Store, clock: Callable[[], dt.datetime]) -> None:
        self._store = store
        self._clock = clock

    def __call__(self, raw: bytes, mail_from: str, rcpt_tos: list[str]) -> None:
        """Store one received message durably (committed when this returns).

        Raises:
            StorageError: it could not be stored (the listener then answers 451).
        """
        with self._store.session() as session:
            row = spool_message(
                session, mail_from=mail_from, rcpt_to=rcpt_tos, raw=raw, now=self._clock()
            )
            ident = row.id
        logger.debug("spooled message %d (%d bytes) from <%s>", ident, len(raw), mail_from)
