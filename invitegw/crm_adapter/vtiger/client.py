"""The vtiger webservice session: challenge/login, calls, and error mapping.

One endpoint, ``<base>/webservice.php``: reads are ``GET`` with query parameters, writes
``POST`` form-encoded. vtiger answers **HTTP 200 for every handled error**, with
``{"success": false, "error": {"code", "message"}}``, so the HTTP status says little; the
mapping into our error tree (facts sheet, "Error format"):

============================================  ===========================================
what happened                                 raised
============================================  ===========================================
connection refused, DNS, TLS, timeout         :class:`CrmUnavailableError` (retry later)
HTTP 5xx (any body)                           :class:`CrmUnavailableError`
``ACCESS_DENIED`` / ``INVALID_ID_ATTRIBUTE``  :class:`VtigerNotFoundError` (a
on retrieve, revise, update, delete           :class:`CrmNotFoundError`): vtiger has no
                                              "not found"; a deleted id reads as denied
error code ``0`` (an integer)                 :class:`VtigerConflictError`: duplicates
``INVALID_SESSIONID``, ``SESSION_EXPIRED``,   log in again once and retry the call
``SESSION_LEFT_IDLE``
anything else, HTTP 4xx, a non-JSON answer    :class:`VtigerApiError` naming the operation
============================================  ===========================================

**One session for the process's life.** The adapter logs in on its first call and keeps
that session; nothing logs out between passes. vtiger ends a session on its own side:
after 30 minutes without a call (``SESSION_LEFT_IDLE``), 24 hours after the login
(``SESSION_EXPIRED``; both from vtiger's ``include/Webservices/SessionManager.php``), or
when PHP has already removed the session (``INVALID_SESSIONID``, files 62, 79). Any of
the three means one new login and one retry.

**Logout** is best effort at the end: stock vtiger 8 on PHP 8 answers it with HTTP 500
(the session then stays until vtiger's idle limit ends it). A failed logout is logged at
DEBUG only, never raised, and gets a short timeout so it cannot hold up the exit.

No ``httpx`` exception leaves this module. The access key, its digest and the session
name are never logged; every call logs one INFO line (operation, module, outcome, time).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from invitegw.crm_adapter.vtiger import vtql
from invitegw.crm_adapter.vtiger.answers import (
    VtigerApiError,
    VtigerConflictError,
    VtigerNotFoundError,
    api_error,
    decode,
    error_of,
    http_date,
    install_redaction,
    looks_json,
    one_record,
    record_list,
    required_field,
)
from invitegw.crm_adapter.vtiger.options import VtigerOptions
from invitegw.errors import CrmError, CrmUnavailableError

__all__ = [
    "SESSION_ENDED_CODES",
    "LoginInfo",
    "VtigerApiError",
    "VtigerClient",
    "VtigerConflictError",
    "VtigerNotFoundError",
]

logger = logging.getLogger(__name__)

_MAX_RESPONSE_BYTES = 32 * 1024 * 1024
# The codes with which vtiger says "this session is over" (module docstring).
SESSION_ENDED_CODES = frozenset({"INVALID_SESSIONID", "SESSION_EXPIRED", "SESSION_LEFT_IDLE"})
# A logout runs at exit and usually fails (HTTP 500 on stock vtiger 8): never wait long.
_LOGOUT_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class LoginInfo:
    """What ``login`` told us about the session and the API user."""

    session: str = field(repr=False)
    user_id: str
    username: str
    email: str
    time_zone: str
    vtiger_version: str
    api_version: str


class _SyncUnsupportedError(Exception):
    """``sync`` answered HTTP 500 or a non-JSON body (stock vtiger 8 on PHP 8)."""


class VtigerClient:
    """A logged-in webservice session, reused across calls and renewed when it expires.

    Parameters:
        options: the validated ``[crm.vtiger]`` options.
        http_client: an ``httpx.Client`` to use (tests inject one); closed by its owner.
        transport: an ``httpx`` transport for the client built here (tests).
    """

    def __init__(
        self,
        options: VtigerOptions,
        *,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.options = options
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(
            timeout=httpx.Timeout(options.timeout, connect=options.connect_timeout),
            transport=transport,
            follow_redirects=False,
        )
        install_redaction()
        self._lock = threading.RLock()
        self._login: LoginInfo | None = None
        self.last_response_date: dt.datetime | None = None
        self.last_call_seconds = 0.0

    # -- session -------------------------------------------------------------------------

    @property
    def login_info(self) -> LoginInfo:
        """The current session's login answer (logs in when there is none)."""
        with self._lock:
            if self._login is None:
                self._login = self._do_login()
            return self._login

    def _do_login(self) -> LoginInfo:
        user = self.options.username
        challenge = self._exchange("getchallenge", {"operation": "getchallenge", "username": user})
        token = str(required_field(challenge, "token", "getchallenge"))
        # md5(token + accessKey) in lower-case hex: the access key itself never travels.
        digest = hashlib.md5((token + self.options.access_key).encode()).hexdigest()  # noqa: S324
        try:
            result = self._exchange(
                "login",
                {"operation": "login", "username": user, "accessKey": digest},
                post=True,
            )
        except VtigerApiError as exc:
            raise VtigerApiError(
                "login",
                exc.code,
                f"{exc.vtiger_message} (user {user!r}: check crm.vtiger.username and the "
                "access key in INVITEGW_CRM__VTIGER__ACCESS_KEY)",
            ) from exc
        return LoginInfo(
            session=str(required_field(result, "sessionName", "login")),
            user_id=str(required_field(result, "userId", "login")),
            username=str(result.get("username", user)),
            email=str(result.get("email", "")),
            time_zone=str(result.get("time_zone", "")),
            vtiger_version=str(result.get("vtigerVersion", "")),
            api_version=str(result.get("version", "")),
        )

    def logout(self) -> None:
        """End the session on the server, best effort, and forget it.

        Never raises and never logs above DEBUG: stock vtiger 8 on PHP 8 answers HTTP 500
        (module docstring), and a logout that fails changes nothing for the gateway.
        """
        with self._lock:
            login, self._login = self._login, None
        if login is None:
            return
        try:
            self._exchange(
                "logout",
                {"operation": "logout", "sessionName": login.session},
                post=True,
                quiet=True,
                timeout=min(_LOGOUT_TIMEOUT, self.options.timeout),
            )
        except (CrmError, RuntimeError) as exc:  # RuntimeError: the HTTP client was closed
            logger.debug("vtiger logout failed (harmless; vtiger ends idle sessions): %s", exc)

    def close(self) -> None:
        """Log out and close the HTTP client if this object created it."""
        self.logout()
        if self._owns_http:
            self._http.close()

    # -- calls ---------------------------------------------------------------------------

    def call(
        self,
        operation: str,
        params: Mapping[str, str],
        *,
        post: bool = False,
        module: str | None = None,
    ) -> Any:
        """Run one webservice operation in the session; returns its ``result``.

        An answer saying the session is over (``INVALID_SESSIONID``, ``SESSION_EXPIRED``,
        ``SESSION_LEFT_IDLE``: see the module docstring) triggers one new login and one
        retry.

        Raises:
            CrmUnavailableError: unreachable, timed out or HTTP 5xx.
            VtigerNotFoundError: a record operation on a missing or deleted id.
            VtigerConflictError: vtiger's duplicate check refused a write.
            VtigerApiError: any other refusal.
        """
        for attempt in (1, 2):
            session = self.login_info.session
            payload = {"operation": operation, "sessionName": session, **params}
            try:
                return self._exchange(operation, payload, post=post, module=module)
            except VtigerApiError as exc:
                if exc.code not in SESSION_ENDED_CODES or attempt == 2:
                    raise
                logger.info("vtiger ended the session (%s); logging in again", exc.code)
                with self._lock:
                    if self._login is not None and self._login.session == session:
                        self._login = None
        raise AssertionError("unreachable")  # pragma: no cover

    def query(self, text: str, *, module: str) -> list[dict[str, Any]]:
        """Run one VTQL query (at most 100 rows come back)."""
        result = self.call("query", {"query": text}, module=module)
        return record_list(result, "query")

    def query_all(
        self, module: str, prefix: str, fields: Sequence[str], where: str = ""
    ) -> list[dict[str, Any]]:
        """Every row of a query, paged by keyset on ``id`` past the 100-row cap.

        Pages are ``... AND id > '<prefix>x<last>' ORDER BY id LIMIT 100`` (file 142) until
        a page comes back short. On Events and Calendar, ``fields`` and ``where`` must not
        use ``contact_id``: it joins the contact links, vtiger then folds the repeated rows
        into one per id and a page can be short although more rows follow.

        Raises:
            VtigerApiError: more than ``max_query_pages`` pages (a runaway query).
        """
        columns = tuple(dict.fromkeys(("id", *fields)))
        rows: list[dict[str, Any]] = []
        last = 0
        for _ in range(self.options.max_query_pages):
            condition = vtql.and_(where, f"id > {vtql.ws_id(f'{prefix}x{last}')}")
            text = vtql.select(module, columns, condition, order_by="id", limit=vtql.PAGE_SIZE)
            page = self.query(text, module=module)
            rows.extend(page)
            if len(page) < vtql.PAGE_SIZE:
                return rows
            last = max(vtql.crmid(str(row.get("id"))) for row in page)
        raise VtigerApiError(
            "query", "TOO_MANY_PAGES", f"{module}: over {self.options.max_query_pages} pages"
        )

    def retrieve(self, ws_id: str, *, module: str) -> dict[str, Any]:
        """One record by webservice id."""
        return one_record(self.call("retrieve", {"id": ws_id}, module=module), "retrieve")

    def create(
        self, module: str, element: Mapping[str, str], extra: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """Create a record; ``extra`` holds form parameters outside ``element``."""
        params = {"elementType": module, "element": json.dumps(dict(element)), **(extra or {})}
        return one_record(self.call("create", params, post=True, module=module), "create")

    def revise(
        self,
        element: Mapping[str, str],
        *,
        module: str,
        extra: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Merge ``element`` (which carries ``id``) into the stored record."""
        params = {"element": json.dumps(dict(element)), **(extra or {})}
        return one_record(self.call("revise", params, post=True, module=module), "revise")

    def describe(self, module: str) -> dict[str, Any]:
        """The module's fields and id prefix."""
        return one_record(self.call("describe", {"elementType": module}, module=module), "describe")

    def listtypes(self) -> dict[str, Any]:
        """The modules this user may use."""
        return one_record(self.call("listtypes", {}), "listtypes")

    def sync(self, module: str, modified_time: int, sync_type: str) -> dict[str, Any] | None:
        """``sync`` since ``modified_time`` (epoch seconds), or ``None`` where unsupported.

        Stock vtiger 8 on PHP 8 answers HTTP 500 with an empty body (facts sheet, file 48):
        that, or any non-JSON answer, means "unsupported" rather than "unavailable".
        """
        params = {"modifiedTime": str(int(modified_time)), "elementType": module}
        if sync_type:
            params["syncType"] = sync_type
        try:
            result = self.call("sync", params, module=module)
        except _SyncUnsupportedError:
            return None
        return one_record(result, "sync")

    # -- HTTP ----------------------------------------------------------------------------

    def _exchange(
        self,
        operation: str,
        payload: Mapping[str, str],
        *,
        post: bool = False,
        module: str | None = None,
        quiet: bool = False,
        timeout: float | None = None,
    ) -> Any:
        started = time.monotonic()
        outcome = "ok"
        try:
            status, body, date = self._send(operation, payload, post, timeout)
            if not quiet:
                self.last_response_date = date
            if operation == "sync" and (status >= 500 or not looks_json(body)):
                outcome = f"unsupported (HTTP {status})"
                raise _SyncUnsupportedError
            if status >= 500:
                outcome = f"HTTP {status}"
                raise CrmUnavailableError(f"vtiger {operation} failed: HTTP {status}")
            if status >= 400:
                outcome = f"HTTP {status}"
                raise VtigerApiError(
                    operation, f"HTTP {status}", "is crm.vtiger.url the vtiger base URL?"
                )
            answer = decode(body, operation)
            if answer.get("success") is True:
                return answer.get("result")
            code, message = error_of(answer)
            outcome = f"error {code}"
            raise api_error(operation, code, message)
        except BaseException as exc:
            if outcome == "ok":
                outcome = str(exc) if isinstance(exc, CrmError) else type(exc).__name__
            raise
        finally:
            elapsed = time.monotonic() - started
            if not quiet:
                # A quiet call (the logout) must not move the server-time estimate either.
                self.last_call_seconds = elapsed
            logger.log(
                logging.DEBUG if quiet else logging.INFO,
                "vtiger %s %s: %s in %.0f ms",
                operation,
                module or "-",
                outcome,
                elapsed * 1000,
            )

    def _send(
        self, operation: str, payload: Mapping[str, str], post: bool, timeout: float | None
    ) -> tuple[int, bytes, dt.datetime | None]:
        url = self.options.endpoint
        limit = (
            httpx.Timeout(timeout, connect=min(timeout, self.options.connect_timeout))
            if timeout is not None
            else httpx.USE_CLIENT_DEFAULT
        )
        try:
            if post:
                request = self._http.build_request("POST", url, data=dict(payload), timeout=limit)
            else:
                request = self._http.build_request("GET", url, params=dict(payload), timeout=limit)
            response = self._http.send(request, stream=True)
            try:
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > _MAX_RESPONSE_BYTES:
                        raise VtigerApiError(
                            operation, "TOO_LARGE", f"answer over {_MAX_RESPONSE_BYTES} bytes"
                        )
            finally:
                response.close()
        except httpx.TimeoutException as exc:
            seconds = timeout if timeout is not None else self.options.timeout
            raise CrmUnavailableError(
                f"vtiger {operation} timed out after {seconds:g} s ({url})"
            ) from exc
        except (httpx.HTTPError, httpx.StreamError) as exc:
            raise CrmUnavailableError(
                f"vtiger {operation}: cannot reach {url}: {type(exc).__name__}: {exc}"
            ) from exc
        except httpx.InvalidURL as exc:
            raise VtigerApiError(operation, "BAD_URL", f"{url}: {exc}") from exc
        return response.status_code, bytes(body), http_date(response.headers.get("date"))
