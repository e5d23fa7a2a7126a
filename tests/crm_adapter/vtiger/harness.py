"""The vtiger adapter under the port's contract suite: a harness over the fake vtiger.

:func:`vtiger_harness` starts a fake vtiger (patched ``sync``, so the feed sees
deletions), adds the custom fields an administrator would add for the gateway, and
returns the adapter configured for them with a :class:`VtigerSeeder`, which makes
records the way CRM users do: through the webservice (users, which the webservice cannot
create, straight into the fake, as an admin does in the UI).

How the contract's notions map onto vtiger:

- a meeting's contacts are linked with ``contactidlist``; its users, leads and accounts
  (which vtiger cannot list as readable invitees) go into the extra-attendees text field;
- the meeting's own zone, calendar and sync switch are custom fields (``cf_tz``,
  ``cf_calendar``, ``cf_sync``); a contact's third address, language and zone too;
- a recurring meeting cannot be made: vtiger keeps each occurrence as its own record, so
  those contract tests are skipped with that reason;
- responses are read back from the comments the adapter wrote; the integration log from
  the adapter's log records (vtiger has no place for gateway-level entries).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import zoneinfo
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import pytest

from invitegw.crm_adapter.vtiger import VtigerCrm
from invitegw.domain.records import EntityType, LogEntry, MeetingKind, PartyRef
from tests.crm_adapter.contract import MeetingSpec
from tests.crm_adapter.vtiger.conftest import ACCESS_KEY, Seeder, make_options
from tests.crm_adapter.vtiger.replay_server import FakeVtiger, FakeVtigerServer

__all__ = ["VtigerSeeder", "vtiger_harness_parts"]

UTC = zoneinfo.ZoneInfo("UTC")
_RESPONSE = re.compile(r"^\[invitegw\] (\S+) ([A-Z-]+) ")
_CUSTOM = {
    "Events": (
        ("cf_attendees", "text"),
        ("cf_calendar", "string"),
        ("cf_sync", "boolean"),
        ("cf_tz", "string"),
    ),
    "Contacts": (("cf_email3", "email"), ("cf_language", "string"), ("cf_timezone", "string")),
}


class _LogCatcher(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.entries: list[LogEntry] = []

    def emit(self, record: logging.LogRecord) -> None:
        entry = getattr(record, "invitegw_log", None)
        if isinstance(entry, LogEntry):
            self.entries.append(entry)


def _split(name: str) -> tuple[str, str]:
    first, _, last = name.rpartition(" ")
    return first, last


def _server_parts(value: dt.date | dt.datetime) -> tuple[str, str]:
    if isinstance(value, dt.datetime):
        moment = value.astimezone(UTC)
        return moment.strftime("%Y-%m-%d"), moment.strftime("%H:%M:%S")
    return value.isoformat(), "00:00:00"


class VtigerSeeder:
    """The contract's ``CrmSeeder`` for vtiger (see the module docstring)."""

    def __init__(self, fake: FakeVtiger, seeder: Seeder, catcher: _LogCatcher) -> None:
        self.fake = fake
        self.seeder = seeder
        self.catcher = catcher
        self.client = seeder.client
        self._contacts: dict[str, list[str]] = {}
        self._others: dict[str, list[str]] = {}
        self._accounts: dict[str, str] = {}
        self._users = 0

    # -- parties -------------------------------------------------------------------------

    def add_party(
        self,
        entity: EntityType,
        emails: Sequence[str],
        *,
        name: str,
        sync: bool = True,
        language: str | None = None,
        time_zone: str | None = None,
        account: str | None = None,
    ) -> PartyRef:
        first, last = _split(name)
        optout = "0" if sync else "1"
        if entity is EntityType.USER:
            self._users += 1
            ws_id = self.fake.add_user(
                f"user{self._users}",
                first,
                last,
                emails[0],
                f"key{self._users}",
                time_zone=time_zone or "UTC",
                email2=emails[1] if len(emails) > 1 else "",
            )
            number = int(ws_id.partition("x")[2])
            self.fake.users[number]["status"] = "Active" if sync else "Inactive"
            if language:
                self.fake.users[number]["language"] = language
            return PartyRef(entity, ws_id)
        padded = [*emails, "", "", ""]
        if entity is EntityType.CONTACT:
            fields = {"secondaryemail": padded[1], "cf_email3": padded[2], "emailoptout": optout}
            if language:
                fields["cf_language"] = language
            if time_zone:
                fields["cf_timezone"] = time_zone
            if account:
                fields["account_id"] = self._account(account)
            return PartyRef(entity, self.seeder.contact(first, last, padded[0], **fields))
        if entity is EntityType.LEAD:
            return PartyRef(
                entity,
                self.seeder.lead(
                    first, last, padded[0], secondaryemail=padded[1], emailoptout=optout
                ),
            )
        return PartyRef(
            entity, self.seeder.account(name, padded[0], email2=padded[1], emailoptout=optout)
        )

    def _account(self, name: str) -> str:
        if name not in self._accounts:
            self._accounts[name] = self.seeder.account(name)
        return self._accounts[name]

    # -- meetings ------------------------------------------------------------------------

    def add_meeting(self, spec: MeetingSpec) -> str:
        if spec.rrule:
            pytest.skip("vtiger keeps each occurrence of a repeating event as its own record")
        contacts = [p.id for p in spec.attendees if p.type is EntityType.CONTACT]
        others = [self._address(p) for p in spec.attendees if p.type is not EntityType.CONTACT]
        fields = {
            **self._times(spec.start, spec.end),
            "activitytype": "Mobile Call" if spec.kind is MeetingKind.SERVICE else "Meeting",
            "assigned_user_id": spec.organizer.id,
            "location": spec.location,
            "description": spec.description,
            "cf_attendees": ", ".join(others),
            "cf_calendar": spec.calendar or "",
            "cf_sync": "1" if spec.sync else "0",
            "cf_tz": spec.time_zone or "",
        }
        start_day, start_time = fields.pop("date_start"), fields.pop("time_start")
        end_day, end_time = fields.pop("due_date"), fields.pop("time_end")
        ws_id = self.seeder.event(
            spec.title,
            f"{start_day} {start_time}",
            f"{end_day} {end_time}",
            contacts=contacts,
            **fields,
        )
        self._contacts[ws_id], self._others[ws_id] = contacts, others
        return ws_id

    def _address(self, party: PartyRef) -> str:
        if party.type is EntityType.USER:
            return self.fake.users[int(party.id.partition("x")[2])]["email1"]
        module = "Leads" if party.type is EntityType.LEAD else "Accounts"
        column = "email" if party.type is EntityType.LEAD else "email1"
        (row,) = self.client.query(
            f"SELECT {column} FROM {module} WHERE id = '{party.id}';", module=module
        )
        return str(row[column])

    @staticmethod
    def _times(start: dt.date | dt.datetime, end: dt.date | dt.datetime) -> dict[str, str]:
        if isinstance(start, dt.datetime):
            (ds, ts), (de, te) = _server_parts(start), _server_parts(end)
            return {
                "date_start": ds,
                "time_start": ts,
                "due_date": de,
                "time_end": te,
                "notime": "0",
            }
        last = (
            end - dt.timedelta(days=1) if end > start else start
        )  # vtiger's due date is inclusive
        return {
            "date_start": start.isoformat(),
            "time_start": "00:00:00",
            "due_date": last.isoformat(),
            "time_end": "00:00:00",
            "notime": "1",
        }

    def _save(self, meeting_id: str, **fields: str) -> None:
        fields.setdefault("cf_attendees", ", ".join(self._others[meeting_id]))
        self.seeder.revise(meeting_id, contacts=self._contacts[meeting_id], **fields)

    def update_meeting(
        self,
        meeting_id: str,
        *,
        title: str | None = None,
        start: dt.date | dt.datetime | None = None,
        end: dt.date | dt.datetime | None = None,
        location: str | None = None,
    ) -> None:
        fields: dict[str, str] = {}
        if title is not None:
            fields["subject"] = title
        if start is not None and end is not None:
            fields.update(self._times(start, end))
        if location is not None:
            fields["location"] = location
        self._save(meeting_id, **fields)

    def add_attendee(self, meeting_id: str, party: PartyRef) -> None:
        if party.type is EntityType.CONTACT:
            self._contacts[meeting_id].append(party.id)
        else:
            self._others[meeting_id].append(self._address(party))
        self._save(meeting_id)

    def remove_attendee(self, meeting_id: str, party: PartyRef) -> None:
        if party.type is EntityType.CONTACT:
            self._contacts[meeting_id].remove(party.id)
        else:
            self._others[meeting_id].remove(self._address(party))
        self._save(meeting_id)

    def cancel_meeting(self, meeting_id: str) -> None:
        self._save(meeting_id, eventstatus="Not Held")

    def delete_meeting(self, meeting_id: str) -> None:
        self.seeder.delete(meeting_id)

    def move_occurrence(
        self, meeting_id: str, recurrence_id: object, start: object, end: object
    ) -> None:
        pytest.skip("vtiger keeps each occurrence of a repeating event as its own record")

    def cancel_occurrence(self, meeting_id: str, recurrence_id: object) -> None:
        pytest.skip("vtiger keeps each occurrence of a repeating event as its own record")

    # -- read back -----------------------------------------------------------------------

    def response_of(self, meeting_id: str, email: str) -> str | None:
        rows = [
            r
            for r in self.fake.records.values()
            if r.module == "ModComments" and f"({meeting_id})" in str(r.values["commentcontent"])
        ]
        for record in sorted(rows, key=lambda r: r.crmid, reverse=True):
            match = _RESPONSE.match(str(record.values["commentcontent"]))
            if match and match.group(1).casefold() == email.casefold():
                return match.group(2)
        return None

    def logs(self) -> list[LogEntry]:
        return list(self.catcher.entries)


