"""Answer links in invitation bodies: the calendar part is the same with or without them, the
bodies differ by the links block alone, and only REQUESTs to attendees carry them.
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
from email.message import EmailMessage

from invitegw.domain.answer_tokens import AnswerKeys
from invitegw.gateway.outbound.answer_links import AnswerLinking
from invitegw.gateway.outbound.messages import write_invitation
from invitegw.ics.model import Method, Role
from tests.gateway.answers.harness import KEYS
from tests.gateway.outbound.builders import NOW, SALES, meeting, plan

NL = chr(10)
LINKING = AnswerLinking("https://calendar.example.com", AnswerKeys([KEYS]), frozenset({"sales"}))


def _parts(raw: bytes) -> dict[str, str]:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    found: dict[str, str] = {}
    for part in message.walk():
        if part.get_content_maintype() == "text":
            content = part.get_content().replace("\r\n", "\n")
            found.setdefault(part.get_content_type(), content)
    return found


def test_the_calendar_part_is_unchanged_and_the_bodies_differ_by_the_links_alone() -> None:
    made = plan(meeting())
    assert made.messages
    for message in made.messages:
        plain = _parts(write_invitation(message, SALES, NOW))
        linked = _parts(write_invitation(message, SALES, NOW, links=LINKING))
        assert linked["text/calendar"] == plain["text/calendar"]
        if message.recipient.role is Role.CHAIR:
            assert linked == plain
            continue
        for kind in ("text/plain", "text/html"):
            assert "https://calendar.example.com/answer/" in linked[kind]
            assert "/answer/" not in plain[kind]
        # The block: a blank line, the question, three links, the note (any language).
        lines = linked["text/plain"].split(NL)
        links = [i for i, line in enumerate(lines) if "/answer/" in line]
        assert links == list(range(links[0], links[0] + 3))
        assert lines[links[0] - 2] == ""
        without = lines[: links[0] - 2] + lines[links[-1] + 2 :]
        assert without == plain["text/plain"].split(NL)


def test_cancellations_other_calendars_and_no_token_carry_no_links() -> None:
    made = plan(meeting())
    message = next(m for m in made.messages if m.recipient.role is not Role.CHAIR)
    assert LINKING.links_for(message, SALES) is not None
    elsewhere = AnswerLinking(LINKING.base_url, LINKING.keys, frozenset({"support"}))
    assert elsewhere.links_for(message, SALES) is None
    cancel = dataclasses.replace(message, method=Method.CANCEL)
    assert LINKING.links_for(cancel, SALES) is None
    anonymous = dataclasses.replace(
        message, recipient=dataclasses.replace(message.recipient, token=None)
    )
    assert LINKING.links_for(anonymous, SALES) is None
