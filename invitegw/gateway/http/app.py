"""The ASGI app of ``invitegw serve``: ``/healthz``, ``/readyz``, ``/metrics``, and more.

:func:`build_http_app` makes a Starlette app for one gateway. Its endpoints are plain
functions, which Starlette runs in its thread pool: a database query or a CRM check never
blocks the event loop. Other parts (the web console, the links in answer emails) mount
their routes beside these by passing ``extra_routes`` (or with ``app.router.routes``
before the server starts): one server, one port.

- ``GET /healthz``: 200 while every loop that does work makes progress, else 503 naming
  the stuck one (liveness: restart me);
- ``GET /readyz``: 200 when the database, the CRM, each mailbox and the listener are fine,
  else 503 with the reasons (readiness: send me no work);
- ``GET /metrics``: the gateway's registry in the Prometheus text format (the event
  counters of :mod:`invitegw.gateway.metrics` and the scrape-time gauges of
  :mod:`invitegw.gateway.http.collector`).
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from invitegw.gateway.app.readiness import ReadinessProbe, liveness
from invitegw.gateway.bootstrap import Gateway
from invitegw.gateway.http.collector import DatabaseCollector
from invitegw.gateway.monitor import ProcessMonitor

__all__ = ["build_http_app", "metrics_registry"]


def metrics_registry(gateway: Gateway) -> CollectorRegistry:
    """The registry ``/metrics`` shows: the instruments' own, plus the database gauges.

    Parameters:
        gateway: the gateway.

    Returns:
        The registry (the database collector is registered once per gateway).
    """
    if gateway.metrics_registry is None:
        registry = gateway.instruments.registry or CollectorRegistry(auto_describe=True)
        registry.register(DatabaseCollector(gateway))
        gateway.metrics_registry = registry
    return gateway.metrics_registry


def build_http_app(
    gateway: Gateway,
    *,
    monitor: ProcessMonitor | None = None,
    extra_routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """The app for ``gateway`` (see the module docstring).

    Parameters:
        gateway: the gateway.
        monitor: this process's monitor (loops for ``/healthz``; mailbox and listener
            views for ``/readyz``).
        extra_routes: further routes (the web console, answer links).

    Returns:
        The Starlette app.
    """
    probe = ReadinessProbe(gateway, monitor)
    registry = metrics_registry(gateway)

    def healthz(_request: Request) -> Response:
        check = liveness(monitor)
        body = {"alive": check.ok, "worker": gateway.worker, "detail": check.detail}
        return JSONResponse(body, status_code=200 if check.ok else 503)

    def readyz(_request: Request) -> Response:
        readiness = probe.check()
        return JSONResponse(readiness.to_json(), status_code=200 if readiness.ready else 503)

    def metrics(_request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        *extra_routes,
    ]
    app = Starlette(routes=routes)
    app.state.gateway = gateway
    app.state.monitor = monitor
    return app
