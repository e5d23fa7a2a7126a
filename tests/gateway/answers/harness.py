"""A gateway with answer links: the outbound harness, plus the HTTP server its links point at.

:class:`AnswerHarness` builds on :class:`~tests.gateway.outbound.harness.OutboundHarness`
(the built-in CRM on a real database, an aiosmtpd sink, a manual clock): it starts the
answer page on a free loopback port with uvicorn (as ``serve`` does), then sets
``http.public_url`` to that server, so the invitations the outbound pass sends carry links
to it. :func:`answer_link` finds a link in a received message, as a person would;
:func:`confirm` opens it and confirms the answer, as a person does on the page.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from invitegw.crm_adapter.builtin.schema import CrmMeetingResponse
from invitegw.gateway.config import HttpSettings, Secret
from invitegw.gateway.http.answers import answer_routes
from invitegw.gateway.http.app import build_http_app
from invitegw.gateway.http.server import HttpService
from invitegw.gateway.storage import OutboundAttendee, Store
from tests.fixtures.smtp_sink import ReceivedMessage, SmtpSink
from tests.gateway.outbound.harness import OutboundHarness, attendee_row, parse_message

# Two keys, newest first: links are signed with the first, either verifies.
NEW_KEY = "n" * 20 + "ew-answer-key-0123456789"
OLD_KEY = "o" * 20 + "ld-answer-key-0123456789"
KEYS = f"{NEW_KEY},{OLD_KEY}"
LINK = re.compile(r"(https?://[^\s\"<>]+/answer/[A-Za-z0-9._-]+)\?a=(yes|maybe|no)")


class AnswerHarness(OutboundHarness):
    """The outbound harness with the answer page served and linked (see the module docstring)."""

    def __init__(
        self, store: Store, sink: SmtpSink, tmp_path: Path, *, keys: str = KEYS, **settings: Any
    ) -> None:
        super().__init__(store, sink, tmp_path, **settings)
        self.with_settings(http=HttpSettings(listen="127.0.0.1:0", answer_keys=Secret(keys)))
        app = build_http_app(self.gateway, extra_routes=answer_routes(self.gateway))
        self.http = HttpService(app, "127.0.0.1", 0)
        self.http.start()
        self.with_settings(
            http=dataclasses.replace(self.settings.http, public_url=self.http.url + "/")
        )

    def close(self) -> None:
        """Stop the server."""
        self.http.stop()

    def message_to(self, address: str, since: int = 0) -> ReceivedMessage:
        """The last message the sink got for ``address`` (after the first ``since``)."""
        found = [m for m in self.received_since(since) if m.rcpt_tos == (address,)]
        assert found, f"nothing was sent to {address}"
        return found[-1]

    def responses(self) -> list[tuple[str, str, str | None, str]]:
        """(attendee, PARTSTAT, RECURRENCE-ID, comment) recorded in the built-in CRM."""
        with self.store.session() as session:
            return [
                (r.attendee_email, r.partstat, r.recurrence_id, r.comment)
                for r in session.scalars(select(CrmMeetingResponse).order_by(CrmMeetingResponse.id))
            ]

    def attendee(self, address: str) -> OutboundAttendee:
        return attendee_row(self.store, address)


def body_text(raw: bytes, subtype: str = "plain") -> str:
    """The text (or HTML) body of a message."""
    message = parse_message(raw)
    body = message.get_body(preferencelist=(subtype,))
    assert body is not None
    content = body.get_content()
    assert isinstance(content, str)
    return content


def answer_link(raw: bytes, answer: str, subtype: str = "plain") -> str:
    """The link for ``answer`` (yes, maybe, no) in a message's text (or HTML) body."""
    text = body_text(raw, subtype).replace("&amp;", "&")
    for match in LINK.finditer(text):
        if match.group(2) == answer:
            return match.group(0)
    raise AssertionError(f"no {answer!r} link in the {subtype} body")


def form_value(page: str) -> str:
    """The anti-forgery value of an answer page's form."""
    marker = 'name="form" value="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]


def confirm(client: httpx.Client, link: str, answer: str, comment: str = "") -> httpx.Response:
    """Open ``link`` (GET: the page) and confirm ``answer`` on its form (POST)."""
    page = client.get(link)
    assert page.status_code == 200, page.text
    data = {"answer": answer, "comment": comment, "form": form_value(page.text)}
    return client.post(link.split("?", 1)[0], data=data)
