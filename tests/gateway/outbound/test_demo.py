"""``invitegw demo``: the documented first command works, twice in a row, offline."""

from __future__ import annotations

import datetime as dt
import io
import time
from pathlib import Path

import pytest
from rich.console import Console

from invitegw.demo.run import first_monday, run_demo
from invitegw.gateway.cli import main
from invitegw.ics import parse_calendar
from tests.gateway.outbound.harness import calendar_bytes, parse_message


def test_first_monday_is_at_least_three_days_ahead() -> None:
    for offset in range(14):
        today = dt.date(2026, 11, 23) + dt.timedelta(days=offset)
        monday = first_monday(today)
        assert monday.weekday() == 0
        assert 3 <= (monday - today).days <= 9


def test_the_demo_tells_the_story_and_saves_every_message(tmp_path: Path) -> None:
    screen = io.StringIO()
    result = run_demo(tmp_path / "out", tmp_path / "data", console=Console(file=screen, width=200))
    steps = [
        (m.step, m.recipient, m.method, m.sequence, bool(m.recurrence_id)) for m in result.messages
    ]
    everyone = ["olga@example.com", "carl@example.com", "gina@example.org", "pawel@example.org"]
    remaining = ["olga@example.com", "carl@example.com", "pawel@example.org"]
    assert steps == [
        *((1, who, "REQUEST", 0, False) for who in everyone),
        *((2, who, "REQUEST", 1, False) for who in everyone),
        *((3, who, "REQUEST", 1, False) for who in remaining),
        (3, "gina@example.org", "CANCEL", 1, False),
        *((4, who, "CANCEL", 2, True) for who in remaining),
        *((5, who, "CANCEL", 3, False) for who in remaining),
    ]
    files = sorted(result.output.glob("*.eml"))
    assert [f.name for f in files] == sorted(m.path.name for m in result.messages)
    for message in result.messages:
        parsed = parse_message(message.path.read_bytes())
        assert parse_calendar(calendar_bytes(parsed)).method.value == message.method
    polish = [m for m in result.messages if m.recipient == "pawel@example.org"]
    assert {m.language for m in polish} == {"pl"}
    # Inbound: Gina's acceptance is recorded; Paweł's forwarded invitation becomes one
    # task, which his update reschedules and his cancellation cancels.
    assert [(s.step, [e.outcome.value for e in s.result.events]) for s in result.inbound] == [
        ("1a", ["reply_recorded"]),
        ("6", ["created"]),
        ("7", ["updated"]),
        ("8", ["cancelled"]),
    ]
    assert len({s.result.events[0].task_id for s in result.inbound[1:]}) == 1
    text = screen.getvalue()
    for heading in ("Step 1.", "Step 1a.", "Step 2.", "Step 3.", "Step 4.", "Step 5.", "Step 8."):
        assert heading in text
    assert "Factory visit" in text
    assert "18 messages saved in" in text
    assert result.database.is_file()


def test_the_demo_runs_twice_in_a_row_from_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["demo", "--output", str(tmp_path / "out"), "--data", str(tmp_path / "data")]
    assert main(args) == 0
    assert main(args) == 0
    runs = sorted(p for p in (tmp_path / "out").iterdir())
    assert len(runs) == 2
    assert [len(list(run.glob("*.eml"))) for run in runs] == [18, 18]
    assert "18 messages saved in" in capsys.readouterr().out


def test_the_output_folder_is_named_in_the_machines_time_and_80_columns_keep_addresses_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A machine in New York: at 23:30 UTC it is 18:30 there and already 00:30 in Warsaw.
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        moment = dt.datetime(2026, 11, 23, 23, 30, tzinfo=dt.UTC)
        screen = io.StringIO()
        result = run_demo(
            tmp_path / "out",
            tmp_path / "data",
            console=Console(file=screen, width=80),
            now=lambda: moment,
        )
    finally:
        monkeypatch.undo()
        time.tzset()
    assert result.output.name == "20261123-183000"
    lines = screen.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 80
    known = {"olga@example.com", "carl@example.com", "gina@example.org", "pawel@example.org"}
    first_cells = [line.split("│")[1].strip() for line in lines if line.startswith("│")]
    assert known <= set(first_cells)
    # No address is broken across lines: no cell holds a piece of one.
    pieces = [c for c in first_cells if c and c not in known and any(c in a for a in known)]
    assert pieces == []
