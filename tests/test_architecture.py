"""The pure core imports no I/O library and nothing from the shell (STYLE.md section 3)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "invitegw"

# The functional core: values and decisions, no sockets, no database.
PURE = [PACKAGE / "errors.py", *sorted((PACKAGE / "ics").glob("*.py"))] + [
    PACKAGE / "mailbox" / name
    for name in (
        "compose.py",
        "extract.py",
        "render.py",
        "addresses.py",
        # extract.py's helpers
        "bounces.py",
        "calendar_part.py",
        "forwards.py",
        "headers.py",
        "headertext.py",
        "params.py",
        "payload.py",
        "tnef.py",
    )
    if (PACKAGE / "mailbox" / name).exists()
]
# The outbound planner and what it is made of: decisions over plain values.
PURE += [
    PACKAGE / "gateway" / name
    for name in (
        "planner.py",
        "plan_model.py",
        "plan_messages.py",
        "recipients.py",
        "meeting_events.py",
        "snapshot.py",
        "invitations.py",
    )
]
# The inbound rules, and the settings values they read.
PURE += [
    PACKAGE / "gateway" / "inbound" / name for name in ("decide.py", "keys.py", "trust.py")
] + [PACKAGE / "gateway" / "config" / name for name in ("settings.py", "fields.py")]
# A pure module may use another pure module, and nothing else of the shell.
PURE_MODULES = frozenset(
    "invitegw." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts) for path in PURE
)

FORBIDDEN = (
    "invitegw.gateway",
    "invitegw.crm_adapter.sql",
    "invitegw.crm_adapter.vtiger",
    "smtplib",
    "imaplib",
    "imapclient",
    "aiosmtpd",
    "sqlalchemy",
    "alembic",
    "apscheduler",
    "socket",
    "httpx",
    "subprocess",
)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", PURE, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_pure_core_has_no_io_imports(path: Path) -> None:
    bad = sorted(
        name
        for name in _imports(path)
        if name not in PURE_MODULES
        and any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
    )
    assert not bad, f"{path.name} imports {bad}: the pure core must stay free of I/O"


def test_ics_imports_nothing_of_ours_but_ics_and_errors() -> None:
    for path in sorted((PACKAGE / "ics").glob("*.py")):
        ours = {n for n in _imports(path) if n.startswith("invitegw")}
        stray = sorted(
            n for n in ours if not (n.startswith("invitegw.ics") or n == "invitegw.errors")
        )
        assert not stray, f"ics/{path.name} imports {stray}"


def test_every_module_has_a_docstring() -> None:
    missing = [
        str(p.relative_to(PACKAGE))
        for p in sorted(PACKAGE.rglob("*.py"))
        if "migrations/versions" not in str(p)
        and ast.get_docstring(ast.parse(p.read_text())) is None
    ]
    assert not missing, f"modules without a docstring: {missing}"
