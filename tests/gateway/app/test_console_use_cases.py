"""The use cases the console added: quarantine detail and discard, histories, the safe view.

On SQLite and PostgreSQL. The meeting history of a real outbound flow is exercised by the
console's browser test; here the edges: unknown ids, a released row that may not be
discarded, the audit entry, an HTML part that is never returned, a flood of headers.
"""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from invitegw.gateway.app.history import HistoryError, meeting_history, message_history
from invitegw.gateway.app.message_view import MAX_HEADERS, view_message
from invitegw.gateway.app.quarantine import (
    DISCARD_KIND,
    QuarantineError,
    by_cause,
    discard_quarantined,
    list_quarantine,
    quarantine_detail,
)
from invitegw.gateway.bootstrap import Gateway, build_gateway
from invitegw.gateway.config import load_settings
from invitegw.gateway.storage import EventLogEntry, Store, quarantine_message

NOW = dt.datetime(2030, 6, 3, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def gateway(store: Store, tmp_path: Path) -> Gateway:
    settings = load_settings(None, {"INVITEGW_DATA_DIR": str(tmp_path)}, cwd=tmp_path)
    return build_gateway(settings, store=store, clock=lambda: NOW, check_schema=False)


def _html_mail() -> bytes:
    message = EmailMessage()
    message["From"] = "mallory@evil.example"
    message["To"] = "sales@example.com"
    message["Subject"] = "Click"
    message["Message-ID"] = "<html.1@evil.example>"
    message.set_content("Plain words.")
    message.add_alternative("<script>alert(1)</script><b>bold</b>", subtype="html")
    return message.as_bytes()


def _set_aside(store: Store, raw: bytes, reason: str, message_id: str | None = None) -> int:
    with store.session() as session:
        row = quarantine_message(
            session,
            raw=raw,
            source="sales",
            reason=reason,
            now=NOW,
            max_bytes=1_000_000,
            message_id=message_id,
        )
        return row.id


def test_the_view_shows_headers_and_plain_text_never_the_html_part() -> None:
    view = view_message(_html_mail())
    assert ("Subject", "Click") in view.headers
    assert view.text.strip() == "Plain words."
    assert view.has_html
    assert "<script>" not in repr(view.to_json())
    flood = b"".join(b"X-N: %d\r\n" % i for i in range(MAX_HEADERS + 50)) + b"\r\nbody\r\n"
    crowded = view_message(flood)
    assert len(crowded.headers) == MAX_HEADERS
    assert any("first 100 header fields" in p for p in crowded.problems)
    assert view_message(None).problems == ("the message was not kept",)


def test_discard_deletes_the_copy_and_leaves_an_audit_entry(gateway: Gateway, store: Store) -> None:
    first = _set_aside(store, _html_mail(), "no calendar in the message", "html.1@evil.example")
    second = _set_aside(store, b"junk", "malformed: no header fields")
    third = _set_aside(store, b"junk 2", "malformed: no header fields")
    groups = by_cause(list_quarantine(gateway))
    assert list(groups) == ["malformed", "no_calendar"]  # the largest group first
    assert [e.id for e in groups["malformed"]] == [third, second]

    detail = quarantine_detail(gateway, first)
    assert detail.entry.reason == "no calendar in the message"
    assert detail.view.text.strip() == "Plain words."

    gone = discard_quarantined(gateway, first, by="admin (web console)")
    assert gone.id == first
    assert [e.id for e in list_quarantine(gateway, include_released=True)] == [third, second]
    with store.session() as session:
        [audit] = session.scalars(
            select(EventLogEntry).where(EventLogEntry.kind == DISCARD_KIND)
        ).all()
        assert audit.message_id == "html.1@evil.example"
        assert audit.details is not None
        assert audit.details["discarded_by"] == "admin (web console)"
        assert audit.details["reason"] == "no calendar in the message"
    history = message_history(gateway, "<html.1@evil.example>")
    assert [line.kind for line in history.log] == [DISCARD_KIND]
    with pytest.raises(QuarantineError, match="no quarantined message"):
        discard_quarantined(gateway, first, by="x")
    with pytest.raises(QuarantineError, match="no quarantined message"):
        quarantine_detail(gateway, first)


def test_a_released_message_is_not_discarded(gateway: Gateway, store: Store) -> None:
    row = _set_aside(store, b"junk", "malformed")
    with store.session() as session:
        from invitegw.gateway.storage import QuarantinedMessage

        session.get_one(QuarantinedMessage, row).released_at = NOW
    with pytest.raises(QuarantineError, match="released already"):
        discard_quarantined(gateway, row, by="x")


def test_unknown_meetings_and_messages_are_clear_errors(gateway: Gateway) -> None:
    with pytest.raises(HistoryError, match="no meeting '42'"):
        meeting_history(gateway, "42")
    with pytest.raises(HistoryError, match=r"no record of message <nobody@example\.com>"):
        message_history(gateway, "nobody@example.com")
    with pytest.raises(HistoryError, match="expected a Message-ID"):
        message_history(gateway, "<>")
