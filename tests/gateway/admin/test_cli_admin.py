"""`admin hash-password`, `quarantine show|discard`, `outbox history`, as a user runs them."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from invitegw.gateway.http.admin.passwords import verify_password
from tests.gateway.inbound.test_cli_inbound import Run, invitation, lines, run

__all__ = ["run"]


def test_hash_password_reads_stdin_and_prints_a_hash_that_verifies(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough secret\n"))
    code, out, _ = run("admin", "hash-password")
    assert code == 0
    stored = out.strip()
    assert stored.startswith("scrypt$")
    assert verify_password("a long enough secret", stored)
    assert not verify_password("a long enough secreT", stored)
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    code, _, err = run("admin", "hash-password")
    assert code == 1
    assert "12 characters" in err


def test_quarantine_show_then_discard_with_an_audit_trail(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "direct.eml"
    path.write_bytes(invitation("u-9@google.com", "Offer").as_bytes())
    assert run("ingest", str(path))[0] == 0
    code, out, _ = run("quarantine", "show", "1")
    assert code == 0
    assert "quarantine 1 (no_owner)" in out
    assert "Subject: Invitation: Offer" in out
    assert "event: REQUEST 'Offer'" in out
    code, out, _ = run("quarantine", "show", "1", "--json")
    shown = json.loads(out)
    assert shown["message"]["events"][0]["uid"] == "u-9@google.com"

    code, _, err = run("quarantine", "discard", "1")
    assert code == 1
    assert "--yes" in err
    code, out, _ = run("quarantine", "discard", "1", "--yes")
    assert code == 0
    code, out, _ = run("quarantine", "list", "--all", "--json")
    assert lines(out) == []
    code, out, _ = run("outbox", "history", "--message", "u-9@example.org", "--json")
    assert code == 0
    history = json.loads(out)
    assert [p["outcome"] for p in history["processings"]] == ["quarantined"]
    [audit] = [e for e in history["log"] if e["kind"] == "quarantine-discarded"]
    assert "discarded by cli:" in audit["text"]
    code, _, err = run("quarantine", "discard", "1", "--yes")
    assert code == 1
    assert "no quarantined message with id 1" in err


def test_outbox_history_of_an_unknown_meeting_is_a_clear_error(run: Run) -> None:
    code, _, err = run("outbox", "history", "--meeting", "404")
    assert code == 1
    assert "no meeting '404'" in err


def test_outbox_history_of_an_adopted_meeting_reads_line_by_line(run: Run) -> None:
    # The fixture added Olga (a user) and Gina (a contact).
    for args in (
        (
            "crm",
            "meeting",
            "create",
            "--title",
            "Kick-off",
            "--start",
            "2030-06-03T10:00",
            "--end",
            "2030-06-03T11:00",
            "--organizer",
            "olga@example.com",
            "--attendee",
            "gina@example.org",
        ),
        ("outbound", "baseline"),
    ):
        assert run(*args)[0] == 0, args
    code, out, _ = run("outbox", "history", "--meeting", "1")
    assert code == 0
    assert "\\u000a" not in out
    attendee_lines = [line for line in out.splitlines() if "@" in line and "answer" in line]
    assert len(attendee_lines) == 2
    assert all("nothing sent yet" in line for line in attendee_lines)
