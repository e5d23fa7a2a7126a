"""The console's pages, each a thin handler over a use case of :mod:`invitegw.gateway.app`.

- ``/admin/`` overview: the deployment's ``status``;
- ``/admin/outbox``: filter by state, meeting, recipient; retry dead messages;
- ``/admin/quarantine``: grouped by cause; a message's headers, text, parsed events and
  reason; release (with an owner), discard (after a confirmation page, with an audit entry);
- ``/admin/meeting?id=``: a meeting's history; ``/admin/message?id=``: a message's;
- ``/admin/connections``: the CRM and the mailboxes, each with a "check now" button;
- ``/admin/sign-in`` and ``/admin/sign-out``.

The actions go through the same functions as the CLI's ``outbox retry``, ``quarantine
release|discard``, ``crm check`` and ``mailbox check``. Use cases that block (database,
network) run in the thread pool, never on the event loop.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from invitegw.domain.addresses import validate_address
from invitegw.errors import AddressError, GatewayError
from invitegw.gateway.app.crm import check_crm
from invitegw.gateway.app.history import meeting_history, message_history
from invitegw.gateway.app.mailboxes import check_mailbox, find_mailbox
from invitegw.gateway.app.outbox import list_outbox, retry_outbox
from invitegw.gateway.app.quarantine import (
    by_cause,
    discard_quarantined,
    list_quarantine,
    quarantine_detail,
    release_quarantined,
)
from invitegw.gateway.app.status import deployment_status
from invitegw.gateway.bootstrap import Gateway
from invitegw.gateway.http.admin.passwords import verify_password
from invitegw.gateway.http.admin.web import PREFIX, STATIC, Console, Visit
from invitegw.gateway.http.security import security_headers
from invitegw.gateway.storage import OutboxState

__all__ = ["admin_routes", "build_admin_app"]

_PAGE = 100


def _safe_next(target: str) -> str:
    """A sign-in's ``next`` only when it is a console path (no open redirect)."""
    if target.startswith(PREFIX + "/") and not target.startswith("//") and "\\" not in target:
        return target
    return PREFIX + "/"


