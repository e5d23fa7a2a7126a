"""The whole gateway on a CRM adapter that only the registry knows: ``crm.adapter = "fake_memory"``.

The in-memory test adapter (``memory_adapter.py``) is registered by a fixture; the
configuration names it and gives its table, its secret comes from the environment, and
then the real CLI runs one outbound pass (``serve --once``: a REQUEST over SMTP to a real
aiosmtpd sink) and ingests one invitation (a task in the fake CRM, once), and an
attendee's answer is recorded on the meeting, on the real database of each engine.
"""

from __future__ import annotations

import datetime as dt
import os
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from invitegw.domain.records import EntityType, TaskStatus
from invitegw.gateway.bootstrap import build_gateway
from invitegw.gateway.cli import main
from invitegw.gateway.config import load_settings
from invitegw.gateway.storage import Store
from invitegw.ics import PartStat, build_reply, parse_calendar
from invitegw.mailbox.mime import extract
from tests.crm_adapter.contract import MeetingSpec
from tests.crm_adapter.memory_adapter import FakeMemoryCrm, MemorySeeder, MemoryWorld, world
from tests.fixtures.smtp_sink import SmtpSink
from tests.gateway.inbound.builders import calendar, invitation, vevent
from tests.gateway.outbound.harness import write_config

WARSAW = ZoneInfo("Europe/Warsaw")


@pytest.fixture
def config(
    tmp_path: Path,
    store: Store,
    smtp_sink: SmtpSink,
    fake_memory: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    monkeypatch.setenv("INVITEGW_CRM__FAKE_MEMORY__TOKEN", "t0ken")
    extra = '[crm]\nadapter = "fake_memory"\n[crm.fake_memory]\nworld = "e2e"\n'
    return write_config(tmp_path / "invitegw.toml", store, smtp_sink.port, extra)


@pytest.fixture
def records(config: Path) -> MemoryWorld:
    return world("e2e")


def test_the_gateway_is_built_on_the_registered_adapter(config: Path, records: MemoryWorld) -> None:
    gateway = build_gateway(load_settings(config, os.environ))
    try:
        with gateway.store.session() as session:
            crm = gateway.crm(session)
            assert isinstance(crm, FakeMemoryCrm)
            assert crm.world is records
        with gateway.store.session() as session:
            assert gateway.crm(session) is crm  # one adapter for the process
    finally:
        gateway.close()
    assert records.closed == 1  # the binding's close hook ran


def test_one_outbound_pass_and_one_inbound_message(
    config: Path, records: MemoryWorld, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    # The first start's baseline, on the empty CRM: the meeting made next is new.
    assert main(["--config", str(config), "outbound", "baseline"]) == 0
    seed = MemorySeeder(records)
    sam = seed.add_party(EntityType.USER, ["sam@example.com"], name="Sam Staff")
    olivia = seed.add_party(EntityType.CONTACT, ["olivia@partner.example"], name="Olivia")
    start = dt.datetime(2030, 6, 3, 10, 0, tzinfo=WARSAW)
    meeting = seed.add_meeting(
        MeetingSpec(
            "Kick-off",
            start,
            start + dt.timedelta(hours=1),
            organizer=sam,
            attendees=(olivia,),
            time_zone="Europe/Warsaw",
        )
    )

    # Outbound: the meeting in the fake CRM becomes a REQUEST to the contact.
    assert main(["--config", str(config), "serve", "--once"]) == 0
    [sent] = [m for m in smtp_sink.messages if "olivia@partner.example" in m.rcpt_tos]
    [part] = extract(sent.raw).calendar_parts
    request = parse_calendar(part.data, mime_method=part.mime_method)
    [event] = request.events
    assert (request.method.value, event.summary, event.sequence) == ("REQUEST", "Kick-off", 0)
    assert event.start == start
    before = len(smtp_sink.messages)
    assert main(["--config", str(config), "serve", "--once"]) == 0
    assert len(smtp_sink.messages) == before  # nothing changed: nothing sent

    # Inbound: an invitation from the contact becomes one task for Sam, once.
    raw = invitation(
        calendar(
            "REQUEST",
            vevent(
                uid="visit-1@partner.example",
                start="DTSTART:20300610T070000Z",
                end="DTEND:20300610T080000Z",
                summary="Site visit",
                attendees=("sam@example.com",),
            ),
        ),
        from_="Olivia <olivia@partner.example>",
        to="sam@example.com",
    )
    path = tmp_path / "visit.eml"
    path.write_bytes(raw)
    ingest = ["--config", str(config), "ingest", "--owner", "sam@example.com", str(path)]
    assert main(ingest) == 0
    assert main(ingest) == 0  # the same message again
    [task] = records.tasks.values()
    assert (task.title, task.owner, task.party, task.status) == (
        "Site visit",
        sam,
        olivia,
        TaskStatus.OPEN,
    )
    assert task.start == dt.datetime(2030, 6, 10, 7, 0, tzinfo=dt.UTC)

    # The contact accepts the meeting: the answer is recorded on it in the fake CRM.
    assert event.organizer is not None
    reply = EmailMessage()
    reply["From"] = "Olivia <olivia@partner.example>"
    reply["To"] = event.organizer.email
    reply["Subject"] = "Accepted: Kick-off"
    reply["Message-ID"] = "<accept-1@partner.example>"
    reply.set_content("Olivia has accepted.")
    reply.add_alternative(
        build_reply(event, "olivia@partner.example", PartStat.ACCEPTED),
        maintype="text",
        subtype="calendar",
        params={"method": "REPLY"},
    )
    answer = tmp_path / "accept.eml"
    answer.write_bytes(reply.as_bytes())
    assert main(["--config", str(config), "ingest", str(answer)]) == 0
    assert records.responses == {(meeting, "olivia@partner.example"): "ACCEPTED"}
