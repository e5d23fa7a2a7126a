"""The CLI as an unlucky administrator and a hostile sender meet it.

- no password of a database URL is printed or logged (``check-config``, errors, logs);
- a setting that does not apply (a database password with SQLite) is a warning, not a
  traceback;
- control characters from a message (UID, Message-ID, Subject, file name) never reach
  the terminal as such: ``ingest``, ``quarantine list``, ``ics inspect``, ``crm task list``;
- the data folder is made 0700 and the database 0600, and ``check-config`` warns when
  they are wider.
"""

from __future__ import annotations

import io
import json
import logging
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from invitegw.gateway.cli import main
from invitegw.gateway.commands.terminal import (
    SafeLogFilter,
    escape_controls,
    for_terminal,
    install_log_filter,
)

Run = Callable[..., tuple[int, str, str]]
ESC = "\x1b"
SECRET = "s3cret-pw"

# What a hostile sender puts where the CLI shows it: a screen clear, a window title, a
# carriage return that overwrites the line, a bidi override, a C1 CSI.
# (No CR in them: in a message a CR ends the line; escape_controls is tested with one.)
HOSTILE = f"{ESC}[2J{ESC}]0;owned\x07fake\u202eevil\x9b31m"
HOSTILE_ASCII = f"{ESC}[2J{ESC}]0;owned\x07fake"


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    """The CLI in an empty folder: the embedded database and built-in CRM in ./data."""
    monkeypatch.chdir(tmp_path)

    def invoke(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke


def _unsafe(text: str) -> list[str]:
    return [c for c in text if c in "\x1b\x07\r\x9b\u202e"]


# -- 4: credentials in URLs ---------------------------------------------------------------------


def test_check_config_never_prints_the_password_of_the_database_url(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INVITEGW_DATABASE__URL", f"postgresql://gw:{SECRET}@127.0.0.1:1/gw")
    code, out, err = run("check-config")
    assert code == 0
    assert SECRET not in out + err
    assert "postgresql://gw:<redacted>@127.0.0.1:1/gw" in out


def test_an_invalid_database_url_is_one_line_without_its_password(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INVITEGW_DATABASE__URL", f"postgresql://gw:{SECRET}@db:notaport/gw")
    code, out, err = run("db", "current")
    assert code == 1
    assert SECRET not in out + err
    assert err.startswith("invitegw: error: ")
    assert err.count("\n") == 1


def test_log_lines_have_url_passwords_redacted_and_controls_escaped() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("tests.hardening")
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        install_log_filter(logger)
        install_log_filter(logger)  # once per handler, however often asked
        assert sum(isinstance(f, SafeLogFilter) for f in handler.filters) == 1
        logger.warning("connecting to %s for %s", f"https://u:{SECRET}@crm.example/x", HOSTILE)
        try:
            raise ValueError(f"bad UID {HOSTILE} at postgresql://gw:{SECRET}@db/x")
        except ValueError:
            logger.exception("processing failed")
    finally:
        logger.removeHandler(handler)
    line = stream.getvalue()
    assert SECRET not in line
    assert "https://u:<redacted>@crm.example/x" in line
    assert _unsafe(line) == []
    assert "\\u001b[2J" in line


# -- 5: a setting that does not apply -----------------------------------------------------------


def test_a_database_password_with_sqlite_is_a_warning_not_a_traceback(
    run: Run, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("INVITEGW_DATABASE__PASSWORD", SECRET)
    code, out, err = run("crm", "user", "add", "olga@example.com", "--name", "Olga")
    assert code == 0, err
    assert "Traceback" not in err
    assert "SQLite, which has no password: ignored" in caplog.text
    assert SECRET not in out + err + caplog.text
    assert run("db", "current")[0] == 0


# -- 7: control characters from messages --------------------------------------------------------


def _hostile_message() -> bytes:
    calendar = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//y//EN\r\nMETHOD:REQUEST\r\n"
        "BEGIN:VEVENT\r\nDTSTART:20300304T090000Z\r\nDTEND:20300304T100000Z\r\n"
        "DTSTAMP:20300101T080000Z\r\nORGANIZER;CN=Gina:mailto:gina@example.org\r\n"
        f"UID:{HOSTILE}@example.org\r\nSEQUENCE:0\r\nSUMMARY:{HOSTILE}\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    head = (
        "From: Mallory <mallory@elsewhere.example>\r\nTo: olga@example.com\r\n"
        f"Subject: {HOSTILE_ASCII}\r\nMessage-ID: <{HOSTILE_ASCII}@elsewhere.example>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/calendar; method=REQUEST; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
    )
    return (head + calendar).encode("utf-8")


def test_ingest_quarantine_and_inspect_escape_what_the_message_says(
    run: Run, tmp_path: Path
) -> None:
    assert run("crm", "user", "add", "olga@example.com", "--name", "Olga")[0] == 0
    name = tmp_path / f"evil{ESC}[31m.eml"
    name.write_bytes(_hostile_message())

    code, out, err = run("ingest", str(name))
    assert _unsafe(out + err) == []
    assert "\\u001b" in out  # shown, escaped
    assert "quarantined" in out

    code, out, err = run("quarantine", "list")
    assert code == 0
    assert _unsafe(out + err) == []
    assert "\\u001b" in out

    code, out, _ = run("quarantine", "list", "--json")
    [held] = [json.loads(line) for line in out.splitlines()]
    assert held["message_id"].startswith(f"{ESC}[2J")  # JSON keeps the value

    code, out, err = run("ics", "inspect", str(name))
    assert _unsafe(out + err) == []
    assert "\\u001b[2J" in out


def test_crm_task_list_escapes_a_hostile_title(run: Run, tmp_path: Path) -> None:
    assert run("crm", "user", "add", "olga@example.com", "--name", "Olga")[0] == 0
    assert run("crm", "contact", "add", "gina@example.org", "--name", "Gina")[0] == 0
    path = tmp_path / "ok.eml"
    path.write_bytes(_hostile_message().replace(b"mallory@elsewhere.example", b"gina@example.org"))
    code, out, err = run("ingest", str(path), "--owner", "olga@example.com")
    assert "created" in out, out + err
    code, out, err = run("crm", "task", "list")
    assert code == 0
    assert _unsafe(out + err) == []
    assert "\\u001b[2J" in out


def test_escape_controls_keeps_ordinary_text() -> None:
    text = "Zażółć gęślą jaźń — 会議 \u00a0\tend"
    assert escape_controls(text) == text
    assert escape_controls("a\nb") == "a\\u000ab"
    assert escape_controls("a\nb", keep_newlines=True) == "a\nb"
    assert escape_controls("ok\rfake") == "ok\\u000dfake"
    assert for_terminal(None) == ""
    assert for_terminal(f"postgresql://u:{SECRET}@h/db") == "postgresql://u:<redacted>@h/db"


# -- 9: permissions ------------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_folder_and_database_are_private_whatever_the_umask(
    run: Run, tmp_path: Path
) -> None:
    previous = os.umask(0o022)
    try:
        assert run("crm", "user", "add", "olga@example.com", "--name", "Olga")[0] == 0
    finally:
        os.umask(previous)
    data = tmp_path / "data"
    assert _mode(data) == 0o700
    assert _mode(data / "invitegw.sqlite3") == 0o600
    for companion in ("invitegw.sqlite3-wal", "invitegw.sqlite3-shm"):
        if (data / companion).exists():
            assert _mode(data / companion) == 0o600
    code, _, err = run("check-config")
    assert code == 0
    assert "warning" not in err


def test_check_config_warns_when_the_data_is_readable_by_others(run: Run, tmp_path: Path) -> None:
    assert run("crm", "user", "add", "olga@example.com", "--name", "Olga")[0] == 0
    data = tmp_path / "data"
    data.chmod(0o755)
    (data / "invitegw.sqlite3").chmod(0o644)
    code, _, err = run("check-config")
    assert code == 0
    assert f"the data folder {data} is 0755" in err
    assert f"chmod 700 {data}" in err
    assert "invitegw.sqlite3 is 0644" in err
