"""The gateway on vtiger when the "Send invitations" checkbox is added later (issue 11).

vtiger reads ``"0"`` for a new checkbox on every existing record and on records made
through its webservice (``test_send_switch.py``). Before this was handled, mapping such a
field made the next edit of an already invited meeting send a CANCEL to everyone. Here,
against the fake vtiger and a real SMTP sink, ``invitegw serve --once`` after each step:

- an invited meeting whose box reads ``0`` but was never seen ticked is *held*: updates go
  on, nothing is cancelled, a warning is logged once;
- the administrator's mass update (box ticked everywhere) sends nothing;
- a person unticking it after that is a deliberate act: logged as such, and a CANCEL;
- at a first start with the field mapped, meetings adopted while their box read ``0`` stay
  silent when the mass update ticks them.
"""

from __future__ import annotations

import io
import json
import os
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from invitegw.gateway.bootstrap import build_gateway, build_outbound
from invitegw.gateway.cli import main
from invitegw.gateway.config import load_settings
from invitegw.gateway.storage import EventLogEntry, Store
from invitegw.ics import parse_calendar
from invitegw.mailbox.mime import extract
from tests.crm_adapter.vtiger.conftest import ACCESS_KEY, Seeder
from tests.crm_adapter.vtiger.replay_server import FakeVtiger, FakeVtigerServer, ManualClock
from tests.fixtures.smtp_sink import SmtpSink
from tests.gateway.outbound.harness import write_config

SWITCH = "cf_853"


class Gateway:
    """The CLI over one config file, rewritten when the vtiger options change."""

    def __init__(self, path: Path, store: Store, sink: SmtpSink, url: str) -> None:
        self.path, self.store, self.sink, self.url = path, store, sink, url

    def configure(self, **vtiger: str) -> None:
        extra = f'[crm]\nadapter = "vtiger"\n[crm.vtiger]\nurl = "{self.url}"\n'
        extra += 'username = "admin"\ntimeout = 5\n'
        extra += "".join(f'{key} = "{value}"\n' for key, value in vtiger.items())
        write_config(self.path, self.store, self.sink.port, extra)

    def run(self, *args: str) -> None:
        assert main(["--config", str(self.path), *args]) == 0

    def pass_sends(self) -> dict[str, tuple[str, int]]:
        """``serve --once``; recipient -> (METHOD, SEQUENCE) of what it sent."""
        seen = len(self.sink.messages)
        self.run("serve", "--once")
        found = {}
        for received in self.sink.messages[seen:]:
            [part] = extract(received.raw).calendar_parts
            calendar = parse_calendar(part.data, mime_method=part.mime_method)
            for rcpt in received.rcpt_tos:
                found[rcpt.lower()] = (calendar.method.value, calendar.events[0].sequence)
        return found

    def first_start(self) -> tuple[dict[str, Any], str]:
        """``status --json``'s first start and ``status``'s text (any verdict)."""
        found = []
        for extra in (["--json"], []):
            out = io.StringIO()
            with redirect_stdout(out):
                main(["--config", str(self.path), "status", "--no-crm-check", *extra])
            found.append(out.getvalue())
        return json.loads(found[0])["first_start"], found[1]

    def logged(self, kind: str) -> list[str]:
        with self.store.session() as session:
            rows = session.scalars(select(EventLogEntry).where(EventLogEntry.kind == kind))
            return [row.text for row in rows]


@pytest.fixture
def gateway(
    tmp_path: Path,
    store: Store,
    smtp_sink: SmtpSink,
    server: FakeVtigerServer,
    monkeypatch: pytest.MonkeyPatch,
) -> Gateway:
    monkeypatch.setenv("INVITEGW_CRM__VTIGER__ACCESS_KEY", ACCESS_KEY)
    return Gateway(tmp_path / "invitegw.toml", store, smtp_sink, server.url)


BOTH = {"anna.nowak@example.org", "admin@example.test"}


def test_a_checkbox_added_after_the_invitations_never_cancels_them_by_itself(
    gateway: Gateway, seed: Seeder, fake: FakeVtiger, clock: ManualClock
) -> None:
    gateway.configure()
    gateway.run("outbound", "baseline")  # the first start, before any meeting
    anna = seed.contact("Anna", "Nowak", "anna.nowak@example.org")
    meeting = seed.event("Contract review", contacts=[anna])
    assert gateway.pass_sends() == dict.fromkeys(BOTH, ("REQUEST", 0))

    # The administrator adds the checkbox and maps it at once (the unsafe order).
    fake.add_field("Events", SWITCH, "boolean", label="Send invitations", default="1")
    gateway.configure(sync_field=SWITCH)
    clock.advance(60)
    seed.revise(meeting, contacts=[anna], time_start="11:00:00", time_end="12:00:00")
    assert gateway.pass_sends() == dict.fromkeys(BOTH, ("REQUEST", 1))  # held, not cancelled
    [held] = gateway.logged("switch-held")
    assert "nothing cancelled" in held

    clock.advance(60)
    seed.revise(meeting, contacts=[anna], **{SWITCH: "1"})  # the mass update
    assert gateway.pass_sends() == {}
    assert len(gateway.logged("switch-held")) == 1

    clock.advance(60)
    seed.revise(meeting, contacts=[anna], **{SWITCH: "0"})  # a person unticks it
    assert gateway.pass_sends() == dict.fromkeys(BOTH, ("CANCEL", 2))
    [deliberate] = gateway.logged("switch-off")
    assert "a person turned it off" in deliberate


