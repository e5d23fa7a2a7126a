"""CLI habits: --json on the reporting commands, per-message ingest progress on a terminal
only, a dry run that writes nothing, a new embedded database announced, --version.

The commands run as a person runs them: ``python -m invitegw`` in a folder of the test's
own, without a configuration file (the embedded setup), stderr on a pseudo-terminal where
the progress bar is tested.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from invitegw import __version__
from invitegw.gateway.commands.progress import IngestProgress, count_messages
from invitegw.gateway.inbound.file_source import collect_inputs

TIMEOUT = 180


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("INVITEGW_")}


def invitegw(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "invitegw", *args],
        cwd=folder,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def mbox(path: Path, count: int) -> Path:
    parts = []
    for n in range(count):
        parts.append(
            f"From sender@example.org Mon Jan  5 10:00:00 2026\n"
            f"From: Sender <sender@example.org>\nTo: olga@example.com\n"
            f"Subject: Note {n}\nMessage-ID: <note-{n}@example.org>\n\n"
            f"Line one.\n>From the desk of nobody: escaped, as mbox writers do.\n\n"
        )
    path.write_text("".join(parts))
    return path


def test_messages_are_counted_before_the_first_one(tmp_path: Path) -> None:
    box = mbox(tmp_path / "a.mbox", 7)
    maildir = tmp_path / "md"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    for n in range(3):
        (maildir / "new" / f"{n}.eml").write_text("Subject: x\n\nx\n")
    (tmp_path / "one.eml").write_text("Subject: x\n\nx\n")
    inputs = collect_inputs([box, maildir, tmp_path / "one.eml"])
    assert count_messages(inputs) == 7 + 3 + 1


def test_no_progress_bar_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    box = mbox(tmp_path / "a.mbox", 30)
    done = invitegw(tmp_path, "ingest", "--dry-run", str(box))
    assert done.returncode == 0, done.stderr
    assert "msg/s" not in done.stderr
    assert "30 messages read: 30 quarantined (dry run, nothing written)" in done.stderr
    assert not (tmp_path / "data").exists()  # a dry run writes nothing, not even ./data
    assert "deciding against an empty one in a temporary folder" in done.stderr
    with open(os.devnull, "w") as sink:
        assert not IngestProgress([], sink).enabled


def test_progress_per_message_on_a_terminal(tmp_path: Path) -> None:
    box = mbox(tmp_path / "big.mbox", 400)
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "invitegw", "ingest", str(box)],
            cwd=tmp_path,
            env={**_env(), "COLUMNS": "120"},
            stdout=subprocess.DEVNULL,
            stderr=follower,
        )
        os.close(follower)
        chunks = []
        while True:
            try:
                data = os.read(leader, 65536)
            except OSError:  # the terminal closed with the process
                break
            if not data:
                break
            chunks.append(data)
        assert proc.wait(timeout=TIMEOUT) == 0
    finally:
        os.close(leader)
    shown = b"".join(chunks).decode(errors="replace")
    assert "/400" in shown  # the bar counts messages, not the one input file
    assert "msg/s" in shown
    assert "400 messages read: 400 quarantined" in shown
    assert "creating the embedded database in" in shown  # said before doing it
    assert (tmp_path / "data" / "invitegw.sqlite3").exists()


def test_reporting_commands_speak_json(tmp_path: Path) -> None:
    version = invitegw(tmp_path, "--version")
    assert version.stdout.strip() == f"invitegw {__version__}"
    upgraded = invitegw(tmp_path, "db", "upgrade", "--json")
    assert upgraded.returncode == 0, upgraded.stderr
    assert json.loads(upgraded.stdout)["after"] is not None
    assert "creating the embedded database in" in upgraded.stderr
    current = invitegw(tmp_path, "db", "current", "--json")
    assert json.loads(current.stdout)["up_to_date"] is True
    assert "creating" not in current.stderr  # it exists now: nothing to announce
    config = invitegw(tmp_path, "check-config", "--json")
    data = json.loads(config.stdout)
    assert data["source"] is None
    assert data["settings"]["smtp"]["port"] == 8025
    check = invitegw(tmp_path, "crm", "check", "--json")
    assert json.loads(check.stdout)["ok"] is True
    status = invitegw(tmp_path, "status", "--json")
    assert status.returncode == 2  # no worker
    assert json.loads(status.stdout)["health"] == "down"
    pruned = invitegw(tmp_path, "prune", "--older-than", "365d", "--json")
    assert json.loads(pruned.stdout)["total"] == 0
    retried = invitegw(tmp_path, "outbox", "retry", "--dead", "--json")
    assert json.loads(retried.stdout) == {"requeued": 0}
    once = invitegw(tmp_path, "serve", "--once")
    assert once.returncode == 0, once.stderr


@pytest.mark.parametrize(
    "command", [["status"], ["check-config"], ["health", "--url", "http://127.0.0.1:9/healthz"]]
)
def test_commands_that_only_read_create_no_database(tmp_path: Path, command: list[str]) -> None:
    done = invitegw(tmp_path, *command)
    assert "creating the embedded database" not in done.stderr
    assert not (tmp_path / "data").exists()
