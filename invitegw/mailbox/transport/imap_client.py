"""The IMAP connection the watcher drives: ``imapclient`` behind our error tree.

:class:`ImapConnection` wraps one ``IMAPClient`` session with the few operations the
watcher needs: connect (TLS, STARTTLS, or plain when configured), SELECT, UID SEARCH,
FETCH in bounded chunks, MOVE (RFC 6851) or COPY + ``\\Deleted`` + ``UID EXPUNGE`` of that
UID only (RFC 4315 UIDPLUS), IDLE (RFC 2177). Every ``imapclient``/``imaplib``/``socket``/
``ssl`` exception is mapped to :class:`~invitegw.errors.MailboxError` (or
:class:`~invitegw.errors.CapabilityError`) with ``raise ... from``.

Login is a password (IMAP LOGIN) or an OAuth 2.0 bearer token sent with SASL XOAUTH2 or
OAUTHBEARER (RFC 7628) through ``AUTHENTICATE``: a refused token is dropped from the cache
and a fresh one tried once (a watcher's cached token may have been revoked, or expired while
a long IDLE lasted). A refused login is :class:`~invitegw.errors.MailboxAuthError`, one line
naming the setting; its outcome is recorded in the login's health registry.

:func:`folder_refusal` is the pure rule that keeps the gateway out of Sent, Drafts, Trash and
Junk, by SPECIAL-USE flag (RFC 6154) and by the names clients commonly use.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import imapclient
from imapclient import exceptions as imap_errors

from invitegw.errors import CapabilityError, ConfigError, MailboxAuthError, MailboxError
from invitegw.mailbox.transport.oauth.explain import (
    explain_password_refusal,
    explain_token_refusal,
)
from invitegw.mailbox.transport.oauth.login import Login, OAuth2Login, as_login
from invitegw.mailbox.transport.oauth.sasl import SaslExchange
from invitegw.mailbox.transport.oauth.tokens import TokenError

__all__ = [
    "FolderState",
    "IdleResult",
    "ImapAccount",
    "ImapConnection",
    "ImapSecurity",
    "MessageMeta",
    "folder_refusal",
    "mapped_errors",
]

logger = logging.getLogger(__name__)

# RFC 6154 flags of folders the gateway must never watch (\All: Gmail's "All Mail" would
# show every message again after it was moved).
_FORBIDDEN_FLAGS = {b"\\SENT", b"\\DRAFTS", b"\\TRASH", b"\\JUNK", b"\\ALL"}
# Names clients use for the same folders on servers without SPECIAL-USE (lower case, last
# path component).
_FORBIDDEN_NAMES = {
    "sent",
    "sent items",
    "sent messages",
    "sent mail",
    "drafts",
    "draft",
    "trash",
    "deleted items",
    "deleted messages",
    "bin",
    "junk",
    "junk e-mail",
    "junk email",
    "spam",
    "bulk mail",
    "all mail",
}


class ImapSecurity(StrEnum):
    """How the connection to the IMAP server is secured."""

    TLS = "tls"  # implicit TLS, usually port 993 (RFC 8314)
    STARTTLS = "starttls"  # RFC 2595 / RFC 9051 section 6.2.1, usually port 143
    PLAIN = "plain"  # no TLS: loopback test servers only, and only when configured


@dataclass(frozen=True)
class ImapAccount:
    """Where one watched mailbox lives and who logs in (the password is passed separately).

    Parameters:
        host: server host name or address.
        port: server port.
        username: login name.
        security: :class:`ImapSecurity`.
        timeout: seconds for connecting and for each response.

    Raises:
        ConfigError: a value out of range.
    """

    host: str
    username: str
    port: int = 993
    security: ImapSecurity = ImapSecurity.TLS
    timeout: float = 60.0

    def __post_init__(self) -> None:
        if not self.host or not self.username:
            raise ConfigError("imap.host and imap.username are required")
        if not 0 < self.port < 65536:
            raise ConfigError(f"imap.port {self.port} is not a TCP port")
        if self.timeout <= 0:
            raise ConfigError("imap.timeout must be positive")


@dataclass(frozen=True)
class FolderState:
    """What SELECT reported."""

    uidvalidity: int
    uidnext: int | None
    exists: int


@dataclass(frozen=True)
class MessageMeta:
    """RFC822.SIZE and INTERNALDATE of one message."""

    uid: int
    size: int
    internal_date: datetime | None


@dataclass(frozen=True)
class IdleResult:
    """What one wait in IDLE saw."""

    changed: bool = False  # EXISTS/RECENT: new mail (or a change worth a look)
    bye: bool = False  # the server said BYE: it is closing the connection
    suspect: bool = False  # returned early with nothing: the socket may be at EOF


@contextlib.contextmanager
def mapped_errors(operation: str) -> Iterator[None]:
    """Map ``imapclient``/``imaplib``/``socket``/``ssl`` exceptions to our tree.

    Parameters:
        operation: what was being done, for the message ("SELECT INBOX").

    Raises:
        CapabilityError: imapclient refused a command the server does not advertise.
        MailboxError: any other IMAP, socket or TLS failure.
    """
    try:
        yield
    except imap_errors.CapabilityError as exc:
        raise CapabilityError(f"{operation}: {exc}") from exc
    except imap_errors.IMAPClientError as exc:  # imaplib.IMAP4.error, .abort, .readonly
        raise MailboxError(f"{operation}: {exc}") from exc
    except ssl.SSLError as exc:
        raise MailboxError(f"{operation}: TLS failed: {exc}") from exc
    except TimeoutError as exc:
        raise MailboxError(f"{operation}: timed out") from exc
    except OSError as exc:
        raise MailboxError(f"{operation}: {exc}") from exc


def _uid_set(uids: Sequence[int]) -> str:
    """``1,2,5`` (shortened for log lines and error messages)."""
    text = ",".join(str(u) for u in uids[:10])
    return text + (f",... ({len(uids)} UIDs)" if len(uids) > 10 else "")


def folder_refusal(name: str, flags: Iterable[bytes | str] = ()) -> str | None:
    """Why ``name`` must not be watched, or ``None`` when it may be.

    Parameters:
        name: the folder name as the server lists it.
        flags: its LIST flags (``\\Sent``, ``\\Trash`` ...).

    Returns:
        A reason a person can act on, or ``None``.
    """
    for flag in flags:
        raw = flag.encode() if isinstance(flag, str) else flag
        if raw.upper() in _FORBIDDEN_FLAGS:
            return f"folder {name!r} is a {raw.decode()} folder (RFC 6154): it is never watched"
    last = name.replace("\\", "/").replace(".", "/").rsplit("/", 1)[-1].strip().lower()
    if last in _FORBIDDEN_NAMES:
        return f"folder {name!r} looks like a Sent/Drafts/Trash/Junk folder: it is never watched"
    return None


class ImapConnection:
    """One logged-in IMAP session (use :meth:`connect`)."""

    def __init__(self, client: imapclient.IMAPClient, account: ImapAccount) -> None:
        self._client = client
        self.account = account
        self._caps: frozenset[str] | None = None
        self._idling = False
        self._change_at_start = False

    @classmethod
    def connect(
        cls,
        account: ImapAccount,
        password: str | Login,
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> ImapConnection:
        """Connect, secure the connection as configured, and log in.

        Parameters:
            account: server and user.
            password: the login password (from the environment), or a
                :data:`~invitegw.mailbox.transport.oauth.login.Login` (password or OAuth 2.0).
            ssl_context: TLS settings; default: the system's verifying context.

        Returns:
            The logged-in connection.

        Raises:
            CapabilityError: STARTTLS configured but not offered (never downgraded).
            MailboxAuthError: the server refused the login, or no token could be had.
            MailboxError: connection or TLS failure.
        """
        login = as_login(password, where=f"imap {account.username}@{account.host}")
        where = f"{account.host}:{account.port}"
        context = ssl_context or ssl.create_default_context()
        with mapped_errors(f"connect to {where}"):
            client = imapclient.IMAPClient(
                account.host,
                port=account.port,
                ssl=account.security is ImapSecurity.TLS,
                ssl_context=context,
                timeout=account.timeout,
            )
        try:
            # Timezone-aware INTERNALDATE values, as the server sent them.
            client.normalise_times = False
            if account.security is ImapSecurity.STARTTLS:
                with mapped_errors(f"STARTTLS with {where}"):
                    client.starttls(context)
            _log_in(client, account, login, where)
        except BaseException:
            with contextlib.suppress(Exception):
                client.shutdown()
            raise
        logger.debug("IMAP logged in as %s at %s (%s)", account.username, where, account.security)
        return cls(client, account)

    @property
    def client(self) -> imapclient.IMAPClient:
        """The underlying ``IMAPClient`` (for ``mailbox check``'s folder listing)."""
        return self._client

    # -- capabilities ----------------------------------------------------------------------

    @property
    def capabilities(self) -> frozenset[str]:
        """The server's capabilities after login, upper case."""
        if self._caps is None:
            with mapped_errors("CAPABILITY"):
                raw = self._client.capabilities()
            self._caps = frozenset(c.decode().upper() for c in raw)
        return self._caps

    def has(self, capability: str) -> bool:
        """Whether the server advertises ``capability``."""
        return capability.upper() in self.capabilities

    def require(self, *capabilities: str) -> None:
        """The capability gate.

        Raises:
            CapabilityError: one of ``capabilities`` is not advertised.
        """
        missing = [c for c in capabilities if not self.has(c)]
        if missing:
            raise CapabilityError(
                f"{self.account.host} lacks {', '.join(missing)}, needed by the gateway"
            )

    # -- folders ---------------------------------------------------------------------------

    def folder_flags(self, folder: str) -> tuple[bytes, ...] | None:
        """The LIST flags of ``folder``, or ``None`` when it does not exist."""
        with mapped_errors(f"LIST {folder}"):
            listed = self._client.list_folders("", folder)
        for flags, _delimiter, name in listed:
            if name == folder or (folder.upper() == "INBOX" and name.upper() == "INBOX"):
                return tuple(flags)
        return None

    def ensure_folder(self, folder: str) -> bool:
        """Create ``folder`` when missing.

        Returns:
            ``True`` when it was created.
        """
        if self.folder_flags(folder) is not None:
            return False
        with mapped_errors(f"CREATE {folder}"):
            self._client.create_folder(folder)
        logger.info("IMAP created folder %s for %s", folder, self.account.username)
        return True

    def select(self, folder: str) -> FolderState:
        """SELECT ``folder`` read-write."""
        with mapped_errors(f"SELECT {folder}"):
            info = self._client.select_folder(folder)
        uidnext = info.get(b"UIDNEXT")
        return FolderState(
            uidvalidity=int(info[b"UIDVALIDITY"]),
            uidnext=int(uidnext) if uidnext is not None else None,
            exists=int(info.get(b"EXISTS", 0)),
        )

    # -- messages --------------------------------------------------------------------------

    def noop(self) -> None:
        """NOOP: lets the server report changes before the next SEARCH."""
        with mapped_errors("NOOP"):
            self._client.noop()

    def uids_after(self, last_uid: int) -> list[int]:
        """UIDs above ``last_uid`` of messages not marked ``\\Deleted``, ascending."""
        with mapped_errors("UID SEARCH"):
            found = self._client.search(["UID", f"{last_uid + 1}:*", "NOT", "DELETED"])
        # "n:*" always includes the highest UID, even when it is below n (RFC 9051 6.4.4).
        return sorted(uid for uid in found if uid > last_uid)

    def fetch_meta(self, uids: Sequence[int]) -> dict[int, MessageMeta]:
        """RFC822.SIZE and INTERNALDATE of ``uids`` (vanished ones are absent)."""
        if not uids:
            return {}
        with mapped_errors("UID FETCH RFC822.SIZE"):
            fetched = self._client.fetch(list(uids), ["RFC822.SIZE", "INTERNALDATE"])
        return {
            uid: MessageMeta(uid, int(data[b"RFC822.SIZE"]), data.get(b"INTERNALDATE"))
            for uid, data in fetched.items()
            if b"RFC822.SIZE" in data
        }

    def fetch_bodies(self, uids: Sequence[int]) -> dict[int, bytes]:
        """The full raw bytes of ``uids``, without setting ``\\Seen`` (BODY.PEEK[])."""
        if not uids:
            return {}
        with mapped_errors("UID FETCH BODY.PEEK[]"):
            fetched = self._client.fetch(list(uids), ["BODY.PEEK[]"])
        return {uid: bytes(data[b"BODY[]"]) for uid, data in fetched.items() if b"BODY[]" in data}

    def fetch_header(self, uid: int, limit: int) -> bytes | None:
        """At most ``limit`` bytes of the header section of ``uid`` (for oversized mail)."""
        with mapped_errors("UID FETCH BODY.PEEK[HEADER]"):
            fetched = self._client.fetch([uid], [f"BODY.PEEK[HEADER]<0.{limit}>"])
        for key, value in fetched.get(uid, {}).items():
            if key.startswith(b"BODY[HEADER]") and value is not None:
                return bytes(value)
        return None

    def add_keyword(self, uid: int, keyword: str) -> None:
        """Set an IMAP keyword (RFC 9051 section 2.3.2) on ``uid``."""
        with mapped_errors(f"UID STORE +FLAGS {keyword}"):
            self._client.add_flags([uid], [keyword], silent=True)

    def move(self, uid: int, folder: str) -> None:
        """Move one message (see :meth:`move_many`)."""
        self.move_many([uid], folder)

    def move_many(self, uids: Sequence[int], folder: str) -> None:
        """Move messages: MOVE, else COPY + ``\\Deleted`` + ``UID EXPUNGE`` of those UIDs.

        One command for the whole set (a round trip per message costs more than the rest
        of a message's handling on a local server). A plain EXPUNGE would also remove
        other messages someone marked ``\\Deleted``; ``UID EXPUNGE`` (UIDPLUS) removes
        only these.

        Raises:
            CapabilityError: neither MOVE nor UIDPLUS.
            MailboxError: the server refused.
        """
        if not uids:
            return
        where = f"{_uid_set(uids)} {folder}"
        if self.has("MOVE"):
            with mapped_errors(f"UID MOVE {where}"):
                self._client.move(list(uids), folder)
            return
        self.require("UIDPLUS")
        with mapped_errors(f"UID COPY {where}"):
            self._client.copy(list(uids), folder)
        with mapped_errors(f"UID STORE {_uid_set(uids)} +FLAGS \\Deleted"):
            self._client.add_flags(list(uids), [imapclient.DELETED], silent=True)
        with mapped_errors(f"UID EXPUNGE {_uid_set(uids)}"):
            self._client.uid_expunge(list(uids))

    # -- IDLE ------------------------------------------------------------------------------

    def idle_start(self) -> None:
        """Enter IDLE (RFC 2177).

        A message that arrived after the last SEARCH is reported by the server as IDLE
        starts: before its ``+`` continuation (imaplib files that response away) or in the
        same read as it (imaplib buffers it). Both are noted here, so that the next
        :meth:`idle_wait` reports the change at once instead of sleeping on it.
        """
        filed = self._client._imap.untagged_responses
        for kind in ("EXISTS", "RECENT"):
            filed.pop(kind, None)  # from SELECT: the SEARCH since has seen those messages
        with mapped_errors("IDLE"):
            self._client.idle()
        self._idling = True
        early = [filed.pop(kind, None) for kind in ("EXISTS", "RECENT")]
        self._change_at_start = any(early)

    def _input_buffered(self) -> bool:
        """Whether the server's bytes already wait in imaplib's or the TLS layer's buffer.

        ``idle_check`` polls the socket only; what was read off the socket with the
        ``+ idling`` line (or sits decrypted in the TLS object) would wait unseen until the
        server next writes. Peeking with the socket briefly non-blocking reads nothing the
        kernel does not already hold, and what it reads stays buffered for ``idle_check``.
        """
        sock = self._client.socket()
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            return True
        reader = getattr(self._client._imap, "file", None)
        peek = getattr(reader, "peek", None)
        if peek is None:
            return False
        timeout = sock.gettimeout()
        sock.setblocking(False)
        try:
            return bool(peek(1))
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return False
        finally:
            sock.settimeout(timeout)

    def idle_wait(self, timeout: float) -> IdleResult:
        """Wait up to ``timeout`` seconds in IDLE for the server to report something."""
        if self._change_at_start:
            self._change_at_start = False
            return IdleResult(changed=True, bye=False, suspect=False)
        with mapped_errors("IDLE wait"):
            if self._input_buffered():
                # Unread lines: end IDLE now; DONE reads them and the next SEARCH sees
                # whatever they announced.
                return IdleResult(changed=True, bye=False, suspect=False)
        started = time.monotonic()
        with mapped_errors("IDLE wait"):
            responses = self._client.idle_check(timeout=timeout)
        changed = bye = False
        for response in responses:
            logger.debug("IMAP IDLE got %r", response)
            if len(response) > 1 and response[1] in (b"EXISTS", b"RECENT"):
                changed = True
            if response and response[0] == b"BYE":
                bye = True
        # imapclient's idle_check returns [] at once when the socket is at EOF: an empty
        # answer well before the timeout means the connection may be gone.
        suspect = not responses and time.monotonic() - started < timeout / 2
        return IdleResult(changed=changed, bye=bye, suspect=suspect)

    def idle_done(self) -> None:
        """Leave IDLE (DONE)."""
        if not self._idling:
            return
        self._idling = False
        with mapped_errors("IDLE DONE"):
            self._client.idle_done()

    # -- end -------------------------------------------------------------------------------

    def close(self) -> None:
        """LOGOUT, or just close the socket when the session is already broken."""
        try:
            if self._idling:
                self.idle_done()
            self._client.logout()
        except Exception:
            with contextlib.suppress(Exception):
                self._client.shutdown()


# -- login -------------------------------------------------------------------------------------


def _log_in(client: imapclient.IMAPClient, account: ImapAccount, login: Login, where: str) -> None:
    """LOGIN with a password, or AUTHENTICATE with a token (refreshed once if refused)."""
    if not isinstance(login, OAuth2Login):
        try:
            with mapped_errors(f"login as {account.username} at {where}"):
                client.login(account.username, login.password)
        except MailboxError as exc:
            if not isinstance(exc.__cause__, imap_errors.LoginError):
                raise
            message = explain_password_refusal(login.where, _server_text(exc.__cause__))
            login.failed(message)
            raise MailboxAuthError(message) from exc.__cause__
        login.succeeded()
        return
    mechanism = login.mechanism.wire_name
    with mapped_errors(f"CAPABILITY at {where}"):
        offered = {c.decode().upper() for c in client.capabilities()}
    advertised = sorted(c[5:] for c in offered if c.startswith("AUTH="))
    if advertised and mechanism not in advertised:
        message = (
            f"{login.where}: {where} does not offer AUTH={mechanism} (it offers "
            f"{', '.join(advertised)}): set {login.where}.oauth2.mechanism"
        )
        login.failed(message)
        raise MailboxAuthError(message)
    for attempt in (1, 2):
        try:
            token = login.tokens.get()
        except TokenError as exc:
            login.failed(str(exc))
            raise MailboxAuthError(str(exc)) from exc
        exchange = SaslExchange(login.mechanism, account.username, token)
        try:
            with mapped_errors(f"AUTHENTICATE {mechanism} as {account.username} at {where}"):
                client.sasl_login(mechanism, exchange)
        except MailboxError as exc:
            if not isinstance(exc.__cause__, imap_errors.LoginError):
                raise
            login.tokens.invalidate(token)
            if attempt == 1:
                logger.info(
                    "%s: %s refused the token (%s); fetching a new one",
                    login.where,
                    where,
                    exchange.error_text or "no reason given",
                )
                continue
            message = explain_token_refusal(
                login.where, _server_text(exc.__cause__), exchange.error_text, mechanism
            )
            login.failed(message)
            raise MailboxAuthError(message) from exc.__cause__
        login.succeeded()
        return


def _server_text(exc: BaseException) -> str:
    """The server's words in an imaplib refusal (``b'[AUTHENTICATIONFAILED] ...'``)."""
    text = str(exc)
    for prefix in ("b'", 'b"'):
        start = text.find(prefix)
        if start >= 0 and text.endswith(("'", '"')):
            return text[start + 2 : -1]
    return text