@contextmanager
def vtiger_harness_parts(
    email_fields: Mapping[EntityType, int] | None = None,
) -> Iterator[tuple[VtigerCrm, VtigerSeeder]]:
    """The adapter and its seeder over a fresh fake vtiger; closed on exit."""
    fake = FakeVtiger(access_key=ACCESS_KEY)
    fake.sync_mode = "patched"
    for module, fields in _CUSTOM.items():
        for name, kind in fields:
            fake.add_field(module, name, kind)
    server = FakeVtigerServer(fake)
    counts = {t: 1 for t in EntityType} | dict(email_fields or {})
    options = make_options(
        server.url,
        attendees_field="cf_attendees",
        calendar_field="cf_calendar",
        sync_field="cf_sync",
        meeting_time_zone_field="cf_tz",
        service_activity_types=("Mobile Call",),
        email_fields={
            EntityType.USER: ("email1", "email2"),
            EntityType.CONTACT: ("email", "secondaryemail", "cf_email3"),
            EntityType.ACCOUNT: ("email1", "email2"),
            EntityType.LEAD: ("email", "secondaryemail"),
        },
        invite_email_count=counts,
        language_fields={EntityType.USER: "language", EntityType.CONTACT: "cf_language"},
        time_zone_fields={EntityType.USER: "time_zone", EntityType.CONTACT: "cf_timezone"},
    )
    catcher = _LogCatcher()
    log = logging.getLogger("invitegw.crm_adapter.vtiger.crmlog")
    level = log.level
    log.setLevel(logging.INFO)  # entries at INFO too, whatever the root logger says
    log.addHandler(catcher)
    seeder = Seeder(server.url, fake)
    crm = VtigerCrm(options)
    try:
        yield crm, VtigerSeeder(fake, seeder, catcher)
    finally:
        log.removeHandler(catcher)
        log.setLevel(level)
        crm.close()
        seeder.close()
        server.close()
