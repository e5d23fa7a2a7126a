"""No function over 60 lines on the outbound path: the iTIP planning rules and the shell.

The limit of the project's standards (``itip/`` and the pipelines), checked on the source
of the outbound planning modules of :mod:`invitegw.itip` and of
:mod:`invitegw.gateway.outbound`. A function counts from its ``def`` line to its last,
docstring and blank lines included (decorators not), as a reader scrolls through it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "invitegw"
LIMIT = 60
PLANNING = ("planner", "plan_model", "plan_messages", "plan_rows", "recipients", "meeting_events")
CHECKED = sorted(
    [PACKAGE / "itip" / f"{name}.py" for name in PLANNING]
    + list((PACKAGE / "gateway" / "outbound").glob("*.py"))
)


def _sizes(source: str) -> list[tuple[str, int, int]]:
    """(name, first line, length) of every function and method in ``source``."""
    return [
        (node.name, node.lineno, (node.end_lineno or node.lineno) - node.lineno + 1)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]


@pytest.mark.parametrize("path", CHECKED, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_function_over_the_limit(path: Path) -> None:
    long = [
        f"{name} (line {line}): {size} lines"
        for name, line, size in _sizes(path.read_text(encoding="utf-8"))
        if size > LIMIT
    ]
    assert not long, f"{path.name}: functions over {LIMIT} lines: {long}"


def test_the_check_sees_a_long_function() -> None:
    """The measure can fail: a function of 61 lines is reported at its length."""
    body = "".join(f"    x{n} = {n}\n" for n in range(60))
    assert _sizes(f"def long():\n{body}") == [("long", 1, 61)]


def test_every_planning_module_is_there() -> None:
    assert all(path.exists() for path in CHECKED)
