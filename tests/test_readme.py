"""Every command of README.md's ``sh`` blocks runs, in order, as a new user pastes them.

The commands run one by one in a fresh folder laid out like a clone (``examples/``, and
``.venv`` pointing at this interpreter's environment), on the embedded setup: no
configuration file, so the database and the built-in CRM go to ``./data`` and ``invitegw
serve`` starts its own SMTP sink (on a free port, through ``INVITEGW_SMTP__PORT``, so that
two runs on one machine never meet on 8025). Each command is a test of its own, named by
its README line; a command must exit 0 unless a trailing comment says otherwise:

- ``# fails: why``: shown as a failure; it must exit non-zero.
- ``# until Ctrl-C: ...``: it runs until stopped (``invitegw serve``): started, it must
  print its readiness line, then it gets SIGINT and must exit 0.
- ``# needs something: ...``: not run (an external system, or minutes of a quiet
  machine); the test is skipped with that reason.

``make TARGET`` lines are checked with ``make -n`` (the target exists, its recipe
resolves); ``make test`` stops there (it would run this suite inside itself), other
targets' ``invitegw`` recipe lines are run. ``invitegw`` commands run in this process
(``main(argv)``: the same code without the interpreter's start, which keeps the whole
README well under a minute); other lines (``ls``, ``. .venv/bin/activate``, ``export``)
run in ``bash``. A command selected alone (``-k``) first replays the ones before it.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import pytest

from invitegw.gateway.cli import main
from invitegw.mailbox.transport.netutil import pick_free_port
from tests.fixtures.process import CliProcess

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
_BLOCK = re.compile(r"^```sh[ \t]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
_NEEDS = re.compile(r"needs ([^:]+):")


class Expect(Enum):
    """What a README command must do."""

    SUCCEED = "succeed"
    FAIL = "fail"
    SERVE = "serve until Ctrl-C"
    SKIP = "skip"


@dataclass(frozen=True)
class Command:
    """One command of the README: its line, text, and what it must do."""

    line: int
    text: str
    expect: Expect
    reason: str = ""

    @property
    def id(self) -> str:
        return f"L{self.line}:{self.text[:60]}"


def _comment(text: str) -> tuple[str, str]:
    """(command, trailing comment): the first ``#`` after a blank, outside quotes."""
    for match in re.finditer(r"\s#", text):
        head = text[: match.start()]
        try:
            shlex.split(head)
        except ValueError:  # inside quotes
            continue
        return head.strip(), text[match.end() :].strip()
    return text.strip(), ""


def parse_commands(markdown: str) -> list[Command]:
    """Every command of the ``sh`` blocks in ``markdown``, continuation lines joined.

    Parameters:
        markdown: the README text.

    Returns:
        The commands, in order.
    """
    found: list[Command] = []
    for block in _BLOCK.finditer(markdown):
        first = markdown.count("\n", 0, block.start(1)) + 1
        pending: list[str] = []
        start = first
        for offset, raw in enumerate(block.group(1).splitlines()):
            if not pending:
                start = first + offset
            stripped = raw.strip()
            if not pending and (not stripped or stripped.startswith("#")):
                continue
            if stripped.endswith("\\"):
                pending.append(stripped[:-1].strip())
                continue
            text, comment = _comment(" ".join([*pending, stripped]))
            pending = []
            found.append(_classify(start, text, comment))
    return found


def _classify(line: int, text: str, comment: str) -> Command:
    if comment.startswith("fails:"):
        return Command(line, text, Expect.FAIL, comment.removeprefix("fails:").strip())
    if comment.startswith("until Ctrl-C"):
        return Command(line, text, Expect.SERVE)
    needs = _NEEDS.match(comment)
    if needs:
        return Command(line, text, Expect.SKIP, f"needs {needs.group(1).strip()}")
    return Command(line, text, Expect.SUCCEED)


COMMANDS = parse_commands(README.read_text(encoding="utf-8"))


@dataclass
class Outcome:
    """How a command ended."""

    code: int
    out: str = ""
    err: str = ""


