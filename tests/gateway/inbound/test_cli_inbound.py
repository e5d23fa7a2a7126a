"""``invitegw ingest`` and ``invitegw quarantine`` on the embedded setup, as a user runs them."""

from __future__ import annotations

import json
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from invitegw.gateway.cli import main

Run = Callable[..., tuple[int, str, str]]

CALENDAR = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\r\n"
    "METHOD:REQUEST\r\nBEGIN:VEVENT\r\nDTSTART:20300304T090000Z\r\nDTEND:20300304T100000Z\r\n"
    "DTSTAMP:20300101T080000Z\r\nORGANIZER;CN=Gina:mailto:gina@example.org\r\n"
    "UID:{uid}\r\nATTENDEE;CN=Olga;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:olga@example.com\r\n"
    "SEQUENCE:0\r\nSTATUS:CONFIRMED\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def invitation(uid: str, summary: str) -> EmailMessage:
    """Gina's invitation, as Gmail sends it."""
    message = EmailMessage()
    message["From"] = "Gina <gina@example.org>"
    message["To"] = "olga@example.com"
    message["Subject"] = f"Invitation: {summary}"
    message["Message-ID"] = f"<{uid.split('@')[0]}@example.org>"
    message.set_content(f"{summary}, Thursday.")
    message.add_alternative(
        CALENDAR.format(uid=uid, summary=summary).encode(),
        maintype="text",
        subtype="calendar",
        params={"method": "REQUEST"},
    )
    return message


