"""The HTTP side of ``invitegw serve``: an ASGI app (Starlette) served by uvicorn in a thread.

:func:`~invitegw.gateway.http.app.build_http_app` makes the app (``/healthz``,
``/readyz``, ``/metrics``, plus routes others mount: the web console, answer links);
:class:`~invitegw.gateway.http.server.HttpService` runs it as a scheduler service.
"""
