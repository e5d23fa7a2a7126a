"""Inbound SMTP: the listener for the gateway's own addresses (aiosmtpd).

Staff forward invitations to e.g. ``crm@company``; the MX relays them here. The SMTP
transaction does the minimum, so that a ``250`` means "stored durably" and nothing more:

- ``RCPT``: only the configured addresses and their plus-addressed variants
  (``name+token@domain``, the reply tokens of outbound invitations) are accepted; others
  get ``550 5.1.1`` at once (RFC 5321 section 3.3, RFC 3463 codes).
- Size: aiosmtpd's ``data_size_limit`` caps the message; over it the answer is
  ``552 5.3.4`` (on ``MAIL FROM ... SIZE=`` or at the end of DATA).
- Memory (:mod:`~invitegw.mailbox.transport.smtp_limits`): at most ``max_connections``
  sessions, ``max_connections_per_ip`` from one address (beyond: ``421 4.7.0``); DATA is
  spooled to a temporary file past ``spool_threshold`` bytes; a finished message is read
  back whole only to be stored, ``store_slots`` at a time.
- ``DATA``: the raw bytes go to the injected ``spool(raw, mail_from, rcpt_tos)``, which
  stores them durably (the gateway writes a database row). Success → ``250``; a spool
  failure → ``451 4.3.0`` so the sending MTA retries. CRM writes never happen here: the
  pipeline processes the spool afterwards (the optional ``notify`` callback wakes it).

:class:`ListenerServer` runs the aiosmtpd ``Controller`` (its own thread and event loop)
on the configured address and exposes the bound port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import ssl
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from invitegw.errors import ConfigError
from invitegw.mailbox.transport.netutil import pick_free_port
from invitegw.mailbox.transport.smtp_limits import ListenerController

__all__ = [
    "ListenerConfig",
    "ListenerHandler",
    "ListenerServer",
    "RecipientFilter",
    "Spool",
]

logger = logging.getLogger(__name__)

Spool = Callable[[bytes, str, list[str]], None]
"""Stores one received message durably: ``spool(raw, mail_from, rcpt_tos)``."""

REPLY_UNKNOWN_RECIPIENT = "550 5.1.1 Recipient address rejected: no such mailbox here"
REPLY_TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
REPLY_SPOOL_FAILED = "451 4.3.0 Temporary failure storing the message, try again later"
REPLY_QUEUED = "250 2.0.0 OK: queued"
_MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(<[^>\r\n]{1,250}>)", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class ListenerConfig:
    """Where and for whom the listener accepts mail.

    Parameters:
        addresses: the gateway's own addresses (``crm@example.com`` ...).
        host: the address to bind.
        port: the port to bind; ``0`` picks a free one (tests, the demo).
        max_message_size: bytes; larger messages get ``552 5.3.4``.
        max_recipients: per message; more get ``452 4.5.3`` (RFC 5321 section 4.5.3.1.8).
        server_name: the name in the greeting and EHLO reply.
        timeout: seconds of client silence before the session is closed.
        separators: characters that join a reply token to an address's local part.
        max_connections: sessions at once; more are answered ``421 4.7.0`` and closed.
        max_connections_per_ip: sessions at once from one client address.
        spool_threshold: DATA bytes kept in memory per session; the rest goes to a file.
        spool_dir: where those files go (None: the system's temporary folder).
        store_slots: finished messages read back and stored at once.

    Raises:
        ConfigError: no address, a malformed address, or a value out of range.
    """

    addresses: tuple[str, ...]
    host: str = "127.0.0.1"
    port: int = 2525
    max_message_size: int = 25 * 1024 * 1024
    max_recipients: int = 100
    server_name: str = "invitegw"
    timeout: float = 300.0
    separators: tuple[str, ...] = ("+",)
    max_connections: int = 50
    max_connections_per_ip: int = 10
    spool_threshold: int = 256 * 1024
    spool_dir: Path | None = None
    store_slots: int = 2

    def __post_init__(self) -> None:
        if not self.addresses:
            raise ConfigError("listener.addresses is empty")
        for address in self.addresses:
            _split(address)  # raises ConfigError
        if not 0 <= self.port < 65536:
            raise ConfigError(f"listener.port {self.port} is not a TCP port")
        limits = (
            self.max_message_size,
            self.max_recipients,
            self.timeout,
            self.max_connections,
            self.max_connections_per_ip,
            self.store_slots,
        )
        if min(limits) <= 0 or self.spool_threshold < 0:
            raise ConfigError("listener limits must be positive")


def _split(address: str) -> tuple[str, str]:
    local, sep, domain = address.strip().rpartition("@")
    if not sep or not local or not domain or any(ch.isspace() for ch in address.strip()):
        raise ConfigError(f"listener address {address!r} is not local@domain")
    return local, domain.lower()


class RecipientFilter:
    """Decides which RCPT addresses belong to the gateway.

    Local parts compare case-insensitively (as most MTAs do in practice, although RFC 5321
    section 2.4 lets a host distinguish them); ``name+token@domain`` matches ``name@domain``
    (and ``name-token@domain`` when ``-`` is one of the ``separators``: a calendar's reply
    tokens use its ``token_separator``).

    Parameters:
        addresses: the gateway's addresses.
        separators: the characters that may join a token to a local part.

    Raises:
        ConfigError: a malformed address.
    """

    def __init__(self, addresses: Iterable[str], separators: Iterable[str] = ("+",)) -> None:
        self._accepted = {self._key(*_split(a)) for a in addresses}
        self._separators = tuple(dict.fromkeys(separators))

    @staticmethod
    def _key(local: str, domain: str) -> str:
        return f"{local.lower()}@{domain}"

    def accepts(self, address: str) -> bool:
        """Whether ``address`` is one of ours (exactly, or plus-addressed).

        Parameters:
            address: the RCPT TO address, without angle brackets.

        Returns:
            ``True`` when the gateway accepts mail for it.
        """
        try:
            local, domain = _split(address)
        except ConfigError:
            return False
        if self._key(local, domain) in self._accepted:
            return True
        for separator in self._separators:
            at = local.find(separator)
            while 0 < at < len(local) - 1:
                if self._key(local[:at], domain) in self._accepted:
                    return True
                at = local.find(separator, at + 1)
        return False


class ListenerHandler:
    """aiosmtpd hooks: ``handle_RCPT`` filters, ``handle_DATA`` spools (see the module doc).

    Parameters:
        recipients: the filter for RCPT addresses.
        spool: stores a message durably; raising means "not stored".
        notify: called after a message was stored (e.g. to wake the pipeline).
        max_recipients: RCPTs accepted per message.
    """

    def __init__(
        self,
        recipients: RecipientFilter,
        spool: Spool,
        *,
        notify: Callable[[], None] | None = None,
        max_recipients: int = 100,
        store_slots: int = 2,
    ) -> None:
        self._recipients = recipients
        self._spool = spool
        self._notify = notify
        self._max_recipients = max_recipients
        self._store_slots = store_slots
        self._stores: asyncio.Semaphore | None = None  # made in the server's event loop

    async def handle_RCPT(  # noqa: N802 (aiosmtpd hook name)
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        """Accept only our addresses; refuse the rest before any data is sent."""
        if not self._recipients.accepts(address):
            logger.info("SMTP refused RCPT <%s> from %s", address, session.peer)
            return REPLY_UNKNOWN_RECIPIENT
        if len(envelope.rcpt_tos) >= self._max_recipients:
            return REPLY_TOO_MANY_RECIPIENTS
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(  # noqa: N802 (aiosmtpd hook name)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        """Store the raw message durably, then answer 250; 451 when storing failed."""
        if self._stores is None:
            self._stores = asyncio.Semaphore(self._store_slots)
        mail_from = envelope.mail_from or ""
        rcpt_tos = list(envelope.rcpt_tos)
        data_file: IO[bytes] | None = getattr(envelope, "data_file", None)
        async with self._stores:  # a whole message in memory only while it is stored
            if data_file is not None:
                raw = await asyncio.to_thread(data_file.read)
            else:
                raw = bytes(envelope.original_content or b"")
            message_id = _message_id(raw)
            try:
                # The spool writes to a database: keep the event loop (other sessions) free.
                await asyncio.to_thread(self._spool, raw, mail_from, rcpt_tos)
            except Exception:
                logger.exception(
                    "SMTP spool failed for %s from=<%s>: answered 451", message_id, mail_from
                )
                return REPLY_SPOOL_FAILED
            size = len(raw)
            del raw
        logger.info(
            "SMTP received %s from=<%s> to=%s size=%d peer=%s",
            message_id,
            mail_from,
            ",".join(rcpt_tos),
            size,
            session.peer,
        )
        if self._notify is not None:
            try:
                self._notify()
            except Exception:
                # The message is stored; the pipeline's own poll will find it.
                logger.exception("SMTP listener notify callback failed")
        return REPLY_QUEUED


def _message_id(raw: bytes) -> str | None:
    head = raw[:65536].split(b"\r\n\r\n", 1)[0]
    match = _MESSAGE_ID.search(head)
    return match.group(1).decode("ascii", "replace") if match else None


def _check_bindable(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        # asyncio's create_server sets SO_REUSEADDR too: TIME_WAIT sockets do not count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


class ListenerServer:
    """Runs the listener in a thread of its own; a context manager.

    Parameters:
        config: addresses, bind address, limits.
        spool: see :data:`Spool`.
        notify: called after each stored message.
        tls_context: when given, STARTTLS is offered (RFC 3207).
        require_starttls: refuse commands other than EHLO, STARTTLS and QUIT until the
            client has started TLS (``530``); needs ``tls_context``.
    """

    def __init__(
        self,
        config: ListenerConfig,
        spool: Spool,
        *,
        notify: Callable[[], None] | None = None,
        tls_context: ssl.SSLContext | None = None,
        require_starttls: bool = False,
    ) -> None:
        if require_starttls and tls_context is None:
            raise ConfigError("the listener cannot require STARTTLS without a TLS context")
        self._require_starttls = require_starttls
        self.config = config
        self.handler = ListenerHandler(
            RecipientFilter(config.addresses, config.separators),
            spool,
            notify=notify,
            max_recipients=config.max_recipients,
            store_slots=config.store_slots,
        )
        self._tls_context = tls_context
        self._controller: Controller | None = None
        self._port = config.port

    @property
    def host(self) -> str:
        """The bound address."""
        return self.config.host

    @property
    def port(self) -> int:
        """The bound port (the picked one when the config said 0)."""
        return self._port

    @property
    def running(self) -> bool:
        """Whether the listener is started and its thread serves (health checks)."""
        controller = self._controller
        thread = getattr(controller, "_thread", None) if controller is not None else None
        return isinstance(thread, threading.Thread) and thread.is_alive()

    def start(self) -> None:
        """Bind and serve in a background thread.

        Raises:
            ConfigError: the address cannot be bound (in use, not local).
        """
        if self._controller is not None:
            raise RuntimeError("listener already started")
        port = self.config.port or pick_free_port(self.config.host)
        try:
            # aiosmtpd reports a failed bind only after its 5 s ready timeout: check first.
            _check_bindable(self.config.host, port)
        except OSError as exc:
            raise ConfigError(f"listener cannot serve on {self.config.host}:{port}: {exc}") from exc
        kwargs: dict[str, Any] = {
            "hostname": self.config.host,
            "port": port,
            "data_size_limit": self.config.max_message_size,
            "server_hostname": self.config.server_name,
            "timeout": self.config.timeout,
            "enable_SMTPUTF8": True,
        }
        if self._tls_context is not None:
            kwargs["tls_context"] = self._tls_context
            kwargs["require_starttls"] = self._require_starttls
        controller = ListenerController(self.handler, self.config, **kwargs)
        try:
            controller.start()
        except (OSError, RuntimeError) as exc:
            # aiosmtpd leaves its thread's event loop open when the bind fails.
            with contextlib.suppress(Exception):
                controller.stop(no_assert=True)
            if not controller.loop.is_closed():
                controller.loop.close()
            raise ConfigError(f"listener cannot serve on {self.config.host}:{port}: {exc}") from exc
        self._controller = controller
        self._port = port
        logger.info("SMTP listener on %s:%d", self.config.host, port)

    def stop(self) -> None:
        """Stop serving (open sessions are cut) and free the port."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()
            logger.info("SMTP listener on %s:%d stopped", self.config.host, self._port)

    def __enter__(self) -> ListenerServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