class Pages:
    """The handlers (see the module docstring)."""

    def __init__(self, console: Console) -> None:
        self.c = console
        self.gateway = console.gateway

    # -- signing in ----------------------------------------------------------------------

    async def sign_in_form(self, request: Request, visit: Visit) -> Response:
        if visit.user is not None:
            return self.c.redirect("/")
        nxt = _safe_next(request.query_params.get("next", ""))
        return self.c.render(visit, "sign_in.html", next=nxt, error=None, username="")

    async def sign_in(self, request: Request, visit: Visit) -> Response:
        nxt = _safe_next(visit.value("next"))
        wait = self.c.limiter.retry_after(visit.client)
        if wait:
            error = f"Too many failed sign-ins. Try again in {wait} seconds."
            response = self.c.render(visit, "sign_in.html", 429, next=nxt, error=error, username="")
            response.headers["retry-after"] = str(wait)
            return response
        username, password = visit.value("username"), visit.form.get("password", [""])[0]
        stored = self.c.settings.password_hash
        ok = stored is not None and await run_in_threadpool(
            verify_password, password, stored.reveal()
        )
        if not ok or username != self.c.settings.user:
            self.c.limiter.failed(visit.client)
            error = "The user name or password is wrong."
            return self.c.render(
                visit, "sign_in.html", 401, next=nxt, error=error, username=username
            )
        self.c.limiter.succeeded(visit.client)
        visit.session = self.c.codec.signed_in(username)
        return Response(status_code=303, headers={"location": nxt})

    async def sign_out(self, _request: Request, visit: Visit) -> Response:
        visit.session = self.c.codec.new()
        visit.session.set_notice("Signed out.")
        return self.c.redirect("/sign-in")

    # -- overview ------------------------------------------------------------------------

    async def overview(self, _request: Request, visit: Visit) -> Response:
        report = await run_in_threadpool(
            deployment_status,
            self.gateway.settings,
            store=self.gateway.store,
            clock=self.gateway.clock,
            check_crm=False,
        )
        return self.c.render(visit, "overview.html", report=report, page="overview")

    # -- outbox --------------------------------------------------------------------------

    async def outbox(self, request: Request, visit: Visit) -> Response:
        query = request.query_params
        filters = {
            "state": query.get("state", ""),
            "meeting_id": query.get("meeting", "").strip(),
            "recipient": query.get("recipient", "").strip(),
        }
        before = query.get("before", "")
        error = None
        try:
            entries = await run_in_threadpool(
                list_outbox,
                self.gateway,
                limit=_PAGE,
                before_id=int(before) if before.isdigit() else None,
                **{k: v or None for k, v in filters.items()},
            )
        except GatewayError as exc:
            entries, error = [], str(exc)
        return self.c.render(
            visit,
            "outbox.html",
            page="outbox",
            entries=entries,
            filters=filters,
            states=[s.value for s in OutboxState],
            error=error,
            more=len(entries) == _PAGE,
        )

    async def retry(self, _request: Request, visit: Visit) -> Response:
        ids = [int(v) for v in visit.form.get("id", []) if v.isdigit()]
        every = visit.value("all_dead") == "yes"
        if not ids and not every:
            visit.session.set_notice("Choose the messages to retry.")
            return self.c.redirect("/outbox?state=dead")
        try:
            count = await run_in_threadpool(retry_outbox, self.gateway, ids=ids, every_dead=every)
        except GatewayError as exc:
            visit.session.set_notice(str(exc))
        else:
            visit.session.set_notice(f"{count} message(s) queued again.")
        return self.c.redirect("/outbox?state=dead")

    # -- quarantine ----------------------------------------------------------------------

    async def quarantine(self, request: Request, visit: Visit) -> Response:
        released = request.query_params.get("released") == "yes"
        entries = await run_in_threadpool(
            list_quarantine, self.gateway, include_released=released, limit=500
        )
        return self.c.render(
            visit,
            "quarantine.html",
            page="quarantine",
            groups=by_cause(entries),
            released=released,
        )

    async def quarantined(self, request: Request, visit: Visit) -> Response:
        return await self._quarantined_page(request, visit, "quarantined.html")

    async def _quarantined_page(self, request: Request, visit: Visit, template: str) -> Response:
        """``template`` over one quarantined message (404 when there is none such)."""
        try:
            detail = await run_in_threadpool(
                quarantine_detail, self.gateway, int(request.path_params["id"])
            )
        except GatewayError as exc:
            return self.c.render(visit, "error.html", 404, page="quarantine", error=str(exc))
        return self.c.render(visit, template, page="quarantine", detail=detail)

    async def release(self, request: Request, visit: Visit) -> Response:
        row = int(request.path_params["id"])
        owner = visit.value("owner") or None
        if owner is not None:
            try:
                owner = validate_address(owner)
            except AddressError as exc:
                visit.session.set_notice(f"Owner: {exc}")
                return self.c.redirect(f"/quarantine/{row}")
        try:
            result = await run_in_threadpool(release_quarantined, self.gateway, row, owner=owner)
        except GatewayError as exc:
            visit.session.set_notice(f"Not released: {exc}")
            return self.c.redirect(f"/quarantine/{row}")
        visit.session.set_notice(_release_notice(result))
        return self.c.redirect(f"/quarantine/{row}")

    async def confirm_discard(self, request: Request, visit: Visit) -> Response:
        return await self._quarantined_page(request, visit, "discard.html")

    async def discard(self, request: Request, visit: Visit) -> Response:
        row = int(request.path_params["id"])
        if visit.value("confirm") != "yes":
            return self.c.redirect(f"/quarantine/{row}/discard")
        by = f"{visit.user} (web console)"
        try:
            await run_in_threadpool(discard_quarantined, self.gateway, row, by=by)
        except GatewayError as exc:
            visit.session.set_notice(f"Not discarded: {exc}")
            return self.c.redirect(f"/quarantine/{row}")
        visit.session.set_notice(
            f"Quarantined message {row} discarded; the event log keeps a note."
        )
        return self.c.redirect("/quarantine")

    # -- histories -----------------------------------------------------------------------

    async def meeting(self, request: Request, visit: Visit) -> Response:
        return await self._history(request, visit, meeting_history, "meeting")

    async def message(self, request: Request, visit: Visit) -> Response:
        return await self._history(request, visit, message_history, "message")

    async def _history(
        self,
        request: Request,
        visit: Visit,
        lookup: Callable[[Gateway, str], object],
        page: str,
    ) -> Response:
        """The ``page`` history of the ``id`` asked for (a form to ask when none is)."""
        wanted = request.query_params.get("id", "").strip()
        history, error = None, None
        if wanted:
            try:
                history = await run_in_threadpool(lookup, self.gateway, wanted)
            except GatewayError as exc:
                error = str(exc)
        return self.c.render(
            visit, f"{page}.html", page=page, wanted=wanted, history=history, error=error
        )

    # -- connections ---------------------------------------------------------------------

    async def connections(self, _request: Request, visit: Visit) -> Response:
        report = await run_in_threadpool(
            deployment_status,
            self.gateway.settings,
            store=self.gateway.store,
            clock=self.gateway.clock,
            check_crm=False,
        )
        return self.c.render(visit, "connections.html", page="connections", report=report)

    async def check(self, _request: Request, visit: Visit) -> Response:
        target = visit.value("target")
        settings = self.gateway.settings
        try:
            if target == "crm":
                result = await run_in_threadpool(check_crm, settings)
                verdict = "works" if result.ok else "has a problem"
                text = f"CRM check: {verdict}. {result.text}"
            elif target.startswith("mailbox:"):
                mailbox = find_mailbox(settings, target.removeprefix("mailbox:"))
                probe = await run_in_threadpool(check_mailbox, settings, mailbox)
                steps = "; ".join(f"{s.name}: {s.detail}" for s in probe.steps)
                verdict = "works" if probe.ok else f"has a problem: {probe.error or ''}"
                text = f"Mailbox {mailbox.name} {verdict} ({steps})"
            else:
                text = "Nothing to check."
        except GatewayError as exc:
            text = f"Check failed: {exc}"
        visit.session.set_notice(text)
        return self.c.redirect("/connections")


