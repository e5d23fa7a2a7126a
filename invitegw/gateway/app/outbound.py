"""Use cases of the outbound feed: preview the next pass, take the baseline, invite upcoming.

The CLI's ``invitegw outbound preview|baseline|invite-upcoming`` (and any other front end)
call these. Each runs the outbound feed's own code (:class:`~invitegw.gateway.outbound.feed.
Outbound`), so what a preview shows is what the pass will do:

- :func:`preview_outbound`: the next pass as a dry run (the baseline when the first start
  is due, the feed, the REFRESH resends, the existence check when due): nothing written,
  nothing sent, nothing logged in the CRM.
- :func:`take_baseline`: adopt every meeting the feed has that the gateway does not know,
  sending nothing for them (what the first start does by itself; again after an import).
- :func:`invite_upcoming`: invite everyone to the adopted meetings still ahead, for the
  calendars named.

Each returns a :class:`PassSummary` with one :class:`PlannedMeeting` per meeting (kept for
a dry run, for the others only the counts): :meth:`PlannedMeeting.to_json` is the object
``--json`` prints.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from invitegw.gateway.outbound.feed import OutboundReport
from invitegw.itip.plan_model import Plan

if TYPE_CHECKING:
    from invitegw.gateway.bootstrap import Gateway

__all__ = [
    "PassSummary",
    "PlannedMail",
    "PlannedMeeting",
    "invite_upcoming",
    "preview_outbound",
    "take_baseline",
]


@dataclass(frozen=True, slots=True)
class PlannedMail:
    """One message a pass queues (or would queue)."""

    to: str
    method: str
    kind: str
    sequence: int
    recurrence_id: str | None

    def to_json(self) -> dict[str, Any]:
        """The JSON object."""
        return {
            "to": self.to,
            "method": self.method,
            "kind": self.kind,
            "sequence": self.sequence,
            "recurrence_id": self.recurrence_id,
        }


@dataclass(frozen=True, slots=True)
class PlannedMeeting:
    """One meeting of a pass: what happens to it, who gets what, the notes for its log."""

    meeting_id: str
    action: str
    title: str
    calendar: str | None
    uid: str | None
    sequence: int | None
    mails: tuple[PlannedMail, ...]
    notes: tuple[str, ...]

    @classmethod
    def of(cls, plan: Plan) -> PlannedMeeting:
        """The meeting of a plan.

        Parameters:
            plan: the planner's decision.

        Returns:
            The value.
        """
        from invitegw.itip.meeting_events import occurrence_key

        state = plan.ledger
        mails = tuple(
            PlannedMail(
                to=m.recipient.address,
                method=m.method.value,
                kind=m.kind.value,
                sequence=m.sequence,
                recurrence_id=occurrence_key(m.occurrence) if m.occurrence else None,
            )
            for m in plan.messages
        )
        return cls(
            meeting_id=plan.meeting_id,
            action=plan.action,
            title=state.snapshot.title if state and state.snapshot else "",
            calendar=state.calendar if state else None,
            uid=state.uid if state else None,
            sequence=state.sequence if state else None,
            mails=mails,
            notes=tuple(n.text for n in plan.notes if n.kind != "queued"),
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON object: ``meeting_id, action, title, calendar, uid, sequence, messages``
        (each ``to, method, kind, sequence, recurrence_id``) and ``notes``."""
        return {
            "meeting_id": self.meeting_id,
            "action": self.action,
            "title": self.title,
            "calendar": self.calendar,
            "uid": self.uid,
            "sequence": self.sequence,
            "messages": [m.to_json() for m in self.mails],
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class PassSummary:
    """What a pass did or would do.

    ``baseline``: the baseline was taken (or would be); ``adopted``: meetings adopted,
    nothing sent for them; ``messages``: messages queued (or that would be);
    ``skipped``: another worker holds the CRM poll (nothing was done).
    """

    meetings: tuple[PlannedMeeting, ...] = ()
    baseline: bool = False
    adopted: int = 0
    planned: int = 0
    messages: int = 0
    failed: int = 0
    skipped: bool = False
    actions: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, report: OutboundReport) -> PassSummary:
        """The summary of a feed report (its plans, when it kept them)."""
        plans = report.plans or []
        meetings = tuple(PlannedMeeting.of(p) for p in plans)
        messages = sum(len(p.messages) for p in plans) if report.plans is not None else 0
        return cls(
            meetings=meetings,
            baseline=report.baseline,
            adopted=report.adopted,
            planned=report.meetings,
            messages=messages if report.plans is not None else report.messages,
            failed=report.failed,
            skipped=report.skipped,
            actions=dict(report.actions),
        )

    def to_json(self) -> dict[str, Any]:
        """The summary's JSON object (without the meetings)."""
        return {
            "baseline": self.baseline,
            "adopted": self.adopted,
            "meetings": self.planned,
            "messages": self.messages,
            "failed": self.failed,
            "skipped": self.skipped,
            "actions": dict(self.actions),
        }


def preview_outbound(gateway: Gateway) -> PassSummary:
    """The next outbound pass as a dry run (see the module docstring).

    Parameters:
        gateway: the assembled gateway.

    Returns:
        Every meeting the pass would plan, with its messages.

    Raises:
        CrmUnavailableError: the CRM cannot be reached.
        StorageError: the database failed.
    """
    from invitegw.gateway.bootstrap import build_outbound

    return PassSummary.of(build_outbound(gateway).preview())


def take_baseline(gateway: Gateway, *, dry_run: bool = False) -> PassSummary:
    """Adopt what the CRM's feed has that the gateway does not know; send nothing for it.

    Parameters:
        gateway: the assembled gateway.
        dry_run: decide only.

    Returns:
        What was (or would be) done.
    """
    from invitegw.gateway.bootstrap import build_outbound

    return PassSummary.of(build_outbound(gateway).take_baseline(dry_run=dry_run))


def invite_upcoming(
    gateway: Gateway, calendars: Collection[str] | None, *, dry_run: bool = False
) -> PassSummary:
    """Invite everyone to the adopted meetings still ahead of ``calendars``.

    Parameters:
        gateway: the assembled gateway.
        calendars: calendar names (``None``: all); each must be a configured calendar.
        dry_run: decide only.

    Returns:
        What was (or would be) done.

    Raises:
        ConfigError: an unknown calendar name.
    """
    from invitegw.gateway.bootstrap import build_outbound

    if calendars is not None:
        for name in calendars:
            gateway.settings.calendar(name)  # raises ConfigError for an unknown one
    return PassSummary.of(build_outbound(gateway).invite_upcoming(calendars, dry_run=dry_run))
