"""Which invitations carry answer links, and the links themselves (pure once built).

:class:`AnswerLinking` is made once from the settings (:func:`answer_linking`): the
public address of the HTTP server (``http.public_url``), the signing keys
(``http.answer_keys``) and the calendars whose invitations carry links
(``answer_links``). For one planned message :meth:`AnswerLinking.links_for` gives the
recipient's "Yes · Maybe · No" links, or ``None``:

- only invitations and updates (REQUEST) carry them; cancellations and the organizer's own
  copy (ROLE=CHAIR) do not;
- each link names the recipient's reply token, the message's SEQUENCE and the occurrence
  it is about (:class:`~invitegw.domain.answer_tokens.AnswerToken`), so an answer always
  says which version of the meeting it answers.

A reminder email (:mod:`.reminders`) carries the same links as the attendee's invitation to
the whole meeting (:meth:`AnswerLinking.reminder_links`): only for an attendee who has not
answered (NEEDS-ACTION), with the SEQUENCE of the latest such invitation they got and no
occurrence, so the answer page takes it exactly as it takes the invitation's (an answer to
the meeting; the same expiry: cancelled, removed, over, superseded by a newer invitation).

The page the links open is :mod:`invitegw.gateway.http.answers`.
"""

from __future__ import annotations

from dataclasses import dataclass

from invitegw.domain.answer_tokens import AnswerKeys, AnswerToken
from invitegw.gateway.config import Settings
from invitegw.ics.model import Method, PartStat, Role
from invitegw.itip.attendee_facts import ical_recurrence_id
from invitegw.itip.plan_model import CalendarProfile, LedgerAttendee, PlannedMessage
from invitegw.templates.render import AnswerLinks

__all__ = ["ANSWER_PATH", "AnswerLinking", "answer_keys", "answer_linking"]

# Where the answer page lives under http.public_url.
ANSWER_PATH = "/answer/"


@dataclass(frozen=True, slots=True)
class AnswerLinking:
    """How answer links are made (see the module docstring).

    Parameters:
        base_url: ``http.public_url`` without a trailing slash.
        keys: the signing keys.
        calendars: the names of the calendars whose invitations carry links.
    """

    base_url: str
    keys: AnswerKeys
    calendars: frozenset[str]

    def url(self, token: AnswerToken, answer: str) -> str:
        """The link that opens the answer page for ``token`` with ``answer`` chosen."""
        return f"{self.base_url}{ANSWER_PATH}{self.keys.sign(token)}?a={answer}"

    def links_for(self, message: PlannedMessage, calendar: CalendarProfile) -> AnswerLinks | None:
        """The recipient's links for ``message``, or ``None`` when it carries none.

        Parameters:
            message: the planned message.
            calendar: the calendar sending it.

        Returns:
            The three links, or ``None``.
        """
        recipient = message.recipient
        if (
            calendar.name not in self.calendars
            or message.method is not Method.REQUEST
            or recipient.role is Role.CHAIR
            or not recipient.token
        ):
            return None
        token = AnswerToken(
            reply_token=recipient.token,
            sequence=message.sequence,
            recurrence_id=ical_recurrence_id(message.occurrence),
        )
        return self._links(token)

    def reminder_links(
        self, attendee: LedgerAttendee, calendar: CalendarProfile, *, sequence: int | None
    ) -> AnswerLinks | None:
        """The links a reminder carries for ``attendee``, or ``None`` (module docstring).

        Parameters:
            attendee: the ledger attendee the reminder goes to.
            calendar: the calendar sending it.
            sequence: the SEQUENCE of the latest invitation to the whole meeting the
                attendee got (``None``: none known, no links).

        Returns:
            The invitation's three links, when the attendee has not answered yet.
        """
        if (
            calendar.name not in self.calendars
            or attendee.role is Role.CHAIR
            or not attendee.token
            or attendee.partstat is not PartStat.NEEDS_ACTION
            or sequence is None
        ):
            return None
        return self._links(AnswerToken(reply_token=attendee.token, sequence=sequence))

    def _links(self, token: AnswerToken) -> AnswerLinks:
        return AnswerLinks(
            yes=self.url(token, "yes"), maybe=self.url(token, "maybe"), no=self.url(token, "no")
        )


def answer_keys(settings: Settings) -> AnswerKeys | None:
    """The answer-link keys of ``settings`` (``http.answer_keys``), if set."""
    secret = settings.http.answer_keys
    return AnswerKeys([secret.reveal()]) if secret is not None else None


def answer_linking(settings: Settings) -> AnswerLinking | None:
    """The answer links ``settings`` ask for, or ``None`` (no ``http.public_url``, no keys).

    Parameters:
        settings: the configuration (validated: a public URL with links on has keys).

    Returns:
        The linking, or ``None`` when no invitation carries links.
    """
    keys = answer_keys(settings)
    calendars = frozenset(c.name for c in settings.calendars if c.answer_links)
    if not settings.http.public_url or keys is None or not calendars:
        return None
    return AnswerLinking(settings.http.public_url.rstrip("/"), keys, calendars)
