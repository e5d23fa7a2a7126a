"""Answer links in reminder emails: the invitation's own links, for attendees who have not
answered, only when links are configured; the body differs by the links block alone.
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
from email.message import EmailMessage

import pytest

from invitegw.gateway.outbound.messages import write_reminder
from invitegw.ics.model import PartStat, Role
from invitegw.itip.plan_model import PlannedMessage
from invitegw.templates.render import AnswerLinks
from tests.gateway.answers.test_answer_links import LINKING, NL
from tests.gateway.outbound.builders import NOW, SALES, meeting, plan


def _gina(**changes: object) -> PlannedMessage:
    """Gina's invitation to the weekly meeting (the title may change)."""
    made = plan(meeting(**changes))
    return next(m for m in made.messages if m.recipient.address == "gina@example.org")


def _reminder(message: PlannedMessage, links: AnswerLinks | None) -> EmailMessage:
    raw = write_reminder(
        message.details,
        message.recipient,
        SALES,
        start=message.start,
        end=message.end,
        message_id="reminder-1@example.com",
        reply_to=message.reply_to,
        now=NOW,
        answer_links=links,
    )
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _bodies(message: EmailMessage) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in message.walk():
        assert part.get_content_type() != "text/calendar"  # a reminder is never an update
        if part.get_content_maintype() == "text":
            content = part.get_content()
            found[part.get_content_type()] = content.replace(chr(13) + NL, NL)
    return found


def test_a_reminder_carries_the_invitations_links_when_they_are_configured() -> None:
    invitation = _gina()
    links = LINKING.reminder_links(invitation.recipient, SALES, sequence=invitation.sequence)
    assert links is not None
    assert links == LINKING.links_for(invitation, SALES)  # the same tokens, the same page
    plain = _bodies(_reminder(invitation, None))
    linked = _bodies(_reminder(invitation, links))
    assert set(plain) == set(linked) == {"text/plain", "text/html"}
    for kind in ("text/plain", "text/html"):
        assert "/answer/" not in plain[kind]
        for url in (links.yes, links.maybe, links.no):
            assert url in linked[kind]
    assert "Will you attend?" in linked["text/plain"]
    # The text differs by the block alone: a blank line, the question, three links, the note.
    lines = linked["text/plain"].split(NL)
    at = [i for i, line in enumerate(lines) if "/answer/" in line]
    assert at == list(range(at[0], at[0] + 3))
    assert lines[: at[0] - 2] + lines[at[-1] + 2 :] == plain["text/plain"].split(NL)


@pytest.mark.parametrize(
    "change",
    [
        {"partstat": PartStat.ACCEPTED},
        {"partstat": PartStat.TENTATIVE},
        {"partstat": PartStat.DECLINED},
        {"role": Role.CHAIR},
        {"token": None},
    ],
)
def test_no_links_for_an_attendee_who_answered_the_organizer_or_no_token(
    change: dict[str, object],
) -> None:
    recipient = dataclasses.replace(_gina().recipient, **change)  # type: ignore[arg-type]
    assert LINKING.reminder_links(recipient, SALES, sequence=0) is None


def test_no_links_for_another_calendar_or_an_unknown_invitation() -> None:
    recipient = _gina().recipient
    elsewhere = dataclasses.replace(LINKING, calendars=frozenset({"support"}))
    assert elsewhere.reminder_links(recipient, SALES, sequence=0) is None
    assert LINKING.reminder_links(recipient, SALES, sequence=None) is None


def test_the_reminders_html_escapes_the_crm_text_and_keeps_the_links() -> None:
    invitation = _gina(title="<b>Q&A</b> <script>x()</script>")
    links = LINKING.reminder_links(invitation.recipient, SALES, sequence=0)
    assert links is not None
    reminder = _reminder(invitation, links)
    html = _bodies(reminder)["text/html"]
    assert "&lt;b&gt;Q&amp;A&lt;/b&gt; &lt;script&gt;" in html
    assert "<script>" not in html
    assert f'<a href="{links.yes}"' in html
    assert str(reminder["Subject"]) == "Reminder: <b>Q&A</b> <script>x()</script>"
