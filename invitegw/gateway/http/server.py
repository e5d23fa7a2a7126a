"""Serve the ASGI app with uvicorn in a thread of its own (a scheduler ``Service``).

The gateway's work runs in threads (the scheduler's jobs, the watchers, the spool worker);
the HTTP server gets one more thread with its own event loop, so a slow scrape never holds
up a pipeline and the pipelines never hold up a probe. The socket is bound in
:meth:`HttpService.start` itself: a port in use is a clear error at start, and port 0
picks a free one (:attr:`HttpService.port`).
"""

from __future__ import annotations

import logging
import socket
import threading
import time

import uvicorn
from starlette.types import ASGIApp

from invitegw.errors import ConfigError

__all__ = ["HttpService"]

logger = logging.getLogger(__name__)

_START_TIMEOUT = 30.0


class HttpService:
    """uvicorn serving ``app`` on ``host:port`` (see the module docstring).

    Parameters:
        app: the ASGI app.
        host: the address to bind.
        port: the port (0: any free one).
    """

    name = "http"

    def __init__(self, app: ASGIApp, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The server's base URL (``http://127.0.0.1:8080``)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        """Bind, then serve in a thread; returns once the server accepts connections.

        Raises:
            ConfigError: the address cannot be bound, or the server did not start.
        """
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise ConfigError(
                f"http.listen: cannot serve on {self.host}:{self.port}: {exc}"
            ) from exc
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_config=None,  # our logging, our format
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=5,
        )
        server = uvicorn.Server(config)
        self._server = server
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="http", daemon=True
        )
        self._thread = thread
        thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        # uvicorn has no start event to wait on: its own flag, checked as the thread runs.
        while not server.started:
            thread.join(0.02)
            if not thread.is_alive() or time.monotonic() > deadline:
                sock.close()
                raise ConfigError(f"http.listen: the server on {self.url} did not start")
        logger.info("HTTP endpoints on %s (/healthz, /readyz, /metrics)", self.url)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop accepting, finish the requests in flight, end the thread."""
        server, thread = self._server, self._thread
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout)
        self._server = self._thread = None
