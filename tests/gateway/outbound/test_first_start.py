"""The first start against a CRM that already has meetings (issue 11), on the built-in CRM.

A real database and a real SMTP sink: the first pass takes the baseline (every meeting
adopted, nothing sent), a preview shows what the next pass would send and writes nothing,
the first real change of an adopted meeting invites everyone, ``invite-upcoming`` invites
the adopted meetings still ahead on request, and a baseline interrupted half-way resumes.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from invitegw.gateway.app.status import FirstStartStatus, deployment_status
from invitegw.gateway.cli import main
from invitegw.gateway.outbound.feed import BASELINE_CURSOR, FEED_CURSOR, FeedOptions, Outbound
from invitegw.gateway.outbound.first_start import (
    BaselineMarker,
    BaselineState,
    parse_marker,
    started_marker,
    taken_marker,
)
from invitegw.gateway.storage import (
    OutboundMeeting,
    OutboxMessage,
    Store,
    get_cursor,
)
from tests.fixtures.smtp_sink import SmtpSink
from tests.gateway.outbound.builders import WARSAW
from tests.gateway.outbound.harness import (
    OutboundHarness,
    calendar_bytes,
    parse_message,
    write_config,
)

EVERYONE = {"olga@example.com", "carl@example.com", "gina@example.org", "pawel@example.org"}


def _count(store: Store, model: type) -> int:
    with store.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _methods(h: OutboundHarness, since: int) -> dict[str, tuple[str, int]]:
    """recipient -> (METHOD, SEQUENCE) of what the sink got after ``since`` messages."""
    found = {}
    for received in h.received_since(since):
        text = calendar_bytes(parse_message(received.raw)).decode()
        method = text.split("METHOD:", 1)[1].split("\r\n", 1)[0]
        sequence = int(text.split("SEQUENCE:", 1)[1].split("\r\n", 1)[0])
        for rcpt in received.rcpt_tos:
            found[rcpt] = (method, sequence)
    return found


@pytest.fixture
def existing(store: Store, smtp_sink: SmtpSink, tmp_path: Path) -> tuple[OutboundHarness, str]:
    """A CRM with one upcoming meeting, and a gateway that has never polled it."""
    h = OutboundHarness(store, smtp_sink, tmp_path, baseline=False)
    h.seed()
    return h, h.create_meeting()


def test_the_first_start_adopts_what_the_crm_has_and_sends_nothing(
    existing: tuple[OutboundHarness, str], store: Store, smtp_sink: SmtpSink
) -> None:
    h, _ = existing
    report, flush = h.run()
    assert report.baseline
    assert (report.adopted, report.messages, report.actions) == (1, 0, {"adopted": 1})
    assert flush.sent == 0
    assert smtp_sink.messages == []
    assert _count(store, OutboxMessage) == 0
    with store.session() as session:
        assert (get_cursor(session, BASELINE_CURSOR) or "").startswith("taken ")
        [row] = session.scalars(select(OutboundMeeting)).all()
        assert row.adopted_at is not None
    # The next passes: still nothing, and the baseline is not taken twice.
    again, _ = h.run()
    assert (again.baseline, again.adopted, again.messages) == (False, 0, 0)
    assert smtp_sink.messages == []


def test_the_first_real_change_invites_everyone_and_later_ones_update(
    existing: tuple[OutboundHarness, str], smtp_sink: SmtpSink
) -> None:
    h, meeting_id = existing
    h.run()
    with h.admin() as crm:
        crm.update_meeting(meeting_id, description="Scope and plan.")  # the same text
    report, _ = h.run()
    assert report.messages == 0
    assert smtp_sink.messages == []
    h.clock.advance(dt.timedelta(minutes=5))
    with h.admin() as crm:
        crm.update_meeting(meeting_id, start=dt.datetime(2026, 6, 1, 12, tzinfo=WARSAW))
    report, flush = h.run()
    assert report.actions == {"updated": 1}
    assert flush.sent == 4
    assert _methods(h, 0) == {address: ("REQUEST", 1) for address in EVERYONE}
    subjects = {str(parse_message(m.raw)["Subject"]) for m in h.received_since(0)}
    assert all(not s.startswith("Updated") for s in subjects), subjects
    logged = [e.message for e in h.crm_log()]
    assert any("the first invitations from the gateway" in text for text in logged)
    with h.admin() as crm:
        crm.cancel_meeting(meeting_id)
    h.run()
    assert _methods(h, 4) == {address: ("CANCEL", 2) for address in EVERYONE}


def test_an_adopted_meeting_cancelled_before_any_change_sends_nothing(
    existing: tuple[OutboundHarness, str], smtp_sink: SmtpSink
) -> None:
    h, meeting_id = existing
    h.run()
    with h.admin() as crm:
        crm.cancel_meeting(meeting_id)
    report, _ = h.run()
    assert (report.actions, report.messages) == ({"cancelled": 1}, 0)
    assert smtp_sink.messages == []
    assert any("nobody holds it from the gateway" in e.message for e in h.crm_log())


def test_a_meeting_created_after_the_baseline_is_invited(
    existing: tuple[OutboundHarness, str],
) -> None:
    h, _ = existing
    h.run()
    h.create_meeting(title="Created after the first start")
    report, flush = h.run()
    assert report.actions == {"created": 1}
    assert flush.sent == 4


def test_preview_shows_the_baseline_first_and_writes_nothing(
    existing: tuple[OutboundHarness, str], store: Store, smtp_sink: SmtpSink
) -> None:
    h, meeting_id = existing
    preview = h.outbound.preview()
    assert preview.baseline
    assert [(p.meeting_id, p.action, p.messages) for p in preview.plans or []] == [
        (meeting_id, "adopted", ())
    ]
    assert _count(store, OutboundMeeting) == 0
    with store.session() as session:
        assert get_cursor(session, FEED_CURSOR) is None
        assert get_cursor(session, BASELINE_CURSOR) is None
    h.run()
    h.create_meeting(title="Next week's review")
    preview = h.outbound.preview()
    assert not preview.baseline
    [planned] = preview.plans or []
    would = {(m.recipient.address, m.method.value, m.sequence) for m in planned.messages}
    assert would == {(address, "REQUEST", 0) for address in EVERYONE}
    assert _count(store, OutboxMessage) == 0
    assert smtp_sink.messages == []
    h.run()  # the real pass sends what the preview said
    assert {(a, m, s) for a, (m, s) in _methods(h, 0).items()} == would


def test_invite_upcoming_invites_the_adopted_meetings_still_ahead_of_a_calendar(
    existing: tuple[OutboundHarness, str], store: Store, smtp_sink: SmtpSink
) -> None:
    h, upcoming = existing
    past = h.create_meeting(
        title="Last year's review",
        start=dt.datetime(2025, 6, 2, 10, tzinfo=WARSAW),
        end=dt.datetime(2025, 6, 2, 11, tzinfo=WARSAW),
        rrule=None,
    )
    h.run()
    dry = h.outbound.invite_upcoming(["sales"], dry_run=True)
    assert [(p.meeting_id, p.action) for p in dry.plans or []] == [(upcoming, "invited")]
    assert _count(store, OutboxMessage) == 0
    assert h.outbound.invite_upcoming(["other"]).meetings == 0
    report = h.outbound.invite_upcoming(["sales"])
    assert (report.actions, report.messages) == ({"invited": 1}, 4)
    h.dispatcher.flush()
    assert _methods(h, 0) == {address: ("REQUEST", 0) for address in EVERYONE}
    with store.session() as session:
        rows = {r.crm_meeting_id: r for r in session.scalars(select(OutboundMeeting))}
        assert rows[upcoming].adopted_at is None
        assert rows[past].adopted_at is not None  # over: never invited
    # Asked again: nothing left to invite.
    assert h.outbound.invite_upcoming(None).messages == 0


def test_a_baseline_stopped_half_way_resumes_on_the_next_pass(
    existing: tuple[OutboundHarness, str], store: Store, smtp_sink: SmtpSink
) -> None:
    h, _ = existing
    h.create_meeting(title="Second")
    h.create_meeting(title="Third")
    small = Outbound(
        h.gateway.units, h.outbound.applier, worker="w1", options=FeedOptions(batch_size=1)
    )
    stop = threading.Event()
    stop.set()  # the worker is told to stop after the first page
    first = small.poll(stop=stop)
    assert (first.baseline, first.adopted) == (False, 1)
    with store.session() as session:
        assert (get_cursor(session, BASELINE_CURSOR) or "").startswith("started ")
    begun = _first_start(h)
    assert (begun.baseline, begun.started_at, begun.adopted) == ("in-progress", h.clock.now, None)
    h.clock.advance(dt.timedelta(minutes=1))
    rest = small.poll()
    assert (rest.baseline, rest.adopted, rest.messages) == (True, 2, 0)
    h.dispatcher.flush()
    assert smtp_sink.messages == []
    # The record counts the whole baseline, the interrupted pass's meeting too.
    taken = _first_start(h)
    assert (taken.baseline, taken.taken_at, taken.adopted) == ("taken", h.clock.now, 3)
    assert taken.started_at is None


def _first_start(h: OutboundHarness) -> FirstStartStatus:
    """The first start as ``status`` and the console read it (the application's use case)."""
    report = deployment_status(h.settings, store=h.store, clock=h.clock, check_crm=False)
    assert report.first_start is not None
    return report.first_start


def test_the_cli_previews_as_json_lines_and_takes_the_baseline(
    store: Store, smtp_sink: SmtpSink, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    h = OutboundHarness(store, smtp_sink, tmp_path, baseline=False)
    h.seed()
    # The CLI runs on the real clock: a meeting still ahead of it.
    meeting_id = h.create_meeting(
        start=dt.datetime(2030, 6, 3, 10, tzinfo=WARSAW),
        end=dt.datetime(2030, 6, 3, 11, tzinfo=WARSAW),
    )
    config = str(write_config(tmp_path / "invitegw.toml", store, smtp_sink.port))
    assert main(["--config", config, "outbound", "preview", "--json"]) == 0
    out, err = capsys.readouterr()
    [record] = [json.loads(line) for line in out.splitlines()]
    assert (record["meeting_id"], record["action"], record["messages"]) == (
        meeting_id,
        "adopted",
        [],
    )
    assert "baseline: 1 existing meeting adopted without sending" in err
    assert (
        main(
            ["--config", config, "outbound", "baseline", "--include-upcoming", "sales", "--dry-run"]
        )
        == 0
    )
    out, err = capsys.readouterr()
    assert "invited" in out  # the table: what the invitations would be
    assert "baseline: 1 existing meeting adopted without sending" in err
    assert "1 meeting(s) planned, 4 message(s) to send" in err
    assert main(["--config", config, "outbound", "baseline"]) == 0
    capsys.readouterr()
    assert main(["--config", config, "serve", "--once"]) == 0
    assert "no changes in the CRM" in capsys.readouterr().out
    assert smtp_sink.messages == []
    assert main(["--config", config, "outbound", "invite-upcoming", "--calendar", "nope"]) == 1
    assert main(["--config", config, "outbound", "invite-upcoming", "--all-calendars"]) == 0
    assert "1 meeting(s) planned, 4 message(s) to send" in capsys.readouterr().err


def test_serve_once_says_it_took_the_baseline(
    existing: tuple[OutboundHarness, str],
    store: Store,
    smtp_sink: SmtpSink,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = str(write_config(tmp_path / "invitegw.toml", store, smtp_sink.port))
    assert main(["--config", config, "serve", "--once", "--json"]) == 0
    [poll] = [
        r for r in map(json.loads, capsys.readouterr().out.splitlines()) if r["job"] == "crm-poll"
    ]
    assert (poll["result"]["baseline"], poll["result"]["adopted"]) == (True, 1)
    assert "plans" not in poll["result"]
    assert main(["--config", config, "serve", "--once"]) == 0
    assert "crm-poll: no changes in the CRM" in capsys.readouterr().out
    assert smtp_sink.messages == []


def test_the_poll_line_names_the_baseline() -> None:
    from invitegw.gateway.commands.serve_output import job_line
    from invitegw.gateway.outbound.feed import OutboundReport
    from invitegw.gateway.scheduler import JobOutcome

    report = OutboundReport(meetings=3, baseline=True, adopted=3, actions={"adopted": 3})
    line = job_line(JobOutcome("crm-poll", ok=True, result=report))
    assert line.startswith("crm-poll: baseline: 3 existing meetings adopted without sending")
    assert "changed" not in line


def test_the_baseline_marker_reads_every_form_it_was_written_in() -> None:
    at = dt.datetime(2026, 6, 1, 9, 12, 44, 123456, tzinfo=dt.UTC)
    assert parse_marker(None) == BaselineMarker(BaselineState.NOT_TAKEN)
    assert parse_marker(started_marker(at)) == BaselineMarker(
        BaselineState.IN_PROGRESS, started_at=at
    )
    assert parse_marker(taken_marker(at, 412)) == BaselineMarker(
        BaselineState.TAKEN, taken_at=at, adopted=412
    )
    # Written before the count was kept (and by the benches): taken, count unknown.
    assert parse_marker(f"taken {at.isoformat()}") == BaselineMarker(
        BaselineState.TAKEN, taken_at=at
    )
    # A time nobody can read keeps the state.
    assert parse_marker("taken yesterday") == BaselineMarker(BaselineState.TAKEN)
    assert parse_marker("started ?") == BaselineMarker(BaselineState.IN_PROGRESS)
