"""The invitegw exception tree.

Every error the gateway raises on purpose derives from :class:`GatewayError`, so a caller
(the CLI, a pipeline, a scheduler job) can catch one class and report a clear message.
Foreign exceptions (``smtplib``, ``imapclient``, ``httpx``, ``sqlalchemy``) are mapped to
this tree at the adapter that meets them and chained with ``raise ... from exc``; they never
escape an adapter.

::

    GatewayError
    ├── IcsError (ValueError)          iCalendar data we cannot read or write
    │   ├── IcsParseError              malformed input; carries component/property/line
    │   ├── IcsLimitError              input over a configured cap (size, components, ...)
    │   └── IcsBuildError              a model the builder refuses to serialise
    ├── MimeError (ValueError)         an email we cannot read
    │   └── MimeLimitError             a message or part over a configured cap
    ├── AddressError (ValueError)      an email address that fails validation
    ├── DeliveryError                  outbound SMTP failed permanently (5xx)
    │   └── TransientDeliveryError     ... or for now (4xx, connection refused): retry
    ├── MailboxError                   IMAP trouble (login, select, fetch, move)
    │   ├── CapabilityError            the server lacks a capability we need
    │   └── MailboxAuthError           ... refused our credentials (AuthenticationError)
    ├── AuthenticationError            credentials refused, or no OAuth 2.0 token to be had
    │   (RelayAuthError is also a TransientDeliveryError; MailboxAuthError a MailboxError)
    ├── CrmError                       the CRM refused or failed an operation
    │   ├── CrmNotFoundError           the record does not exist (or is not visible)
    │   ├── CrmConflictError           the write conflicts (duplicate, stale)
    │   └── CrmUnavailableError        unreachable or 5xx: retry later
    ├── StorageError                   the gateway's own database
    │   ├── StorageDataError           ... refused a value: the data's fault, retry won't help
    │   └── SchemaOutdatedError        the schema needs ``invitegw db upgrade``
    └── ConfigError                    invalid configuration; names the key
"""

from __future__ import annotations

__all__ = [
    "AddressError",
    "AuthenticationError",
    "CapabilityError",
    "ConfigError",
    "CrmConflictError",
    "CrmError",
    "CrmNotFoundError",
    "CrmUnavailableError",
    "DeliveryError",
    "GatewayError",
    "IcsBuildError",
    "IcsError",
    "IcsLimitError",
    "IcsParseError",
    "MailboxAuthError",
    "MailboxError",
    "MimeError",
    "MimeLimitError",
    "RelayAuthError",
    "SchemaOutdatedError",
    "StorageDataError",
    "StorageError",
    "TransientDeliveryError",
]


class GatewayError(Exception):
    """Root of every error invitegw raises on purpose."""


class IcsError(GatewayError, ValueError):
    """iCalendar data that cannot be read or written."""


class IcsParseError(IcsError):
    """Malformed iCalendar input.

    Parameters:
        message: what is wrong, in words a person can act on.
        component: the component it was found in (``VEVENT``, ``VTIMEZONE`` ...), if known.
        property: the property name (``DTSTART`` ...), if known.
        line_number: 1-based line of the input where the content line starts, if known.
        line: the offending content line (truncated), if known.
    """

    def __init__(
        self,
        message: str,
        *,
        component: str | None = None,
        property: str | None = None,
        line_number: int | None = None,
        line: str | None = None,
    ) -> None:
        self.message = message
        self.component = component
        self.property = property
        self.line_number = line_number
        self.line = line[:200] if line is not None else None
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = []
        if self.component:
            where.append(self.component)
        if self.property:
            where.append(self.property)
        text = self.message
        if where:
            text = f"{'/'.join(where)}: {text}"
        if self.line_number is not None:
            text = f"line {self.line_number}: {text}"
        if self.line:
            text = f"{text} [{self.line!r}]"
        return text


class IcsLimitError(IcsError):
    """Input over a configured cap (object size, components, recurrence expansion).

    Parameters:
        message: what went over which cap, in words.
        limit: the name of the cap (an ``IcsLimits`` field such as ``max_events``), if any.
    """

    def __init__(self, message: str, *, limit: str | None = None) -> None:
        self.limit = limit
        super().__init__(message)


class IcsBuildError(IcsError):
    """A model the builder refuses to serialise (e.g. no UID, end before start)."""


class MimeError(GatewayError, ValueError):
    """An email message that cannot be read."""


class MimeLimitError(MimeError):
    """A message or MIME part over a configured cap."""


class AddressError(GatewayError, ValueError):
    """An email address that fails validation."""


class DeliveryError(GatewayError):
    """Outbound delivery failed permanently (SMTP 5xx for the recipient).

    Parameters:
        message: a readable account of the failure.
        code: the SMTP reply code, when there was one.
        recipient: the address the failure concerns, when it concerns one.
    """

    def __init__(
        self, message: str, *, code: int | None = None, recipient: str | None = None
    ) -> None:
        self.code = code
        self.recipient = recipient
        super().__init__(message)


class TransientDeliveryError(DeliveryError):
    """Outbound delivery failed for now (4xx, connection refused, timeout): retry later."""


class MailboxError(GatewayError):
    """IMAP trouble: login, select, fetch, append or move failed."""


class CapabilityError(MailboxError):
    """The IMAP server lacks a capability the operation needs."""


class AuthenticationError(GatewayError):
    """A server refused the gateway's credentials, or no OAuth 2.0 token could be had.

    The message is one line that names the setting to change.
    """


class MailboxAuthError(MailboxError, AuthenticationError):
    """The IMAP server refused the login, or the mailbox's token could not be had."""


class RelayAuthError(TransientDeliveryError, AuthenticationError):
    """The SMTP relay refused AUTH, or the relay's token could not be had (retry later)."""


class CrmError(GatewayError):
    """The CRM refused or failed an operation; the message names the operation."""


class CrmNotFoundError(CrmError):
    """The record does not exist, or the CRM user may not see it."""


class CrmConflictError(CrmError):
    """The write conflicts with the CRM's state (duplicate, stale update)."""


class CrmUnavailableError(CrmError):
    """The CRM is unreachable or answered with a server error: retry later."""


class StorageError(GatewayError):
    """The gateway's own database failed."""


class StorageDataError(StorageError):
    """The database refused a value (too long, out of range, not encodable).

    Unlike a lost connection or a lock, this is the data's fault: writing the same data
    again fails the same way, so whatever carried it is set aside instead of retried.
    """


class SchemaOutdatedError(StorageError):
    """The database schema is older than this code: run ``invitegw db upgrade``."""


class ConfigError(GatewayError):
    """Invalid configuration. The message names the key (``smtp.port``)."""
