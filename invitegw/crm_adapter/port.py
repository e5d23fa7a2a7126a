"""The CRM port: everything the gateway needs from a CRM, and nothing more.

A CRM adapter (``crm_adapter.builtin`` for the built-in CRM, ``crm_adapter.vtiger`` for
vtiger) implements :class:`CrmPort`. The values that cross the port are the frozen
dataclasses of :mod:`invitegw.domain.records`; the gateway never sees an adapter's own
records, sessions or HTTP responses.

Contract (checked by ``tests/crm_adapter/contract.py`` for every adapter):

- **Change feed.** :meth:`CrmPort.changed_meetings` returns every meeting (appointments and
  service activities) changed or deleted after an opaque cursor, and the next cursor. A
  change may be reported more than once (overlap is allowed, loss is not); ``None`` starts
  from the beginning.
- **Writes are idempotent where it matters.** :meth:`CrmPort.create_task` with an
  ``idempotency_key`` already used returns the existing task instead of creating a second
  one, so a crash between the CRM write and the gateway's own commit cannot duplicate it.
- **Errors** are :class:`invitegw.errors.CrmError` subclasses: ``CrmNotFoundError`` for an
  unknown id, ``CrmUnavailableError`` when a retry may help, ``CrmError`` otherwise.
- **Deletions.** The feed reports deletions, unless the adapter says otherwise (below).
- **Transactions.** An adapter that lives in the gateway's database (the built-in CRM)
  writes within the caller's session and never commits; the caller commits the CRM write
  together with its own ledger. A remote adapter (vtiger) writes at once.

Optional capabilities. What an adapter can do beyond :class:`CrmPort` is declared by the
methods it has, each one a small ``runtime_checkable`` protocol below, and the gateway asks
with ``isinstance`` (never by probing attribute names):

- :class:`FindsPartiesInBatch`: ``find_parties_many`` looks up several addresses at once
  (the built-in CRM: one query); the inbound side then fetches every address a message is
  likely to ask about in one call.
- :class:`ExistenceCheck`: ``confirm_existing`` tells which meeting ids still exist. An
  adapter whose feed may miss deletions (vtiger without a working ``sync``) has it; the
  gateway then asks now and then which of the meetings it still tracks exist and treats
  the rest as deleted.
- :class:`FeedDeletionStatus`: ``feed_reports_deletions`` says whether the feed sees
  deletions *now* (``None``: not known yet), for an adapter that only learns it at run time;
  :func:`needs_existence_check` combines it with :class:`ExistenceCheck`.
- :class:`ReadsSendSwitch`: ``sync_reading`` says how certain a meeting's ``sync`` is
  (:class:`~invitegw.domain.records.SwitchReading`), for a CRM that cannot tell a switch
  nobody set from one a person turned off (vtiger's checkbox). Without it every reading
  is certain.

A wrapper around an adapter (a dry run, a test double) must declare exactly the
capabilities it really forwards: :func:`capabilities_of` lists what an object declares, and
the contract suite checks each declared capability's behaviour.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from invitegw.domain.records import (
    ChangeBatch,
    EntityType,
    LogEntry,
    Meeting,
    NewTask,
    Party,
    PartyRef,
    ResponseRecord,
    SwitchReading,
    Task,
    TaskStatus,
    TaskUpdate,
)

__all__ = [
    "CAPABILITIES",
    "CrmPort",
    "ExistenceCheck",
    "FeedDeletionStatus",
    "FindsPartiesInBatch",
    "ReadsSendSwitch",
    "capabilities_of",
    "needs_existence_check",
]


@runtime_checkable
class CrmPort(Protocol):
    """What the gateway needs from a CRM."""

    # -- change feed and snapshots -------------------------------------------------------

    def changed_meetings(self, cursor: str | None, *, limit: int = 200) -> ChangeBatch:
        """Meetings changed or deleted after ``cursor`` (``None``: all), oldest first.

        Raises:
            CrmUnavailableError: the CRM cannot be reached now.
        """
        ...

    def get_meeting(self, meeting_id: str) -> Meeting | None:
        """The meeting's current snapshot, or ``None`` when it no longer exists."""
        ...

    # -- parties -------------------------------------------------------------------------

    def find_parties(self, email: str, types: Sequence[EntityType] | None = None) -> list[Party]:
        """Every record with this address in any of its email fields.

        Matching is case-insensitive. The result is ordered user, contact, account, lead
        (or as ``types`` lists them), then by record id.
        """
        ...

    def get_party(self, ref: PartyRef) -> Party | None:
        """The record, or ``None`` when it does not exist."""
        ...

    # -- tasks ---------------------------------------------------------------------------

    def create_task(self, task: NewTask) -> Task:
        """Create the task, or return the one already created with the same key."""
        ...

    def find_task(self, idempotency_key: str) -> Task | None:
        """The task created with this key, if any."""
        ...

    def get_task(self, task_id: str) -> Task | None:
        """The task, or ``None`` when it does not exist."""
        ...

    def update_task(self, task_id: str, update: TaskUpdate) -> Task:
        """Apply ``update``; raises ``CrmNotFoundError`` for an unknown id."""
        ...

    def set_task_status(self, task_id: str, status: TaskStatus) -> Task:
        """Set the task's status; raises ``CrmNotFoundError`` for an unknown id."""
        ...

    # -- responses and the integration log -------------------------------------------------

    def record_response(self, response: ResponseRecord) -> None:
        """Record an attendee's answer on the meeting; ``CrmNotFoundError`` if unknown."""
        ...

    def log(self, entry: LogEntry) -> None:
        """Write an integration-log entry next to the record it concerns."""
        ...


