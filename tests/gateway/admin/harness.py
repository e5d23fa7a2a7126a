"""A worker with the web console on, as ``serve`` runs it, and a signed-in HTTP client.

:func:`console_deployment` builds the :class:`~tests.gateway.operations.harness.Deployment`
of the operations tests (the test's database, the SMTP sink as relay) with ``[http]`` on a
free loopback port and ``[admin]`` enabled, the password hash and the session key in the
environment as an operator sets them. :func:`signed_in` signs an httpx client in through
the form, as a browser does.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import httpx

from invitegw.crm_adapter.builtin.admin import MeetingDraft, SqlCrmAdmin
from invitegw.gateway.http.admin.passwords import hash_password
from invitegw.gateway.storage import OutboxState, Store, enqueue, mark_dead
from tests.gateway.operations.harness import WAIT, Deployment

__all__ = [
    "PASSWORD",
    "SESSION_KEY",
    "WAIT",
    "console_deployment",
    "csrf_of",
    "dead_message",
    "meeting",
    "sign_in",
    "signed_in",
]

PASSWORD = "correct horse battery staple"
SESSION_KEY = "s" * 48
_HASH = hash_password(PASSWORD)
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def console_deployment(
    store: Store,
    tmp_path: Path,
    smtp_port: int,
    *,
    admin: str = "",
    env: dict[str, str] | None = None,
) -> Deployment:
    """A worker with ``[http]`` on a free port and the console enabled (not started)."""
    extra = '[http]\nlisten = "127.0.0.1:0"\n[admin]\nenabled = true\n' + admin
    secrets = {
        "INVITEGW_ADMIN__PASSWORD_HASH": _HASH,
        "INVITEGW_ADMIN__SESSION_KEY": SESSION_KEY,
        **(env or {}),
    }
    made = Deployment(store, tmp_path, smtp_port=smtp_port, extra=extra, env=secrets)
    made.seed()
    return made


def csrf_of(page: str) -> str:
    """The CSRF token in a console page's forms."""
    found = _CSRF.search(page)
    assert found is not None, page[:500]
    return found.group(1)


def sign_in(client: httpx.Client, password: str = PASSWORD) -> httpx.Response:
    """Post the sign-in form (token from the form page); the answer, not followed."""
    form = client.get("/admin/sign-in")
    return client.post(
        "/admin/sign-in",
        data={
            "csrf_token": csrf_of(form.text),
            "username": "admin",
            "password": password,
            "next": "/admin/",
        },
    )


@contextlib.contextmanager
def signed_in(base_url: str) -> Iterator[httpx.Client]:
    """An httpx client signed in to the console at ``base_url`` (closed at the end)."""
    with httpx.Client(base_url=base_url, timeout=WAIT) as client:
        answer = sign_in(client)
        assert answer.status_code == 303, answer.text
        yield client


def dead_message(store: Store, recipient: str = "gone@example.org") -> int:
    """A dead outbox message (as a dispatcher leaves it after a 550); its id."""
    now = dt.datetime.now(dt.UTC)
    with store.session() as session:
        row = enqueue(
            session,
            message_id=f"<dead.{recipient}>",
            sender="sales@example.com",
            recipient=recipient,
            now=now,
            method="REQUEST",
            raw=b"Subject: test\r\n\r\nA message the relay refused.\r\n",
        )
        session.flush()
        row.claimed_by, row.state = "w", OutboxState.SENDING  # as a claim leaves it
        session.flush()
        row_id = row.id
        assert mark_dead(session, row_id, worker="w", now=now, error="550 no such user")
    return row_id


def meeting(store: Store) -> str:
    """A meeting in the built-in CRM (Olga invites Carl and Gina); its CRM id."""
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=20)
    draft = MeetingDraft(
        title="Quarterly review",
        start=start,
        end=start + dt.timedelta(hours=1),
        organizer="olga@example.com",
        attendees=["carl@example.com", "gina@example.org"],
        time_zone="Europe/Warsaw",
        location="Room 1",
        description="Numbers.",
        rrule=None,
    )
    with store.session() as session:
        made = SqlCrmAdmin(session).create_meeting(dataclasses.replace(draft))
    return str(made)
