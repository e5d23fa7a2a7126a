"""``mailbox check``'s probe: connect, TLS, log in, look around, change nothing unasked.

:func:`probe_mailbox` walks the steps the watcher will take (connect, TLS, authenticate,
LIST, capabilities, the folders it needs) and stops at the first failure with one line
that names the setting to change. It creates the processed and quarantine folders only
when ``create`` agrees (the command asks, or ``--yes``), and counts the messages waiting
in the watched folder with STATUS (nothing is selected read-write, nothing is moved).
"""

from __future__ import annotations

import contextlib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from invitegw.errors import AuthenticationError, CapabilityError, GatewayError
from invitegw.mailbox.transport.imap_client import (
    ImapAccount,
    ImapConnection,
    folder_refusal,
    mapped_errors,
)
from invitegw.mailbox.transport.imap_values import WatchConfig
from invitegw.mailbox.transport.oauth.login import Login, OAuth2Login

__all__ = ["ImapProbe", "ProbeStep", "probe_mailbox"]


@dataclass
class ProbeStep:
    """One step of a check and how it went."""

    name: str
    ok: bool
    detail: str


@dataclass
class ImapProbe:
    """What ``mailbox check`` found for one mailbox."""

    mailbox: str
    steps: list[ProbeStep] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)
    capabilities: dict[str, bool] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    waiting: int | None = None
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """No step failed and no folder the watcher needs is missing."""
        return self.error is None and not self.missing

    def step(self, name: str, detail: str, *, ok: bool = True) -> None:
        """Record a step."""
        self.steps.append(ProbeStep(name, ok, detail))

    def fail(self, name: str, message: str) -> ImapProbe:
        """Record the failing step and its one-line message; returns ``self``."""
        self.step(name, message, ok=False)
        self.error = message
        return self


def _login_words(login: Login) -> str:
    if isinstance(login, OAuth2Login):
        source = login.tokens.source.description
        return f"OAuth 2.0 {login.mechanism.wire_name} with a token from {source}"
    return "password (LOGIN)"


def probe_mailbox(
    account: ImapAccount,
    login: Login,
    config: WatchConfig,
    *,
    where: str,
    create: Callable[[list[str]], bool] = lambda _missing: False,
    ssl_context: ssl.SSLContext | None = None,
) -> ImapProbe:
    """Check one mailbox the way the watcher will use it.

    Parameters:
        account: server and user.
        login: password or OAuth 2.0.
        config: the watcher's folders and IDLE/poll settings.
        where: the mailbox's section (``mailboxes[sales]``) for messages.
        create: asked with the missing folders; creates them when it returns True.
        ssl_context: TLS settings; default: the system's verifying context.

    Returns:
        The probe (failures are in it, not raised).
    """
    probe = ImapProbe(config.name)
    started = time.monotonic()
    server = f"{account.host}:{account.port}"
    try:
        try:
            connection = ImapConnection.connect(account, login, ssl_context=ssl_context)
        except AuthenticationError as exc:
            probe.step("connect", f"{server} ({account.security.value})")
            return probe.fail("authenticate", str(exc))
        except CapabilityError as exc:
            return probe.fail("tls", f"{where}.tls: {exc}")
        except GatewayError as exc:
            return probe.fail("connect", f"{where}.host/{where}.port/{where}.tls: {exc}")
        try:
            sock = connection.client.socket()
            tls = sock.version() if isinstance(sock, ssl.SSLSocket) else None
            probe.step("connect", f"{server} ({account.security.value})")
            probe.step("tls", tls or "none (plain text: loopback only)")
            probe.step("authenticate", f"{account.username}: {_login_words(login)}")
            _look_around(probe, connection, config, where, create)
        except GatewayError as exc:
            probe.fail("folders", f"{where}: {exc}")
        finally:
            connection.close()
    finally:
        probe.seconds = time.monotonic() - started
    return probe


def _look_around(
    probe: ImapProbe,
    connection: ImapConnection,
    config: WatchConfig,
    where: str,
    create: Callable[[list[str]], bool],
) -> None:
    folder = config.folder
    with mapped_errors("LIST"):
        listed = connection.client.list_folders()
    probe.folders = sorted(str(entry[2]) for entry in listed)
    probe.step("folders", f"{len(probe.folders)} folders")
    probe.capabilities = {c: connection.has(c) for c in ("IDLE", "MOVE", "UIDPLUS")}
    have = ", ".join(f"{c} {'yes' if v else 'no'}" for c, v in probe.capabilities.items())
    probe.step("capabilities", have)
    if not probe.capabilities["MOVE"] and not probe.capabilities["UIDPLUS"]:
        probe.fail(
            "capabilities",
            f"{where}: the server offers neither MOVE nor UIDPLUS: "
            "the gateway cannot move handled messages safely on it",
        )
        return
    if config.use_idle and not probe.capabilities["IDLE"]:
        probe.notes.append(
            "the server does not offer IDLE: the watcher will poll every "
            f"{config.poll_interval:.0f} s ({where}.poll_interval)"
        )
    flags = connection.folder_flags(folder)
    if flags is None:
        probe.fail("watched folder", f"{where}.folder: {folder!r} does not exist")
        return
    for candidate in (folder, config.processed_folder, config.quarantine_folder):
        existing = flags if candidate == folder else connection.folder_flags(candidate)
        reason = folder_refusal(candidate, existing or ())
        if reason is not None:
            probe.fail("watched folder", f"{where}: {reason}")
            return
    missing = [
        f
        for f in (config.processed_folder, config.quarantine_folder)
        if connection.folder_flags(f) is None
    ]
    if missing and create(missing):
        for name in missing:
            connection.ensure_folder(name)
        probe.created = missing
        probe.step("folders created", ", ".join(missing))
    elif missing:
        probe.missing = missing
        probe.step("folders missing", ", ".join(missing) + " (not created)", ok=False)
    with mapped_errors(f"STATUS {folder}"):
        status = connection.client.folder_status(folder, ["MESSAGES"])
    probe.waiting = int(status.get(b"MESSAGES", 0))
    probe.step("waiting", f"{probe.waiting} messages in {folder}")
    with contextlib.suppress(GatewayError):
        connection.noop()
