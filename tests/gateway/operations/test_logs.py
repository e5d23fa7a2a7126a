"""``[logging] format = "json"``: one object per line, stable keys, no secret, no body.

The lines of a real ``serve --once`` (subprocess, with the outbound side sending through
an aiosmtpd sink) and of the inbound pipeline on real messages are parsed line by line.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from invitegw.crm_adapter.builtin.admin import MeetingDraft, SqlCrmAdmin
from invitegw.domain.records import EntityType
from invitegw.gateway.bootstrap import build_gateway, inbound_pipeline
from invitegw.gateway.config import LogFormat, LoggingSettings, LogLevelName, load_settings
from invitegw.gateway.inbound.model import ReceivedMessage
from invitegw.gateway.logs import KEYS, configure_logging
from invitegw.gateway.metrics import Instruments, ObservedPipeline
from invitegw.gateway.storage import Store
from tests.fixtures.smtp_sink import SmtpSink
from tests.gateway.inbound.service_mails import google_invitation, malformed
from tests.gateway.operations.harness import config_text

BODY_MARKER = "Zyxwvut-body-text-never-logged"
SECRET = "s3cret-Password-never-logged"
STABLE = {"time", "level", "logger", "message", *KEYS}


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    ours = logging.getLogger("invitegw")
    our_level = ours.level
    try:
        yield
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
        ours.setLevel(our_level)
        logging.getLogger("invitegw.gateway.inbound").setLevel(logging.NOTSET)


def parse_lines(text: str) -> list[dict[str, object]]:
    """Every line as JSON; every line must be one object with the stable keys."""
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    for line in lines:
        assert isinstance(line, dict)
        assert set(line) >= STABLE, line
    return lines


def test_pipeline_events_as_json_lines(store: Store, tmp_path: Path, restore_logging: None) -> None:
    config = tmp_path / "invitegw.toml"
    config.write_text(config_text(store, tmp_path / "data", smtp_port=25))
    settings = load_settings(config, {"INVITEGW_SMTP__PASSWORD": SECRET})
    gateway = build_gateway(settings, store=store)
    out = io.StringIO()
    configure_logging(
        LoggingSettings(
            format=LogFormat.JSON,
            level=LogLevelName.INFO,
            levels=("invitegw.gateway.inbound=debug",),
        ),
        stream=out,
    )
    pipeline = ObservedPipeline(inbound_pipeline(gateway), Instruments())
    invitation = google_invitation(
        sender="gina@example.org", to="olga@example.com", summary=BODY_MARKER
    )
    for raw in (invitation, invitation, malformed(sender="gina@example.org", to="o@example.com")):
        pipeline.handle(ReceivedMessage(raw=raw, source="sales", owner="olga@example.com"))
    gateway.close()

    lines = parse_lines(out.getvalue())
    events = [line for line in lines if line["event"] == "inbound.message"]
    assert [e["outcome"] for e in events][1] == "already_processed"
    assert events[2]["outcome"] == "quarantined"
    for event in events:
        assert event["mailbox"] == "sales"
        assert isinstance(event["duration_ms"], float)
        assert event["message_id"]
        assert event["level"] == "info"
    assert any(line["level"] == "debug" for line in lines)  # the per-logger level applied
    assert BODY_MARKER not in out.getvalue()
    assert SECRET not in out.getvalue()


def test_under_journald_lines_carry_their_priority(
    tmp_path: Path, restore_logging: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "journal"
    with path.open("w") as stream:
        info = os.fstat(stream.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", f"{info.st_dev}:{info.st_ino}")
        configure_logging(LoggingSettings(), stream=stream)
        logging.getLogger("invitegw.test").warning("careful")
        logging.getLogger("invitegw.test").info("fine")
    lines = path.read_text().splitlines()
    assert lines == ["<4>WARNING invitegw.test: careful", "<6>INFO invitegw.test: fine"]


def test_serve_once_writes_only_json_lines(
    store: Store, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=10)
    config = tmp_path / "invitegw.toml"
    config.write_text(
        config_text(store, tmp_path / "data", smtp_port=smtp_sink.port)
        + '[logging]\nformat = "json"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVITEGW_")}
    baseline = [sys.executable, "-m", "invitegw", "--config", str(config), "outbound", "baseline"]
    # The first start's baseline, on the empty CRM: the meeting made next is new.
    subprocess.run(baseline, env=env, capture_output=True, timeout=180, check=True)
    with store.session() as session:
        crm = SqlCrmAdmin(session)
        crm.add_party(EntityType.USER, ["olga@example.com"], name="Olga")
        crm.add_party(EntityType.CONTACT, ["gina@example.org"], name="Gina", account="Acme")
        crm.create_meeting(
            dataclasses.replace(
                MeetingDraft(
                    title=BODY_MARKER,
                    start=start,
                    end=start + dt.timedelta(hours=1),
                    organizer="olga@example.com",
                    attendees=["gina@example.org"],
                    time_zone="Europe/Warsaw",
                    location="",
                    description=BODY_MARKER,
                    rrule=None,
                )
            )
        )
    done = subprocess.run(
        [sys.executable, "-m", "invitegw", "--config", str(config), "serve", "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = parse_lines(done.stderr)
    deliveries = [line for line in lines if line["event"] == "outbound.delivery"]
    assert deliveries
    assert all(d["outcome"] == "sent" and d["meeting"] for d in deliveries)
    assert BODY_MARKER not in done.stderr
    assert smtp_sink.wait_for(len(deliveries))
