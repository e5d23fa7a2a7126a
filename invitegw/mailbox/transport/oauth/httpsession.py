"""A ``requests`` session that verifies TLS with the gateway's SSL context.

MSAL and google-auth speak HTTP through ``requests``, which by default trusts its own CA
bundle (certifi) rather than the system's. The gateway verifies every TLS peer the same
way (the system's store, which honours ``SSL_CERT_FILE``, or the context a caller passes):
this adapter hands that context to urllib3. ``requests`` is imported only here, when a
Microsoft or Google account needs it.
"""

from __future__ import annotations

import functools
import importlib
import ssl
from typing import Any

__all__ = ["requests_session"]


def requests_session(ssl_context: ssl.SSLContext | None, timeout: float) -> Any:
    """A ``requests.Session`` using ``ssl_context`` and ``timeout`` for every request.

    Parameters:
        ssl_context: the context; default: the system's verifying context.
        timeout: seconds per request (``requests`` has no session-wide default).

    Returns:
        The session.
    """
    requests = importlib.import_module("requests")
    adapters = importlib.import_module("requests.adapters")
    context = ssl_context or ssl.create_default_context()

    class _ContextAdapter(adapters.HTTPAdapter):  # type: ignore[misc,name-defined]
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> Any:
            kwargs["ssl_context"] = context
            return super().init_poolmanager(*args, **kwargs)

    session = requests.Session()
    session.mount("https://", _ContextAdapter())
    session.request = functools.partial(session.request, timeout=timeout)
    return session
