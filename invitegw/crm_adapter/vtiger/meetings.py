"""Snapshots of vtiger meetings (``Events`` records) as the port's :class:`Meeting`.

What vtiger can and cannot tell us (facts sheet, "Meeting attendees" and "Follow-up
recordings"):

- **Organizer**: the assigned user (its ``email1``). A meeting assigned to a group (a
  group has no address) falls back to ``modifiedby``, the user who last changed it: so
  the organizer changes when another user edits it, or when the adapter itself writes
  the event (``allow_event_updates``). The webservice shows no creator to prefer.
- **Contacts**: ``retrieve`` shows one ``contact_id`` only, and every related-list route
  fails on events. But ``query`` on Events joins the contact links, so
  ``WHERE id = 'E'`` reports one linked contact, ``... AND contact_id != 'C1'`` the next,
  until the answer is empty (files 108-110): N+1 queries for N contacts, bounded by
  ``contact_enumeration_limit`` with a warning when it stops early.
- **Extra addresses**: an optional text area on Events (``attendees_field``) holding
  addresses of people who are not contacts, read by :mod:`.attendee_text` in every form
  people type (vtiger's web form drops ``<...>``, so ``Name <address>`` typed there loses
  its address). What it cannot use is reported on the meeting's log once per distinct
  content (:meth:`.crmlog.CrmLog.notice`), never guessed.
- **User invitees cannot be read back at all**; they are not in the snapshot.
- **The send switch** (``sync_field``, a checkbox): vtiger returns ``"0"`` for a checkbox
  nobody ever set (records older than the field, records created through the
  webservice: only the web form applies the field's default), exactly as for one a
  person unticked. :meth:`MeetingReader.sync_reading` says which readings are certain.

Times are read in the server's zone and given in the meeting's zone: the optional
``meeting_time_zone_field`` on Events, else the organizer's ``time_zone`` preference; it
becomes the invitation's TZID.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import zoneinfo
from collections.abc import Callable, Mapping
from typing import Any

from invitegw.crm_adapter.vtiger import vtql
from invitegw.crm_adapter.vtiger.attendee_text import (
    MAX_ADDRESSES,
    MAX_CHARS,
    AttendeeText,
    SkipReason,
    parse_attendee_text,
)
from invitegw.crm_adapter.vtiger.client import VtigerClient
from invitegw.crm_adapter.vtiger.options import VtigerOptions
from invitegw.crm_adapter.vtiger.parties import Directory, address_party
from invitegw.crm_adapter.vtiger.records import (
    from_server,
    is_true,
    stamp_from_server,
    user_zone,
)
from invitegw.crm_adapter.vtiger.schema import EVENTS, Schema
from invitegw.domain.records import (
    EntityType,
    Meeting,
    MeetingKind,
    Party,
    PartyRef,
    SwitchReading,
)

__all__ = ["MAX_EXTRA_ADDRESSES", "MeetingReader", "NoticeSink", "SwitchReading"]

logger = logging.getLogger(__name__)

MAX_EXTRA_ADDRESSES = MAX_ADDRESSES
_MAX_SKIPPED_SHOWN = 10
# (meeting id, key, message): where problems found while reading a meeting go.
NoticeSink = Callable[[str, str, str], None]


# Columns of vtiger_activity, vtiger_crmentity and the custom-field table only: one row
# per event. `contact_id` would join the contact links and repeat rows (module docstring).
_EVENT_FIELDS = (
    "id",
    "subject",
    "activitytype",
    "eventstatus",
    "date_start",
    "time_start",
    "due_date",
    "time_end",
    "notime",
    "location",
    "description",
    "assigned_user_id",
    "modifiedby",
    "modifiedtime",
)


class MeetingReader:
    """Builds :class:`Meeting` snapshots from Events records."""

    def __init__(
        self,
        client: VtigerClient,
        options: VtigerOptions,
        schema: Schema,
        directory: Directory,
        notice: NoticeSink | None = None,
    ) -> None:
        self._client = client
        self._options = options
        self._schema = schema
        self._directory = directory
        # Set by the adapter to its integration log once that exists (it reads meetings).
        self.notice = notice

    @property
    def fields(self) -> tuple[str, ...]:
        """The Events columns a snapshot needs (never ``contact_id``)."""
        opts = self._options
        extra = (
            opts.sync_field,
            opts.attendees_field,
            opts.calendar_field,
            opts.meeting_time_zone_field,
        )
        return tuple(dict.fromkeys((*_EVENT_FIELDS, *(f for f in extra if f))))

    def is_meeting(self, record: Mapping[str, Any]) -> bool:
        """True for an event whose activity type the gateway handles."""
        return str(record.get("activitytype") or "") in self._options.activity_types

    def get(self, meeting_id: str) -> Meeting | None:
        """The meeting's snapshot, or ``None`` if it is gone (or not a meeting type)."""
        record = self.retrieve(meeting_id)
        if record is None or not self.is_meeting(record):
            return None
        return self.snapshot(record, {})

    def retrieve(self, meeting_id: str) -> dict[str, Any] | None:
        """The raw Events record, or ``None`` when it does not exist."""
        return self._schema.fetch(meeting_id, EVENTS)

    def linked_contacts(self, meeting_id: str) -> tuple[list[str], bool]:
        """The contact ids linked to a meeting, and whether the list is complete."""
        limit = self._options.contact_enumeration_limit
        found: list[str] = []
        while True:
            where = vtql.and_(
                f"id = {vtql.ws_id(meeting_id)}",
                *(f"contact_id != {vtql.ws_id(c)}" for c in found),
            )
            rows = self._client.query(
                vtql.select(EVENTS, ("id", "contact_id"), where), module=EVENTS
            )
            contact = str(rows[0].get("contact_id") or "") if rows else ""
            if not contact or contact in found:
                return found, True
            if len(found) >= limit:
                logger.warning(
                    "vtiger meeting %s: stopped listing linked contacts after %d "
                    "(crm.vtiger.contact_enumeration_limit); more are linked and get no "
                    "invitation",
                    meeting_id,
                    limit,
                )
                return found, False
            found.append(contact)

    def snapshot(self, record: Mapping[str, Any], cache: dict[PartyRef, Party | None]) -> Meeting:
        """A :class:`Meeting` from an Events record; ``cache`` is shared within a batch."""
        opts = self._options
        meeting_id = str(record.get("id") or "")
        organizer = self._organizer(record)
        own_zone = (
            user_zone(record, opts.meeting_time_zone_field)
            if opts.meeting_time_zone_field
            else None
        )
        zone_name = own_zone or organizer.time_zone or opts.server_time_zone
        zone = zoneinfo.ZoneInfo(zone_name)
        start: dt.date | dt.datetime
        end: dt.date | dt.datetime
        server = opts.zone
        if is_true(record.get("notime")):
            start = from_server(record.get("date_start"), "00:00:00", server).date()
            last = from_server(record.get("due_date") or start, "00:00:00", server).date()
            end = max(last, start) + dt.timedelta(days=1)  # DTEND is exclusive (RFC 5545)
        else:
            start = from_server(record.get("date_start"), record.get("time_start"), server)
            end = from_server(record.get("due_date"), record.get("time_end"), server)
            start, end = start.astimezone(zone), end.astimezone(zone)
        activity = str(record.get("activitytype") or "")
        return Meeting(
            id=meeting_id,
            kind=MeetingKind.SERVICE
            if activity in opts.service_activity_types
            else MeetingKind.APPOINTMENT,
            title=str(record.get("subject") or ""),
            start=start,
            end=end,
            organizer=organizer,
            attendees=self._attendees(meeting_id, record, organizer, cache),
            description=str(record.get("description") or ""),
            location=str(record.get("location") or ""),
            time_zone=zone_name,
            cancelled=str(record.get("eventstatus") or "") in opts.cancelled_event_statuses,
            sync=self._sync(record),
            calendar=str(record.get(opts.calendar_field) or "") or None
            if opts.calendar_field
            else None,
            modified_at=stamp_from_server(record.get("modifiedtime"), server),
        )

    def _sync(self, record: Mapping[str, Any]) -> bool:
        name = self._options.sync_field
        if not name:
            return True
        checked = is_true(record.get(name))
        return checked if self._options.sync_field_means == "send" else not checked

    def sync_reading(self, meeting: Meeting) -> SwitchReading:
        """How certain ``meeting.sync`` is (see :class:`SwitchReading`).

        Parameters:
            meeting: a snapshot this adapter made (with the current configuration).

        Returns:
            ``NO_SWITCH`` without a ``sync_field``; ``SET`` when the box reads ticked;
            ``MAYBE_DEFAULT`` when it reads unticked. With ``sync_field_means = "send"``
            an unticked box means "do not send", so ``sync=False`` is the uncertain one;
            with ``"skip"`` it means "send", and ``sync=False`` is certain.
        """
        if not self._options.sync_field:
            return SwitchReading.NO_SWITCH
        ticked = meeting.sync if self._options.sync_field_means == "send" else not meeting.sync
        return SwitchReading.SET if ticked else SwitchReading.MAYBE_DEFAULT

    def _organizer(self, record: Mapping[str, Any]) -> Party:
        for key in ("assigned_user_id", "modifiedby"):
            user = self._directory.user(str(record.get(key) or ""))
            if user is not None:
                return user
        login = self._client.login_info
        fallback = self._directory.user(login.user_id)
        if fallback is None:
            fallback = Party(EntityType.USER, login.user_id, login.username, (login.email,))
        logger.warning(
            "vtiger meeting %s: assigned to %s, not a user; organizer is %s",
            record.get("id"),
            record.get("assigned_user_id"),
            fallback.id,
        )
        return fallback

    def _attendees(
        self,
        meeting_id: str,
        record: Mapping[str, Any],
        organizer: Party,
        cache: dict[PartyRef, Party | None],
    ) -> tuple[Party, ...]:
        attendees: dict[PartyRef, Party] = {}
        contacts, _ = (
            self.linked_contacts(meeting_id)
            if self._options.contact_enumeration_limit
            else ([], True)
        )
        for contact_id in sorted(contacts, key=vtql.crmid):
            ref = PartyRef(EntityType.CONTACT, contact_id)
            if ref not in cache:
                cache[ref] = self._directory.get(ref)
            party = cache[ref]
            if party is not None:
                attendees.setdefault(ref, party)
        for address in self._extra_addresses(meeting_id, record):
            matches = self._directory.find(address)
            party = matches[0] if matches else address_party(address)
            attendees.setdefault(party.ref, party)
        attendees.pop(organizer.ref, None)
        return tuple(attendees.values())

    def _extra_addresses(self, meeting_id: str, record: Mapping[str, Any]) -> tuple[str, ...]:
        name = self._options.attendees_field
        text = str(record.get(name) or "") if name else ""
        if not name or not text.strip():
            return ()
        parsed = parse_attendee_text(text)
        if not parsed.clean:
            self._report(meeting_id, name, parsed)
        return parsed.addresses

    def _report(self, meeting_id: str, field: str, parsed: AttendeeText) -> None:
        """Tell the meeting's log what in the attendees field was not used."""
        label = self._schema.module(EVENTS).label(field)
        parts = [f'"{s.text}" ({_advice(s.reason)})' for s in parsed.skipped[:_MAX_SKIPPED_SHOWN]]
        if len(parsed.skipped) > _MAX_SKIPPED_SHOWN:
            parts.append(f"and {len(parsed.skipped) - _MAX_SKIPPED_SHOWN} more")
        if parsed.dropped:
            parts.append(f"{parsed.dropped} address(es) beyond the first {MAX_ADDRESSES}")
        if parsed.truncated:
            parts.append(f"everything after the first {MAX_CHARS} characters")
        message = f"{label} ({field}): not invited: " + "; ".join(parts)
        # The key names the meeting and what was wrong, not the whole text: adding a good
        # address to the field does not repeat the note, a new mistake does.
        lines = [
            meeting_id,
            field,
            *(f"{s.reason}:{s.text}" for s in parsed.skipped),
            f"dropped:{parsed.dropped}",
            f"truncated:{parsed.truncated}",
        ]
        key = hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()[:16]
        if self.notice is not None:
            self.notice(meeting_id, key, message)
        else:
            logger.warning("vtiger meeting %s: %s", meeting_id, message)


def _advice(reason: SkipReason) -> str:
    if reason is SkipReason.NO_ADDRESS:
        return (
            "no address; vtiger's web form removes <...>, so write Name (address) "
            "or just the address"
        )
    return str(reason)
