"""The integration log and attendee responses, where vtiger lets us write them.

vtiger refuses comments (``ModComments``) on events and tasks: ``related_to`` may name a
contact, account or lead, never an activity (files 114-118). So:

- a **meeting**'s entry becomes a comment on its "Related To" account or lead, else on its
  (first) linked contact, naming the meeting; with ``allow_event_updates`` it is also
  appended to the event's own description (which rewrites its user invitees: see
  ``docs/vtiger.md``);
- a **task** the gateway created gets the line appended to its own description (tasks have
  no invitees, so that write is safe); another task's entry goes to its contact/account;
- a **party**'s entry is a comment on that contact, account or lead;
- an **attendee's response** is a comment on the attendee's contact (a linked one first).

Every entry is also logged through Python's logging, and where vtiger has no place for
it, that is the only record (the gateway keeps its own log as well).

**Notices** are problems the adapter finds itself while reading a meeting (an *Other
attendees* entry it could not use): a WARNING entry on the meeting, written once per
distinct content. The entry carries ``note=<key>`` (a digest of the meeting and what was
wrong); before commenting, the adapter looks for a comment with that key on the same
record, so a new process (``serve --once`` from cron) does not repeat it, and within a
process a set of keys saves the look-up. A notice never writes to the event itself, even
with ``allow_event_updates``: it arises while the feed reads, and an event write there
would rewrite the invitees and come back as a change.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from invitegw.crm_adapter.vtiger import vtql
from invitegw.crm_adapter.vtiger.client import VtigerApiError, VtigerClient
from invitegw.crm_adapter.vtiger.meetings import MeetingReader
from invitegw.crm_adapter.vtiger.options import VtigerOptions
from invitegw.crm_adapter.vtiger.parties import Directory
from invitegw.crm_adapter.vtiger.schema import EVENTS, TASKS, Schema
from invitegw.crm_adapter.vtiger.tasks import TaskStore
from invitegw.domain.records import (
    EntityType,
    LogEntry,
    LogLevel,
    LogTarget,
    PartyRef,
    ResponseRecord,
)
from invitegw.errors import CrmNotFoundError

__all__ = ["MAX_COMMENT_CHARS", "CrmLog"]

logger = logging.getLogger(__name__)

MAX_COMMENT_CHARS = 4000
_MAX_NOTICE_KEYS = 4096
_RANK = {LogLevel.INFO: 0, LogLevel.WARNING: 1, LogLevel.ERROR: 2}
_PY_LEVEL = {
    LogLevel.INFO: logging.INFO,
    LogLevel.WARNING: logging.WARNING,
    LogLevel.ERROR: logging.ERROR,
}
_COMMENTABLE = (EntityType.CONTACT, EntityType.ACCOUNT, EntityType.LEAD)


class CrmLog:
    """Writes integration-log entries and responses next to the records they concern."""

    def __init__(
        self,
        client: VtigerClient,
        options: VtigerOptions,
        schema: Schema,
        directory: Directory,
        reader: MeetingReader,
        tasks: TaskStore,
        utc_now: Callable[[], dt.datetime],
    ) -> None:
        self._client = client
        self._options = options
        self._schema = schema
        self._directory = directory
        self._reader = reader
        self._tasks = tasks
        self._utc_now = utc_now
        self._notice_lock = threading.Lock()
        self._noticed: OrderedDict[str, None] = OrderedDict()

    # -- integration log -----------------------------------------------------------------

    def log(self, entry: LogEntry) -> None:
        """Write ``entry`` where vtiger allows (module docstring); always log it locally."""
        line = self._line(entry)
        # The record carries the entry itself, for the gateway's handlers (and tests).
        logger.log(
            _PY_LEVEL[entry.level],
            "crm log %s %s: %s",
            entry.target.value,
            entry.target_id or "-",
            line,
            extra={"invitegw_log": entry},
        )
        opts = self._options
        if not opts.log_to_crm or _RANK[entry.level] < _RANK[opts.log_min_level]:
            return
        target_id = entry.target_id or ""
        if entry.target is LogTarget.MEETING and target_id:
            self._log_meeting(target_id, line)
        elif entry.target is LogTarget.TASK and target_id:
            if not self._tasks.append_log(target_id, line):
                record = self._schema.fetch(target_id, TASKS)
                if record is not None:
                    self._comment_on_related(record, f"{line} (task {target_id})")
        elif entry.target is LogTarget.PARTY and target_id:
            etype = self._schema.type_of(target_id)
            if etype in _COMMENTABLE:
                self._comment(target_id, line)

    def _line(self, entry: LogEntry) -> str:
        when = (entry.created_at or self._utc_now()).astimezone(dt.UTC)
        details = ", ".join(f"{k}={v}" for k, v in sorted(entry.details.items()))
        text = " ".join(entry.message.split())
        if details:
            text = f"{text} ({details})"
        return f"[invitegw {when:%Y-%m-%d %H:%M}Z {entry.level.value}] {text}"

    def _log_meeting(self, meeting_id: str, line: str) -> None:
        record = self._schema.fetch(meeting_id, EVENTS)
        if record is None:
            return
        subject = str(record.get("subject") or "")
        self._comment_on_related(record, f'{line} (meeting "{subject}" {meeting_id})')
        if self._options.allow_event_updates:
            self._append_to_event(record, line)

    def _append_to_event(self, record: Mapping[str, Any], line: str) -> None:
        meeting_id = str(record["id"])
        contacts, complete = self._reader.linked_contacts(meeting_id)
        if not complete:
            logger.warning(
                "vtiger meeting %s: not appending the log to its description: its contact "
                "list could not be read whole and the write would unlink the rest",
                meeting_id,
            )
            return
        owner = str(record.get("assigned_user_id") or "")
        extra = {
            # Every Events write must carry both lists, as bare crmids (not 12x4), or vtiger
            # drops them (files 24-31). User invitees cannot be read back: the assigned
            # user is the only one we can name.
            "contactidlist": ";".join(str(vtql.crmid(c)) for c in contacts),
            "inviteesid": str(vtql.crmid(owner)) if self._directory.user(owner) else "",
        }
        description = str(record.get("description") or "").rstrip()
        text = f"{description}\n{line}" if description else line
        self._client.revise({"id": meeting_id, "description": text}, module=EVENTS, extra=extra)

    def _related(self, record: Mapping[str, Any]) -> str | None:
        """Where a record's log comments go: its account or lead, else its contact."""
        parent = str(record.get("parent_id") or "")
        if parent and self._schema.type_of(parent) in (EntityType.ACCOUNT, EntityType.LEAD):
            return parent
        contact = str(record.get("contact_id") or "")
        if contact and self._schema.type_of(contact) is EntityType.CONTACT:
            return contact
        return None

    def _comment_on_related(self, record: Mapping[str, Any], text: str) -> bool:
        target = self._related(record)
        if target is not None:
            return self._comment(target, text)
        logger.info(
            "vtiger record %s has no contact or account: log kept locally", record.get("id")
        )
        return False

    # -- notices -------------------------------------------------------------------------

    def notice(self, meeting_id: str, key: str, message: str) -> None:
        """A WARNING entry on the meeting, once per ``key`` (module docstring).

        Parameters:
            meeting_id: the Events record the problem is about.
            key: a digest of the meeting and of what was wrong (hex, no wildcards).
            message: the text for the meeting's log.

        Raises:
            CrmUnavailableError: vtiger could not be reached; nothing was noted, so the
                next reading tries again.
        """
        with self._notice_lock:
            if key in self._noticed:
                return
        entry = LogEntry(
            LogTarget.MEETING, meeting_id, LogLevel.WARNING, message, details={"note": key}
        )
        line = self._line(entry)
        target, already = self._noted_in_crm(meeting_id, key)
        with self._notice_lock:
            self._noticed[key] = None
            while len(self._noticed) > _MAX_NOTICE_KEYS:
                self._noticed.popitem(last=False)
        if already:
            logger.debug("vtiger meeting %s: note %s is already in vtiger", meeting_id, key)
            return
        logger.warning("crm log meeting %s: %s", meeting_id, line, extra={"invitegw_log": entry})
        if target is not None:
            subject, related = target
            self._comment(related, f'{line} (meeting "{subject}" {meeting_id})')

    def _noted_in_crm(self, meeting_id: str, key: str) -> tuple[tuple[str, str] | None, bool]:
        """Where the notice's comment goes (subject, record), and whether it is there."""
        opts = self._options
        if not opts.log_to_crm or _RANK[LogLevel.WARNING] < _RANK[opts.log_min_level]:
            return None, False
        record = self._schema.fetch(meeting_id, EVENTS)
        related = self._related(record) if record is not None else None
        if record is None or related is None:
            return None, False
        subject = str(record.get("subject") or "")
        where = vtql.and_(
            f"related_to = {vtql.ws_id(related)}",
            f"commentcontent LIKE {vtql.like_contains(f'note={key}')}",
        )
        try:
            rows = self._client.query(
                vtql.select("ModComments", ("id", "commentcontent"), where), module="ModComments"
            )
        except VtigerApiError as exc:
            # Without the look-up the note may repeat once per process; never worse.
            logger.info("vtiger: cannot look for earlier notes on %s: %s", related, exc)
            rows = []
        found = any(f"note={key}" in str(r.get("commentcontent") or "") for r in rows)
        return (subject, related), found

    def _comment(self, related_to: str, text: str) -> bool:
        element = {
            "commentcontent": text[:MAX_COMMENT_CHARS],
            "related_to": related_to,
            "assigned_user_id": self._client.login_info.user_id,
        }
        try:
            self._client.create("ModComments", element)
        except VtigerApiError as exc:
            # The gateway keeps its own log; a refused comment must not fail the caller.
            logger.warning("vtiger refused a log comment on %s: %s", related_to, exc)
            return False
        return True

    # -- responses -----------------------------------------------------------------------

    def record_response(self, response: ResponseRecord) -> None:
        """Note an attendee's answer as a comment on their contact.

        Raises:
            CrmNotFoundError: the meeting does not exist.
        """
        record = self._schema.fetch(response.meeting_id, EVENTS)
        if record is None:
            raise CrmNotFoundError(f"vtiger meeting {response.meeting_id} does not exist")
        subject = str(record.get("subject") or "")
        who, what = response.attendee_email, response.partstat
        parts = [f'[invitegw] {who} {what} "{subject}" ({response.meeting_id})']
        if response.recurrence_id:
            parts.append(f"occurrence {response.recurrence_id}")
        if response.delegated_to:
            parts.append(f"delegated to {response.delegated_to}")
        if response.comment:
            parts.append(f"comment: {' '.join(response.comment.split())}")
        text = "; ".join(parts)
        logger.info("vtiger response: %s", text)
        target = self._attendee_record(response.meeting_id, response.attendee_email)
        if target is not None:
            self._comment(target, text)
        else:
            self._comment_on_related(record, text)

    def _attendee_record(self, meeting_id: str, address: str) -> str | None:
        wanted = address.strip().casefold()
        linked, _ = self._reader.linked_contacts(meeting_id)
        for contact_id in linked:
            party = self._directory.get(PartyRef(EntityType.CONTACT, contact_id))
            if party is not None and wanted in (e.casefold() for e in party.emails):
                return contact_id
        matches = self._directory.find(address, _COMMENTABLE)
        return matches[0].id if matches else None