@dataclass
class Workspace:
    """The fresh folder the README runs in, its environment, and what has run so far."""

    path: Path
    env: dict[str, str]
    done: set[int] = field(default_factory=set)

    def run(self, command: Command) -> Outcome:
        """Run one command (see the module docstring for how)."""
        argv = shlex.split(command.text)
        if command.expect is Expect.SERVE:
            return self._serve(argv)
        if argv[0] == "make":
            return self._make(argv)
        if argv[0] == "invitegw":
            return self._in_process(argv[1:])
        proc = subprocess.run(
            ["bash", "-c", command.text],
            cwd=self.path,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        return Outcome(proc.returncode, proc.stdout, proc.stderr)

    @contextlib.contextmanager
    def _inside(self) -> Iterator[None]:
        saved_env, saved_cwd = dict(os.environ), Path.cwd()
        os.environ.clear()
        os.environ.update(self.env)
        os.chdir(self.path)
        try:
            yield
        finally:
            os.chdir(saved_cwd)
            os.environ.clear()
            os.environ.update(saved_env)

    def _in_process(self, argv: list[str]) -> Outcome:
        out, err = io.StringIO(), io.StringIO()
        with self._inside(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse: usage errors, --help
                code = exc.code if isinstance(exc.code, int) else 1
        return Outcome(code, out.getvalue(), err.getvalue())

    def _make(self, argv: list[str]) -> Outcome:
        dry = subprocess.run(
            ["make", "-n", "-C", str(ROOT), *argv[1:]],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if dry.returncode != 0 or argv[1:] == ["test"]:
            return Outcome(dry.returncode, dry.stdout, dry.stderr)
        outcome = Outcome(0, dry.stdout)
        for recipe in dry.stdout.splitlines():
            words = shlex.split(recipe)
            if words and words[0].endswith("/invitegw"):
                outcome = self._in_process(words[1:])
                if outcome.code != 0:
                    break
        return outcome

    def _serve(self, argv: list[str]) -> Outcome:
        assert argv[0] == "invitegw"
        serve = CliProcess(None, *argv[1:], env=self.env, cwd=self.path)
        try:
            serve.wait_ready()
        finally:
            serve.terminate(signal.SIGINT)
            code, err = serve.finish()
        return Outcome(code, "", err)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """A folder laid out like a fresh clone, and the embedded setup's environment."""
    path = tmp_path_factory.mktemp("readme")
    shutil.copytree(ROOT / "examples", path / "examples")
    (path / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVITEGW_")}
    env["PATH"] = f"{Path(sys.prefix) / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["INVITEGW_SMTP__PORT"] = str(pick_free_port())
    env["COLUMNS"] = "100"
    return Workspace(path, env)


def test_the_readme_has_commands_to_run() -> None:
    assert len([c for c in COMMANDS if c.expect is Expect.SUCCEED]) >= 20
    assert COMMANDS[0].text == "make demo"
    assert COMMANDS[1].text == "make test"


@pytest.mark.parametrize("command", COMMANDS, ids=[c.id for c in COMMANDS])
def test_readme_command(command: Command, workspace: Workspace) -> None:
    if command.expect is Expect.SKIP:
        pytest.skip(f"README line {command.line}: {command.reason}")
    for earlier in COMMANDS:  # a command picked alone runs on the state the ones before made
        if earlier.line >= command.line:
            break
        if earlier.line not in workspace.done and earlier.expect is not Expect.SKIP:
            workspace.run(earlier)
            workspace.done.add(earlier.line)
    outcome = workspace.run(command)
    workspace.done.add(command.line)
    shown = (
        f"README line {command.line}: {command.text}\n"
        f"stdout:\n{outcome.out}\nstderr:\n{outcome.err}"
    )
    if command.expect is Expect.FAIL:
        assert outcome.code != 0, f"expected to fail ({command.reason})\n{shown}"
    else:
        assert outcome.code == 0, f"exit {outcome.code}\n{shown}"


SAMPLE = """
Text.

```sh
invitegw crm user add a@example.com --name "A # not a comment"   # adds A
invitegw crm meeting create --title "T" \\
    --start 2030-01-01T10:00   # continued
# a comment line
invitegw ics inspect README.md   # fails: not mail
invitegw serve     # until Ctrl-C: polls
invitegw crm check # needs vtiger: logs in
```

```toml
[not] = "run"
```
"""


def test_the_parser_reads_markers_and_continuations() -> None:
    commands = parse_commands(SAMPLE)
    assert [(c.line, c.text, c.expect, c.reason) for c in commands] == [
        (5, 'invitegw crm user add a@example.com --name "A # not a comment"', Expect.SUCCEED, ""),
        (6, 'invitegw crm meeting create --title "T" --start 2030-01-01T10:00', Expect.SUCCEED, ""),
        (9, "invitegw ics inspect README.md", Expect.FAIL, "not mail"),
        (10, "invitegw serve", Expect.SERVE, ""),
        (11, "invitegw crm check", Expect.SKIP, "needs vtiger"),
    ]
