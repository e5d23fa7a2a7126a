"""``invitegw crm ...`` on the embedded setup (no config file): every command, every error.

Errors print one line and exit 1, and leave the database exactly as it was.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from invitegw.crm_adapter.builtin.crm import SqlCrm
from invitegw.crm_adapter.builtin.schema import CrmBase, CrmContact
from invitegw.domain.records import (
    EntityType,
    LogEntry,
    LogLevel,
    LogTarget,
    NewTask,
    PartyRef,
    ResponseRecord,
    TaskStatus,
)
from invitegw.gateway.cli import main
from invitegw.gateway.storage import Store, open_store

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    """Run the CLI in an empty folder (the embedded database goes to ./data)."""
    monkeypatch.chdir(tmp_path)

    def invoke(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Store]:
    store = open_store(f"sqlite:///{tmp_path / 'data' / 'invitegw.sqlite3'}")
    yield store
    store.dispose()


@pytest.fixture
def seeded(run: Run) -> Run:
    """Olga (user, Warsaw), Carl (user), Gina (contact at Acme) and a weekly meeting 1."""
    assert (
        run("crm", "user", "add", "olga@example.com", "--name", "Olga", "--tz", "Europe/Warsaw")[0]
        == 0
    )
    assert run("crm", "user", "add", "carl@example.com", "--name", "Carl", "--lang", "it")[0] == 0
    code, out, _ = run(
        "crm", "contact", "add", "gina@example.org", "--name", "Gina", "--account", "Acme",
        "--email", "gina.b@example.org", "--lang", "pl",
    )  # fmt: skip
    assert (code, out) == (0, "1\n")
    code, out, _ = run(
        "crm", "meeting", "create", "--title", "Weekly", "--start", "2026-06-01T10:00",
        "--end", "2026-06-01T11:00", "--organizer", "olga@example.com",
        "--attendee", "gina@example.org", "--attendee", "carl@example.com",
        "--rrule", "FREQ=WEEKLY;COUNT=4", "--location", "Room 1",
    )  # fmt: skip
    assert (code, out) == (0, "1\n")
    return run


def _snapshot(db: Store) -> dict[str, list[tuple[object, ...]]]:
    """Every CRM table's rows, to compare before and after a failed command."""
    out: dict[str, list[tuple[object, ...]]] = {}
    with db.session() as session:
        for name, table in sorted(CrmBase.metadata.tables.items()):
            out[name] = [tuple(row) for row in session.execute(select(table)).all()]
    return out


def _meeting(db: Store, meeting_id: str = "1"):  # type: ignore[no-untyped-def]
    with db.session() as session:
        return SqlCrm(session).get_meeting(meeting_id)


def test_meeting_lifecycle(seeded: Run, db: Store) -> None:
    meeting = _meeting(db)
    assert meeting is not None
    assert meeting.time_zone == "Europe/Warsaw"  # the organizer's zone
    assert meeting.start == dt.datetime(2026, 6, 1, 10, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert {p.primary_email for p in meeting.attendees} == {"gina@example.org", "carl@example.com"}

    assert seeded("crm", "meeting", "update", "1", "--title", "Weekly sync", "--start",
                  "2026-06-01T12:00", "--location", "Room 2")[0] == 0  # fmt: skip
    meeting = _meeting(db)
    assert (meeting.title, meeting.location) == ("Weekly sync", "Room 2")
    assert meeting.end - meeting.start == dt.timedelta(hours=1)  # duration kept

    code, out, _ = seeded("crm", "meeting", "cancel-occurrence", "1", "--date", "2026-06-08")
    assert (code, out) == (0, "2026-06-08T12:00:00+02:00\n")
    assert seeded("crm", "meeting", "remove-attendee", "1", "carl@example.com")[0] == 0
    assert seeded("crm", "contact", "add", "max@example.net")[0] == 0
    assert seeded("crm", "meeting", "add-attendee", "1", "MAX@example.net")[0] == 0
    meeting = _meeting(db)
    assert {p.primary_email for p in meeting.attendees} == {"gina@example.org", "max@example.net"}
    assert [o.cancelled for o in meeting.occurrences] == [True]

    assert seeded("crm", "meeting", "cancel", "1")[0] == 0
    meeting = _meeting(db)
    assert meeting.cancelled


def test_all_day_and_options(seeded: Run, db: Store) -> None:
    code, out, _ = seeded(
        "crm", "meeting", "create", "--title", "Fair", "--start", "2026-06-10",
        "--end", "2026-06-11", "--all-day", "--organizer", "carl@example.com",
        "--attendee", "gina@example.org", "--calendar", "default", "--kind", "service",
        "--no-sync", "--description", "Two days",
    )  # fmt: skip
    assert code == 0
    meeting = _meeting(db, out.strip())
    assert (meeting.start, meeting.end) == (dt.date(2026, 6, 10), dt.date(2026, 6, 12))
    assert (meeting.kind.value, meeting.sync, meeting.calendar) == ("service", False, "default")
    assert meeting.time_zone == "UTC"  # Carl has no zone: the default calendar's
    code, out, _ = seeded("crm", "contact", "add", "quiet@example.org", "--no-sync")
    with db.session() as session:
        contact = session.get(CrmContact, int(out))
        assert contact is not None
        assert (contact.sync, contact.name) == (False, "quiet@example.org")


def _lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines()]


