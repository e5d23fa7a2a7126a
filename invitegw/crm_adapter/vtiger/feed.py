"""The meeting change feed over vtiger's ``query`` (and ``sync`` for deletions).

**Changes.** ``modifiedtime`` has one-second resolution and is in the server's zone
(files 28, 29, 72). The feed walks Events in ``modifiedtime`` order:

- *range* pages: ``WHERE modifiedtime >= 'S' ORDER BY modifiedtime LIMIT 0, 100``. A
  short page holds everything from ``S`` on. A full page holds every row older than its
  newest second ``M`` (ties at ``M`` may be cut), so rows before ``M`` are taken and
  ``M`` is read whole with
- *exact-second* pages: ``WHERE modifiedtime = 'M' AND id > 'E' ORDER BY id LIMIT 0, 100``
  (keyset on id, file 142), after which the walk goes on from ``M`` + 1 s.

A batch stops after ``limit`` changes; the cursor then holds the position (second and
last id), so nothing is skipped.

**The open second.** A record changed later within a second we have already read gets
the same ``modifiedtime``. So when the walk catches up, the next walk starts again
``feed_overlap_seconds`` before the first second that was still open on the server (read
from the HTTP ``Date`` header, which comes from the server's clock). Rows re-read from
seconds that were already closed are dropped by ``(id, modifiedtime)``; rows from the
open second are reported again (the port allows repeats, never loss).

**Deletions.** Deleted records vanish from ``query`` (files 36, 37). ``sync`` reports
them (files 49-52) where it works; stock vtiger 8 on PHP 8 answers it with HTTP 500
(file 48), and then the feed reports no deletions: the gateway finds them with
:meth:`ChangeFeed.confirm_existing`, a bulk check of the meeting ids it still tracks.
``sync`` is tried once per process: the first failure (HTTP 500, or a refusal such as
``syncType=application`` for a user who is not an administrator) is logged once as a
warning and the feed stops asking. Only an all-users sync (``sync_type =
"application"``) sees every deletion; with a per-user sync the feed reports the API
user's own deletions and the existence check still runs for the rest.

**Cursor.** Compact JSON: ``{"v":1,"s":since,"a":after_id,"k":[[id,mtime]...],"d":sync}``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from invitegw.crm_adapter.vtiger import vtql
from invitegw.crm_adapter.vtiger.client import VtigerApiError, VtigerClient
from invitegw.crm_adapter.vtiger.meetings import MeetingReader
from invitegw.crm_adapter.vtiger.options import VtigerOptions
from invitegw.crm_adapter.vtiger.schema import EVENTS, Schema
from invitegw.domain.records import ChangeBatch, MeetingChange, Party, PartyRef
from invitegw.errors import CrmError

__all__ = ["ChangeFeed", "FeedCursor"]

logger = logging.getLogger(__name__)

_STAMP = "%Y-%m-%d %H:%M:%S"
_STAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
_CHECK_CHUNK = 50
_ONE = dt.timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class FeedCursor:
    """The decoded cursor: where the walk stands and what it has already reported."""

    since: str | None = None
    after: int | None = None
    seen: frozenset[tuple[str, str]] = frozenset()
    sync_since: int | None = None

    def encode(self) -> str:
        """The opaque string handed to the gateway."""
        return json.dumps(
            {
                "v": 1,
                "s": self.since,
                "a": self.after,
                "k": sorted([list(k) for k in self.seen]),
                "d": self.sync_since,
            },
            separators=(",", ":"),
        )

    @classmethod
    def decode(cls, text: str | None) -> FeedCursor:
        """Parse a cursor made by :meth:`encode` (``None``: the beginning).

        Raises:
            CrmError: the text is not a cursor of this adapter.
        """
        if text is None:
            return cls()
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("v") != 1:
                raise ValueError("version")
            since = data.get("s")
            if since is not None:
                _parse(since)
            after = data.get("a")
            sync_since = data.get("d")
            seen = frozenset((str(i), str(m)) for i, m in data.get("k") or ())
            if after is not None and (not isinstance(after, int) or since is None):
                raise ValueError("after")
            if sync_since is not None and not isinstance(sync_since, int):
                raise ValueError("sync")
        except (ValueError, TypeError) as exc:
            raise CrmError(f"not a vtiger change-feed cursor: {text[:80]!r}") from exc
        return cls(since, after, seen, sync_since)


@dataclass(slots=True)
class _Walk:
    """The walk's mutable state within one call."""

    since: dt.datetime | None
    after: int | None
    seen: set[tuple[str, str]]
    sync_since: int | None
    newest: dt.datetime | None
    changes: list[MeetingChange] = field(default_factory=list)


def _parse(stamp: str) -> dt.datetime:
    """A naive server-zone ``YYYY-MM-DD HH:MM:SS`` (the zone is the options')."""
    if not _STAMP_RE.match(stamp):
        raise ValueError(f"not a vtiger time stamp: {stamp!r}")
    return dt.datetime.fromisoformat(stamp)


