"""Credentials out of every URL the gateway prints or logs.

A database URL may carry its password (``postgresql://gw:secret@db/invitegw``: the
environment variable ``INVITEGW_DATABASE__URL`` accepts one, and so does the config file);
so may any URL a library logs (an HTTP client logging its request). :func:`redact_urls`
replaces the password of every ``scheme://user:password@`` in a text, and the value of
credential-like parameters (``?password=``, ``&token=``, libpq's ``password=...``), with
``<redacted>``.
"""

from __future__ import annotations

import re

from invitegw.gateway.config.fields import REDACTED

__all__ = ["redact_urls"]

# scheme://user:password@ — the password runs to the last "@" before the host (an
# unencoded "@" in it is taken as part of it, as SQLAlchemy does).
_USERINFO_RE = re.compile(
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*:)(?P<password>[^\s/]*)@(?=[^\s@/]*(?:[/\s?#]|$))"
)
_QUERY_RE = re.compile(
    # after "?", "&", ";", white space or at the start: URL queries and libpq's key=value
    r"(?P<head>(?<![^?&;\s])(?:password|passwd|pass|pwd|secret|token|access_key|api_key|apikey)=)"
    r"(?P<value>[^&;#\s]*)",
    re.IGNORECASE,
)


def redact_urls(text: str) -> str:
    """``text`` with the credentials of every URL in it replaced by ``<redacted>``.

    Parameters:
        text: any text (a URL, a log line, an error message).

    Returns:
        The text; unchanged when it holds no ``://`` (the usual case, checked first).
    """
    if "://" not in text and "=" not in text:
        return text
    text = _USERINFO_RE.sub(lambda m: m["head"] + REDACTED + "@", text)
    return _QUERY_RE.sub(lambda m: m["head"] + REDACTED, text)
