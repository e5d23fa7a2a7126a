"""The unit of work: one transaction, the CRM for it, the time it runs at, and dry-run.

Every handler of the shell (the inbound pipeline's steps, the outbound feed, the
dispatcher, the application's use cases) receives a :class:`UnitOfWork` instead of
reaching for the assembled gateway: what it may touch is what it is handed (the pattern of
cosmicpython's ``unit_of_work``). :class:`UnitsOfWork` starts them; the composition root
(:mod:`invitegw.gateway.bootstrap`) builds it once from the store, the CRM adapter and the
clock.

- **One transaction.** The built-in CRM writes in the unit's session, so the CRM write and
  the gateway's own records commit together; a remote CRM (vtiger) writes at once and is
  reconciled by idempotency keys.
- **Dry run.** ``dry_run=True`` gives a CRM that reads through and keeps writes in memory
  (:class:`~invitegw.gateway.dryrun.DryRunCrm`), and the session is rolled back at the
  end: the same code decides exactly as it would for real and nothing is written.
- **One clock reading.** ``now`` is read once when the unit starts, so every record the
  unit writes carries the same time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.orm import Session

from invitegw.crm_adapter.port import CrmPort
from invitegw.gateway.dryrun import DryRunCrm
from invitegw.gateway.storage import Store

__all__ = ["Clock", "CrmFactory", "UnitOfWork", "UnitsOfWork"]

Clock = Callable[[], dt.datetime]
# Builds the CRM port for one unit of work: the built-in CRM writes in that session, a
# remote CRM ignores it.
CrmFactory = Callable[[Session], CrmPort]


@dataclass(frozen=True, slots=True)
class UnitOfWork:
    """One transaction's worth of collaborators (see the module docstring).

    Parameters:
        session: the open session; committed by :meth:`UnitsOfWork.start` on success.
        crm: the CRM for this transaction (a :class:`DryRunCrm` in a dry run).
        now: the time the unit started (aware, UTC).
        dry_run: decide everything, write nothing.
    """

    session: Session
    crm: CrmPort
    now: dt.datetime
    dry_run: bool = False


class UnitsOfWork:
    """Starts units of work over one database, one CRM adapter and one clock.

    Parameters:
        store: the gateway's database.
        crm_factory: builds the CRM port for a session.
        clock: returns the current aware time.
    """

    def __init__(self, store: Store, crm_factory: CrmFactory, clock: Clock) -> None:
        self.store = store
        self.crm_factory = crm_factory
        self.clock = clock

    @contextmanager
    def start(self, *, dry_run: bool = False) -> Iterator[UnitOfWork]:
        """A unit of work that commits when the block ends normally.

        Parameters:
            dry_run: roll back at the end, and keep CRM writes in memory.

        Returns:
            A context manager yielding the unit.

        Raises:
            StorageError: the database failed (nothing was committed).
        """
        with self.store.session() as session:
            crm = self.crm_factory(session)
            unit = UnitOfWork(
                session=session,
                crm=DryRunCrm(crm) if dry_run else crm,
                now=self.clock(),
                dry_run=dry_run,
            )
            yield unit
            if dry_run:
                session.rollback()

    def now(self) -> dt.datetime:
        """The clock's current time (for work outside a unit)."""
        return self.clock()
