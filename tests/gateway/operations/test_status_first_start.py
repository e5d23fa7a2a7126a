"""``invitegw status`` says where the first start stands, on the embedded setup.

As an operator runs it: ``python -m invitegw`` in a folder of the test's own, without a
configuration file. Before the first pass the baseline is "not taken" (a preview, which
rolls back, does not change that); meetings reach the built-in CRM by an import (its
admin API on the same SQLite file, not through the gateway); after ``outbound baseline``
status gives the time it was taken and how many meetings it adopted, in words and in JSON.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

from invitegw.crm_adapter.builtin.admin import MeetingDraft, SqlCrmAdmin
from invitegw.gateway.storage import open_store
from tests.gateway.operations.test_cli_habits import invitegw

DRAFT = MeetingDraft(
    title="Planned before the gateway",
    start=dt.datetime(2030, 6, 3, 8, tzinfo=dt.UTC),
    end=dt.datetime(2030, 6, 3, 9, tzinfo=dt.UTC),
    organizer="olga@example.com",
    attendees=["gina@example.org"],
    time_zone="Europe/Warsaw",
    location="Room 1",
    description="",
    rrule=None,
)


def _import_meetings(folder: Path, count: int) -> None:
    """Meetings written straight into the built-in CRM's tables (an import)."""
    store = open_store(f"sqlite:///{folder / 'data' / 'invitegw.sqlite3'}")
    try:
        with store.session() as session:
            admin = SqlCrmAdmin(session)
            for n in range(count):
                admin.create_meeting(dataclasses.replace(DRAFT, title=f"{DRAFT.title} {n}"))
    finally:
        store.dispose()


def _status(folder: Path) -> tuple[str, dict[str, object]]:
    """(the text, the JSON's ``first_start``) of ``status`` (no worker: exit 2)."""
    text = invitegw(folder, "status", "--no-crm-check")
    assert text.returncode == 2, text.stderr  # nothing runs: down, but readable
    data = invitegw(folder, "status", "--no-crm-check", "--json")
    assert data.returncode == 2, data.stderr
    first = json.loads(data.stdout)["first_start"]
    assert isinstance(first, dict)
    return text.stdout, first


def test_status_shows_the_baseline_not_taken_then_taken_with_its_time_and_count(
    tmp_path: Path,
) -> None:
    assert invitegw(tmp_path, "db", "upgrade").returncode == 0
    text, first = _status(tmp_path)
    assert "baseline    not taken: the first pass adopts the CRM's meetings" in text
    assert "send switch no meeting held" in text
    assert first == {
        "baseline": "not-taken",
        "started_at": None,
        "taken_at": None,
        "adopted": None,
        "held": 0,
        "held_meetings": [],
    }

    for command in (
        ("crm", "user", "add", "olga@example.com", "--name", "Olga"),
        ("crm", "contact", "add", "gina@example.org", "--name", "Gina"),
    ):
        done = invitegw(tmp_path, *command)
        assert done.returncode == 0, done.stderr
    _import_meetings(tmp_path, 3)
    preview = invitegw(tmp_path, "outbound", "preview")
    assert preview.returncode == 0, preview.stderr
    assert "baseline: 3 existing meetings adopted" in preview.stderr
    assert _status(tmp_path)[1]["baseline"] == "not-taken"  # the preview wrote nothing

    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    taken = invitegw(tmp_path, "outbound", "baseline")
    after = dt.datetime.now(dt.UTC)
    assert taken.returncode == 0, taken.stderr
    text, first = _status(tmp_path)
    assert (first["baseline"], first["adopted"], first["held"]) == ("taken", 3, 0)
    assert first["started_at"] is None
    assert isinstance(first["taken_at"], str)
    at = dt.datetime.fromisoformat(first["taken_at"])
    assert before <= at <= after
    line = next(x for x in text.splitlines() if x.startswith("baseline "))
    assert line.startswith(f"baseline    taken {at:%Y-%m-%d %H:%M:%S} UTC (")
    assert line.endswith("): 3 existing meeting(s) adopted, nothing sent for them")
