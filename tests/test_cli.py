"""The CLI frame: version, usage errors, and a start-up that loads only what it needs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from invitegw import __version__
from invitegw.domain.records import MeetingKind
from invitegw.gateway.cli import COMMAND_GROUPS, build_parser, main
from invitegw.gateway.commands.crm_meetings import MEETING_KINDS
from invitegw.gateway.commands.outbox import OUTBOX_STATES
from invitegw.gateway.storage import OutboxState

# What only a command's handler may import: the database, the mail transports, the
# templates, the CRM adapters and the demo.
HEAVY = ("sqlalchemy", "alembic", "aiosmtpd", "imapclient", "jinja2", "httpx", "icalendar")
OURS_HEAVY = (
    "invitegw.gateway.bootstrap",
    "invitegw.gateway.config",  # the loader validates addresses (email-validator, idna)
    "invitegw.gateway.storage",
    "invitegw.crm_adapter",
    "invitegw.demo",
    "invitegw.mailbox",
    "invitegw.templates",
)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage" in capsys.readouterr().err


def test_unknown_command_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    assert exc.value.code == 2


def _loaded_by(code: str) -> list[str]:
    """The modules a fresh interpreter holds after running ``code``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    modules: list[str] = json.loads(last)
    return modules


def _heavy(modules: list[str]) -> list[str]:
    return [
        name
        for name in modules
        if name.split(".")[0] in HEAVY
        or any(name == p or name.startswith(p + ".") for p in OURS_HEAVY)
    ]


def test_importing_the_cli_loads_no_heavy_module() -> None:
    assert _heavy(_loaded_by("import invitegw.gateway.cli")) == []


def test_building_the_parser_and_printing_help_loads_no_heavy_module() -> None:
    code = (
        "import contextlib, io\n"
        "from invitegw.gateway.cli import main\n"
        "for argv in (['--help'], ['crm', 'meeting', 'create', '--help'], ['serve', '--help']):\n"
        "    with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "        main(argv)\n"
    )
    assert _heavy(_loaded_by(code)) == []


def test_every_group_is_registered_and_listed_in_help() -> None:
    parser = build_parser()
    text = parser.format_help()
    names = ("demo", "serve", "status", "health", "prune", "outbox", "ingest", "quarantine")
    for name in (*names, "ics", "db", "crm", "smtp", "admin", "outbound"):
        assert name in text
    assert len(COMMAND_GROUPS) == 13


def test_choices_spelled_out_for_a_light_start_match_the_enums() -> None:
    assert tuple(s.value for s in OutboxState) == OUTBOX_STATES
    assert tuple(k.value for k in MeetingKind) == MEETING_KINDS
