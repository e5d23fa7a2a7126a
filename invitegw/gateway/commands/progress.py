"""Progress of a long ``ingest``: one step per message, on a terminal's stderr only.

Before the first message, :func:`count_messages` counts what the inputs hold without
parsing them (an mbox's ``From `` lines, a Maildir's files, one for a file), so a
10,000-message mbox shows a bar that moves with each message, its rate and the time left,
not "0/1 inputs" until the end. Nothing is drawn when stderr is not a terminal (a pipe, a
log file, cron): the final summary line is all that is written there.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from invitegw.gateway.inbound.file_source import FileInput, InputKind

__all__ = ["IngestProgress", "count_messages"]

_CHUNK = 1024 * 1024


def _mbox_messages(path: Path) -> int:
    """Lines starting with ``From `` (where the reader, Python's ``mailbox``, splits)."""
    count = 0
    tail = b""
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                lines = (tail + chunk).split(b"\n")
                tail = lines.pop()
                count += sum(1 for line in lines if line.startswith(b"From "))
    except OSError:
        return 1
    return max(count + int(tail.startswith(b"From ")), 1)


def _maildir_messages(path: Path) -> int:
    total = 0
    for sub in ("cur", "new"):
        try:
            total += sum(1 for entry in (path / sub).iterdir() if not entry.name.startswith("."))
        except OSError:
            continue
    return total


def count_messages(inputs: Sequence[FileInput]) -> int:
    """How many messages ``inputs`` hold, counted cheaply (an estimate for a damaged mbox).

    Parameters:
        inputs: what ``collect_inputs`` found.

    Returns:
        The count.
    """
    total = 0
    for item in inputs:
        if item.kind is InputKind.MBOX:
            total += _mbox_messages(item.path)
        elif item.kind is InputKind.MAILDIR:
            total += _maildir_messages(item.path)
        else:
            total += 1
    return total


class IngestProgress:
    """A rich progress bar advanced per message (see the module docstring).

    Parameters:
        inputs: the inputs (their messages are counted when the bar is drawn).
        stream: where the bar goes (standard error).
        enabled: draw it (default: only when ``stream`` is a terminal).
    """

    def __init__(
        self, inputs: Sequence[FileInput], stream: TextIO, *, enabled: bool | None = None
    ) -> None:
        self.enabled = stream.isatty() if enabled is None else enabled
        self.outcomes: Counter[str] = Counter()
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        if not self.enabled:
            return
        console = Console(file=stream, stderr=True)
        self._progress = Progress(
            TextColumn("[bold]ingest"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]} msg/s"),
            TimeRemainingColumn(),
            TextColumn("{task.description}"),
            console=console,
            transient=True,
        )
        self._task = self._progress.add_task("", total=count_messages(inputs), rate="-")

    def __enter__(self) -> IngestProgress:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def message(self, outcomes: Sequence[str]) -> None:
        """One message was handled, with these event outcomes."""
        self.outcomes.update(outcomes)
        if self._progress is None or self._task is None:
            return
        task = self._progress.tasks[0]
        speed = task.speed
        shown = ", ".join(f"{n} {name}" for name, n in self.outcomes.most_common(3))
        self._progress.update(
            self._task, advance=1, description=shown, rate=f"{speed:.0f}" if speed else "-"
        )

    def note(self, text: str) -> None:
        """A line above the bar (a file that could not be read)."""
        if self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False)
