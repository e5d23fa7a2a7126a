"""Outbound SMTP: send composed messages through the configured relay.

:class:`SmtpSender` holds the relay settings and the password (the caller reads it from the
environment); ``with sender.session() as s: s.send(msg)`` reuses one connection for a batch
and reconnects once when the relay drops it mid-batch. Every outcome is either a
:class:`SendResult` or one of our errors; no ``smtplib``, ``ssl`` or ``OSError`` escapes:

- a recipient refused with 5xx → :class:`~invitegw.errors.DeliveryError` for that recipient
  (in :attr:`SendResult.refused`, or raised when no recipient was accepted);
- 4xx, connection refused or lost, timeouts, TLS and AUTH failures →
  :class:`~invitegw.errors.TransientDeliveryError`: the relay or its configuration may be
  fixed, the message itself is fine, so the outbox retries it.

Messages are serialised with ``email.policy.SMTP`` (CRLF line ends, RFC 5322 section 2.3):
``smtplib`` sends bytes as given. One INFO line per message; AUTH is never logged.

AUTH uses a password or an OAuth 2.0 bearer token (SASL XOAUTH2 or OAUTHBEARER, RFC 7628;
:func:`authenticate`): a refused token is dropped and a fresh one tried once on the same
connection, so an expired token costs one refresh, not a failed send. A refusal is
:class:`~invitegw.errors.RelayAuthError` (transient: the outbox retries), one line naming
the setting.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from enum import StrEnum

from invitegw.domain.addresses import ascii_address
from invitegw.errors import (
    AddressError,
    ConfigError,
    DeliveryError,
    RelayAuthError,
    TransientDeliveryError,
)
from invitegw.mailbox.mime.envelope import check_envelope_address, envelope_of, serialize
from invitegw.mailbox.transport.oauth.explain import (
    explain_password_refusal,
    explain_token_refusal,
)
from invitegw.mailbox.transport.oauth.login import Login, OAuth2Login, as_login
from invitegw.mailbox.transport.oauth.sasl import SaslExchange
from invitegw.mailbox.transport.oauth.tokens import TokenError
from invitegw.mailbox.transport.smtp_errors import all_refused, map_smtp_exception, reply_error

__all__ = [
    "SendResult",
    "SmtpRelayConfig",
    "SmtpSender",
    "SmtpSession",
    "TlsMode",
    "authenticate",
]

logger = logging.getLogger(__name__)


class TlsMode(StrEnum):
    """How the connection to the relay is secured."""

    NONE = "none"  # plain SMTP: loopback relays and tests only
    STARTTLS = "starttls"  # RFC 3207, usually port 587
    TLS = "tls"  # implicit TLS from the first byte (RFC 8314), usually port 465


@dataclass(frozen=True)
class SmtpRelayConfig:
    """The relay the gateway sends through.

    Parameters:
        host: relay host name or address.
        port: relay port.
        tls: :class:`TlsMode`; ``NONE`` refuses a ``username`` (no AUTH in clear text).
        username: AUTH user, or ``None`` for no AUTH. The password is passed to
            :class:`SmtpSender` separately.
        timeout: seconds for connecting and for each reply.
        local_hostname: the name sent in EHLO (default: this machine's FQDN).
        rate_limit: at most this many messages per second (``None``: unlimited).

    Raises:
        ConfigError: a value out of range.
    """

    host: str
    port: int = 587
    tls: TlsMode = TlsMode.STARTTLS
    username: str | None = None
    timeout: float = 30.0
    local_hostname: str | None = None
    rate_limit: float | None = None

    def __post_init__(self) -> None:
        if not self.host:
            raise ConfigError("smtp.host is empty")
        if not 0 < self.port < 65536:
            raise ConfigError(f"smtp.port {self.port} is not a TCP port")
        if self.timeout <= 0:
            raise ConfigError("smtp.timeout must be positive")
        if self.rate_limit is not None and self.rate_limit <= 0:
            raise ConfigError("smtp.rate_limit must be positive (or unset)")
        if self.tls is TlsMode.NONE and self.username:
            raise ConfigError("smtp.username needs smtp.tls = starttls or tls (no clear-text AUTH)")


@dataclass(frozen=True)
class SendResult:
    """What the relay did with one message.

    Attributes:
        message_id: the Message-ID header, if any.
        accepted: recipients the relay accepted.
        refused: recipient → the error for it (``TransientDeliveryError`` for 4xx).
        code: the relay's reply code to the end of DATA (250).
        reply: the relay's reply text (often carries its queue id).
    """

    message_id: str | None
    accepted: tuple[str, ...]
    refused: Mapping[str, DeliveryError] = field(default_factory=dict)
    code: int = 250
    reply: str = ""


class _ConnectionLostError(Exception):
    """The relay closed the connection (or said 421): reconnecting may help."""


class _RateLimiter:
    """Spaces messages at least ``1 / rate`` seconds apart (clock and sleep injected)."""

    def __init__(
        self, rate: float | None, clock: Callable[[], float], sleep: Callable[[float], None]
    ) -> None:
        self._interval = 1.0 / rate if rate else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next: float | None = None
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self._interval:
            return
        with self._lock:
            now = self._clock()
            if self._next is not None and now < self._next:
                self._sleep(self._next - now)
                now = self._next
            self._next = now + self._interval


class SmtpSender:
    """Sends through one relay; see the module docstring.

    Parameters:
        config: the relay.
        password: the AUTH password (from the environment), or a
            :data:`~invitegw.mailbox.transport.oauth.login.Login` (password or OAuth 2.0);
            required with a username.
        ssl_context: TLS settings; default: the system's verifying context.
        clock: monotonic seconds, for the rate limit.
        sleep: blocks for the given seconds, for the rate limit.

    Raises:
        ConfigError: a username without a password.
    """

    def __init__(
        self,
        config: SmtpRelayConfig,
        *,
        password: str | Login | None = None,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if config.username and not password:
            raise ConfigError("smtp.username is set but no SMTP password was given")
        self.config = config
        self._login = as_login(password, where="smtp") if password else None
        self._ssl_context = ssl_context
        self._limiter = _RateLimiter(config.rate_limit, clock, sleep)

    def __repr__(self) -> str:  # never show the password
        c = self.config
        return f"SmtpSender({c.host}:{c.port}, tls={c.tls.value}, user={c.username!r})"

    @contextlib.contextmanager
    def session(self) -> Iterator[SmtpSession]:
        """A batch over one connection, opened at the first send and closed on exit.

        Returns:
            A context manager yielding an :class:`SmtpSession`.
        """
        session = SmtpSession(self)
        try:
            yield session
        finally:
            session.close()

    def send(
        self,
        message: EmailMessage,
        *,
        mail_from: str | None = None,
        rcpt_to: Sequence[str] | None = None,
    ) -> SendResult:
        """Send one message over a connection of its own (see :meth:`SmtpSession.send`)."""
        with self.session() as session:
            return session.send(message, mail_from=mail_from, rcpt_to=rcpt_to)

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        context = None
        if c.tls is not TlsMode.NONE:
            # Loading the system's CA store costs ~20 ms: only when TLS is used.
            context = self._ssl_context or ssl.create_default_context()
        smtp: smtplib.SMTP
        if c.tls is TlsMode.TLS:
            smtp = smtplib.SMTP_SSL(
                c.host, c.port, local_hostname=c.local_hostname, timeout=c.timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(c.host, c.port, local_hostname=c.local_hostname, timeout=c.timeout)
        try:
            smtp.ehlo()
            if c.tls is TlsMode.STARTTLS:
                # Never fall back to clear text: starttls() raises when it is not offered.
                smtp.starttls(context=context)
                smtp.ehlo()
            if c.username and self._login is not None:
                authenticate(smtp, c.username, self._login)
        except BaseException:
            _close_quietly(smtp)
            raise
        logger.debug("SMTP connected to %s:%d (tls=%s)", c.host, c.port, c.tls.value)
        return smtp


def _close_quietly(smtp: smtplib.SMTP) -> None:
    with contextlib.suppress(smtplib.SMTPException, OSError):
        smtp.close()


class SmtpSession:
    """One connection to the relay, reused for every message of a batch.

    Use :meth:`SmtpSender.session` rather than creating it directly.
    """

    def __init__(self, sender: SmtpSender) -> None:
        self._sender = sender
        self._smtp: smtplib.SMTP | None = None
        self.connections = 0  # connections opened, for tests and statistics

    def close(self) -> None:
        """QUIT and close the connection, if one is open."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            _close_quietly(smtp)

    def send(
        self,
        message: EmailMessage,
        *,
        mail_from: str | None = None,
        rcpt_to: Sequence[str] | None = None,
    ) -> SendResult:
        """Send a message; the envelope defaults to its headers (:func:`envelope_of`).

        ``Bcc`` is removed from the transmitted copy, as ``smtplib.send_message`` does.

        Parameters:
            message: the message to send.
            mail_from: the envelope sender (default: Sender or From).
            rcpt_to: the envelope recipients (default: To, Cc and Bcc).

        Returns:
            The :class:`SendResult`.

        Raises:
            AddressError: an unusable envelope address.
            DeliveryError: permanent failure (5xx for every recipient, or for the message).
            TransientDeliveryError: temporary failure; retry later.
        """
        if mail_from is None or rcpt_to is None:
            default_from, default_to = envelope_of(message)
            mail_from = default_from if mail_from is None else mail_from
            rcpt_to = default_to if rcpt_to is None else rcpt_to
        raw = serialize(message, [mail_from, *rcpt_to])
        message_id = message.get("Message-ID")
        return self.send_bytes(
            raw,
            mail_from=mail_from,
            rcpt_to=rcpt_to,
            message_id=str(message_id) if message_id else None,
        )

    def send_bytes(
        self,
        raw: bytes,
        *,
        mail_from: str,
        rcpt_to: Sequence[str],
        message_id: str | None = None,
    ) -> SendResult:
        """Send an already serialised message (CRLF line ends) with an explicit envelope.

        Parameters:
            raw: the message bytes, sent as given.
            mail_from: the envelope sender (``""`` for the null reverse-path of a DSN).
            rcpt_to: the envelope recipients.
            message_id: for the log line only.

        Returns:
            The :class:`SendResult`.

        Raises:
            AddressError: an unusable envelope address.
            DeliveryError: permanent failure.
            TransientDeliveryError: temporary failure; retry later.
        """
        if mail_from:
            mail_from = ascii_address(check_envelope_address(mail_from))
        if not rcpt_to:
            raise AddressError("no envelope recipient")
        # Internationalised domains as A-labels: only a non-ASCII local part needs SMTPUTF8.
        recipients = [ascii_address(check_envelope_address(r)) for r in rcpt_to]
        self._sender._limiter.wait()
        for attempt in (1, 2):
            try:
                smtp = self._connection()
                result = self._transaction(smtp, raw, mail_from, recipients, message_id)
            except _ConnectionLostError as lost:
                self._discard()
                if attempt == 2:
                    gone = TransientDeliveryError(f"relay closed the connection: {lost}")
                    self._log_failure(message_id, recipients, gone)
                    raise gone from lost
                logger.info("SMTP relay closed the connection; reconnecting for %s", message_id)
            except DeliveryError as refused:
                self._log_failure(message_id, recipients, refused)
                raise
            except (smtplib.SMTPException, OSError) as exc:
                self._discard()
                mapped = map_smtp_exception(exc)
                self._log_failure(message_id, recipients, mapped)
                raise mapped from exc
            else:
                logger.info(
                    "SMTP sent %s from=<%s> to=%s code=%d refused=%s",
                    message_id,
                    mail_from,
                    ",".join(result.accepted),
                    result.code,
                    ",".join(f"{r}:{e.code}" for r, e in result.refused.items()) or "-",
                )
                return result
        raise AssertionError("unreachable")  # pragma: no cover

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is None:
            self._smtp = self._sender._connect()
            self.connections += 1
        return self._smtp

    def _discard(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            _close_quietly(smtp)

    def _reset(self, smtp: smtplib.SMTP) -> None:
        try:
            smtp.rset()
        except (smtplib.SMTPException, OSError):
            self._discard()

    def _transaction(
        self,
        smtp: smtplib.SMTP,
        raw: bytes,
        mail_from: str,
        recipients: list[str],
        message_id: str | None,
    ) -> SendResult:
        # sendmail() hides the reply to DATA and the per-recipient codes: drive the
        # MAIL / RCPT / DATA steps (RFC 5321 section 3.3) ourselves.
        try:
            options = self._mail_options(smtp, raw, [mail_from, *recipients])
            code, reply = smtp.mail(mail_from, options)
            if code == 421:
                raise _ConnectionLostError(reply.decode("utf-8", "replace"))
            if code != 250:
                self._reset(smtp)
                raise reply_error(code, reply)
            refused: dict[str, DeliveryError] = {}
            for recipient in recipients:
                code, reply = smtp.rcpt(recipient)
                if code == 421:
                    raise _ConnectionLostError(reply.decode("utf-8", "replace"))
                if code not in (250, 251):
                    refused[recipient] = reply_error(code, reply, recipient)
            accepted = tuple(r for r in recipients if r not in refused)
            if not accepted:
                self._reset(smtp)
                raise all_refused(refused)
            try:
                code, reply = smtp.data(raw)
            except smtplib.SMTPDataError as exc:
                # No 354: the transaction is still open on the relay's side.
                self._reset(smtp)
                if exc.smtp_code == 421:
                    raise _ConnectionLostError(str(exc)) from exc
                raise reply_error(exc.smtp_code, exc.smtp_error) from exc
            if code == 421:
                raise _ConnectionLostError(reply.decode("utf-8", "replace"))
            if code != 250:
                raise reply_error(code, reply)
        except (smtplib.SMTPServerDisconnected, ConnectionResetError, BrokenPipeError) as exc:
            raise _ConnectionLostError(str(exc) or type(exc).__name__) from exc
        return SendResult(
            message_id=message_id,
            accepted=accepted,
            refused=refused,
            code=code,
            reply=reply.decode("utf-8", "replace"),
        )

    @staticmethod
    def _mail_options(smtp: smtplib.SMTP, raw: bytes, addresses: list[str]) -> list[str]:
        options: list[str] = []
        if smtp.has_extn("size"):
            options.append(f"SIZE={len(raw)}")  # RFC 1870: the relay may refuse early
        if not raw.isascii() and smtp.has_extn("8bitmime"):
            options.append("BODY=8BITMIME")  # RFC 6152
        if not all(a.isascii() for a in addresses):
            if not smtp.has_extn("smtputf8"):
                raise DeliveryError("an address is not ASCII and the relay lacks SMTPUTF8")
            options.append("SMTPUTF8")  # RFC 6531
        return options

    def _log_failure(
        self, message_id: str | None, recipients: list[str], error: DeliveryError
    ) -> None:
        logger.warning(
            "SMTP failed %s to=%s code=%s transient=%s: %s",
            message_id,
            ",".join(recipients),
            error.code,
            isinstance(error, TransientDeliveryError),
            error,
        )


def authenticate(smtp: smtplib.SMTP, username: str, login: Login) -> None:
    """AUTH on an open (and, for a token, TLS-protected) connection after EHLO.

    A password goes through ``smtplib``'s PLAIN/LOGIN; a token through XOAUTH2 or
    OAUTHBEARER, refreshed once when the relay refuses it (RFC 4954 allows another AUTH
    after a 535). The outcome is recorded in the login's health registry.

    Parameters:
        smtp: the connection.
        username: the AUTH identity.
        login: the password or the token source.

    Raises:
        RelayAuthError: refused (one line naming the setting), or no token could be had.
        smtplib.SMTPException: the connection failed meanwhile.
    """
    where = login.where or "smtp"
    if not isinstance(login, OAuth2Login):
        try:
            smtp.login(username, login.password)
        except smtplib.SMTPAuthenticationError as exc:
            message = explain_password_refusal(where, _reply_text(exc))
            login.failed(message)
            raise RelayAuthError(message, code=exc.smtp_code) from exc
        login.succeeded()
        return
    mechanism = login.mechanism.wire_name
    offered = str(smtp.esmtp_features.get("auth", "")).upper().split()
    if mechanism not in offered:
        message = (
            f"{where}: the relay does not offer AUTH {mechanism} (it offers "
            f"{', '.join(offered) or 'no AUTH'}): set {where}.oauth2.mechanism, or check "
            f"{where}.tls (many relays offer AUTH only after STARTTLS)"
        )
        login.failed(message)
        raise RelayAuthError(message)
    for attempt in (1, 2):
        try:
            token = login.tokens.get()
        except TokenError as exc:
            login.failed(str(exc))
            raise RelayAuthError(str(exc)) from exc
        exchange = SaslExchange(login.mechanism, username, token)
        try:
            smtp.auth(mechanism, exchange.smtp_callback, initial_response_ok=True)
        except smtplib.SMTPAuthenticationError as exc:
            login.tokens.invalidate(token)
            if attempt == 1:
                logger.info(
                    "%s: the relay refused the token (%s); fetching a new one",
                    where,
                    exchange.error_text or exc.smtp_code,
                )
                continue
            message = explain_token_refusal(where, _reply_text(exc), exchange.error_text, mechanism)
            login.failed(message)
            raise RelayAuthError(message, code=exc.smtp_code) from exc
        login.succeeded()
        return


def _reply_text(exc: smtplib.SMTPResponseException) -> str:
    error = exc.smtp_error
    text = error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)
    return f"{exc.smtp_code} {text}"
