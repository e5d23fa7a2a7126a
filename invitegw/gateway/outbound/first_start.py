"""The first start as the operator sees it: the baseline's marker, the send switch's holds.

The baseline (:mod:`.feed`) is recorded in one ``cursors`` row, :data:`BASELINE_CURSOR`:
``started <ISO time>`` while it runs (a crash resumes it, the time stays), then
``taken <ISO time> adopted <N>``, N being the meetings adopted since it started (a
resumed baseline counts them all). A marker written before the count was kept reads
``taken <ISO time>`` and has no count. :func:`parse_marker` reads either.

A meeting is *held* by the send switch when the switch reads off on a CRM that cannot tell
a field's default from a person's choice, and the gateway never saw it on since the
invitations went out (:mod:`invitegw.itip.planner`): nothing is cancelled, updates go on,
and its ledger row keeps the real reading (snapshot ``sync`` false, not cancelled).
:func:`held_by_switch` counts those still ahead. Reads only, except the markers the feed
writes.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import false, func, or_, select
from sqlalchemy.orm import Session

from invitegw.gateway.storage import OutboundMeeting

__all__ = [
    "BASELINE_CURSOR",
    "BaselineMarker",
    "BaselineState",
    "adopted_since",
    "held_by_switch",
    "parse_marker",
    "started_marker",
    "taken_marker",
]

BASELINE_CURSOR = "outbound.baseline"
_MARKER = re.compile(r"(?P<state>started|taken) (?P<at>\S+)(?: adopted (?P<adopted>[0-9]{1,12}))?")


class BaselineState(StrEnum):
    """Where the baseline stands."""

    NOT_TAKEN = "not-taken"
    IN_PROGRESS = "in-progress"
    TAKEN = "taken"


@dataclass(frozen=True, slots=True)
class BaselineMarker:
    """The baseline's marker, read.

    Parameters:
        state: not taken, in progress, taken.
        started_at: when the baseline in progress started (``None`` once taken).
        taken_at: when it was taken (the latest, after ``outbound baseline`` on request).
        adopted: the meetings it adopted (``None``: not taken, or taken by a version that
            did not record the count).
    """

    state: BaselineState
    started_at: dt.datetime | None = None
    taken_at: dt.datetime | None = None
    adopted: int | None = None


def started_marker(now: dt.datetime) -> str:
    """The marker of a baseline that starts at ``now``."""
    return f"started {now.isoformat()}"


def taken_marker(now: dt.datetime, adopted: int) -> str:
    """The marker of a baseline taken at ``now`` that adopted ``adopted`` meetings."""
    return f"taken {now.isoformat()} adopted {adopted}"


def _time(text: str) -> dt.datetime | None:
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def parse_marker(text: str | None) -> BaselineMarker:
    """The baseline's marker as values (see the module docstring).

    Parameters:
        text: the ``cursors`` row's value, ``None`` when there is none.

    Returns:
        The marker; one whose time cannot be read keeps its state, without the time.
    """
    if not text:
        return BaselineMarker(BaselineState.NOT_TAKEN)
    found = _MARKER.fullmatch(text.strip())
    if found is None:
        state = BaselineState.IN_PROGRESS if text.startswith("started") else BaselineState.TAKEN
        return BaselineMarker(state)
    at = _time(found.group("at"))
    if found.group("state") == "started":
        return BaselineMarker(BaselineState.IN_PROGRESS, started_at=at)
    count = found.group("adopted")
    return BaselineMarker(BaselineState.TAKEN, taken_at=at, adopted=int(count) if count else None)


def adopted_since(session: Session, since: dt.datetime) -> int:
    """How many ledger meetings were adopted at or after ``since`` and are still unsent.

    Parameters:
        session: an open session.
        since: the baseline's start.

    Returns:
        The count (one scan of the ledger, once per baseline).
    """
    query = select(func.count()).where(OutboundMeeting.adopted_at >= since)
    return int(session.scalar(query) or 0)


def held_by_switch(
    session: Session, now: dt.datetime, *, limit: int = 10
) -> tuple[int, tuple[str, ...]]:
    """The meetings still ahead that the send switch holds (see the module docstring).

    Parameters:
        session: an open session.
        now: the current time (a meeting over is no longer counted).
        limit: how many of their CRM ids to name.

    Returns:
        (how many, the CRM ids of the first ``limit`` by ledger order).
    """
    held = (
        OutboundMeeting.cancelled.is_(False),
        OutboundMeeting.deleted.is_(False),
        OutboundMeeting.switch_on.is_(False),
        or_(OutboundMeeting.ends_at.is_(None), OutboundMeeting.ends_at > now),
        OutboundMeeting.snapshot["sync"].as_boolean() == false(),
    )
    count = int(session.scalar(select(func.count()).where(*held)) or 0)
    if not count:
        return 0, ()
    ids = session.scalars(
        select(OutboundMeeting.crm_meeting_id)
        .where(*held)
        .order_by(OutboundMeeting.id)
        .limit(limit)
    )
    return count, tuple(ids)
