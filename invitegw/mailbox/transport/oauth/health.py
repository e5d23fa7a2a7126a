"""Whether each account's credentials work: an in-process registry others can read.

Every login to an IMAP mailbox or the SMTP relay records its outcome here (through the
:mod:`~invitegw.mailbox.transport.oauth.login` objects). Readers (``status``, a health
check, tests) call :meth:`AuthHealth.snapshot`; listeners are told of *changes* only, so
an account whose credentials stopped working is reported once (a log line at ERROR, an
entry in the CRM's integration log) and again once when they work again, not at every
reconnect. One account failing never affects another's record, or its watcher.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

__all__ = ["AUTH_HEALTH", "AuthHealth", "AuthListener", "AuthStatus"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AuthStatus:
    """The last known state of one account's credentials.

    Attributes:
        account: the account ("imap:sales", "smtp").
        ok: whether the last login succeeded.
        message: the last failure in words (one line naming the setting), or "".
        since: when ``ok`` last changed (aware UTC).
        failures: failed logins in a row.
        last_success: the last successful login, if any.
    """

    account: str
    ok: bool
    message: str
    since: dt.datetime
    failures: int = 0
    last_success: dt.datetime | None = None


AuthListener = Callable[[AuthStatus], None]
"""Told the new status whenever an account's state changes (first failure, recovery)."""


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class AuthHealth:
    """The registry (thread-safe; see the module docstring).

    Parameters:
        clock: returns the current aware time.
    """

    def __init__(self, clock: Callable[[], dt.datetime] = _utc_now) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._states: dict[str, AuthStatus] = {}
        self._listeners: list[AuthListener] = []

    def subscribe(self, listener: AuthListener) -> Callable[[], None]:
        """Call ``listener`` on every change from now on.

        Parameters:
            listener: the callable; its exceptions are logged and ignored.

        Returns:
            A function that unsubscribes it.
        """
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def succeeded(self, account: str) -> None:
        """Record a successful login of ``account``."""
        now = self._clock()
        with self._lock:
            old = self._states.get(account)
            changed = old is not None and not old.ok
            status = AuthStatus(
                account,
                ok=True,
                message="",
                since=now if old is None or changed else old.since,
                last_success=now,
            )
            self._states[account] = status
            listeners = list(self._listeners) if changed else []
        if changed:
            logger.warning("credentials of %s work again", account)
        self._tell(listeners, status)

    def failed(self, account: str, message: str) -> None:
        """Record a refused login (or a token that could not be had) of ``account``.

        Parameters:
            account: the account.
            message: the failure in words.
        """
        now = self._clock()
        with self._lock:
            old = self._states.get(account)
            # Told once per outage, not per reconnect (nor per reworded refusal).
            changed = old is None or old.ok
            if old is None or old.ok:
                status = AuthStatus(
                    account,
                    ok=False,
                    message=message,
                    since=now,
                    failures=1,
                    last_success=old.last_success if old else None,
                )
            else:
                status = replace(old, message=message, failures=old.failures + 1)
            self._states[account] = status
            listeners = list(self._listeners) if changed else []
        if changed:
            logger.error("credentials of %s do not work: %s", account, message)
        else:
            logger.info("credentials of %s still refused (%d times)", account, status.failures)
        self._tell(listeners, status)

    def get(self, account: str) -> AuthStatus | None:
        """The status of ``account``, or ``None`` before its first login."""
        with self._lock:
            return self._states.get(account)

    def snapshot(self) -> dict[str, AuthStatus]:
        """Every account's status."""
        with self._lock:
            return dict(self._states)

    @staticmethod
    def _tell(listeners: list[AuthListener], status: AuthStatus) -> None:
        for listener in listeners:
            try:
                listener(status)
            except Exception:  # a reporter's failure must not break the login path
                logger.exception("auth health listener failed for %s", status.account)


AUTH_HEALTH = AuthHealth()
"""The process's registry: every login the gateway builds from its settings records here."""
