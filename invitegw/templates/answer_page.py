"""The answer page behind an invitation's answer links, in the attendee's language.

The same mechanism as the invitation bodies (:mod:`invitegw.templates.render`): one
autoescaping Jinja2 environment per language with the gettext catalogs of
``templates/locale``, dates and times formatted by Babel in the attendee's zone, ``lang``
and ``dir`` on the page (Persian reads right to left). The page has no script and no
inline style (its stylesheet is :data:`STYLESHEET`, served by the HTTP side), so a strict
Content-Security-Policy holds.

:class:`AnswerPageView` is what one page shows; :func:`render_answer_page` writes it. The
page kinds: ``confirm`` (the meeting and a form: the three answers, a comment, one
button), ``done`` (the answer is recorded), ``closed`` (the link can no longer answer, and
why: over, cancelled, removed, or superseded with what changed), ``invalid`` (not one of our
links) and ``error`` (try again later, too many tries).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from babel import Locale

from invitegw.templates.recurrence_text import describe_rrule
from invitegw.templates.render import (
    _environment,
    _format_occurrence,
    _format_when,
    _zone,
    _zone_name,
    pick_language,
)

__all__ = ["STYLESHEET", "AnswerPageView", "render_answer_page", "when_text"]

Moment = dt.date | dt.datetime

# The page's stylesheet (no inline styles: the page's CSP allows only its own origin's).
STYLESHEET: str = (
    resources.files("invitegw.templates").joinpath("answer_page.css").read_text(encoding="utf-8")
)


def when_text(start: Moment, end: Moment | None, time_zone: str, language: str) -> tuple[str, str]:
    """The meeting's time span as people of ``language`` write it, and the zone's name.

    Parameters:
        start: the start (aware time, or a date for a whole day).
        end: the end.
        time_zone: the zone to show it in (IANA name; unknown: UTC).
        language: the language.

    Returns:
        (the span, the zone's name; empty for whole days).
    """
    lang = pick_language(language)
    zone = _zone(time_zone)
    text = _format_when(start, end, zone, lang)
    if not isinstance(start, dt.datetime):
        return text, ""
    return text, _zone_name(zone, start, Locale.parse(lang))


@dataclass(frozen=True, slots=True)
class AnswerPageView:
    """Everything one answer page shows, as plain values (see the module docstring).

    ``answer`` is the answer chosen (``yes``, ``maybe``, ``no``: the link's, or the one
    recorded); ``current`` the PARTSTAT on record; ``reason`` why a ``closed`` page is
    closed (an :class:`~invitegw.gateway.app.answer_facts.AnswerState` value); ``changes``
    the fields a newer invitation changed; ``form_value`` the anti-forgery value the form
    posts back.
    """

    kind: str
    language: str = "en"
    title: str = ""
    start: Moment | None = None
    end: Moment | None = None
    time_zone: str = "UTC"
    rrule: str | None = None
    occurrence: Moment | None = None
    location: str = ""
    organizer_name: str = ""
    attendee: str = ""
    answer: str = "yes"
    current: str = "NEEDS-ACTION"
    comment: str = ""
    reason: str = ""
    changes: tuple[str, ...] = field(default=())
    form_value: str = ""
    max_comment: int = 500
    # Relative to /answer/<token>: it follows a path prefix a reverse proxy adds.
    stylesheet: str = "../answer-assets/answer.css"


def render_answer_page(view: AnswerPageView) -> str:
    """The page's HTML (autoescaped: nothing from the CRM or the request is markup).

    Parameters:
        view: what to show.

    Returns:
        The HTML document.
    """
    lang = pick_language(view.language)
    locale = Locale.parse(lang)
    zone = _zone(view.time_zone)
    context: dict[str, Any] = {
        "v": view,
        "lang": lang,
        "dir": "rtl" if locale.character_order == "right-to-left" else "ltr",
        "when": "",
        "zone_name": "",
        "occurrence": None,
        "repeats": None,
    }
    if view.start is not None:
        context["when"], context["zone_name"] = when_text(
            view.start, view.end, view.time_zone, lang
        )
        if view.rrule:
            context["repeats"] = describe_rrule(view.rrule, view.start, lang)
    if view.occurrence is not None:
        context["occurrence"] = _format_occurrence(view.occurrence, zone, lang)
    return _environment(lang).get_template("answer_page.html.j2").render(context)