def test_user_contact_and_meeting_lists(seeded: Run, db: Store) -> None:
    code, out, _ = seeded("crm", "user", "list", "--json")
    assert code == 0
    assert [(u["id"], u["email"], u["time_zone"]) for u in _lines(out)] == [
        ("1", "olga@example.com", "Europe/Warsaw"),
        ("2", "carl@example.com", None),
    ]
    code, out, _ = seeded("crm", "contact", "list")
    assert out.splitlines()[0].split() == ["ID", "EMAIL", "NAME", "ACCOUNT", "LANG", "INVITATIONS"]
    assert "gina@example.org, gina.b@example.org  Gina  Acme" in out
    [gina] = _lines(seeded("crm", "contact", "list", "--json")[1])
    assert (gina["account"], gina["emails"], gina["invitations"], gina["language"]) == (
        "Acme",
        ["gina@example.org", "gina.b@example.org"],
        True,
        "pl",
    )
    assert seeded("crm", "meeting", "cancel-occurrence", "1", "--date", "2026-06-08")[0] == 0
    with db.session() as session:
        SqlCrm(session).record_response(
            ResponseRecord(meeting_id="1", attendee_email="gina@example.org", partstat="ACCEPTED")
        )
    code, out, _ = seeded("crm", "meeting", "list")
    assert code == 0
    assert out.splitlines()[1].split()[:5] == [
        "1",
        "2026-06-01",
        "10:00",
        "Europe/Warsaw",
        "Weekly",
    ]
    [meeting] = _lines(seeded("crm", "meeting", "list", "--json")[1])
    assert meeting == _lines(seeded("crm", "meeting", "show", "1", "--json")[1])[0]
    assert meeting["start"] == "2026-06-01T10:00:00+02:00"
    assert meeting["start_utc"] == "2026-06-01T08:00:00Z"
    assert meeting["cancelled_occurrences"] == ["2026-06-08T10:00:00+02:00"]
    assert meeting["attendees"] == [
        {"email": "gina@example.org", "name": "Gina", "type": "contact", "answer": "ACCEPTED"},
        {"email": "carl@example.com", "name": "Carl", "type": "user", "answer": "NEEDS-ACTION"},
    ]
    code, out, _ = seeded("crm", "meeting", "show", "1")
    assert "attendee:  Gina <gina@example.org> (contact): ACCEPTED" in out
    assert "cancelled: the occurrence of 2026-06-08T10:00:00+02:00" in out
    assert seeded("crm", "meeting", "show", "9")[2] == (
        "invitegw: error: no CRM meeting with id '9'\n"
    )


def test_cancelling_an_occurrence_of_a_single_meeting_names_the_right_command(
    seeded: Run,
) -> None:
    code, out, _ = seeded("crm", *_create("--title", "Once"))
    assert (code, out) == (0, "2\n")
    code, out, err = seeded("crm", "meeting", "cancel-occurrence", "2", "--date", "2026-06-01")
    assert (code, out) == (1, "")
    assert "meeting 2 does not repeat" in err
    assert "`invitegw crm meeting cancel 2` cancels the meeting" in err


def test_lists_on_an_empty_crm_say_how_to_add(run: Run) -> None:
    assert "crm user add" in run("crm", "user", "list")[1]
    assert "crm contact add" in run("crm", "contact", "list")[1]
    assert "crm meeting create" in run("crm", "meeting", "list")[1]
    assert run("crm", "meeting", "list", "--json") == (0, "", "")


def test_task_and_log_lists(seeded: Run, db: Store) -> None:
    assert seeded("crm", "task", "list") == (0, "no tasks\n", "")
    assert seeded("crm", "log", "list") == (0, "no log entries\n", "")
    with db.session() as session:
        crm = SqlCrm(session)
        task = crm.create_task(
            NewTask(
                "key-1",
                "Visit Acme",
                dt.datetime(2026, 6, 5, 9, tzinfo=dt.UTC),
                dt.datetime(2026, 6, 5, 10, tzinfo=dt.UTC),
                PartyRef(EntityType.USER, "2"),
                party=PartyRef(EntityType.CONTACT, "1"),
                source_uid="uid-1@example.org",
                sequence=1,
            )
        )
        crm.set_task_status(task.id, TaskStatus.CANCELLED)
        crm.log(LogEntry(LogTarget.TASK, task.id, LogLevel.INFO, "created from an invitation"))
    code, out, _ = seeded("crm", "task", "list", "--json")
    assert code == 0
    (record,) = [json.loads(line) for line in out.splitlines()]
    assert record == {
        "id": task.id,
        "title": "Visit Acme",
        "start_utc": "2026-06-05T09:00:00Z",
        "end_utc": "2026-06-05T10:00:00Z",
        "status": "cancelled",
        "owner": "carl@example.com",
        "party": {"type": "contact", "email": "gina@example.org"},
        "uid": "uid-1@example.org",
        "recurrence_id": None,
        "sequence": 1,
        "location": "",
    }
    code, out, _ = seeded("crm", "task", "list")
    assert "Visit Acme" in out
    assert "cancelled" in out
    code, out, _ = seeded("crm", "log", "list", "--json")
    (entry,) = [json.loads(line) for line in out.splitlines()]
    assert (entry["level"], entry["target"], entry["target_id"], entry["message"]) == (
        "info",
        "task",
        task.id,
        "created from an invitation",
    )
    assert "created from an invitation" in seeded("crm", "log", "list")[1]


