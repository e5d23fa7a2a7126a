"""The console's defences, against the real server ``serve`` runs (uvicorn on loopback).

No session: pages redirect to the sign-in form, actions are refused. Every form needs the
session's CSRF token. Failed sign-ins are limited per client. Every answer carries the
CSP, framing, referrer and no-cache headers. The cookie is HttpOnly and SameSite=Strict,
and a cookie the client changed is not a session. The proxy header counts only from a
configured proxy address.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from invitegw.gateway.storage import Store
from tests.fixtures.smtp_sink import SmtpSink
from tests.gateway.admin.harness import (
    PASSWORD,
    WAIT,
    console_deployment,
    csrf_of,
    dead_message,
    sign_in,
    signed_in,
)
from tests.gateway.operations.harness import Deployment

PAGES = (
    "/admin/",
    "/admin/outbox",
    "/admin/quarantine",
    "/admin/quarantine/1",
    "/admin/meeting",
    "/admin/message",
    "/admin/connections",
)
ACTIONS = (
    "/admin/outbox/retry",
    "/admin/quarantine/1/release",
    "/admin/quarantine/1/discard",
    "/admin/connections/check",
    "/admin/sign-out",
)


@pytest.fixture
def deployment(store: Store, tmp_path: Path, smtp_sink: SmtpSink) -> Iterator[Deployment]:
    made = console_deployment(store, tmp_path, smtp_sink.port, admin="sign_in_attempts = 3\n")
    made.start()
    try:
        yield made
    finally:
        made.close()


def test_pages_redirect_to_sign_in_and_actions_are_refused_without_a_session(
    deployment: Deployment,
) -> None:
    with httpx.Client(base_url=deployment.http_url, timeout=WAIT) as client:
        for path in PAGES:
            answer = client.get(path)
            assert answer.status_code == 303, path
            assert answer.headers["location"].startswith("/admin/sign-in?next=/admin/"), path
        for path in ACTIONS:
            answer = client.post(path, data={"csrf_token": "guess", "all_dead": "yes"})
            assert answer.status_code == 403, path


def test_every_form_needs_the_sessions_csrf_token(deployment: Deployment) -> None:
    dead = dead_message(deployment.store)
    with signed_in(deployment.http_url) as client:
        token = csrf_of(client.get("/admin/outbox").text)
        for path in ACTIONS:
            assert client.post(path, data={"id": str(dead)}).status_code == 403, path
            wrong = {"id": str(dead), "csrf_token": token[:-2] + "xx"}
            assert client.post(path, data=wrong).status_code == 403, path
        # Nothing was retried by the refused posts; with the token it is.
        assert "550 no such user" in client.get("/admin/outbox?state=dead").text
        done = client.post("/admin/outbox/retry", data={"id": str(dead), "csrf_token": token})
        assert done.status_code == 303
        assert "1 message(s) queued again." in client.get(done.headers["location"]).text


def test_the_sign_in_form_is_rate_limited_per_client(deployment: Deployment) -> None:
    with httpx.Client(base_url=deployment.http_url, timeout=WAIT) as client:
        for _ in range(3):
            assert sign_in(client, "wrong").status_code == 401
        limited = sign_in(client, "wrong")
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) > 0
        # Even the right password waits now.
        assert sign_in(client, PASSWORD).status_code == 429


def test_a_sign_in_with_no_token_or_a_foreign_next_is_refused_or_kept_home(
    deployment: Deployment,
) -> None:
    with httpx.Client(base_url=deployment.http_url, timeout=WAIT) as client:
        form = {"username": "admin", "password": PASSWORD, "next": "/admin/"}
        assert client.post("/admin/sign-in", data=form).status_code == 403
        token = csrf_of(client.get("/admin/sign-in").text)
        away = {**form, "csrf_token": token, "next": "https://evil.example/"}
        answer = client.post("/admin/sign-in", data=away)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/admin/"


def test_headers_and_cookie_flags(deployment: Deployment) -> None:
    with httpx.Client(base_url=deployment.http_url, timeout=WAIT) as client:
        for path in ("/admin/sign-in", "/admin/static/admin.css"):
            headers = client.get(path).headers
            csp = headers["content-security-policy"]
            assert "default-src 'none'" in csp
            assert "frame-ancestors 'none'" in csp
            assert "script-src" not in csp  # no script at all: default-src 'none' forbids it
            assert headers["x-frame-options"] == "DENY"
            assert headers["referrer-policy"] == "no-referrer"
            assert headers["x-content-type-options"] == "nosniff"
        answer = sign_in(client)
        cookie = answer.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=strict" in cookie
        assert "secure" not in cookie  # plain http on loopback: a Secure cookie would not return
        # A cookie changed by the client is no session.
        name, value = answer.headers["set-cookie"].split(";")[0].split("=", 1)
        forged = value[:-4] + ("AAAA" if not value.endswith("AAAA") else "BBBB")
        client.cookies.clear()
        client.cookies.set(name, forged)
        assert client.get("/admin/").status_code == 303


def test_pages_never_render_script(deployment: Deployment) -> None:
    with signed_in(deployment.http_url) as client:
        for path in PAGES[:3] + PAGES[4:]:
            page = client.get(path)
            assert page.status_code == 200, path
            assert "<script" not in page.text.lower()
            assert " style=" not in page.text.lower()


@pytest.mark.parametrize("engine_name", ["sqlite"])
@pytest.mark.parametrize(("proxies", "honoured"), [("127.0.0.1", True), ("10.9.8.7", False)])
def test_the_proxy_header_counts_only_from_a_trusted_proxy(
    store: Store, tmp_path: Path, smtp_sink: SmtpSink, proxies: str, honoured: bool
) -> None:
    admin = f'proxy_header = "X-Forwarded-User"\ntrusted_proxies = ["{proxies}"]\n'
    deployment = console_deployment(store, tmp_path, smtp_sink.port, admin=admin)
    deployment.start()
    try:
        with httpx.Client(base_url=deployment.http_url, timeout=WAIT) as client:
            page = client.get("/admin/", headers={"X-Forwarded-User": "paula"})
            if honoured:
                assert page.status_code == 200
                assert "Sign out paula" in page.text
            else:
                assert page.status_code == 303
    finally:
        deployment.close()


@pytest.mark.parametrize("engine_name", ["sqlite"])
def test_the_cookie_is_secure_and_host_prefixed_when_the_public_url_is_https(
    store: Store, tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    from invitegw.gateway.http.admin import admin_routes
    from invitegw.gateway.http.app import build_http_app
    from invitegw.gateway.http.server import HttpService

    deployment = console_deployment(store, tmp_path, smtp_sink.port)
    gateway = deployment.gateway
    app = build_http_app(
        gateway, extra_routes=admin_routes(gateway, public_url="https://gw.example.com")
    )
    service = HttpService(app, "127.0.0.1", 0)
    service.start()
    try:
        with httpx.Client(base_url=service.url, timeout=WAIT) as client:
            answer = client.get("/admin/sign-in")
            cookie = answer.headers["set-cookie"]
            assert cookie.startswith("__Host-invitegw_admin=")
            assert "secure" in cookie.lower()
            assert "path=/" in cookie.lower()
            assert "domain" not in cookie.lower()
            assert client.get("/admin", follow_redirects=True).url.path == "/admin/sign-in"
    finally:
        service.stop()
        deployment.close()
