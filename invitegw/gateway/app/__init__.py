"""The application layer: the use cases every front end shares.

The command line (:mod:`invitegw.gateway.commands`), the HTTP endpoints and the web
console call these functions, never the pipelines or the tables directly, so an action
(release a quarantined message, retry a dead one, check the CRM, report status) has one
implementation whatever asks for it. Each use case takes the assembled gateway (built by
:mod:`invitegw.gateway.bootstrap`) and plain arguments, and returns plain values (frozen
dataclasses with a ``to_json()`` where a front end prints them); errors are
:class:`~invitegw.errors.GatewayError` subclasses with a message fit for a person.
"""

from __future__ import annotations

__all__: list[str] = []
