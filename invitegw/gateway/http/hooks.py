"""``POST /hooks/vtiger``: a vtiger workflow says a meeting was saved; plan it at once.

vtiger has no push feed: the gateway polls it every ``outbound.poll_interval``. A workflow
on the Events module ("on every save", with a custom function or a webhook task, see
``docs/vtiger.md``) calls this endpoint with the record's webservice id (``18x123``) and
the shared secret (``[hooks] vtiger_secret``, from the environment). The endpoint checks
the secret in constant time, answers ``202 Accepted`` at once, and hands the id to a
:class:`RecordPoller`: a thread of its own that waits ``[hooks] debounce`` (a save in
vtiger often fires the workflow several times, once per related record), then reads that
one meeting from the CRM and plans it (:meth:`~invitegw.gateway.outbound.feed.Outbound.refresh`)
and wakes the outbox job, so the invitation goes out within a second of the save. The
regular poll stays: a hook call that is lost (vtiger down, network) only means the change
waits for it.

The secret is read from the ``X-Invitegw-Secret`` header or a ``secret`` form/JSON field;
the id from ``record`` (form, JSON, or query string). Only POST is accepted.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from invitegw.errors import GatewayError

__all__ = ["HOOK_PATH", "RecordPoller", "vtiger_hook_routes"]

logger = logging.getLogger(__name__)

HOOK_PATH = "/hooks/vtiger"
_RECORD = re.compile(r"^[0-9]{1,10}x[0-9]{1,15}$")
_MAX_BODY = 16 * 1024
_MAX_PENDING = 10_000


class RecordPoller:
    """Handles record ids handed in, each once per ``debounce`` seconds (a service).

    Parameters:
        handle: reads and plans one record (runs in this poller's thread).
        debounce: seconds to wait after a record's last hit before handling it.
        clock: monotonic seconds.
    """

    name = "vtiger-hook"

    def __init__(
        self,
        handle: Callable[[str], object],
        debounce: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.handle = handle
        self.debounce = debounce
        self.clock = clock
        self._due: dict[str, float] = {}
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.handled = 0

    def hit(self, record_id: str) -> bool:
        """Handle ``record_id`` ``debounce`` seconds from now (a later hit moves it on).

        Returns:
            False when too many records wait already (the poll will see it).
        """
        with self._cond:
            if record_id not in self._due and len(self._due) >= _MAX_PENDING:
                return False
            self._due[record_id] = self.clock() + self.debounce
            self._cond.notify()
        return True

    def _next(self) -> str | None:
        """The next record whose time has come; waits for it. None when stopping."""
        with self._cond:
            while not self._stopping:
                now = self.clock()
                ready = [r for r, at in self._due.items() if at <= now]
                if ready:
                    record = min(ready, key=self._due.__getitem__)
                    del self._due[record]
                    return record
                wait = min(self._due.values()) - now if self._due else None
                self._cond.wait(wait)
            return None

    def _run(self) -> None:
        while (record := self._next()) is not None:
            try:
                self.handle(record)
            except GatewayError as exc:
                logger.warning("vtiger hook: record %s not planned now: %s", record, exc)
            except Exception:  # a bug: logged, the poller keeps going
                logger.exception("vtiger hook: record %s crashed", record)
            self.handled += 1

    def start(self) -> None:
        """Start the thread."""
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> None:
        """Stop after the record in hand (those still waiting are left to the poll)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


async def _fields(request: Request) -> dict[str, str] | None:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_BODY:
            return None
    fields = {k: v for k, v in request.query_params.items() if k == "record"}
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    text = body.decode("utf-8", "replace")
    if kind == "application/json" and text.strip():
        try:
            data = json.loads(text)
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        fields.update({k: str(v) for k, v in data.items() if k in ("record", "secret")})
    elif text.strip():
        fields.update({k: v for k, v in parse_qsl(text) if k in ("record", "secret")})
    return fields


def vtiger_hook_routes(secret: str, poller: RecordPoller) -> list[BaseRoute]:
    """The hook's route.

    Parameters:
        secret: the shared secret the workflow sends.
        poller: where record ids go.

    Returns:
        ``[Route("/hooks/vtiger", ..., methods=["POST"])]``.
    """
    expected = secret.encode()

    async def hook(request: Request) -> Response:
        fields = await _fields(request)
        if fields is None:
            return JSONResponse({"error": "expected a small form or JSON object"}, 400)
        given = request.headers.get("x-invitegw-secret") or fields.get("secret", "")
        if not hmac.compare_digest(given.encode(), expected):
            return JSONResponse({"error": "wrong or missing secret"}, 401)
        record = fields.get("record", "").strip()
        if not _RECORD.match(record):
            return JSONResponse(
                {"error": "record: expected a vtiger webservice id such as 18x123"}, 400
            )
        if not poller.hit(record):
            return JSONResponse({"error": "too many records waiting; the poll will see it"}, 503)
        return JSONResponse({"accepted": record}, 202)

    return [Route(HOOK_PATH, hook, methods=["POST"])]
