"""A FAKE vtiger 8.3 webservice on loopback, for tests (no real vtiger can run here).

``FakeVtigerServer`` serves ``/webservice.php`` over real HTTP (stdlib ``http.server`` in a
thread, 127.0.0.1, a free port) from state kept in memory. It answers as the recordings
in the shared facts sheet show vtiger 8.3 on PHP 8 answering, including its quirks:

- HTTP 200 for every handled error, ``{"success": false, "error": {code, message}}``;
  ``ACCESS_DENIED`` for missing or deleted records, integer code ``0`` for a duplicate
  account name, ``INVALID_SESSIONID`` for expired sessions (``expire_sessions()``);
- ids ``<prefix>x<crmid>`` with prefixes from describe, one crmid sequence for records;
  string values, ``"0"``/``"1"`` booleans, ``modifiedtime`` to the second, times stored
  verbatim (server zone, no conversion);
- VTQL as :mod:`fake_vtql` describes (100-row cap, trailing ``;``, the ``contact_id``
  join), ``query_related`` refusing a trailing ``;``;
- events: ``contactidlist``/``inviteesid`` form parameters with bare crmids; user
  invitees cleared by any write without ``inviteesid``; no related lists at all;
- unknown fields dropped, bad references stored empty, picklists not validated;
- ModComments only on contacts, accounts and leads;
- ``sync`` answering HTTP 500 with an empty body (``sync_mode="broken"``, the default), or
  as the patched server does (``"patched"``);
- ``logout`` answering HTTP 500 with an empty body and leaving the session valid
  (``logout_mode="broken"``, the default: stock vtiger 8 on PHP 8), or as file 78 shows;
- sessions ending as vtiger's ``SessionManager`` ends them: ``SESSION_LEFT_IDLE`` after
  30 minutes without a call, ``SESSION_EXPIRED`` 24 hours after the login (fake clock),
  ``INVALID_SESSIONID`` for unknown ones (``expire_sessions()``: PHP removed them);
- a checkbox custom field reading ``"0"`` on records that existed before it and on records
  created through the webservice; only :meth:`FakeVtiger.ui_save` (the web form) applies
  the field's default, and it removes ``<...>`` from text areas as vtiger's form does.

The state and record operations live in :mod:`.fake_state`, VTQL in :mod:`.fake_vtql`.
It is an emulation, compact and deliberately no cleverer than vtiger: the recordings
test (``test_replay_shapes.py``) replays the real exchanges against it to keep it honest.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.crm_adapter.vtiger.fake_schema import LABEL_FIELDS, USER_SECRET_FIELDS, FieldSpec
from tests.crm_adapter.vtiger.fake_state import (
    DENIED,
    WRITES,
    FakeVtiger,
    Fault,
    ManualClock,
    intval,
)

__all__ = ["FakeVtiger", "FakeVtigerServer", "ManualClock", "dispatch", "running"]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def date_time_string(self, timestamp: float | None = None) -> str:
        return email.utils.formatdate(
            self.server.fake.clock() if timestamp is None else timestamp, usegmt=True
        )

    def do_GET(self) -> None:
        self._serve(dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True)), "GET")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8")
        self._serve(dict(parse_qsl(body, keep_blank_values=True)), "POST")

    def _serve(self, params: dict[str, str], method: str) -> None:
        fake = self.server.fake
        if urlsplit(self.path).path != "/webservice.php":
            self._send(404, b"not found", "text/plain")
            return
        if fake.delay:
            time.sleep(fake.delay)  # an emulated slow server, for timeout tests
        with fake.lock:
            fake.requests.append((method, params.get("operation", ""), params))
            if fake.fail_next:
                status, body = fake.fail_next.pop(0)
                self._send(status, body, "text/html")
                return
            try:
                result = dispatch(fake, method, params)
            except Fault as exc:
                answer = {"success": False, "error": {"message": exc.message, "code": exc.code}}
            except _Http500:
                self._send(500, b"", "text/html")
                return
            else:
                answer = {"success": True, "result": result}
        self._send(200, json.dumps(answer).encode(), "application/json")

    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Http500(Exception):  # noqa: N818 - the fake's PHP fatal error
    pass


def _element(params: Mapping[str, str]) -> dict[str, Any]:
    try:
        value = json.loads(params.get("element") or "")
    except ValueError as exc:
        raise Fault("INVALID_PARAMETER", "element is not JSON") from exc
    if not isinstance(value, dict):
        raise Fault("INVALID_PARAMETER", "element is not an object")
    return value


def dispatch(fake: FakeVtiger, method: str, params: Mapping[str, str]) -> Any:
    op = params.get("operation", "")
    if op == "getchallenge":
        number = next(
            (n for n, u in fake.users.items() if u["user_name"] == params.get("username")), None
        )
        if number is None:
            raise Fault("INVALID_USER_CREDENTIALS", "Invalid username or password")
        token = secrets.token_hex(7)[:13]
        now = int(fake.clock())
        fake.tokens[number] = (token, now + 300)
        return {"token": token, "serverTime": now, "expireTime": now + 300}
    if op == "login":
        number = next(
            (n for n, u in fake.users.items() if u["user_name"] == params.get("username")), None
        )
        token, expires = fake.tokens.get(number or 0, ("", 0))
        key = fake.access_keys.get(number or 0, "")
        expected = hashlib.md5((token + key).encode()).hexdigest()  # noqa: S324 - vtiger's scheme
        if (
            number is None
            or not token
            or fake.clock() > expires
            or params.get("accessKey") != expected
        ):
            raise Fault("INVALID_USER_CREDENTIALS", "Invalid username or password")
        session = secrets.token_hex(12)
        fake.open_session(session, number)
        user = fake.users[number]
        return {
            "username": user["user_name"],
            "first_name": user["first_name"],
            "last_name": user["last_name"],
            "email": user["email1"],
            "time_zone": user["time_zone"],
            "hour_format": user["hour_format"],
            "date_format": user["date_format"],
            "is_admin": user["is_admin"],
            "call_duration": "5",
            "other_event_duration": "5",
            "sessionName": session,
            "userId": fake.user_ws(number),
            "version": "0.22",
            "vtigerVersion": "8.3.0",
        }
    user = fake.use_session(params.get("sessionName", ""))
    if (method == "POST") != (op in WRITES or op == "mobile.fetchrecord"):
        raise Fault("UNKNOWN_OPERATION", "Unknown operation requested")
    extra = {k: v for k, v in params.items() if k in ("contactidlist", "inviteesid")}
    if op == "logout":
        if fake.logout_mode == "broken":
            # PHP 8 stops in vtiger's dispatcher before the session is destroyed (issue 11).
            raise _Http500
        fake._end_session(params.get("sessionName", ""))
        return {"message": "successfull"}
    if op == "listtypes":
        return listtypes(fake)
    if op == "describe":
        return describe(fake, params.get("elementType", ""))
    if op == "create":
        return fake.create(user, params.get("elementType", ""), _element(params), extra)
    if op == "retrieve":
        ws_id = params.get("id", "")
        if ws_id.partition("x")[0] == fake.modules["Users"].prefix:
            number = intval(ws_id.partition("x")[2])
            if number not in fake.users:
                raise Fault(*DENIED)
            return fake.user_record(number)
        return fake.render(fake.resolve(ws_id))
    if op in ("revise", "update"):
        return fake.revise(user, _element(params), extra, whole=op == "update")
    if op == "delete":
        return fake.delete(params.get("id"))
    if op == "query":
        return fake.query(params.get("query", ""))
    if op == "query_related":
        text = params.get("query", "").strip()
        target = text.split()[-1] if text else ""
        if text.endswith(";"):
            raise Fault("UNKOWN_ENTITY", "Relation specified is incorrect")
        rows = fake.related(params.get("id"), params.get("relatedLabel", ""), target)
        columns = text.split("FROM")[0].replace("SELECT", "").split(",")
        wanted = [c.strip() for c in columns if c.strip() and c.strip() != "*"]
        return [{k: r.get(k) for k in [*wanted, "id"]} for r in rows] if wanted else rows
    if op == "retrieve_related":
        return fake.related(
            params.get("id"), params.get("relatedLabel", ""), params.get("relatedType", "")
        )
    if op == "sync":
        if fake.sync_mode == "broken":
            raise _Http500  # PHP 8: "Unknown named parameter $modifiedTime" (file 48)
        if params.get("syncType") == "application" and fake.users[user]["is_admin"] != "on":
            # All users' records: administrators only (vtiger's GetUpdates.php).
            raise Fault("ACCESS_DENIED", "Only admin users can perform application sync")
        return fake.sync(params.get("elementType", ""), intval(params.get("modifiedTime", "0")))
    raise Fault("UNKNOWN_OPERATION", "Unknown operation requested")


def listtypes(fake: FakeVtiger) -> dict[str, Any]:
    names = list(fake.modules)
    return {
        "types": names,
        "information": {
            n: {"isEntity": True, "label": n, "singular": n.rstrip("s")} for n in names
        },
    }


def describe(fake: FakeVtiger, module: str) -> dict[str, Any]:
    if module not in fake.modules:
        raise Fault("ACCESS_DENIED", "Permission to perform the operation is denied for name")
    spec = fake.modules[module]
    fields = [_describe_field(f) for f in spec.fields]
    if module == "Users":
        fields.extend(
            _describe_field(FieldSpec(n, "password", mandatory=n != "accesskey"))
            for n in USER_SECRET_FIELDS
        )
    fields.append(
        {
            "name": "id",
            "label": "id",
            "mandatory": False,
            "type": {"name": "autogenerated"},
            "editable": False,
            "nullable": False,
            "default": "",
        }
    )
    return {
        "label": module,
        "name": module,
        "createable": True,
        "updateable": True,
        "deleteable": True,
        "retrieveable": True,
        "fields": fields,
        "idPrefix": spec.prefix,
        "isEntity": True,
        "allowDuplicates": False,
        "labelFields": ",".join(LABEL_FIELDS[module]),
    }


def _describe_field(fspec: FieldSpec) -> dict[str, Any]:
    kind: dict[str, Any] = {"name": fspec.type}
    if fspec.type == "picklist":
        kind["picklistValues"] = [{"label": v, "value": v} for v in fspec.values]
        kind["defaultValue"] = fspec.values[0] if fspec.values else ""
    elif fspec.type == "reference":
        kind["refersTo"] = list(fspec.values)
    elif fspec.type == "date":
        kind["format"] = "yyyy-mm-dd"
    return {
        "name": fspec.name,
        "label": fspec.label or fspec.name.replace("_", " ").title(),
        "mandatory": fspec.mandatory,
        "type": kind,
        "isunique": False,
        "nullable": not fspec.mandatory,
        "editable": True,
        "default": fspec.default,
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, fake: FakeVtiger) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _Handler)


class FakeVtigerServer:
    """The fake on a free 127.0.0.1 port, served from a thread until ``close()``."""

    def __init__(self, fake: FakeVtiger | None = None) -> None:
        self.fake = fake or FakeVtiger()
        self._server = _Server(self.fake)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-vtiger", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


@contextmanager
def running(fake: FakeVtiger | None = None) -> Iterator[FakeVtigerServer]:
    server = FakeVtigerServer(fake)
    try:
        yield server
    finally:
        server.close()
