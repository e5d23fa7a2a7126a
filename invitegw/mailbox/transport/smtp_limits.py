"""What bounds the SMTP listener's memory: connection slots, and DATA spooled to disk.

Without them, 40 connections each holding an unfinished 24 MB DATA took the gateway from
84 MB to 1.1 GB (aiosmtpd keeps every line of DATA as an object of its own until the
final dot), and the memory stayed after they closed (small objects fragment the heap).

- :class:`ConnectionSlots`: at most ``max_connections`` sessions at once, at most
  ``max_connections_per_ip`` from one client address; a connection beyond either is
  answered ``421 4.7.0`` and closed before the greeting (RFC 5321 section 3.8: a server
  may refuse service with 421 at connection time).
- :class:`ListenerSMTP` (aiosmtpd's session, made by :class:`ListenerController`) uses
  both, and answers its size refusals with RFC 3463 codes.
- :func:`read_data`: the DATA lines go into a :class:`tempfile.SpooledTemporaryFile`:
  in memory up to ``spool_threshold`` bytes, then in a file (mode 0600) in ``spool_dir``,
  deleted when the session is done with it. A session holds at most the threshold in
  memory whatever it sends; the message is read back whole only to be stored, one at a
  time per ``store_slots``.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, AnyStr

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP

if TYPE_CHECKING:
    from invitegw.mailbox.transport.smtp_receive import ListenerConfig

__all__ = [
    "REPLY_TOO_BIG",
    "ConnectionSlots",
    "DataResult",
    "DataState",
    "ListenerController",
    "ListenerSMTP",
    "read_data",
]

logger = logging.getLogger(__name__)

REPLY_TOO_BIG = "552 5.3.4 Message too big for system"
REPLY_NOT_STORED = "451 4.3.0 Temporary failure storing the message, try again later"


class ConnectionSlots:
    """Counts open sessions, in all and per client address (one event loop: no lock).

    Parameters:
        total: sessions at once.
        per_ip: sessions at once from one client address.
    """

    def __init__(self, total: int, per_ip: int) -> None:
        self.total = total
        self.per_ip = per_ip
        self._open: dict[str, int] = {}
        self._count = 0

    @property
    def open(self) -> int:
        """Sessions open now."""
        return self._count

    def take(self, ip: str) -> str | None:
        """Take a slot for a session from ``ip``.

        Parameters:
            ip: the client's address.

        Returns:
            None when the session may go on; else why not (for the 421 reply).
        """
        if self._count >= self.total:
            return "too many connections, try again later"
        if self._open.get(ip, 0) >= self.per_ip:
            return "too many connections from your address, try again later"
        self._open[ip] = self._open.get(ip, 0) + 1
        self._count += 1
        return None

    def give(self, ip: str) -> None:
        """Give back the slot of a session from ``ip`` that ended."""
        left = self._open.get(ip, 0) - 1
        if left > 0:
            self._open[ip] = left
        else:
            self._open.pop(ip, None)
        self._count = max(0, self._count - 1)


class DataState(enum.Enum):
    """How a DATA transfer ended."""

    COMPLETE = enum.auto()
    TOO_LONG = enum.auto()  # a line over the line length limit (RFC 5321 section 4.5.3.1.6)
    TOO_MUCH = enum.auto()  # more bytes than the message size limit
    NOT_STORED = enum.auto()  # the spool file could not be written (disk full): 451


@dataclass
class DataResult:
    """The outcome of :func:`read_data`; ``file`` holds the message when COMPLETE."""

    state: DataState
    size: int = 0
    file: IO[bytes] | None = field(default=None, repr=False)


async def read_data(
    reader: asyncio.StreamReader,
    *,
    size_limit: int | None,
    line_limit: int,
    spool_threshold: int,
    spool_dir: Path | None,
) -> DataResult:
    """Read one DATA transfer up to the lone dot, into a spooled temporary file.

    Lines keep their CRLF; a leading dot is removed (RFC 5321 section 4.5.2). Over a
    limit the rest is read and dropped, and the state says which limit (the reply is sent
    after the final dot, as RFC 5321 section 4.2.5 implies).

    Parameters:
        reader: the session's stream.
        size_limit: the message size limit, or None.
        line_limit: the longest line accepted, CRLF included.
        spool_threshold: bytes kept in memory before the file moves to disk.
        spool_dir: where the file goes (None: the system's temporary folder).

    Returns:
        The result; the caller closes ``file`` (which deletes it).

    Raises:
        asyncio.CancelledError: the connection went away (the file is closed first).
    """
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - returned open
        max_size=spool_threshold, dir=str(spool_dir) if spool_dir else None, prefix="smtp-data-"
    )
    state = DataState.COMPLETE
    size = 0
    partial = False  # inside a line longer than the stream's limit
    try:
        while True:
            try:
                line = await reader.readuntil(b"\r\n")
            except asyncio.LimitOverrunError as over:
                # Longer than the stream's limit: drain it, keep nothing of it.
                line = await reader.read(over.consumed)
                partial = True
                size += len(line)
                state = _refused(spool, state, DataState.TOO_LONG)
                continue
            except asyncio.IncompleteReadError:
                raise asyncio.CancelledError from None  # the client went away mid-DATA
            if partial:
                partial = False  # the end of the over-long line
                size += len(line)
                continue
            if line == b".\r\n":
                break
            size += len(line)
            if size_limit and size > size_limit:
                state = _refused(spool, state, DataState.TOO_MUCH)
            elif len(line) > line_limit:
                state = _refused(spool, state, DataState.TOO_LONG)
            if state is DataState.COMPLETE:
                try:
                    spool.write(line[1:] if line.startswith(b".") else line)
                except OSError as exc:  # disk full: read the rest, then say 451
                    logger.warning("SMTP DATA could not be spooled: %s", exc)
                    state = _refused(spool, state, DataState.NOT_STORED)
    except BaseException:
        spool.close()
        raise
    if state is not DataState.COMPLETE:
        return DataResult(state, size)
    try:
        spool.seek(0)  # flushes what is buffered: the disk may be full only now
    except OSError as exc:
        logger.warning("SMTP DATA could not be spooled: %s", exc)
        return DataResult(_refused(spool, state, DataState.NOT_STORED), size)
    return DataResult(state, size, spool)


def _refused(spool: IO[bytes], state: DataState, why: DataState) -> DataState:
    """The first refusal sticks; what was kept so far is dropped at once (memory, disk)."""
    if state is DataState.COMPLETE:
        with contextlib.suppress(OSError):  # a file that could not be written may not flush
            spool.close()
        return why
    return state


class ListenerSMTP(SMTP):
    """aiosmtpd's SMTP with connection slots, DATA spooled to disk, RFC 3463 codes.

    Parameters:
        handler: the :class:`ListenerHandler`.
        slots: the server's connection counts.
        config: the listener's limits.
        kwargs: aiosmtpd's own.
    """

    def __init__(
        self,
        handler: Any,
        slots: ConnectionSlots,
        config: ListenerConfig,
        **kwargs: Any,
    ) -> None:
        super().__init__(handler, **kwargs)
        self._slots = slots
        self._config = config
        self._slot_ip: str | None = None
        self._refused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.transport is None and self._original_transport is None:  # not STARTTLS
            peer = transport.get_extra_info("peername")
            ip = str(peer[0]) if isinstance(peer, tuple) and peer else "?"
            refusal = self._slots.take(ip)
            if refusal is not None:
                # RFC 5321 section 3.8: 421 at connection time, then close; no greeting.
                self._refused = True
                logger.warning("SMTP refused a connection from %s: %s", ip, refusal)
                assert isinstance(transport, asyncio.WriteTransport)
                transport.write(f"421 4.7.0 {self._config.server_name} {refusal}\r\n".encode())
                transport.close()
                return
            self._slot_ip = ip
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self._refused:
            return
        ip, self._slot_ip = self._slot_ip, None
        if ip is not None:
            self._slots.give(ip)
        super().connection_lost(error)

    def data_received(self, data: bytes) -> None:
        if not self._refused:
            super().data_received(data)

    def eof_received(self) -> bool | None:
        return False if self._refused else super().eof_received()

    def _after_data(self) -> None:
        self._set_post_data_state()  # type: ignore[no-untyped-call]

    async def push(self, status: AnyStr) -> None:
        if isinstance(status, str) and status.startswith("552 Error"):
            # "552 Error: Too much mail data" / "... exceeds fixed maximum message size"
            await super().push(REPLY_TOO_BIG)
            return
        await super().push(status)

    async def smtp_DATA(self, arg: str) -> None:  # noqa: N802 (aiosmtpd command name)
        """DATA as aiosmtpd does it, but into a file past ``spool_threshold`` bytes."""
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        try:
            result = await read_data(
                self._reader,
                size_limit=self.data_size_limit,
                line_limit=self.line_length_limit,
                spool_threshold=self._config.spool_threshold,
                spool_dir=self._config.spool_dir,
            )
        except asyncio.CancelledError:
            logger.info("SMTP connection lost during DATA from %s", self._slot_ip)
            self._writer.close()
            raise
        if result.state is DataState.TOO_LONG:
            await self.push("500 Line too long (see RFC5321 4.5.3.1.6)")
            self._after_data()
            return
        if result.state is DataState.TOO_MUCH:
            await self.push(REPLY_TOO_BIG)
            self._after_data()
            return
        if result.state is DataState.NOT_STORED:
            await self.push(REPLY_NOT_STORED)
            self._after_data()
            return
        assert result.file is not None
        self.envelope.original_content = None
        self.envelope.content = None
        self.envelope.data_file = result.file  # type: ignore[attr-defined]
        try:
            status = await self._call_handler_hook("DATA")
        finally:
            result.file.close()  # deletes a file on disk
            self.envelope.data_file = None  # type: ignore[attr-defined]
        self._after_data()
        await self.push("250 OK" if status is MISSING else status)


class ListenerController(Controller):
    def __init__(self, handler: Any, config: ListenerConfig, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._config = config
        self._slots = ConnectionSlots(config.max_connections, config.max_connections_per_ip)

    def factory(self) -> SMTP:
        return ListenerSMTP(self.handler, self._slots, self._config, **self.SMTP_kwargs)