def test_meetings_adopted_with_the_box_unticked_stay_silent_through_the_mass_update(
    gateway: Gateway, seed: Seeder, fake: FakeVtiger, clock: ManualClock
) -> None:
    fake.add_field("Events", SWITCH, "boolean", label="Send invitations", default="1")
    anna = seed.contact("Anna", "Nowak", "anna.nowak@example.org")
    meeting = seed.event("Planned before the gateway", contacts=[anna])  # reads "0"
    gateway.configure(sync_field=SWITCH)
    assert gateway.pass_sends() == {}  # the first start: adopted
    clock.advance(60)
    seed.revise(meeting, contacts=[anna], **{SWITCH: "1"})
    assert gateway.pass_sends() == {}
    clock.advance(60)
    seed.revise(meeting, contacts=[anna], location="Room 2")  # a real change
    assert gateway.pass_sends() == dict.fromkeys(BOTH, ("REQUEST", 1))


def test_the_existence_check_leaves_adopted_meetings_alone(
    gateway: Gateway, seed: Seeder, clock: ManualClock
) -> None:
    anna = seed.contact("Anna", "Nowak", "anna.nowak@example.org")
    adopted = seed.event("Planned before the gateway", contacts=[anna])
    gateway.configure()
    assert gateway.pass_sends() == {}  # the first start: adopted
    invited = seed.event("Planned after it", contacts=[anna])
    assert gateway.pass_sends() == dict.fromkeys(BOTH, ("REQUEST", 0))
    clock.advance(60)
    seed.delete(adopted)
    seed.delete(invited)
    built = build_gateway(load_settings(gateway.path, os.environ), store=gateway.store)
    try:
        report = build_outbound(built).check_existence()
    finally:
        built.close()
    assert report.deleted_found == 1  # the invited one; nobody holds the adopted one
    assert gateway.pass_sends() == dict.fromkeys(BOTH, ("CANCEL", 1))


def test_status_and_the_console_name_the_meetings_the_switch_holds(
    gateway: Gateway, seed: Seeder, fake: FakeVtiger, clock: ManualClock, tmp_path: Path
) -> None:
    gateway.configure()
    gateway.run("outbound", "baseline")
    anna = seed.contact("Anna", "Nowak", "anna.nowak@example.org")
    meeting = seed.event("Contract review", contacts=[anna])
    gateway.pass_sends()
    first, text = gateway.first_start()
    assert (first["baseline"], first["adopted"], first["held"]) == ("taken", 0, 0)
    assert "send switch no meeting held" in text

    fake.add_field("Events", SWITCH, "boolean", label="Send invitations", default="1")
    gateway.configure(sync_field=SWITCH)
    clock.advance(60)
    seed.revise(meeting, contacts=[anna], location="Room 2")
    assert gateway.pass_sends() == dict.fromkeys(BOTH, ("REQUEST", 1))  # held
    first, text = gateway.first_start()
    assert (first["held"], first["held_meetings"]) == (1, [meeting])
    assert "send switch 1 meeting(s) held: the switch reads off" in text
    assert f"(meetings {meeting})" in text
    _console_shows_the_hold(gateway, meeting, tmp_path)

    clock.advance(60)
    seed.revise(meeting, contacts=[anna], location="Room 2", **{SWITCH: "1"})  # mass update
    assert gateway.pass_sends() == {}
    assert gateway.first_start()[0]["held"] == 0


def _console_shows_the_hold(gateway: Gateway, meeting: str, tmp_path: Path) -> None:
    """The console's overview on the same database: the count, a link to the meeting."""
    from invitegw.gateway.http.admin import admin_routes
    from invitegw.gateway.http.admin.passwords import hash_password
    from invitegw.gateway.http.app import build_http_app
    from invitegw.gateway.http.server import HttpService
    from tests.gateway.admin.harness import PASSWORD, SESSION_KEY, signed_in

    config = tmp_path / "console.toml"
    config.write_text(gateway.path.read_text() + "[admin]\nenabled = true\n")
    env = {
        **os.environ,
        "INVITEGW_ADMIN__PASSWORD_HASH": hash_password(PASSWORD),
        "INVITEGW_ADMIN__SESSION_KEY": SESSION_KEY,
    }
    built = build_gateway(load_settings(config, env), store=gateway.store)
    service = HttpService(build_http_app(built, extra_routes=admin_routes(built)), "127.0.0.1", 0)
    service.start()
    try:
        with signed_in(service.url) as client:
            page = client.get("/admin/")
            assert page.status_code == 200
            assert "1 meeting(s) held" in page.text
            link = f'href="/admin/meeting?id={meeting}"'
            assert link in page.text
            history = client.get(f"/admin/meeting?id={meeting}")
            assert history.status_code == 200
            assert "anna.nowak@example.org" in history.text
    finally:
        service.stop()
        built.close()
