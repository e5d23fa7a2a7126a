"""The answer page: ``GET`` shows it, only ``POST`` (its confirm button) records the answer.

Routes (mounted by :func:`answer_routes` when ``http.answer_keys`` is set):

- ``GET /answer/{token}?a=yes|maybe|no``: the meeting (title, time in the attendee's zone,
  in their language) and a form with the answer the link chose, a comment field and one
  button. Link scanners (Safe Links, Defender, mail gateways) fetch every link of a
  message: a GET reads in a unit of work that is rolled back, so it can never answer.
- ``POST /answer/{token}``: records the answer
  (:func:`~invitegw.gateway.app.answers.record_answer`: exactly as the attendee's REPLY)
  and shows the result.
- ``GET /answer-assets/answer.css``: the page's stylesheet.

The token in the path is the capability: it is signed (:mod:`invitegw.domain.answer_tokens`)
and names one attendee of one invitation. Cross-site form posts are refused three ways:
the form carries a value derived from the token with the key (only our page has it), a
browser's ``Sec-Fetch-Site`` other than ``same-origin`` is refused, and so is an ``Origin``
other than this server's (``http.public_url``'s, else the request's own). Bodies are capped at
:data:`MAX_BODY_BYTES`, comments at
:data:`~invitegw.gateway.app.answers.MAX_COMMENT_CHARS`; requests are rate-limited per
client address and per token (:class:`RateLimiter`, in memory, per process). Every response
carries the headers of :mod:`invitegw.gateway.http.security`.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from invitegw.domain.answer_tokens import (
    MAX_TOKEN_CHARS,
    AnswerKeys,
    AnswerToken,
    AnswerTokenError,
)
from invitegw.errors import CrmUnavailableError, StorageError
from invitegw.gateway.app.answer_facts import AnswerFacts, AnswerState
from invitegw.gateway.app.answers import (
    ANSWERS,
    MAX_COMMENT_CHARS,
    AnswerOutcome,
    AnswerResult,
    clean_comment,
    record_answer,
    show_answer,
)
from invitegw.gateway.bootstrap import Gateway, inbound_config
from invitegw.gateway.http.security import add_security_headers
from invitegw.gateway.inbound.config import InboundConfig
from invitegw.gateway.outbound.answer_links import answer_keys
from invitegw.gateway.uow import UnitsOfWork
from invitegw.ics.model import PartStat
from invitegw.templates.answer_page import STYLESHEET, AnswerPageView, render_answer_page
from invitegw.templates.render import pick_language

__all__ = ["MAX_BODY_BYTES", "AnswerPages", "RateLimiter", "answer_routes"]

logger = logging.getLogger(__name__)

# The largest form body read (the comment and two short fields fit many times over).
MAX_BODY_BYTES = 8 * 1024
_STYLESHEET_PATH = "/answer-assets/answer.css"
_PARTSTAT_NAMES = {p: name for name, p in ANSWERS.items()}


class RateLimiter:
    """At most ``limit`` events per key in any ``window`` seconds (in memory, thread-safe).

    Parameters:
        limit: events allowed per window.
        window: the window, in seconds.
        clock: monotonic seconds (injected in tests).
        max_keys: keys kept at most; beyond, the oldest are forgotten.
    """

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._max_keys = max_keys
        self._seen: collections.OrderedDict[str, collections.deque[float]] = (
            collections.OrderedDict()
        )
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        """Count one event for ``key``; False when it is over the limit."""
        now = self._clock()
        with self._lock:
            times = self._seen.pop(key, None) or collections.deque()
            while times and times[0] <= now - self.window:
                times.popleft()
            allowed = len(times) < self.limit
            if allowed:
                times.append(now)
            self._seen[key] = times
            while len(self._seen) > self._max_keys:
                self._seen.popitem(last=False)
            return allowed


def _page(view: AnswerPageView, status: int = 200) -> Response:
    return add_security_headers(HTMLResponse(render_answer_page(view), status_code=status))


def _browser_language(request: Request) -> str:
    """The first language of Accept-Language (for pages that know no attendee)."""
    header = request.headers.get("accept-language", "")[:200]
    return pick_language(*(part.split(";", 1)[0] for part in header.split(",")))


def _facts_view(kind: str, facts: AnswerFacts, **extra: Any) -> AnswerPageView:
    view = AnswerPageView(
        kind=kind,
        language=facts.language,
        title=facts.title,
        start=facts.start,
        end=facts.end,
        time_zone=facts.time_zone,
        rrule=facts.rrule,
        occurrence=facts.occurrence,
        location=facts.location,
        organizer_name=facts.organizer_name,
        attendee=facts.attendee.address if facts.attendee is not None else "",
        current=facts.partstat,
        reason=facts.state.value,
        changes=facts.changes,
        max_comment=MAX_COMMENT_CHARS,
    )
    return dataclasses.replace(view, **extra)


def _result_view(result: AnswerResult) -> tuple[AnswerPageView, int]:
    facts = result.facts
    answer = _PARTSTAT_NAMES.get(result.partstat, "yes") if result.partstat else "yes"
    if result.outcome in (AnswerOutcome.RECORDED, AnswerOutcome.UNCHANGED):
        return _facts_view("done", facts, answer=answer), 200
    if result.outcome is AnswerOutcome.REFUSED:
        status = 404 if facts.state is AnswerState.UNKNOWN else 409
        return _facts_view("closed", facts, answer=answer), status
    return _facts_view("not-recorded", facts, answer=answer), 409


class AnswerPages:
    """The answer page's endpoints (see the module docstring).

    Parameters:
        units: starts the units of work.
        config: the inbound settings (calendars, policies) the REPLY is handled with.
        keys: the answer-link keys.
        public_url: ``http.public_url`` (its origin is the one form posts may come from).
        per_ip: requests allowed per client address per minute.
        per_token: answers allowed per token per 10 minutes.
    """

    def __init__(
        self,
        units: UnitsOfWork,
        config: InboundConfig,
        keys: AnswerKeys,
        *,
        public_url: str = "",
        per_ip: int = 60,
        per_token: int = 20,
    ) -> None:
        self.units = units
        self.config = config
        self.keys = keys
        parts = urlsplit(public_url) if public_url else None
        self.origin = f"{parts.scheme}://{parts.netloc}" if parts is not None else None
        self.by_ip = RateLimiter(per_ip, 60.0)
        self.by_token = RateLimiter(per_token, 600.0)

    def routes(self) -> list[BaseRoute]:
        """The routes to mount."""
        return [
            Route(_STYLESHEET_PATH, self.stylesheet, methods=["GET"]),
            Route("/answer/{token}", self.page, methods=["GET", "POST"]),
        ]

    async def stylesheet(self, _request: Request) -> Response:
        """The page's stylesheet."""
        response = Response(STYLESHEET, media_type="text/css")
        return add_security_headers(response)

    async def page(self, request: Request) -> Response:
        """GET: show; POST: record (see the module docstring)."""
        client = request.client.host if request.client is not None else "unknown"
        if not self.by_ip.allow(f"ip:{client}"):
            return _page(AnswerPageView("error", _browser_language(request), reason="busy"), 429)
        text = request.path_params["token"]
        try:
            token = self.keys.verify(text[: MAX_TOKEN_CHARS + 1])
        except AnswerTokenError as exc:
            logger.info("answer page: refused a link from %s: %s", client, exc)
            return _page(AnswerPageView("invalid", _browser_language(request)), 400)
        if request.method == "POST":
            return await self._post(request, text, token)
        return await run_in_threadpool(self._show, text, token, request.query_params.get("a"))

    def _show(self, text: str, token: AnswerToken, chosen: str | None) -> Response:
        answer = chosen if chosen in ANSWERS else ""
        try:
            with self.units.start(dry_run=True) as unit:  # rolled back: a GET writes nothing
                facts = show_answer(unit, self.config, token)
                if facts.state is not AnswerState.OPEN:
                    status = 404 if facts.attendee is None else 200
                    return _page(_facts_view("closed", facts), status)
                form_value = self.keys.form_value(text)
                view = _facts_view("confirm", facts, answer=answer, form_value=form_value)
        except (CrmUnavailableError, StorageError) as exc:
            logger.warning("answer page: cannot show: %s", exc)
            return _page(AnswerPageView("error"), 503)
        return _page(view)

    def _cross_site(self, request: Request) -> bool:
        """A post from another site's page: ``Sec-Fetch-Site`` or ``Origin`` says so.

        The page's ``Referrer-Policy: no-referrer`` makes browsers send ``Origin: null``
        with its own form, so ``null`` is not refused; ``Sec-Fetch-Site`` (sent by current
        browsers) then says whether the post came from this origin.
        """
        if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            return True
        origin = request.headers.get("origin")
        if origin is None or origin == "null":
            return False
        own = self.origin or f"{request.url.scheme}://{request.url.netloc}"
        return origin.rstrip("/") != own

    async def _form(self, request: Request) -> dict[str, str] | None:
        """The posted form (urlencoded, at most :data:`MAX_BODY_BYTES`), or None."""
        kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        declared = request.headers.get("content-length", "0")
        if kind != "application/x-www-form-urlencoded" or not declared.isdigit():
            return None
        if int(declared) > MAX_BODY_BYTES:
            return None
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return None
        try:
            pairs = parse_qsl(body.decode("utf-8"), max_num_fields=10, strict_parsing=False)
        except (UnicodeDecodeError, ValueError):
            return None
        return dict(pairs)

    async def _post(self, request: Request, text: str, token: AnswerToken) -> Response:
        language = _browser_language(request)
        if self._cross_site(request):
            logger.info("answer page: refused a cross-site post")
            return _page(AnswerPageView("invalid", language), 403)
        if not self.by_token.allow(f"token:{token.payload}"):
            return _page(AnswerPageView("error", language, reason="busy"), 429)
        form = await self._form(request)
        if form is None:
            return _page(AnswerPageView("invalid", language), 400)
        answer = ANSWERS.get(form.get("answer", ""))
        if answer is None or not self.keys.check_form_value(text, form.get("form", "")):
            return _page(AnswerPageView("invalid", language), 400)
        comment = clean_comment(form.get("comment", ""))
        return await run_in_threadpool(self._record, token, answer, comment)

    def _record(self, token: AnswerToken, answer: PartStat, comment: str) -> Response:
        try:
            with self.units.start() as unit:
                result = record_answer(unit, self.config, token, answer, comment)
                view, status = _result_view(result)  # read while the session is open
        except (CrmUnavailableError, StorageError) as exc:
            logger.warning("answer page: not recorded now: %s", exc)
            return _page(AnswerPageView("error"), 503)
        return _page(view, status)


def answer_routes(gateway: Gateway) -> list[BaseRoute]:
    """The answer page's routes for ``gateway``, or none when no answer keys are set.

    Parameters:
        gateway: the assembled gateway.

    Returns:
        The routes (for ``build_http_app``'s ``extra_routes``).
    """
    keys = answer_keys(gateway.settings)
    if keys is None:
        return []
    pages = AnswerPages(
        gateway.units,
        inbound_config(gateway.settings),
        keys,
        public_url=gateway.settings.http.public_url,
    )
    return pages.routes()
