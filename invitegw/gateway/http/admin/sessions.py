"""Signed session cookies, CSRF tokens, and the sign-in rate limit of the console.

A session is a small JSON object (the user, its expiry, its CSRF token, a one-shot notice)
in a cookie signed with HMAC-SHA256 under ``admin.session_key``: the server keeps no
session state, and a cookie changed by the client fails the signature check. Every
visitor gets one (signed-out sessions carry a CSRF token too, so the sign-in form is
protected like every other form); signing in replaces it with a new token.

The cookie is ``HttpOnly`` and ``SameSite=Strict``, and ``Secure`` (named with the
``__Host-`` prefix) when the console is reached over HTTPS. CSRF tokens are compared in
constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["COOKIE", "SECURE_COOKIE", "Session", "SessionCodec", "SignInLimiter", "same_token"]

COOKIE = "invitegw_admin"
SECURE_COOKIE = "__Host-invitegw_admin"
_MAX_COOKIE = 4096


@dataclass
class Session:
    """One visitor's session (see the module docstring)."""

    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    user: str | None = None
    expires: float = 0.0
    notice: str | None = None
    changed: bool = False

    def set_notice(self, text: str) -> None:
        """Show ``text`` once, on the next page."""
        self.notice = text[:500]
        self.changed = True

    def take_notice(self) -> str | None:
        """The notice to show now (removed from the session)."""
        notice, self.notice = self.notice, None
        if notice is not None:
            self.changed = True
        return notice


def same_token(given: str | None, expected: str) -> bool:
    """Whether a submitted CSRF token is the session's (constant time)."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionCodec:
    """Signs sessions into cookie values and reads them back.

    Parameters:
        key: the session key (``admin.session_key``).
        lifetime: seconds a signed-in session lasts.
        clock: the current time in seconds (default :func:`time.time`).
    """

    def __init__(self, key: str, lifetime: float, clock: Callable[[], float] = time.time) -> None:
        # A key of its own for cookies, derived: the configured one is used for nothing else.
        self._key = hashlib.sha256(b"invitegw-admin-session\0" + key.encode()).digest()
        self.lifetime = lifetime
        self.clock = clock

    def _sign(self, payload: bytes) -> str:
        return _b64(hmac.new(self._key, payload, hashlib.sha256).digest())

    def new(self) -> Session:
        """A fresh signed-out session (to be sent as a cookie)."""
        return Session(expires=self.clock() + self.lifetime, changed=True)

    def signed_in(self, user: str) -> Session:
        """A new session for ``user`` (new CSRF token: nothing of the old one carries over)."""
        return Session(user=user, expires=self.clock() + self.lifetime, changed=True)

    def dump(self, session: Session) -> str:
        """The cookie value of ``session``."""
        body: dict[str, Any] = {"c": session.csrf, "u": session.user, "e": int(session.expires)}
        if session.notice:
            body["n"] = session.notice
        payload = json.dumps(body, separators=(",", ":")).encode()
        return f"{_b64(payload)}.{self._sign(payload)}"

    def load(self, value: str | None) -> Session | None:
        """The session in a cookie value; None when absent, forged, malformed or expired."""
        if not value or len(value) > _MAX_COOKIE or "." not in value:
            return None
        payload_text, signature = value.rsplit(".", 1)
        try:
            payload = _unb64(payload_text)
        except ValueError:
            return None
        if not hmac.compare_digest(signature, self._sign(payload)):
            return None
        try:
            body = json.loads(payload)
            session = Session(
                csrf=str(body["c"]),
                user=None if body["u"] is None else str(body["u"]),
                expires=float(body["e"]),
                notice=body.get("n"),
            )
        except (ValueError, KeyError, TypeError):
            return None
        return session if session.expires > self.clock() else None


class SignInLimiter:
    """At most ``attempts`` failed sign-ins per client address in ``window`` seconds.

    Parameters:
        attempts: failures allowed in the window.
        window: the window in seconds.
        clock: monotonic seconds (default :func:`time.monotonic`).
    """

    _MAX_CLIENTS = 10_000

    def __init__(
        self, attempts: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.attempts = attempts
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(client, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def retry_after(self, client: str) -> int:
        """Seconds until ``client`` may try again; 0 when it may now."""
        with self._lock:
            now = self.clock()
            failures = self._recent(client, now)
            if len(failures) < self.attempts:
                return 0
            return max(1, int(failures[0] + self.window - now) + 1)

    def failed(self, client: str) -> None:
        """Count a failed sign-in from ``client``."""
        with self._lock:
            if len(self._failures) >= self._MAX_CLIENTS:
                # Bounded memory under a spray of addresses: forget the oldest.
                self._failures.pop(next(iter(self._failures)))
            self._recent(client, self.clock()).append(self.clock())

    def succeeded(self, client: str) -> None:
        """Forget ``client``'s failures."""
        with self._lock:
            self._failures.pop(client, None)
