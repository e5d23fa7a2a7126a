"""OAuth 2.0 access tokens: what a source issues, and the cache that hands them out.

A :class:`TokenSource` gets a fresh token from somewhere (Microsoft's identity platform,
Google, a token endpoint, a command); :class:`TokenCache` keeps the last one in memory and
hands it out until shortly before it expires, so a watcher reconnecting every few minutes
does not ask the provider each time. When a server refuses a token that looked valid
(revoked, or the provider's clock differs), the caller :meth:`TokenCache.invalidate` s it and
asks once more: a token is refreshed once per authentication failure, never in a loop.

Tokens live only in memory: never written to disk, never logged (``repr`` hides them).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from invitegw.errors import AuthenticationError

__all__ = ["IssuedToken", "TokenCache", "TokenError", "TokenSource"]

logger = logging.getLogger(__name__)

# Refresh this long before expiry at most ("shortly before"): a token must not expire
# between the cache's answer and the server's check of it.
DEFAULT_MARGIN = 120.0
# A token issued without expires_in (RFC 6749 section 5.1 makes it optional) is reused
# this long unless the source says otherwise.
DEFAULT_LIFETIME = 300.0


class TokenError(AuthenticationError):
    """No token could be had: the provider refused (``transient`` is False) or was away.

    The message is one line naming the setting to change, without any secret.

    Parameters:
        message: the line.
        transient: True when trying later may help (network, 5xx), False for a refusal.
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token as a source issued it.

    Attributes:
        value: the bearer token (hidden from ``repr``).
        lifetime: seconds it stays valid from now (``expires_in``), if the source said.
    """

    value: str = field(repr=False)
    lifetime: float | None = None


class TokenSource(Protocol):
    """Where a fresh token comes from (one per provider flow)."""

    @property
    def description(self) -> str:
        """The provider and flow, for messages ("Microsoft 365 client credentials")."""
        ...

    def fetch(self) -> IssuedToken:
        """Ask the provider for a new token.

        Raises:
            TokenError: the provider refused, or could not be reached.
        """
        ...


class TokenCache:
    """One account's current token, refreshed shortly before expiry (thread-safe).

    Parameters:
        source: where tokens come from.
        account: the account's label for log lines ("imap:sales").
        margin: refresh at most this many seconds before expiry (a tenth of a short
            token's lifetime when that is less).
        default_lifetime: how long a token issued without ``expires_in`` is reused.
        clock: monotonic seconds.
    """

    def __init__(
        self,
        source: TokenSource,
        *,
        account: str = "",
        margin: float = DEFAULT_MARGIN,
        default_lifetime: float = DEFAULT_LIFETIME,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self.account = account
        self._margin = margin
        self._default_lifetime = default_lifetime
        self._clock = clock
        self._lock = threading.Lock()
        self._value: str | None = None
        self._refresh_at = 0.0
        self.fetches = 0  # tokens fetched from the source (for tests and check output)

    def __repr__(self) -> str:
        return f"TokenCache({self.account!r}, {self.source.description!r})"

    def get(self) -> str:
        """The cached token, or a new one when none is cached or it is about to expire.

        Returns:
            The bearer token.

        Raises:
            TokenError: a new token was needed and could not be had.
        """
        with self._lock:
            if self._value is not None and self._clock() < self._refresh_at:
                return self._value
            issued = self.source.fetch()
            if not issued.value:
                raise TokenError(f"{self.source.description} returned an empty token")
            lifetime = issued.lifetime if issued.lifetime is not None else self._default_lifetime
            margin = min(self._margin, max(lifetime, 0.0) / 10)
            self._value = issued.value
            self._refresh_at = self._clock() + lifetime - margin
            self.fetches += 1
            logger.debug(
                "OAuth 2.0 token for %s from %s (valid %.0f s)",
                self.account or "-",
                self.source.description,
                lifetime,
            )
            return issued.value

    def invalidate(self, value: str) -> None:
        """Forget ``value`` if it is still the cached token (the server refused it).

        Parameters:
            value: the token that was refused.
        """
        with self._lock:
            if self._value == value:
                self._value = None
                self._refresh_at = 0.0
