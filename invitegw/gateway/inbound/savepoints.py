"""The savepoint strategy: a CRM refusal undoes one piece of a message's work, not the rest.

A message's pieces of work (one per calendar event; a bounce; a reply by hand) share one
transaction. When the CRM refuses one piece (a :class:`~invitegw.errors.CrmError` other
than "unavailable", or an :class:`~invitegw.errors.IcsError` a write raised), only that
piece's writes are undone and it is quarantined with the reason; the others stay.

- Several pieces: each runs in a savepoint (:func:`in_savepoint`), rolled back on a
  refusal.
- The message's only calendar event runs without one: a SAVEPOINT and its RELEASE per
  message are a measurable share of the work, and nothing else of the message is written
  before or after it. A refusal is answered at once and :attr:`Isolation.undo` asks the
  pipeline to roll the whole transaction back before it records the result (the result is
  the one a savepoint would have given; nothing is decided twice).

``CrmUnavailableError`` is never caught here: nothing is committed, the message is retried.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.orm import Session

from invitegw.errors import CrmError, CrmUnavailableError, IcsError
from invitegw.gateway.inbound.model import EventResult

__all__ = ["Isolation", "Refused", "Work", "in_savepoint"]

logger = logging.getLogger(__name__)

Work = Callable[[], list[EventResult]]
# The result of a refused piece of work, from the reason.
Refused = Callable[[str], EventResult]


def _refusal(exc: Exception) -> str:
    logger.warning("inbound: the CRM refused a change: %s", exc)
    return f"the CRM refused the change: {exc}"


def in_savepoint(session: Session, work: Work, refused: Refused) -> list[EventResult]:
    """Run ``work`` in a savepoint; a CRM refusal undoes only its writes.

    Parameters:
        session: the message's transaction.
        work: the piece of work.
        refused: its result when the CRM refuses it.

    Returns:
        The work's results, or its refusal.

    Raises:
        CrmUnavailableError: the CRM cannot be reached (the caller retries the message).
    """
    savepoint = session.begin_nested()
    try:
        results = work()
    except CrmUnavailableError:
        raise
    except (CrmError, IcsError) as exc:
        savepoint.rollback()
        return [refused(_refusal(exc))]
    savepoint.commit()
    return results


class Isolation:
    """How the calendar events of one message are kept apart (see the module docstring).

    Parameters:
        session: the message's transaction.
        alone: the message has exactly one calendar event.
    """

    def __init__(self, session: Session, *, alone: bool) -> None:
        self._session = session
        self.alone = alone
        self.undo = False  # the lone event was refused: roll the transaction back

    def run(self, work: Work, refused: Refused) -> list[EventResult]:
        """Run one event's work, in a savepoint unless it is the message's only event.

        Parameters:
            work: the event's work.
            refused: its result when the CRM refuses it.

        Returns:
            The work's results, or its refusal.

        Raises:
            CrmUnavailableError: the CRM cannot be reached.
        """
        if not self.alone:
            return in_savepoint(self._session, work, refused)
        try:
            return work()
        except CrmUnavailableError:
            raise
        except (CrmError, IcsError) as exc:
            self.undo = True
            return [refused(_refusal(exc))]
