"""The SMTP listener as a scheduler service: it accepts mail for the gateway's addresses.

:class:`ListenerService` runs :class:`~invitegw.mailbox.transport.smtp_receive.ListenerServer`
for ``[listener]``: unknown recipients get ``550 5.1.1`` and oversized messages
``552 5.3.4`` during the SMTP dialogue; an accepted message is committed to the
``inbound_spool`` table (:class:`~invitegw.gateway.storage.mail_state.StoreSpool`) before
the ``250``, then the spool's mail source (:mod:`~invitegw.gateway.inbound.smtp_source`) is
woken. :func:`listener_config` and :func:`listener_tls` read its settings.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable, Sequence
from pathlib import Path

from invitegw.errors import ConfigError
from invitegw.gateway.config import CalendarSettings, ListenerSettings, Settings
from invitegw.gateway.inbound.source import WorkerContext
from invitegw.gateway.permissions import private_folder
from invitegw.gateway.storage.mail_state import StoreSpool
from invitegw.mailbox.transport.smtp_receive import ListenerConfig, ListenerServer

__all__ = ["ListenerService", "incoming_folder", "listener_config", "listener_tls"]


def listener_config(
    listener: ListenerSettings,
    calendars: Sequence[CalendarSettings],
    *,
    max_message_bytes: int,
    spool_dir: Path | None = None,
) -> ListenerConfig:
    """The listener's config from ``[listener]``, ``[[calendars]]`` and ``[limits]``.

    The accepted recipients are ``listener.recipients`` plus every calendar's address (with
    its reply tokens, whatever the calendar's ``token_separator``).

    Parameters:
        listener: ``[listener]``.
        calendars: ``[[calendars]]``.
        max_message_bytes: ``limits.message_bytes``.
        spool_dir: where DATA past ``listener.spool_threshold`` is spooled to disk
            (:func:`incoming_folder`); ``None`` keeps it in memory.

    Returns:
        The config.

    Raises:
        ConfigError: no recipient address, or a malformed one.
    """
    # Replies to our invitations come to a calendar's address with a token: accept those
    # whatever [listener] lists, with each calendar's token separator.
    addresses = tuple(dict.fromkeys([*listener.recipients, *(c.address for c in calendars)]))
    separators = tuple(dict.fromkeys(["+", *(c.token_separator for c in calendars)]))
    return ListenerConfig(
        addresses=addresses,
        separators=separators,
        host=listener.host,
        port=listener.port,
        max_message_size=min(listener.max_message_size, max_message_bytes),
        server_name=listener.hostname or socket.getfqdn(),
        max_connections=listener.max_connections,
        max_connections_per_ip=listener.max_connections_per_ip,
        spool_threshold=listener.spool_threshold,
        spool_dir=spool_dir,
    )


def incoming_folder(settings: Settings) -> Path:
    """Where the listener spools DATA past ``listener.spool_threshold`` (made 0700 on start).

    Parameters:
        settings: the configuration.

    Returns:
        ``data_dir/incoming``.
    """
    return settings.data_dir / "incoming"


def listener_tls(settings: ListenerSettings) -> ssl.SSLContext | None:
    """The server TLS context for STARTTLS, from ``[listener] tls_certificate/tls_key``.

    Parameters:
        settings: the ``[listener]`` settings.

    Returns:
        The context, or None when no certificate is configured.

    Raises:
        ConfigError: the files cannot be read or do not hold a matching chain and key.
    """
    if settings.tls_certificate is None or settings.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(settings.tls_certificate, settings.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"listener.tls_certificate/tls_key ({settings.tls_certificate}, "
            f"{settings.tls_key}): {exc}"
        ) from exc
    return context


class ListenerService:
    """The SMTP listener as a scheduler ``Service``; each spooled message wakes ``notify``.

    Parameters:
        config: the listener's config (:func:`listener_config`).
        worker: the store and clock the spool is written with.
        notify: called after each message was committed to the spool.
        tls_context: the server TLS context for STARTTLS (:func:`listener_tls`), if any.
        require_starttls: refuse mail until the client has started TLS.
    """

    name = "smtp-listener"

    def __init__(
        self,
        config: ListenerConfig,
        worker: WorkerContext,
        *,
        notify: Callable[[], None] | None = None,
        tls_context: ssl.SSLContext | None = None,
        require_starttls: bool = False,
    ) -> None:
        self.server = ListenerServer(
            config,
            StoreSpool(worker.store, worker.clock),
            notify=notify,
            tls_context=tls_context,
            require_starttls=require_starttls,
        )

    @property
    def port(self) -> int:
        """The bound port."""
        return self.server.port

    def start(self) -> None:
        """Bind and serve.

        Raises:
            ConfigError: the address cannot be bound, or the spool folder not made.
        """
        folder = self.server.config.spool_dir
        if folder is not None:
            try:
                private_folder(folder)
            except OSError as exc:
                raise ConfigError(f"listener: cannot create {folder}: {exc}") from exc
        self.server.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop serving (open sessions are cut; what was answered 250 is spooled)."""
        self.server.stop()