@runtime_checkable
class FindsPartiesInBatch(Protocol):
    """An optional capability: :meth:`CrmPort.find_parties` for several addresses at once."""

    def find_parties_many(
        self, emails: Sequence[str], types: Sequence[EntityType] | None = None
    ) -> dict[str, list[Party]]:
        """Each address (as given, every one present) with what ``find_parties`` returns.

        Parameters:
            emails: the addresses.
            types: the entity types, in the order wanted (default: all, port order).

        Returns:
            ``{email: parties}``, each list exactly what ``find_parties(email, types)``
            would return.
        """
        ...


@runtime_checkable
class ExistenceCheck(Protocol):
    """An optional capability of an adapter whose change feed may miss deletions.

    The gateway calls it now and then with the ids of the meetings it still tracks (those
    not yet over); every id missing from the answer is handled as a deleted meeting.
    """

    def confirm_existing(self, meeting_ids: Sequence[str]) -> set[str]:
        """Of ``meeting_ids``, those that still exist in the CRM as meetings."""
        ...


@runtime_checkable
class FeedDeletionStatus(Protocol):
    """An optional declaration: whether the change feed sees deletions at this moment.

    For an adapter that learns it only at run time (vtiger: whether ``sync`` answers).
    ``True``: deletions come through the feed, no existence check is needed; ``False``:
    they do not; ``None``: not known yet (the feed has not been read).
    """

    @property
    def feed_reports_deletions(self) -> bool | None:
        """Whether the feed sees deletions now (``None``: not known yet)."""
        ...


@runtime_checkable
class ReadsSendSwitch(Protocol):
    """An optional capability: how certain a meeting's send switch (``sync``) reading is.

    For a CRM whose switch reads "off" both when a person turned it off and when nobody
    ever set it (vtiger's checkbox on records older than the field). The outbound planner
    then never cancels an already invited meeting on a reading that may be nobody's
    choice, and cancels when the switch is turned off after it was seen on.
    """

    def sync_reading(self, meeting: Meeting) -> SwitchReading:
        """How certain ``meeting.sync`` is (``meeting``: a snapshot this adapter made)."""
        ...


# Every optional capability, in the order they are documented and listed.
CAPABILITIES: tuple[type, ...] = (
    FindsPartiesInBatch,
    ExistenceCheck,
    FeedDeletionStatus,
    ReadsSendSwitch,
)


def capabilities_of(crm: object) -> frozenset[str]:
    """The names of the optional capabilities ``crm`` declares.

    Parameters:
        crm: an adapter (or a wrapper around one).

    Returns:
        The protocol names (``"FindsPartiesInBatch"`` ...) of :data:`CAPABILITIES` it
        implements.
    """
    return frozenset(cap.__name__ for cap in CAPABILITIES if isinstance(crm, cap))


def needs_existence_check(crm: object) -> bool:
    """Whether the gateway must look for deletions the feed cannot see, now.

    True when the adapter has :class:`ExistenceCheck` and does not declare (through
    :class:`FeedDeletionStatus`) that its feed reports deletions at the moment. An adapter
    without :class:`ExistenceCheck` has a feed that reports deletions (the port contract).

    Parameters:
        crm: the adapter.

    Returns:
        True to run the existence check.
    """
    if not isinstance(crm, ExistenceCheck):
        return False
    return not (isinstance(crm, FeedDeletionStatus) and crm.feed_reports_deletions)