def _release_notice(result: object) -> str:
    from invitegw.gateway.inbound.model import MessageResult

    assert isinstance(result, MessageResult)
    if result.quarantined:
        return f"Released, and quarantined again: {result.reason}"
    parts = []
    for event in result.events:
        task = f" (task {event.task_id})" if event.task_id else ""
        parts.append(f"{event.outcome.value}{task}")
    return "Released: " + (", ".join(parts) or "nothing to do")


def build_admin_app(gateway: Gateway, *, public_url: str = "") -> ASGIApp:
    """The console as an ASGI app to mount at :data:`PREFIX`.

    Parameters:
        gateway: the assembled gateway (``[admin]`` enabled and complete).
        public_url: the gateway's public base URL.

    Returns:
        The app (security headers on every response).
    """
    console = Console(gateway, gateway.settings.admin, public_url)
    pages = Pages(console)
    page = console.page
    routes = [
        Route("/", page(pages.overview), methods=["GET"]),
        Route("/sign-in", page(pages.sign_in_form, public=True), methods=["GET"]),
        Route("/sign-in", page(pages.sign_in, public=True), methods=["POST"]),
        Route("/sign-out", page(pages.sign_out), methods=["POST"]),
        Route("/outbox", page(pages.outbox), methods=["GET"]),
        Route("/outbox/retry", page(pages.retry), methods=["POST"]),
        Route("/quarantine", page(pages.quarantine), methods=["GET"]),
        Route("/quarantine/{id:int}", page(pages.quarantined), methods=["GET"]),
        Route("/quarantine/{id:int}/release", page(pages.release), methods=["POST"]),
        Route("/quarantine/{id:int}/discard", page(pages.confirm_discard), methods=["GET"]),
        Route("/quarantine/{id:int}/discard", page(pages.discard), methods=["POST"]),
        Route("/meeting", page(pages.meeting), methods=["GET"]),
        Route("/message", page(pages.message), methods=["GET"]),
        Route("/connections", page(pages.connections), methods=["GET"]),
        Route("/connections/check", page(pages.check), methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    return security_headers(Starlette(routes=routes))


def admin_routes(gateway: Gateway, *, public_url: str = "") -> list[BaseRoute]:
    """The console's mount when ``[admin] enabled``, else nothing.

    Parameters:
        gateway: the assembled gateway.
        public_url: the gateway's public base URL.

    Returns:
        ``[Mount("/admin", ...)]`` or ``[]``.
    """
    if not gateway.settings.admin.enabled:
        return []
    return [Mount(PREFIX, app=build_admin_app(gateway, public_url=public_url))]