def _create(
    *extra: str, end: str | None = "2026-06-01T11:00", attendees: list[str] | None = None
) -> list[str]:
    """``meeting create`` arguments for a valid meeting, changed by ``extra``."""
    argv = ["meeting", "create", "--title", "T", "--start", "2026-06-01T10:00"]
    argv += ["--end", end] if end else []
    argv += ["--organizer", "olga@example.com"]
    for address in ["gina@example.org"] if attendees is None else attendees:
        argv += ["--attendee", address]
    # A later option wins in argparse, so ``extra`` can override the ones above.
    return argv + list(extra)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["user", "add", "not-an-address", "--name", "X"], "invalid email address"),
        (["user", "add", "OLGA@example.com", "--name", "X"], "already exists"),
        (["user", "add", "x@example.com", "--name", "X", "--tz", "Mars/Base"], "unknown time zone"),
        (["contact", "add", "new@example.org", "--email", "bad@"], "invalid email address"),
        (["contact", "add", "new@example.org", "--lang", "Polish"], "invalid language"),
        (
            _create("--end", "2026-06-01T09:00"),
            "the meeting ends before it starts",
        ),
        (
            _create("--tz", "Nowhere/City"),
            "unknown time zone 'Nowhere/City'",
        ),
        (
            _create(attendees=["gina@example.org", "stranger@example.org"]),
            "no CRM user, contact, account or lead has the address stranger@example.org",
        ),
        (
            _create("--organizer", "gina@example.org", attendees=["carl@example.com"]),
            "no CRM user has the address gina@example.org",
        ),
        (
            _create("--start", "June 1st"),
            "--start: expected a time like 2026-06-03T10:00, got 'June 1st'",
        ),
        (
            _create(end=None),
            "--end: required",
        ),
        (
            _create("--calendar", "marketing"),
            "no calendar named 'marketing'",
        ),
        (
            _create("--rrule", "FREQ=FORTNIGHTLY"),
            "invalid recurrence rule",
        ),
        (["meeting", "update", "7", "--title", "X"], "no CRM meeting with id '7'"),
        (["meeting", "update", "1", "--end", "2026-06-01T09:00"], "ends before it starts"),
        (["meeting", "add-attendee", "7", "gina@example.org"], "no CRM meeting with id '7'"),
        (["meeting", "add-attendee", "1", "gina@example.org"], "already in meeting 1"),
        (["meeting", "add-attendee", "1", "bad address"], "invalid email address"),
        (["meeting", "remove-attendee", "1", "olga@example.com"], "is not an attendee"),
        (["meeting", "cancel", "x1"], "no CRM meeting with id 'x1'"),
        (["meeting", "cancel-occurrence", "1", "--date", "2026-06-02"], "no occurrence on"),
        (["meeting", "cancel-occurrence", "1", "--date", "soon"], "--date: expected"),
    ],
)
def test_errors_print_one_line_exit_1_and_write_nothing(
    seeded: Run, db: Store, argv: list[str], message: str
) -> None:
    before = _snapshot(db)
    code, out, err = seeded("crm", *argv)
    assert code == 1
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("invitegw: error: ")
    assert message in err
    assert _snapshot(db) == before


def test_a_failed_command_rolls_back_its_earlier_writes(seeded: Run, db: Store) -> None:
    # The title is changed in the transaction before the end time is found invalid.
    before = _snapshot(db)
    code, _, err = seeded(
        "crm", "meeting", "update", "1", "--title", "Changed", "--end", "2026-06-01T09:00"
    )
    assert code == 1
    assert "ends before it starts" in err
    assert _snapshot(db) == before
    meeting = _meeting(db)
    assert meeting.title == "Weekly"


def test_crm_commands_refuse_another_adapter(run: Run) -> None:
    Path("invitegw.toml").write_text(
        '[crm]\nadapter = "vtiger"\n[crm.vtiger]\nurl = "http://127.0.0.1:1"\n'
    )
    code, _, err = run("crm", "user", "add", "a@example.com", "--name", "A")
    assert code == 1
    assert "the crm commands manage the built-in CRM" in err
