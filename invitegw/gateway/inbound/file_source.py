"""The file mail source, for ``invitegw ingest``: .eml, .ics, mbox files and Maildir folders.

:class:`FileSource` is the files as a :class:`~invitegw.gateway.inbound.source.MailSource`
(name ``file``): :meth:`FileSource.drain` hands every message of every input to the
pipeline, in order; a file that cannot be read is reported and the others go on. Its
messages carry no source position (the Message-ID and body dedupe a file ingested twice)
and no envelope; the owner is the one ``--owner`` gives.

:func:`collect_inputs` turns the paths given on the command line into a list of
:class:`FileInput` (a directory is walked in name order; a Maildir folder, one with
``cur`` and ``new``, and an mbox file are one input each, expanded later); :func:`read_input`
yields each input's messages as :class:`~invitegw.gateway.inbound.model.ReceivedMessage`
with ``source="file"`` and a ``reference`` naming the file (``box.mbox#3`` for the third
message of an mbox, the file's path inside a Maildir).

Inside a walked folder, files that are obviously neither mail nor calendars (no header
line, no ``BEGIN:VCALENDAR``, no mbox ``From`` line at their start, and no mail or
calendar suffix: a README, a picture) are left out and reported to the caller; a file
named on the command line is always read (and quarantined when it is not mail).

A bare calendar file (``.ics``/``.vcs``, or any file whose content starts with
``BEGIN:VCALENDAR``) is wrapped in a minimal iMIP message (a single ``text/calendar``
part, no From): the pipeline then judges it by its ORGANIZER, as it judges an invitation
sent straight to the gateway. A file over the size cap is not read whole: its first bytes
go to the pipeline marked ``oversized``, which quarantines it with the reason.

mbox files are read one message at a time (:class:`mailbox.mbox` keeps only a table of
offsets), so memory stays bounded whatever the mailbox holds.
"""

from __future__ import annotations

import datetime as dt
import mailbox
import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from invitegw.errors import GatewayError
from invitegw.gateway.inbound.model import MessageResult, ReceivedMessage
from invitegw.gateway.inbound.source import RETRYABLE_ERRORS, Pipeline
from invitegw.ics.model import CALENDAR_FILE_SUFFIXES

__all__ = [
    "FileInput",
    "FileReport",
    "FileSource",
    "InputKind",
    "collect_inputs",
    "looks_like_mail",
    "read_input",
    "wrap_calendar",
]

_MBOX_SUFFIXES = (".mbox", ".mbx")
_MAIL_SUFFIXES = (".eml", ".msg", ".mail", ".rfc822", *_MBOX_SUFFIXES, *CALENDAR_FILE_SUFFIXES)
# An RFC 5322 header field at the start of a file: a name of printable ASCII but ':'
# (section 2.2), then the colon (obsolete syntax allows blanks before it, section 4.5).
_HEADER_LINE = re.compile(rb"[!-9;-~]+[ \t]*:")
# Documents that may well start with "word:" (a JSON key, a YAML line), never mail.
_DOCUMENT_SUFFIXES = frozenset({
    ".md", ".rst", ".json", ".toml", ".yaml", ".yml", ".ini", ".cfg", ".py", ".sh", ".html",
    ".htm", ".css", ".js", ".csv", ".pdf", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".zip",
    ".gz", ".tar", ".tgz", ".doc", ".docx", ".xls", ".xlsx", ".odt",
})  # fmt: skip
# Bytes read of an oversized file: enough for its header section.
_HEADER_PREFIX = 64 * 1024
_SNIFF = 512


class InputKind(StrEnum):
    """How a path is read."""

    MESSAGE = "message"  # one RFC 5322 message (.eml or anything else)
    CALENDAR = "calendar"  # a bare iCalendar object
    MBOX = "mbox"
    MAILDIR = "maildir"


@dataclass(frozen=True, slots=True)
class FileInput:
    """One path to read and how."""

    path: Path
    kind: InputKind


def _is_maildir(path: Path) -> bool:
    return (path / "cur").is_dir() and (path / "new").is_dir()


def _sniff(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(_SNIFF)


def _file_kind(path: Path) -> InputKind:
    suffix = path.suffix.lower()
    if suffix in CALENDAR_FILE_SUFFIXES:
        return InputKind.CALENDAR
    if suffix in _MBOX_SUFFIXES:
        return InputKind.MBOX
    head = _sniff(path).lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:15].upper() == b"BEGIN:VCALENDAR":
        return InputKind.CALENDAR
    if head.startswith(b"From ") and b"\n" in head:
        return InputKind.MBOX
    return InputKind.MESSAGE


