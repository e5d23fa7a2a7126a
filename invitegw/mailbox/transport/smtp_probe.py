"""``smtp check``'s probe: greet, EHLO, STARTTLS, AUTH, and read the size limit; send nothing.

:func:`probe_relay` opens one connection the way
:class:`~invitegw.mailbox.transport.smtp_send.SmtpSender` does, reports each step, and ends
with QUIT before any MAIL command: the relay sees a session that authenticated and left.
Every failure is one line naming the setting.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
import time
from dataclasses import dataclass, field

from invitegw.errors import AuthenticationError
from invitegw.mailbox.transport.imap_probe import ProbeStep
from invitegw.mailbox.transport.oauth.login import Login, OAuth2Login
from invitegw.mailbox.transport.smtp_send import SmtpRelayConfig, TlsMode, authenticate

__all__ = ["SmtpProbe", "probe_relay"]


@dataclass
class SmtpProbe:
    """What ``smtp check`` found."""

    steps: list[ProbeStep] = field(default_factory=list)
    extensions: list[str] = field(default_factory=list)
    auth_mechanisms: list[str] = field(default_factory=list)
    size_limit: int | None = None
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """No step failed."""
        return self.error is None

    def step(self, name: str, detail: str, *, ok: bool = True) -> None:
        """Record a step."""
        self.steps.append(ProbeStep(name, ok, detail))

    def fail(self, name: str, message: str) -> SmtpProbe:
        """Record the failing step; returns ``self``."""
        self.step(name, message, ok=False)
        self.error = message
        return self


def _read_features(probe: SmtpProbe, smtp: smtplib.SMTP) -> None:
    probe.extensions = sorted(k.upper() for k in smtp.esmtp_features)
    probe.auth_mechanisms = str(smtp.esmtp_features.get("auth", "")).upper().split()
    size = str(smtp.esmtp_features.get("size", "")).strip()
    # RFC 1870: SIZE with no number (or 0) announces no fixed limit.
    probe.size_limit = int(size) if size.isdigit() and int(size) > 0 else None


def probe_relay(
    config: SmtpRelayConfig,
    login: Login | None,
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> SmtpProbe:
    """Check the relay without sending (see the module docstring).

    Parameters:
        config: the relay.
        login: how to authenticate (``None``: no AUTH configured).
        ssl_context: TLS settings; default: the system's verifying context.

    Returns:
        The probe (failures are in it, not raised).
    """
    probe = SmtpProbe()
    started = time.monotonic()
    where = f"{config.host}:{config.port}"
    context = ssl_context or ssl.create_default_context()
    smtp: smtplib.SMTP | None = None
    try:
        try:
            if config.tls is TlsMode.TLS:
                smtp = smtplib.SMTP_SSL(
                    config.host,
                    config.port,
                    local_hostname=config.local_hostname,
                    timeout=config.timeout,
                    context=context,
                )
            else:
                smtp = smtplib.SMTP(
                    config.host,
                    config.port,
                    local_hostname=config.local_hostname,
                    timeout=config.timeout,
                )
        except (OSError, smtplib.SMTPException) as exc:
            return probe.fail("connect", f"smtp.host/smtp.port/smtp.tls: {where}: {exc}")
        probe.step("connect", f"{where} ({config.tls.value})")
        _session(probe, smtp, config, login, context)
    finally:
        if smtp is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.quit()
        probe.seconds = time.monotonic() - started
    return probe


def _session(
    probe: SmtpProbe,
    smtp: smtplib.SMTP,
    config: SmtpRelayConfig,
    login: Login | None,
    context: ssl.SSLContext,
) -> None:
    try:
        code, reply = smtp.ehlo()
        if code != 250:
            probe.fail("ehlo", f"smtp.local_hostname: EHLO refused: {code} {reply.decode()}")
            return
        probe.step("ehlo", reply.decode("utf-8", "replace").splitlines()[0])
        if config.tls is TlsMode.STARTTLS:
            if not smtp.has_extn("starttls"):
                probe.fail("starttls", "smtp.tls: the relay does not offer STARTTLS")
                return
            smtp.starttls(context=context)
            smtp.ehlo()
        sock = smtp.sock
        version = sock.version() if isinstance(sock, ssl.SSLSocket) else None
        probe.step("tls", version or "none (plain text: loopback relays only)")
        _read_features(probe, smtp)
    except (ssl.SSLError, ssl.CertificateError) as exc:
        probe.fail("tls", f"smtp.tls: TLS with {config.host} failed: {exc}")
        return
    except (OSError, smtplib.SMTPException) as exc:
        probe.fail("ehlo", f"smtp.host/smtp.port: the relay broke off: {exc}")
        return
    if login is None or not config.username:
        probe.step("auth", "none configured (smtp.username unset)")
    else:
        try:
            authenticate(smtp, config.username, login)
        except AuthenticationError as exc:
            probe.fail("auth", str(exc))
            return
        except (OSError, smtplib.SMTPException) as exc:
            probe.fail("auth", f"smtp: the relay broke off during AUTH: {exc}")
            return
        how = (
            f"OAuth 2.0 {login.mechanism.wire_name}"
            if isinstance(login, OAuth2Login)
            else "password"
        )
        probe.step("auth", f"{config.username}: {how}")
    limit = f"{probe.size_limit} bytes" if probe.size_limit else "not announced"
    probe.step("size limit", limit)