def _fmt(value: dt.datetime) -> str:
    return value.strftime(_STAMP)


def _row_key(row: Mapping[str, Any]) -> tuple[dt.datetime, int]:
    try:
        return _parse(str(row.get("modifiedtime"))), vtql.crmid(str(row.get("id")))
    except (ValueError, CrmError) as exc:
        raise CrmError(f"vtiger sent an event without id/modifiedtime: {row.get('id')!r}") from exc


class ChangeFeed:
    """``changed_meetings`` and the bulk existence check behind deletion detection.

    Parameters:
        client: the webservice session.
        options: adapter options (overlap, sync mode).
        schema: module prefixes.
        reader: builds snapshots.
        utc_now: the local clock, used only when the server sends no ``Date`` header.
    """

    def __init__(
        self,
        client: VtigerClient,
        options: VtigerOptions,
        schema: Schema,
        reader: MeetingReader,
        utc_now: Callable[[], dt.datetime],
    ) -> None:
        self._client = client
        self._options = options
        self._schema = schema
        self._reader = reader
        self._utc_now = utc_now
        self.sync_supported: bool | None = None if options.sync_operation == "auto" else False
        self._in_clause = True

    # -- server time ---------------------------------------------------------------------

    def _open_second(self) -> dt.datetime:
        """The first second (server zone, naive) that may still gain changes."""
        date = self._client.last_response_date
        if date is None:
            date = self._utc_now() - dt.timedelta(seconds=2)
        # The answer's Date is stamped after the query ran; step back by the call's length.
        start = date - dt.timedelta(seconds=math.ceil(self._client.last_call_seconds))
        return start.astimezone(self._options.zone).replace(tzinfo=None, microsecond=0)

    # -- the feed ------------------------------------------------------------------------

    def changed_meetings(self, cursor: str | None, limit: int) -> ChangeBatch:
        """One batch of the feed; see the module docstring."""
        state = FeedCursor.decode(cursor)
        walk = _Walk(
            since=_parse(state.since) if state.since else None,
            after=state.after,
            seen=set(state.seen),
            sync_since=state.sync_since,
            newest=_parse(state.since) if state.since else None,
        )
        limit = max(1, limit)
        prefix = self._schema.module(EVENTS).prefix
        cache: dict[PartyRef, Party | None] = {}
        for _ in range(self._options.max_query_pages):
            if len(walk.changes) >= limit:
                return self._finish(walk, caught_up=False, limit=limit)
            second, exact = walk.since, walk.after is not None and walk.since is not None
            if exact and second is not None:
                where = vtql.and_(
                    f"modifiedtime = {vtql.datetime_literal(second)}",
                    f"id > {vtql.ws_id(f'{prefix}x{walk.after}')}",
                )
                page = self._page(where, "id")
            else:
                where = f"modifiedtime >= {vtql.datetime_literal(second)}" if second else ""
                page = self._page(where, "modifiedtime")
            full = len(page) >= vtql.PAGE_SIZE
            rows = sorted(page, key=_row_key)
            cut = _row_key(rows[-1])[0] if rows and full and not exact else None
            open_second = self._open_second()
            if walk.sync_since is None:
                walk.sync_since = self._epoch(open_second) - self._options.feed_overlap_seconds
            for row in rows:
                stamp, number = _row_key(row)
                walk.newest = max(walk.newest or stamp, stamp)
                if cut is not None and stamp >= cut:
                    break  # the newest second of a full range page may be cut: read it whole
                if len(walk.changes) >= limit:
                    return self._finish(walk, caught_up=False, limit=limit)
                walk.since, walk.after = stamp, number
                key = (str(row["id"]), _fmt(stamp))
                if key in walk.seen:
                    continue
                if stamp < open_second:
                    walk.seen.add(key)
                if self._reader.is_meeting(row):
                    walk.changes.append(MeetingChange(key[0], self._reader.snapshot(row, cache)))
            if exact and second is not None:
                if not full:
                    walk.since, walk.after = second + _ONE, None
            elif cut is not None:
                walk.since, walk.after = cut, 0
            else:
                return self._finish(walk, caught_up=True, limit=limit)
        raise CrmError(f"vtiger change feed: over {self._options.max_query_pages} pages")

    def _page(self, where: str, order_by: str) -> list[dict[str, Any]]:
        text = vtql.select(
            EVENTS, self._reader.fields, where, order_by=order_by, offset=0, limit=vtql.PAGE_SIZE
        )
        return self._client.query(text, module=EVENTS)

    def _finish(self, walk: _Walk, *, caught_up: bool, limit: int) -> ChangeBatch:
        overlap = dt.timedelta(seconds=self._options.feed_overlap_seconds)
        more = not caught_up
        since, after, seen = walk.since, walk.after, walk.seen
        sync_since = walk.sync_since
        if caught_up:
            open_second = self._open_second()
            # Never start beyond the newest change seen: a server clock or zone that
            # disagrees with the stored times then costs re-reads, never lost changes.
            since = min(open_second - overlap, walk.newest) if walk.newest else None
            after = None
            seen = {k for k in seen if since is not None and since <= _parse(k[1]) < open_second}
            if len(walk.changes) < limit:
                deleted, sync_since, more = self._deletions(sync_since, limit - len(walk.changes))
                walk.changes.extend(MeetingChange(i, None) for i in deleted)
        elif since is not None:
            floor = since - overlap - _ONE
            seen = {k for k in seen if _parse(k[1]) >= floor}
        cursor = FeedCursor(_fmt(since) if since else None, after, frozenset(seen), sync_since)
        return ChangeBatch(tuple(walk.changes), cursor.encode(), more)

    # -- deletions -----------------------------------------------------------------------

    def _epoch(self, server_time: dt.datetime) -> int:
        return int(server_time.replace(tzinfo=self._options.zone).timestamp())

    def _deletions(self, sync_since: int | None, room: int) -> tuple[list[str], int | None, bool]:
        """Ids ``sync`` reports deleted since ``sync_since``; the next value; more to come."""
        start = self._epoch(self._open_second()) - self._options.feed_overlap_seconds
        if sync_since is None or self.sync_supported is False:
            return [], start, False
        prefix = self._schema.module(EVENTS).prefix
        deleted: list[str] = []
        since = sync_since
        for _ in range(self._options.max_query_pages):
            try:
                result = self._client.sync(EVENTS, since, self._options.sync_type)
            except VtigerApiError as exc:
                # E.g. syncType=application refused to a user who is not an admin: the
                # feed must go on; deletions then come from the existence check.
                self._give_up_sync(f"vtiger sync refused ({exc.code}: {exc.vtiger_message})")
                return [], start, False
            if result is None:
                self._give_up_sync(
                    "vtiger sync is not supported by this server (HTTP 500, as stock vtiger 8 "
                    "on PHP 8 answers; docs/vtiger.md says what to change in vtiger)"
                )
                return [], start, False
            self.sync_supported = True
            for ws_id in result.get("deleted") or ():
                if (
                    isinstance(ws_id, str)
                    and ws_id.startswith(f"{prefix}x")
                    and ws_id not in deleted
                ):
                    deleted.append(ws_id)
            last = result.get("lastModifiedTime")
            next_since = int(last) if isinstance(last, int | str) and str(last).isdigit() else since
            more = bool(result.get("more")) and next_since > since
            since = next_since
            if not more:
                break
            if len(deleted) >= room:
                return deleted, since, True
        return deleted, min(since, start), False

    def _give_up_sync(self, reason: str) -> None:
        """Stop asking ``sync`` for this process's life, saying so once."""
        self.sync_supported = False
        # The caller never asks again once sync_supported is False, so this runs once per
        # process: a pass every minute must not repeat the warning every minute.
        logger.warning(
            "%s: deleted meetings are found by the gateway's periodic existence check "
            "instead (outbound.existence_check_interval)",
            reason,
        )

    @property
    def reports_deletions(self) -> bool | None:
        """Whether the feed sees every deletion (``None`` until ``sync`` was tried).

        A per-user ``sync`` (``sync_type`` other than ``"application"``) sees only the API
        user's own records, so it does not count.
        """
        if self.sync_supported is None:
            return None
        return self.sync_supported and self._options.sync_type == "application"

    # -- existence check ------------------------------------------------------------------

    def confirm_existing(self, meeting_ids: Sequence[str]) -> set[str]:
        """Of ``meeting_ids``, those that still exist as meetings of a handled type.

        A deleted event vanishes from ``query`` (file 36); an id that is not an Events id
        never exists. Ids go in chunks with ``id IN (...)``; should a server refuse that
        form, each id is looked up on its own.
        """
        info = self._schema.module(EVENTS)
        wanted = [i for i in dict.fromkeys(meeting_ids) if info.owns(i)]
        alive: set[str] = set()
        for start in range(0, len(wanted), _CHECK_CHUNK):
            chunk = wanted[start : start + _CHECK_CHUNK]
            alive.update(self._alive(chunk))
        return alive

    def _alive(self, ids: Sequence[str]) -> Iterable[str]:
        fields = ("id", "activitytype")
        if self._in_clause:
            where = "id IN (" + ", ".join(vtql.ws_id(i) for i in ids) + ")"
            try:
                rows = self._client.query(vtql.select(EVENTS, fields, where), module=EVENTS)
            except VtigerApiError as exc:
                if exc.code != "QUERY_SYNTAX_ERROR":
                    raise
                logger.info("vtiger refuses `id IN (...)`; checking ids one by one")
                self._in_clause = False
            else:
                return [str(r["id"]) for r in rows if self._reader.is_meeting(r)]
        found: list[str] = []
        for ws_id in ids:
            where = f"id = {vtql.ws_id(ws_id)}"
            rows = self._client.query(vtql.select(EVENTS, fields, where), module=EVENTS)
            found.extend(str(r["id"]) for r in rows if self._reader.is_meeting(r))
        return found