def looks_like_mail(path: Path) -> bool:
    """False for a file that is obviously neither mail nor a calendar (see the docstring).

    Parameters:
        path: a file.

    Returns:
        True when the file has a mail or calendar suffix, starts like a calendar object
        or an mbox (``From``), or starts like a message (a header field) and has no
        document suffix (``.md``, ``.json``, ``.png`` ...).

    Raises:
        OSError: the file cannot be read.
    """
    suffix = path.suffix.lower()
    if suffix in _MAIL_SUFFIXES:
        return True
    head = _sniff(path).lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:15].upper() == b"BEGIN:VCALENDAR" or head.startswith(b"From "):
        return True
    return suffix not in _DOCUMENT_SUFFIXES and _HEADER_LINE.match(head) is not None


def _entries(directory: Path) -> list[Path]:
    """A folder's entries in name order, hidden ones (``.name``) left out."""
    try:
        entries = sorted(directory.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        raise GatewayError(f"{directory}: cannot list the folder: {exc.strerror}") from exc
    return [entry for entry in entries if not entry.name.startswith(".")]


def _mail_or_error(path: Path) -> bool:
    """:func:`looks_like_mail`, an unreadable file a clear error."""
    try:
        return looks_like_mail(path)
    except OSError as exc:
        raise GatewayError(f"{path}: cannot read the file: {exc.strerror}") from exc


def collect_inputs(
    paths: Sequence[str | os.PathLike[str]], *, skipped: list[Path] | None = None
) -> list[FileInput]:
    """The inputs named by ``paths``, directories walked in name order.

    Hidden files (``.name``) inside walked directories are skipped, and so are files that
    are obviously not mail (:func:`looks_like_mail`); a path named on the command line is
    always read.

    Parameters:
        paths: files and directories.
        skipped: when given, the files left out as not mail are appended to it.

    Returns:
        The inputs, in order, each path once.

    Raises:
        GatewayError: a path does not exist or cannot be read.
    """
    found: list[FileInput] = []
    seen: set[Path] = set()

    def add(path: Path, kind: InputKind) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            found.append(FileInput(path, kind))

    def walk(directory: Path) -> None:
        if _is_maildir(directory):
            add(directory, InputKind.MAILDIR)
            return
        for entry in _entries(directory):
            if entry.is_dir():
                walk(entry)
            elif entry.is_file():
                if _mail_or_error(entry):
                    add(entry, _file_kind(entry))
                elif skipped is not None:
                    skipped.append(entry)

    for name in paths:
        path = Path(name)
        if path.is_dir():
            walk(path)
        elif path.is_file():
            try:
                add(path, _file_kind(path))
            except OSError as exc:
                raise GatewayError(f"{path}: cannot read the file: {exc.strerror}") from exc
        else:
            raise GatewayError(f"{path}: no such file or folder")
    return found


def wrap_calendar(data: bytes, *, name: str) -> bytes:
    """A minimal iMIP message carrying the calendar object ``data`` as its only part.

    The MIME ``method`` parameter is left out: the pipeline reads METHOD from the object.

    Parameters:
        data: the iCalendar bytes, as found.
        name: the file's name, for the Subject and the part's filename.

    Returns:
        The message bytes (CRLF line ends in the header; the body is ``data`` as is).
    """
    safe = "".join(c if c.isprintable() and c not in '"\\' else "_" for c in name)[:200]
    header = (
        "MIME-Version: 1.0\r\n"
        f"Subject: {safe}\r\n"
        f'Content-Type: text/calendar; charset="utf-8"; name="{safe}"\r\n'
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
    )
    return header.encode("utf-8") + data


def _received(
    raw: bytes, reference: str, size: int, oversized: bool, owner: str | None
) -> ReceivedMessage:
    return ReceivedMessage(
        raw=raw,
        source="file",
        reference=reference,
        owner=owner,
        size=size,
        oversized=oversized,
        received_at=dt.datetime.now(dt.UTC),
    )


def _read_file(path: Path, cap: int) -> tuple[bytes, int, bool]:
    size = path.stat().st_size
    with path.open("rb") as handle:
        if size > cap:
            return handle.read(_HEADER_PREFIX), size, True
        return handle.read(), size, False


def read_input(
    item: FileInput, *, max_bytes: int, owner: str | None = None
) -> Iterator[ReceivedMessage]:
    """The messages of one input.

    Parameters:
        item: the input.
        max_bytes: the message size cap (``limits.message_bytes``).
        owner: the staff address owning tasks no forwarder claims.

    Yields:
        Each message, in file order.

    Raises:
        GatewayError: the file or folder cannot be read (one clear line).
    """
    try:
        if item.kind is InputKind.MESSAGE:
            raw, size, oversized = _read_file(item.path, max_bytes)
            yield _received(raw, str(item.path), size, oversized, owner)
        elif item.kind is InputKind.CALENDAR:
            raw, size, oversized = _read_file(item.path, max_bytes)
            if not oversized:
                raw = wrap_calendar(raw, name=item.path.name)
            yield _received(raw, str(item.path), size, oversized, owner)
        elif item.kind is InputKind.MBOX:
            yield from _mbox(item.path, max_bytes, owner)
        else:
            yield from _maildir(item.path, max_bytes, owner)
    except OSError as exc:
        raise GatewayError(f"{item.path}: cannot read: {exc.strerror or exc}") from exc


def _mbox(path: Path, max_bytes: int, owner: str | None) -> Iterator[ReceivedMessage]:
    box = mailbox.mbox(path, create=False)
    try:
        for index, key in enumerate(box.iterkeys(), start=1):
            reference = f"{path}#{index}"
            with box.get_file(key) as handle:
                raw = handle.read(max_bytes + 1)
            oversized = len(raw) > max_bytes
            if oversized:
                raw = raw[:_HEADER_PREFIX]
            size = len(raw) if not oversized else max_bytes + 1
            yield _received(raw, reference, size, oversized, owner)
    finally:
        box.close()


def _maildir(path: Path, max_bytes: int, owner: str | None) -> Iterator[ReceivedMessage]:
    files: list[Path] = []
    for sub in ("new", "cur"):
        folder = path / sub
        files.extend(sorted(p for p in folder.iterdir() if p.is_file() and p.name[:1] != "."))
    for file in files:
        raw, size, oversized = _read_file(file, max_bytes)
        yield _received(raw, str(file), size, oversized, owner)


@dataclass(frozen=True, slots=True)
class FileReport:
    """What one pass over the files did."""

    messages: int = 0
    inputs: int = 0
    unreadable: tuple[str, ...] = ()  # one line per file that could not be read

    @property
    def ok(self) -> bool:
        """Whether every input could be read."""
        return not self.unreadable

    def __str__(self) -> str:
        text = f"{self.messages} messages from {self.inputs} inputs"
        return text + (f", {len(self.unreadable)} unreadable" if self.unreadable else "")


class FileSource:
    """Files as a mail source (see the module docstring).

    Parameters:
        inputs: what to read (:func:`collect_inputs`).
        pipeline: the inbound pipeline.
        max_bytes: the message size cap (``limits.message_bytes``).
        owner: the staff address owning tasks no forwarder claims.
        dry_run: decide, write nothing.
        on_result: called with each message and its result.
        on_error: called with the error of a file that cannot be read.
        on_input: called with the number of inputs done, after each.
    """

    name = "file"

    def __init__(
        self,
        inputs: Sequence[FileInput],
        pipeline: Pipeline,
        *,
        max_bytes: int,
        owner: str | None = None,
        dry_run: bool = False,
        on_result: Callable[[ReceivedMessage, MessageResult], None] | None = None,
        on_error: Callable[[GatewayError], None] | None = None,
        on_input: Callable[[int], None] | None = None,
    ) -> None:
        self._inputs = list(inputs)
        self._pipeline = pipeline
        self._max_bytes = max_bytes
        self._owner = owner
        self._dry_run = dry_run
        self._on_result = on_result
        self._on_error = on_error
        self._on_input = on_input

    def drain(self, stop: threading.Event | None = None) -> FileReport:
        """Hand every message of every input to the pipeline, in order.

        Parameters:
            stop: ends the pass after the input in flight.

        Returns:
            What was done.

        Raises:
            CrmUnavailableError: the CRM is unreachable (run it again: what was handled
                is skipped).
            StorageError: the database failed (likewise).
        """
        messages, done, unreadable = 0, 0, []
        for item in self._inputs:
            if stop is not None and stop.is_set():
                break
            try:
                for message in read_input(item, max_bytes=self._max_bytes, owner=self._owner):
                    result = self._pipeline.handle(message, dry_run=self._dry_run)
                    messages += 1
                    if self._on_result is not None:
                        self._on_result(message, result)
            except RETRYABLE_ERRORS:
                raise
            except GatewayError as exc:  # this file could not be read: go on with the rest
                unreadable.append(str(exc))
                if self._on_error is not None:
                    self._on_error(exc)
            done += 1
            if self._on_input is not None:
                self._on_input(done)
        return FileReport(messages, done, tuple(unreadable))
