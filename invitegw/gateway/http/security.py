"""Security headers for the gateway's HTML pages: one function, applied to each response.

:func:`add_security_headers` sets, on a response, what a page a stranger's browser opens
from an email needs: a Content-Security-Policy that allows no script at all, styles and
images only from this server, forms posted only back to it, and no framing
(``frame-ancestors 'none'``, with ``X-Frame-Options: DENY`` for older browsers); no
Referer leaving the page (its URL is a capability); no MIME sniffing; no caching of a page
that shows a person's meeting.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import Response

__all__ = ["PAGE_CSP", "SECURITY_HEADERS", "add_security_headers"]

PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": PAGE_CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def add_security_headers(response: Response, *, csp: str = PAGE_CSP) -> Response:
    """Set :data:`SECURITY_HEADERS` on ``response`` (with ``csp`` as its policy).

    Parameters:
        response: the response.
        csp: the Content-Security-Policy (default: :data:`PAGE_CSP`).

    Returns:
        The same response.
    """
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    response.headers["Content-Security-Policy"] = csp
    return response
