"""Fixtures: the fake vtiger on loopback, the adapter pointed at it, and a seeding client.

Records are seeded the way a CRM user makes them: through the webservice, with a second
session (``Seeder``), so the adapter only ever sees what vtiger would show it. The fake's
clock is a :class:`ManualClock` so tests decide which changes share a second.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from invitegw.crm_adapter.vtiger import VtigerClient, VtigerCrm, VtigerOptions
from tests.crm_adapter.vtiger.replay_server import FakeVtiger, FakeVtigerServer, ManualClock

ACCESS_KEY = "fake-access-key-0123"
# 2026-11-23 16:00:00 UTC, the day the recordings were made.
START = dt.datetime(2026, 11, 23, 16, 0, 0, tzinfo=dt.UTC).timestamp()


def make_options(url: str, **changes: Any) -> VtigerOptions:
    """Options for the fake (tests override single fields)."""
    settings: dict[str, Any] = {"timeout": 5.0, **changes}
    return VtigerOptions(url=url, username="admin", access_key=ACCESS_KEY, **settings)


class Seeder:
    """Creates and changes records through its own webservice session (real HTTP)."""

    def __init__(self, url: str, fake: FakeVtiger) -> None:
        self.fake = fake
        self.client = VtigerClient(make_options(url))
        self.admin = self.client.login_info.user_id

    def close(self) -> None:
        self.client.close()

    def account(self, name: str, email1: str = "", **fields: str) -> str:
        element = {"accountname": name, "email1": email1, "assigned_user_id": self.admin, **fields}
        return str(self.client.create("Accounts", element)["id"])

    def contact(self, first: str, last: str, email: str = "", **fields: str) -> str:
        element = {
            "firstname": first,
            "lastname": last,
            "email": email,
            "assigned_user_id": self.admin,
            **fields,
        }
        return str(self.client.create("Contacts", element)["id"])

    def lead(self, first: str, last: str, email: str = "", **fields: str) -> str:
        element = {
            "firstname": first,
            "lastname": last,
            "email": email,
            "assigned_user_id": self.admin,
            **fields,
        }
        return str(self.client.create("Leads", element)["id"])

    def event(
        self,
        subject: str,
        start: str = "2030-01-15 09:00:00",
        end: str = "2030-01-15 10:00:00",
        *,
        contacts: Sequence[str] = (),
        invitees: Sequence[str] = (),
        **fields: str,
    ) -> str:
        """An Events record as vtiger's UI would make it (times in the server's zone)."""
        day_start, time_start = start.split()
        day_end, time_end = end.split()
        element = {
            "subject": subject,
            "activitytype": "Meeting",
            "eventstatus": "Planned",
            "date_start": day_start,
            "time_start": time_start,
            "due_date": day_end,
            "time_end": time_end,
            "duration_hours": "1",
            "assigned_user_id": self.admin,
            **fields,
        }
        if contacts:
            element.setdefault("contact_id", contacts[0])
        return str(self.client.create("Events", element, self._lists(contacts, invitees))["id"])

    def revise(
        self,
        ws_id: str,
        *,
        contacts: Sequence[str] = (),
        invitees: Sequence[str] = (),
        **fields: str,
    ) -> dict[str, Any]:
        module = "Events" if ws_id.startswith(self.fake.modules["Events"].prefix + "x") else "Other"
        extra = self._lists(contacts, invitees) if module == "Events" else {}
        return self.client.revise({"id": ws_id, **fields}, module=module, extra=extra)

    def delete(self, ws_id: str) -> None:
        self.client.call("delete", {"id": ws_id}, post=True)

    def _lists(self, contacts: Sequence[str], invitees: Sequence[str]) -> dict[str, str]:
        return {
            "contactidlist": ";".join(c.partition("x")[2] for c in contacts),
            "inviteesid": ";".join(u.partition("x")[2] for u in invitees or [self.admin]),
        }


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def fake(clock: ManualClock) -> FakeVtiger:
    return FakeVtiger(clock=clock, access_key=ACCESS_KEY)


@pytest.fixture
def server(fake: FakeVtiger) -> Iterator[FakeVtigerServer]:
    running = FakeVtigerServer(fake)
    yield running
    running.close()


@pytest.fixture
def seed(server: FakeVtigerServer, fake: FakeVtiger) -> Iterator[Seeder]:
    seeder = Seeder(server.url, fake)
    yield seeder
    seeder.close()


@pytest.fixture
def crm(server: FakeVtigerServer) -> Iterator[VtigerCrm]:
    adapter = VtigerCrm(make_options(server.url))
    yield adapter
    adapter.close()


def requests_of(fake: FakeVtiger, operation: str) -> list[dict[str, str]]:
    """The parameters of every request the fake received for one operation."""
    return [params for _, op, params in fake.requests if op == operation]


def element_of(params: dict[str, str]) -> dict[str, Any]:
    value = json.loads(params["element"])
    assert isinstance(value, dict)
    return value
