"""A local SMTP sink: aiosmtpd on loopback, accepting every message and keeping it here.

Two users. ``invitegw demo`` runs one on a free port and reads what arrived from memory.
``invitegw serve`` on the embedded setup (no configuration file, the relay on a loopback
address) runs one on the relay's port, so that what the gateway sends lands somewhere a
person can open it: each message is written to a folder as an ``.eml`` file named
``<local time>-<n>-<recipient>.eml``. Nothing it accepts ever leaves the machine.

It binds loopback addresses only. When the port is taken, :func:`port_in_use` says so
before anything starts, and the caller decides (``serve`` then delivers to whatever
listens there: a sink the person started, another ``serve``).
"""

from __future__ import annotations

import datetime as dt
import errno
import ipaddress
import re
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from invitegw.errors import ConfigError, GatewayError
from invitegw.mailbox.transport.netutil import pick_free_port

__all__ = ["LocalSink", "SinkMessage", "is_loopback", "port_in_use"]

# What one message may weigh: the relay's own default cap (aiosmtpd's 32 MiB).
_DATA_LIMIT = 32 * 1024 * 1024
_UNSAFE = re.compile(r"[^A-Za-z0-9@._-]")


@dataclass(frozen=True, slots=True)
class SinkMessage:
    """One message the sink accepted: envelope, bytes, and the file it went to (if any)."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    path: Path | None = None


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1).

    Parameters:
        host: a host name or address.

    Returns:
        Whether a server bound there is reachable from this machine only.
    """
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def port_in_use(host: str, port: int) -> bool:
    """True when ``host:port`` cannot be bound because something holds it.

    Parameters:
        host: a loopback address.
        port: the TCP port.

    Returns:
        Whether the port is taken.

    Raises:
        OSError: binding failed for another reason.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


class _Handler:
    def __init__(self, sink: LocalSink) -> None:
        self._sink = sink

    async def handle_DATA(  # noqa: N802 (aiosmtpd hook name)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        try:
            self._sink._add(
                str(envelope.mail_from or ""),
                tuple(envelope.rcpt_tos),
                bytes(envelope.original_content or b""),
            )
        except OSError:
            # Not stored: a temporary failure, so the gateway keeps it and tries again.
            return "451 4.3.0 the local sink could not store the message"
        return "250 2.0.0 OK (invitegw local sink)"


class LocalSink:
    """A recording SMTP server on a loopback address (a context manager).

    Parameters:
        host: a loopback address.
        port: the port (default: a free one).
        folder: where each message is written as an ``.eml`` file (default: nowhere).
        keep: keep the messages in memory too (:attr:`messages`, :meth:`wait_for`).

    Raises:
        ConfigError: ``host`` is not a loopback address.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        folder: Path | None = None,
        keep: bool = True,
    ) -> None:
        if not is_loopback(host):
            raise ConfigError(f"the local SMTP sink listens on loopback only, not on {host!r}")
        self.host = host
        self.port = port if port is not None else pick_free_port(host)
        self.folder = folder
        self._keep = keep
        self._cond = threading.Condition()
        self._messages: list[SinkMessage] = []
        self._count = 0
        self._controller: Any = Controller(
            _Handler(self),
            hostname=host,
            port=self.port,
            server_hostname="local-sink.invalid",
            data_size_limit=_DATA_LIMIT,
        )

    def _write(self, rcpt_tos: tuple[str, ...], raw: bytes, number: int) -> Path:
        assert self.folder is not None
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now().astimezone().strftime("%Y%m%d-%H%M%S")
        who = _UNSAFE.sub("_", rcpt_tos[0] if rcpt_tos else "nobody")[:80]
        while True:  # another process may write the same second: never overwrite
            path = self.folder / f"{stamp}-{number:04d}-{who}.eml"
            try:
                with path.open("xb") as handle:
                    handle.write(raw)
            except FileExistsError:
                number += 1
                continue
            return path

    def _add(self, mail_from: str, rcpt_tos: tuple[str, ...], raw: bytes) -> None:
        with self._cond:
            self._count += 1
            number = self._count
        path = self._write(rcpt_tos, raw, number) if self.folder is not None else None
        message = SinkMessage(mail_from=mail_from, rcpt_tos=rcpt_tos, raw=raw, path=path)
        with self._cond:
            if self._keep:
                self._messages.append(message)
            self._cond.notify_all()

    @property
    def received(self) -> int:
        """How many messages arrived so far."""
        with self._cond:
            return self._count

    @property
    def messages(self) -> list[SinkMessage]:
        """Everything received so far, in order (when kept in memory)."""
        with self._cond:
            return list(self._messages)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[SinkMessage]:
        """Block until ``count`` messages arrived in all.

        Parameters:
            count: how many.
            timeout: the most seconds to wait.

        Returns:
            The messages kept so far.

        Raises:
            GatewayError: fewer arrived before the deadline.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._count < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise GatewayError(f"the local sink got {self._count} of {count} messages")
                self._cond.wait(remaining)
            return list(self._messages)

    def start(self) -> None:
        """Start listening (returns once the server answers)."""
        self._controller.start()

    def stop(self) -> None:
        """Stop listening."""
        self._controller.stop()

    def __enter__(self) -> LocalSink:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
