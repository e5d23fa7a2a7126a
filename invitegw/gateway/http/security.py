"""Security headers for the gateway's HTML pages (the answer page, the console).

:func:`add_security_headers` sets them on one response, :func:`security_headers` (a
middleware) on every response of an app, its static files too: what a page opened from
an email in a stranger's browser needs. A Content-Security-Policy that allows no script
at all, styles and images only from this server, forms posted only back to it, and no
framing (``frame-ancestors 'none'``, with ``X-Frame-Options: DENY`` for older browsers);
no Referer leaving the page (its URL is a capability); no MIME sniffing; no caching of a
page that shows a person's meeting; no camera, microphone or location.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["PAGE_CSP", "SECURITY_HEADERS", "add_security_headers", "security_headers"]

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
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
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


_LOWER = {name.lower(): value for name, value in SECURITY_HEADERS.items()}


def security_headers(app: ASGIApp) -> ASGIApp:
    """Wrap ``app`` so every HTTP response carries :data:`SECURITY_HEADERS`."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.decode().lower() not in _LOWER
                ]
                headers += [(k.encode(), v.encode()) for k, v in _LOWER.items()]
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, send_with_headers)

    return wrapped
