"""The web console under ``/admin`` (``[admin] enabled``): see :mod:`.routes`.

Sign-in (:mod:`.passwords`), signed sessions, CSRF and the sign-in rate limit
(:mod:`.sessions`), headers and rendering (:mod:`.web`), the pages (:mod:`.routes`), their
Jinja2 templates (``templates/``) and one stylesheet (``static/admin.css``).
"""

from __future__ import annotations

from invitegw.gateway.http.admin.routes import admin_routes, build_admin_app

__all__ = ["admin_routes", "build_admin_app"]