def forward(inner: EmailMessage, forwarder: str) -> bytes:
    """``inner`` forwarded as an attachment (message/rfc822) by ``forwarder`` to the gateway."""
    message = EmailMessage()
    message["From"] = forwarder
    message["To"] = "crm@example.com"
    message["Subject"] = f"Fwd: {inner['Subject']}"
    inner_id = inner["Message-ID"].strip("<>").split("@")[0]
    message["Message-ID"] = f"<fwd.{inner_id}.{forwarder.split('@')[0]}@example.com>"
    message.set_content("For the CRM.")
    message.add_attachment(inner)
    return message.as_bytes()


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    """The CLI in an empty folder: the embedded database and built-in CRM in ./data."""
    monkeypatch.chdir(tmp_path)

    def invoke(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    assert invoke("crm", "user", "add", "olga@example.com", "--name", "Olga")[0] == 0
    assert invoke("crm", "contact", "add", "gina@example.org", "--name", "Gina")[0] == 0
    return invoke


def lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


def tasks(run: Run) -> list[dict[str, Any]]:
    code, out, _ = run("crm", "task", "list", "--json")
    assert code == 0
    return lines(out)


def test_ingest_creates_once_and_says_so_in_json(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "fwd.eml"
    path.write_bytes(forward(invitation("u-1@google.com", "Budget"), "olga@example.com"))
    code, out, err = run("ingest", "--json", str(path))
    assert code == 0, err
    [record] = lines(out)
    assert record["outcome"] == "created"
    assert (record["uid"], record["method"], record["file"]) == (
        "u-1@google.com",
        "REQUEST",
        str(path),
    )
    assert record["message_id"] == "fwd.u-1.olga@example.com"
    assert "1 created" in err
    [task] = tasks(run)
    assert (task["id"], task["title"], task["owner"]) == (
        record["task_id"],
        "Budget",
        "olga@example.com",
    )
    assert task["party"] == {"type": "contact", "email": "gina@example.org"}

    code, out, _ = run("ingest", "--json", str(path))
    assert code == 0
    assert [r["already_processed"] for r in lines(out)] == [True]
    assert len(tasks(run)) == 1


def test_dry_run_decides_and_writes_nothing(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "fwd.eml"
    path.write_bytes(forward(invitation("u-2@google.com", "Audit"), "olga@example.com"))
    code, out, err = run("ingest", "--dry-run", "--json", str(path))
    assert code == 0, err
    assert [r["outcome"] for r in lines(out)] == ["created"]
    assert "dry run" in err
    assert tasks(run) == []
    # Not recorded as processed either: the real run still creates the task.
    code, out, _ = run("ingest", "--json", str(path))
    assert [r["outcome"] for r in lines(out)] == ["created"]


def test_quarantine_list_and_release_after_the_cause_is_fixed(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "fwd.eml"
    path.write_bytes(forward(invitation("u-3@google.com", "Launch"), "carl@example.com"))
    code, out, _ = run("ingest", "--json", str(path))
    assert code == 0
    [record] = lines(out)
    assert record["outcome"] == "quarantined"
    assert "carl@example.com" in record["reason"]

    code, out, _ = run("quarantine", "list", "--json")
    [held] = lines(out)
    assert (held["source"], held["reference"]) == ("file", str(path))
    assert "carl@example.com" in held["reason"]
    assert held["released_at"] is None
    code, out, _ = run("quarantine", "list")
    assert "carl@example.com" in out

    # Still not allowed: releasing changes nothing and says why.
    code, out, err = run("quarantine", "release", str(held["id"]))
    assert code == 0
    assert "still set aside" in err
    assert tasks(run) == []

    assert run("crm", "user", "add", "carl@example.com", "--name", "Carl")[0] == 0
    code, out, err = run("quarantine", "release", str(held["id"]), "--json")
    assert code == 0, err
    assert [r["outcome"] for r in lines(out)] == ["created"]
    [task] = tasks(run)
    assert task["owner"] == "carl@example.com"
    code, out, _ = run("quarantine", "list", "--json")
    assert out == ""
    code, out, _ = run("quarantine", "list", "--all", "--json")
    assert lines(out)[0]["released_at"] is not None


def test_mbox_and_bare_ics_and_an_unreadable_message(run: Run, tmp_path: Path) -> None:
    ics = tmp_path / "plain.ics"
    ics.write_text(CALENDAR.format(uid="u-4@google.com", summary="Plain"), newline="")
    junk = tmp_path / "junk.eml"
    junk.write_bytes(b"Subject: nothing here\r\nFrom: x@example.net\r\n\r\njust text\r\n")
    code, out, err = run("ingest", "--json", "--owner", "olga@example.com", str(tmp_path))
    assert code == 0, err
    by_file = {r["file"]: r for r in lines(out)}
    assert by_file[str(junk)]["outcome"] == "quarantined"
    assert by_file[str(junk)]["reason"]
    # A bare .ics is judged by its ORGANIZER: Gina is a known contact.
    assert by_file[str(ics)]["outcome"] == "created"


def test_bad_paths_and_owner_are_one_line_errors(run: Run, tmp_path: Path) -> None:
    code, _, err = run("ingest", str(tmp_path / "missing.eml"))
    assert code == 1
    assert "no such file or folder" in err
    code, _, err = run("ingest", "--owner", "not an address", str(tmp_path))
    assert code == 1
    assert "--owner" in err


def test_a_message_without_owner_is_released_with_one(run: Run, tmp_path: Path) -> None:
    # Gina's invitation straight from her, read from a file: nobody owns the task yet.
    path = tmp_path / "direct.eml"
    path.write_bytes(invitation("u-5@google.com", "Offer").as_bytes())
    code, out, err = run("ingest", str(path))
    assert code == 0
    assert "quarantined" in out
    assert "--owner" in out  # the reason says how to fix it
    assert "1 message read: 1 quarantined" in err
    # Run again: handled before, and the way out is named.
    code, out, _ = run("ingest", "--owner", "olga@example.com", str(path))
    assert "invitegw quarantine release 1" in out
    assert tasks(run) == []
    code, out, _ = run("quarantine", "release", "1", "--owner", "olga@example.com", "--json")
    assert code == 0
    assert [r["outcome"] for r in lines(out)] == ["created"]
    [task] = tasks(run)
    assert (task["title"], task["owner"]) == ("Offer", "olga@example.com")


def test_ingest_of_the_same_folder_twice_creates_nothing_the_second_time(
    run: Run, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "README.md").write_text("# What is in this folder\n\nForwarded invitations.\n")
    for n, summary in enumerate(("Budget", "Audit", "Launch"), start=1):
        raw = forward(invitation(f"t-{n}@google.com", summary), "olga@example.com")
        (inbox / f"{n}.eml").write_bytes(raw)

    code, _out, err = run("ingest", str(inbox))
    assert code == 0, err
    assert "3 messages read: 3 created" in err
    assert f"skipped, not mail or calendars: {inbox / 'README.md'}" in err
    assert len(tasks(run)) == 3

    code, out, err = run("ingest", str(inbox))
    assert code == 0, err
    assert "3 messages read: 3 handled before, skipped" in err
    assert "created" not in err
    assert out.count("(handled before)") == 3
    assert len(tasks(run)) == 3

    # The README named on its own is read, and set aside with the reason.
    code, out, err = run("ingest", "--json", str(inbox / "README.md"))
    assert code == 0, err
    [record] = lines(out)
    assert record["outcome"] == "quarantined"
    assert "1 message read: 1 quarantined" in err


def test_an_unknown_sender_gets_a_hint_on_how_to_let_it_in(run: Run, tmp_path: Path) -> None:
    # Sent straight to Olga by someone the CRM does not know.
    path = tmp_path / "stranger.ics"
    ics = CALENDAR.format(uid="s-1@google.com", summary="Pitch")
    path.write_text(ics.replace("gina@example.org", "sam@elsewhere.example"), newline="")
    code, out, err = run("ingest", "--owner", "olga@example.com", str(path))
    assert code == 0, err
    assert "quarantined  unknown sender sam@elsewhere.example" in out
    assert "hint: an unknown sender: add them to the CRM (`invitegw crm contact add" in err
    assert "invitegw quarantine release ID" in err
    # Following the hint lets it in.
    assert run("crm", "contact", "add", "sam@elsewhere.example", "--name", "Sam")[0] == 0
    code, out, err = run("quarantine", "release", "1")
    assert code == 0, err
    assert "created" in out
