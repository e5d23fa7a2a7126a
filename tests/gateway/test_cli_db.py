"""``invitegw db``, ``check-config``, and the schema check every other command makes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from invitegw.gateway.cli import main


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_configured_database_must_be_upgraded_first(
    in_tmp: Path,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("INVITEGW_DATABASE__URL", database_url)
    code, out, _ = _run(capsys, "db", "current")
    assert code == 1
    assert "current: (empty)" in out
    assert "outdated: run `invitegw db upgrade`" in out

    code, _, err = _run(capsys, "crm", "user", "add", "a@example.com", "--name", "A")
    assert code == 1
    assert err == (
        "invitegw: error: the database has no invitegw schema yet: run `invitegw db upgrade`\n"
    )

    code, out, _ = _run(capsys, "db", "upgrade")
    assert code == 0
    assert out.startswith("database schema upgraded from (empty) to ")
    assert _run(capsys, "db", "upgrade")[1].startswith("database schema already at ")
    code, out, _ = _run(capsys, "db", "current")
    assert code == 0
    assert out.endswith("up to date\n")
    assert _run(capsys, "crm", "user", "add", "a@example.com", "--name", "A") == (0, "1\n", "")
    assert not (in_tmp / "data").exists()  # the embedded database was never made


def test_the_embedded_default_upgrades_itself(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "crm", "user", "add", "a@example.com", "--name", "A")
    assert (code, out) == (0, "1\n")
    # Said before it is done: run from the wrong folder, ./data would appear without a word.
    assert err == (
        f"invitegw: creating the embedded database in {in_tmp / 'data'} "
        "(no [database] url; --config or INVITEGW_DATA_DIR choose another place)\n"
    )
    assert (in_tmp / "data" / "invitegw.sqlite3").is_file()
    assert _run(capsys, "db", "current")[1].endswith("up to date\n")


def test_check_config_prints_redacted_settings(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (in_tmp / "invitegw.toml").write_text('[smtp]\nhost = "relay.example.com"\nport = 587\n')
    monkeypatch.setenv("INVITEGW_SMTP__PASSWORD", "hunter2-secret")
    code, out, _ = _run(capsys, "check-config")
    assert code == 0
    assert out.startswith(f"# invitegw configuration: {in_tmp / 'invitegw.toml'}")
    assert 'host = "relay.example.com"' in out
    assert 'password = "<redacted>"' in out
    assert "hunter2" not in out


def test_check_config_reports_an_invalid_file(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (in_tmp / "bad.toml").write_text('[smtp]\nport = "abc"\n')
    code, out, err = _run(capsys, "--config", "bad.toml", "check-config")
    assert (code, out) == (1, "")
    assert err == "invitegw: error: smtp.port: expected an integer 1-65535, got 'abc'\n"


def test_from_a_clean_folder_as_a_user_would(tmp_path: Path) -> None:
    """The README's first steps, as separate processes, with no configuration file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVITEGW_")}

    def invitegw(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "invitegw", *argv],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    upgraded = invitegw("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    user = invitegw("crm", "user", "add", "olga@example.com", "--name", "Olga Organizer")
    assert (user.returncode, user.stdout) == (0, "1\n"), user.stderr
    contact = invitegw("crm", "contact", "add", "gina@example.org", "--name", "Gina")
    assert contact.returncode == 0, contact.stderr
    meeting = invitegw(
        "crm", "meeting", "create", "--title", "Kick-off", "--start", "2026-06-03T10:00",
        "--end", "2026-06-03T11:00", "--tz", "Europe/Warsaw", "--organizer", "olga@example.com",
        "--attendee", "gina@example.org",
    )  # fmt: skip
    assert (meeting.returncode, meeting.stdout) == (0, "1\n"), meeting.stderr
    bad = invitegw("crm", "meeting", "cancel", "42")
    assert (bad.returncode, bad.stderr) == (1, "invitegw: error: no CRM meeting with id '42'\n")
