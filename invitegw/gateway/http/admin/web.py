"""The plumbing of the console's pages: who is asking, sessions, CSRF, headers, rendering.

:class:`Console` holds what every page needs (the gateway, the session codec, the sign-in
limiter, the Jinja2 environment) and :meth:`Console.page` wraps a page handler: it reads
the session cookie (or the trusted proxy's header), sends a visitor who is not signed in
to the sign-in page (GET) or refuses with 403 (POST), checks the CSRF token of every POST,
renders, and writes the session cookie back when it changed. The console's response
headers are :mod:`invitegw.gateway.http.security`'s, as on every page the gateway serves.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from invitegw.gateway.bootstrap import Gateway
from invitegw.gateway.config import AdminSettings
from invitegw.gateway.http.admin.sessions import (
    COOKIE,
    SECURE_COOKIE,
    Session,
    SessionCodec,
    SignInLimiter,
    same_token,
)

__all__ = [
    "PREFIX",
    "Console",
    "Form",
    "Handler",
    "Visit",
]

PREFIX = "/admin"
TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
_MAX_FORM = 64 * 1024

Form = dict[str, list[str]]


@dataclass
class Visit:
    """One request's view of who is asking."""

    session: Session
    client: str
    secure: bool
    via_proxy: bool = False
    form: Form = field(default_factory=dict)

    @property
    def user(self) -> str | None:
        """The signed-in user, or None."""
        return self.session.user

    def value(self, name: str) -> str:
        """A form field's first value (``""`` when absent)."""
        values = self.form.get(name)
        return values[0].strip() if values else ""


Handler = Callable[[Request, Visit], Awaitable[Response]]


class Console:
    """What every page shares (see the module docstring).

    Parameters:
        gateway: the assembled gateway.
        settings: ``[admin]``.
        public_url: the gateway's public base URL (``https://`` makes cookies Secure).
    """

    def __init__(self, gateway: Gateway, settings: AdminSettings, public_url: str = "") -> None:
        if settings.session_key is None:  # checked by the settings; kept for the type
            raise ValueError("admin.session_key is required")
        self.gateway = gateway
        self.settings = settings
        self.public_https = public_url.startswith("https://")
        self.codec = SessionCodec(
            settings.session_key.reveal(), settings.session_lifetime.total_seconds()
        )
        self.limiter = SignInLimiter(
            settings.sign_in_attempts, settings.sign_in_window.total_seconds()
        )
        self.proxies = tuple(
            ipaddress.ip_network(p, strict=False) for p in settings.trusted_proxies
        )
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    # -- who is asking -------------------------------------------------------------------

    def _from_proxy(self, request: Request) -> bool:
        host = request.client.host if request.client else ""
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.proxies)

    def visit(self, request: Request) -> Visit:
        """Who is asking: the session cookie, else a trusted proxy's user, else anonymous."""
        trusted = self._from_proxy(request)
        client = request.client.host if request.client else "unknown"
        forwarded = request.headers.get("x-forwarded-for", "")
        if trusted and forwarded:
            client = forwarded.split(",")[-1].strip() or client
        secure = (
            self.public_https
            or request.url.scheme == "https"
            or (trusted and request.headers.get("x-forwarded-proto", "") == "https")
        )
        cookie = request.cookies.get(SECURE_COOKIE if secure else COOKIE)
        session = self.codec.load(cookie)
        proxy_user = self._proxy_user(request) if trusted else None
        if proxy_user is not None and (session is None or session.user != proxy_user):
            return Visit(self.codec.signed_in(proxy_user), client, secure, via_proxy=True)
        return Visit(session or self.codec.new(), client, secure)

    def _proxy_user(self, request: Request) -> str | None:
        header = self.settings.proxy_header
        value = request.headers.get(header, "").strip() if header else ""
        return value[:200] or None

    # -- responses -----------------------------------------------------------------------

    def render(self, visit: Visit, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        """Render ``template`` with the console's common values."""
        page = self.env.get_template(template).render(
            prefix=PREFIX,
            user=visit.user,
            csrf=visit.session.csrf,
            notice=visit.session.take_notice(),
            **values,
        )
        return HTMLResponse(page, status_code=status)

    def redirect(self, path: str) -> RedirectResponse:
        """A 303 to a console path (a POST's answer: the browser GETs it)."""
        return RedirectResponse(PREFIX + path, status_code=303)

    def finish(self, visit: Visit, response: Response) -> Response:
        """Write the session cookie when it changed."""
        if visit.session.changed:
            response.set_cookie(
                SECURE_COOKIE if visit.secure else COOKIE,
                self.codec.dump(visit.session),
                max_age=int(self.codec.lifetime),
                path="/",
                secure=visit.secure,
                httponly=True,
                samesite="strict",
            )
        return response

    async def read_form(self, request: Request) -> Form | None:
        """The urlencoded form of a POST (None when too large or of another type)."""
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/x-www-form-urlencoded":
            return None
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > _MAX_FORM:
                return None
        form: Form = {}
        for key, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
            form.setdefault(key, []).append(value)
        return form

    def page(self, handler: Handler, *, public: bool = False) -> Callable[[Request], Any]:
        """The endpoint for ``handler`` (see the module docstring).

        Parameters:
            handler: the page; receives the request and the visit.
            public: the sign-in page: reachable without a session.
        """

        async def endpoint(request: Request) -> Response:
            visit = self.visit(request)
            if request.method == "POST":
                form = await self.read_form(request)
                if form is None:
                    return PlainTextResponse("expected a form of at most 64 KiB", 415)
                if not same_token(_first(form, "csrf_token"), visit.session.csrf):
                    return PlainTextResponse("the form's CSRF token is missing or stale", 403)
                visit.form = form
            if visit.user is None and not public:
                if request.method != "GET":
                    return PlainTextResponse("sign in first", 403)
                target = quote(
                    request.url.path + ("?" + request.url.query if request.url.query else "")
                )
                return self.finish(visit, self.redirect(f"/sign-in?next={target}"))
            return self.finish(visit, await handler(request, visit))

        return endpoint


def _first(form: Form, name: str) -> str | None:
    values = form.get(name)
    return values[0] if values else None
