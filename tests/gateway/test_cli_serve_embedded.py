"""``invitegw serve --once`` on the embedded setup: its own SMTP sink writes .eml files.

No configuration file, so the relay is the default loopback one: ``serve`` starts the local
sink there (on a free port the test picks through ``INVITEGW_SMTP__PORT``), every message
lands in ``data/mail/`` as a file a mail client opens, and stderr says so. When something
already listens on the port, mail goes to it; with a configuration file there is never a
sink (a test in ``outbound/test_serve.py`` shows the waiting messages then).
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import smtplib
from collections.abc import Callable
from pathlib import Path

import pytest

from invitegw.errors import ConfigError
from invitegw.gateway.cli import main
from invitegw.gateway.local_sink import LocalSink, is_loopback, port_in_use
from invitegw.mailbox.transport.netutil import pick_free_port
from tests.fixtures.smtp_sink import SmtpSink

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    """The CLI in an empty folder, no configuration file: the embedded setup."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("INVITEGW_CONFIG", raising=False)

    def invoke(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke


def _a_meeting(run: Run) -> None:
    day = (dt.datetime.now(dt.UTC) + dt.timedelta(days=10)).date().isoformat()
    assert run("crm", "user", "add", "olga@example.com", "--name", "Olga")[0] == 0
    assert run("crm", "contact", "add", "gina@example.org", "--name", "Gina")[0] == 0
    code, _, err = run(
        "crm", "meeting", "create", "--title", "Kick-off", "--start", f"{day}T10:00",
        "--end", f"{day}T11:00", "--tz", "Europe/Warsaw", "--organizer", "olga@example.com",
        "--attendee", "gina@example.org",
    )  # fmt: skip
    assert code == 0, err


def test_serve_once_delivers_to_its_own_sink_and_saves_eml_files(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = pick_free_port()
    monkeypatch.setenv("INVITEGW_SMTP__PORT", str(port))
    _a_meeting(run)
    code, out, err = run("serve", "--once")
    assert code == 0, err
    assert f"local SMTP sink on 127.0.0.1:{port} and is saved in data/mail/" in err
    assert "outbox: 2 sent" in out
    assert "not sent yet" not in err
    files = sorted((tmp_path / "data" / "mail").glob("*.eml"))
    assert [f.name.split("-", 3)[3] for f in files] == [
        "olga@example.com.eml",
        "gina@example.org.eml",
    ]
    for file in files:
        message = email.message_from_bytes(file.read_bytes(), policy=email.policy.default)
        assert any(p.get_content_type() == "text/calendar" for p in message.walk())
    assert not port_in_use("127.0.0.1", port)  # stopped with the command


def test_a_taken_port_gets_the_mail_instead(
    run: Run, monkeypatch: pytest.MonkeyPatch, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    monkeypatch.setenv("INVITEGW_SMTP__PORT", str(smtp_sink.port))
    _a_meeting(run)
    code, out, err = run("serve", "--once")
    assert code == 0, err
    assert f"127.0.0.1:{smtp_sink.port} is in use: mail goes to whatever listens there" in err
    assert "outbox: 2 sent" in out
    assert len(smtp_sink.wait_for(2)) == 2
    assert not (tmp_path / "data" / "mail").exists()


def test_a_relay_that_is_not_on_loopback_gets_no_sink(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INVITEGW_SMTP__HOST", "relay.invalid")
    code, _out, err = run("serve", "--once")
    assert code == 0, err
    assert "local SMTP sink" not in err


def test_the_sink_binds_loopback_only_and_never_overwrites(tmp_path: Path) -> None:
    assert is_loopback("127.0.0.1")
    assert is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("192.0.2.1")
    assert not is_loopback("mail.example.com")
    with pytest.raises(ConfigError, match="loopback only"):
        LocalSink(host="0.0.0.0")
    with LocalSink(folder=tmp_path, keep=True) as sink:
        with smtplib.SMTP(sink.host, sink.port, timeout=30) as client:
            for _ in range(2):
                client.sendmail("a@example.org", ["b@example.org"], b"Subject: x\r\n\r\nbody\r\n")
        sink.wait_for(2)
    names = sorted(p.name for p in tmp_path.glob("*.eml"))
    assert len(names) == 2
    assert len(set(names)) == 2
    assert [m.path.name for m in sink.messages if m.path] == names


def test_a_meeting_already_over_says_where_to_read_why_nothing_went_out(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INVITEGW_SMTP__PORT", str(pick_free_port()))
    day = (dt.datetime.now(dt.UTC) - dt.timedelta(days=30)).date().isoformat()
    assert run("crm", "user", "add", "olga@example.com", "--name", "Olga")[0] == 0
    assert run("crm", "contact", "add", "gina@example.org", "--name", "Gina")[0] == 0
    code, _, err = run(
        "crm", "meeting", "create", "--title", "Last month", "--start", f"{day}T10:00",
        "--end", f"{day}T11:00", "--organizer", "olga@example.com",
        "--attendee", "gina@example.org",
    )  # fmt: skip
    assert code == 0, err
    code, out, err = run("serve", "--once")
    assert code == 0, err
    assert out.splitlines()[0] == (
        "crm-poll: 1 meeting changed (1 created), nothing to send "
        "(`invitegw crm log list` says why)"
    )
    code, out, _ = run("crm", "log", "list")
    assert "not sent: the meeting ended" in out
