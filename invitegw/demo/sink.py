"""The demo's own mail server: aiosmtpd on a free loopback port, keeping what it receives.

``invitegw demo`` must never hand mail to a real relay, whatever the configuration says:
it runs this sink and points the gateway at it. Messages are kept in memory, in arrival
order, and a caller can wait for a number of them with a deadline.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from invitegw.errors import GatewayError
from invitegw.mailbox.transport.netutil import pick_free_port

__all__ = ["DemoSink", "SinkMessage"]

HOST = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class SinkMessage:
    """One message the sink accepted: envelope and bytes."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes


class _Handler:
    def __init__(self, sink: DemoSink) -> None:
        self._sink = sink

    async def handle_DATA(  # noqa: N802 (aiosmtpd hook name)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        message = SinkMessage(
            mail_from=str(envelope.mail_from or ""),
            rcpt_tos=tuple(envelope.rcpt_tos),
            raw=bytes(envelope.original_content or b""),
        )
        self._sink._add(message)
        return "250 2.0.0 OK (invitegw demo sink)"


class DemoSink:
    """A recording SMTP server on ``127.0.0.1`` at a free port (a context manager)."""

    def __init__(self) -> None:
        self.host = HOST
        self.port = pick_free_port(HOST)
        self._cond = threading.Condition()
        self._messages: list[SinkMessage] = []
        self._controller: Any = Controller(
            _Handler(self), hostname=HOST, port=self.port, server_hostname="demo-sink.invalid"
        )

    def _add(self, message: SinkMessage) -> None:
        with self._cond:
            self._messages.append(message)
            self._cond.notify_all()

    @property
    def messages(self) -> list[SinkMessage]:
        """Everything received so far, in order."""
        with self._cond:
            return list(self._messages)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[SinkMessage]:
        """Block until ``count`` messages arrived in all.

        Raises:
            GatewayError: fewer arrived before the deadline.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise GatewayError(
                        f"the demo sink got {len(self._messages)} of {count} messages"
                    )
                self._cond.wait(remaining)
            return list(self._messages)

    def __enter__(self) -> DemoSink:
        self._controller.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._controller.stop()
