"""Invitation email bodies: Jinja2 templates (autoescaped) in the recipient's language.

The templates live in :mod:`invitegw.templates`; their strings are English message ids,
translated through gettext catalogs (``templates/locale/<lang>/LC_MESSAGES/messages.po``)
read with Babel at start, so translators edit ordinary ``.po`` files and no compile step is
needed. Dates and times are formatted for the locale with Babel, in the zone the recipient
reads them in. Persian is written right to left: the HTML carries ``lang`` and ``dir``.

Internal recipients (CRM users) and external ones get different templates: only the
internal ones may link into the CRM.
"""

from __future__ import annotations

import datetime as dt
import functools
import gettext
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_interval, format_time, get_timezone_name
from babel.lists import format_list
from babel.messages.pofile import read_po
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from invitegw.itip.policy import MessageKind
from invitegw.templates.recurrence_text import describe_rrule

__all__ = [
    "SUPPORTED_LANGUAGES",
    "AnswerLinks",
    "Audience",
    "MessageKind",
    "MessageView",
    "RenderedBody",
    "pick_language",
    "render_message",
]

logger = logging.getLogger(__name__)

SUPPORTED_LANGUAGES: tuple[str, ...] = ("en", "fa", "it", "pl")
# IANA names of UTC itself, outside Etc/ (Etc/UTC, Etc/GMT+5 ... are matched by prefix).
_UTC_KEYS = frozenset({"UTC", "UCT", "GMT", "GMT0", "Greenwich", "Universal", "Zulu"})
_FALLBACK_LANGUAGE = "en"


class Audience(StrEnum):
    """Who reads it: staff (may see CRM links) or someone outside the company."""

    INTERNAL = "internal"
    EXTERNAL = "external"


@dataclass(frozen=True, slots=True)
class AnswerLinks:
    """The "Will you attend? Yes · Maybe · No" links of one recipient's invitation."""

    yes: str
    maybe: str
    no: str


@dataclass(frozen=True, slots=True)
class MessageView:
    """Everything a body template shows, as plain values.

    ``start``/``end`` are aware datetimes (shown in ``time_zone``) or dates (all day).
    ``occurrence`` is set when the message concerns one occurrence of a series (its
    original start). ``removed`` marks a cancellation sent because the recipient was taken
    off the meeting, not because the meeting was cancelled. ``answer_links`` are the
    recipient's own answer links (``templates/_answer_links.*.j2``), if any.
    """

    kind: MessageKind
    audience: Audience
    language: str
    title: str
    start: dt.date | dt.datetime
    end: dt.date | dt.datetime | None
    time_zone: str
    organizer_name: str
    organizer_email: str
    location: str = ""
    description: str = ""
    attendees: tuple[tuple[str, str], ...] = ()
    recipient_name: str | None = None
    rrule: str | None = None
    occurrence: dt.date | dt.datetime | None = None
    removed: bool = False
    crm_url: str | None = None
    calendar_name: str = ""
    changes: tuple[str, ...] = field(default=())
    answer_links: AnswerLinks | None = None


@dataclass(frozen=True, slots=True)
class RenderedBody:
    """A rendered message: subject, plain text and HTML, and the language used."""

    subject: str
    text: str
    html: str
    language: str
    direction: str


def pick_language(*candidates: str | None) -> str:
    """The first supported language among ``candidates`` (``pl-PL`` counts as ``pl``).

    Returns:
        A member of :data:`SUPPORTED_LANGUAGES`; English when none matches.
    """
    for candidate in candidates:
        if not candidate:
            continue
        base = candidate.strip().replace("_", "-").split("-", 1)[0].lower()
        if base in SUPPORTED_LANGUAGES:
            return base
    return _FALLBACK_LANGUAGE


@dataclass(frozen=True, slots=True)
class _Catalog:
    """A language's translations: msgid -> msgstr (or its plural forms)."""

    messages: dict[str, str | tuple[str, ...]]
    plural: Callable[[int], int]


@functools.cache
def _catalog(language: str) -> _Catalog:
    """The gettext catalog for ``language``; English (the msgids) has none."""
    if language == _FALLBACK_LANGUAGE:
        return _Catalog({}, lambda n: 0 if n == 1 else 1)
    path = resources.files("invitegw.templates").joinpath(
        "locale", language, "LC_MESSAGES", "messages.po"
    )
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    messages: dict[str, str | tuple[str, ...]] = {}
    for message in catalog:
        if not message.id or not message.string:
            continue
        key = message.id if isinstance(message.id, str) else message.id[0]
        value = message.string
        if isinstance(value, tuple | list):
            if all(value):
                messages[key] = tuple(value)
        else:
            messages[key] = value
    # The catalog's own Plural-Forms expression, evaluated as GNU gettext does.
    return _Catalog(messages, gettext.c2py(catalog.plural_expr))


@functools.cache
def _environment(language: str) -> Environment:
    """One Jinja2 environment per language, its gettext bound to that language's catalog."""
    env = Environment(
        loader=PackageLoader("invitegw", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default=False),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,  # the templates ship with the package: no stat per render
    )
    catalog = _catalog(language)
    env.filters["join_list"] = lambda items: format_list(list(items), locale=language)

    def translate(message: str) -> str:
        found = catalog.messages.get(message)
        return found if isinstance(found, str) else message

    def ntranslate(singular: str, plural: str, n: int) -> str:
        found = catalog.messages.get(singular)
        if isinstance(found, tuple):
            return found[min(catalog.plural(n), len(found) - 1)]
        return singular if n == 1 else plural

    env.install_gettext_callables(translate, ntranslate, newstyle=True)  # type: ignore[attr-defined]
    return env


def _uses_12_hour_clock(locale: Locale) -> bool:
    return "h" in locale.time_formats["short"].pattern


def _date_and_time(locale: Locale, date_text: str, time_text: str) -> str:
    """Join a date and a time with the locale's own pattern (``{1}, {0}`` in English)."""
    pattern = str(locale.datetime_formats["medium"])
    return pattern.replace("{1}", date_text).replace("{0}", time_text)


def _format_when(
    start: dt.date | dt.datetime, end: dt.date | dt.datetime | None, zone: ZoneInfo, lang: str
) -> str:
    """The meeting's time span, as people of ``lang`` write it."""
    locale = Locale.parse(lang)
    if not isinstance(start, dt.datetime):
        # All day: DTEND is exclusive (RFC 5545 section 3.6.1).
        last = end - dt.timedelta(days=1) if isinstance(end, dt.date) and end > start else start
        if last == start:
            return format_date(start, "full", locale=locale)
        return format_interval(start, last, "yMMMMEEEEd", locale=locale)
    local_start = start.astimezone(zone)
    day = format_date(local_start, "full", locale=locale)
    start_time = format_time(local_start, "short", tzinfo=zone, locale=locale)
    if not isinstance(end, dt.datetime):
        return _date_and_time(locale, day, start_time)
    local_end = end.astimezone(zone)
    if local_end.date() != local_start.date():
        end_text = _date_and_time(
            locale,
            format_date(local_end, "full", locale=locale),
            format_time(local_end, "short", tzinfo=zone, locale=locale),
        )
        return f"{_date_and_time(locale, day, start_time)} – {end_text}"
    skeleton = "hm" if _uses_12_hour_clock(locale) else "Hm"
    span = format_interval(local_start, local_end, skeleton, tzinfo=zone, locale=locale)
    return _date_and_time(locale, day, span)


def _format_occurrence(value: dt.date | dt.datetime, zone: ZoneInfo, lang: str) -> str:
    locale = Locale.parse(lang)
    if not isinstance(value, dt.datetime):
        return format_date(value, "full", locale=locale)
    local = value.astimezone(zone) if value.tzinfo else value
    day = format_date(local, "full", locale=locale)
    return _date_and_time(locale, day, format_time(local, "short", tzinfo=zone, locale=locale))


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        logger.warning("unknown display zone %r, showing times in UTC", name)
        return ZoneInfo("UTC")


def _zone_name(zone: ZoneInfo, start: dt.datetime, locale: Locale) -> str:
    """The zone as readers say it: "Central European Time", "czas środkowoeuropejski".

    Zones without a region (``UTC``, ``Etc/GMT+5``) have no such name in CLDR; Babel would
    write "Unknown Region (UTC) Time". They are written "UTC" or "UTC-05:00", which every
    language reads.
    """
    key = zone.key
    if key in _UTC_KEYS or key.startswith("Etc/"):
        offset = start.astimezone(zone).utcoffset() or dt.timedelta(0)
        if not offset:
            return "UTC"
        minutes = int(offset.total_seconds()) // 60
        sign = "+" if minutes >= 0 else "-"
        return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return str(get_timezone_name(zone, "long", locale=locale))


@functools.cache
def _direction(lang: str) -> str:
    return "rtl" if Locale.parse(lang).character_order == "right-to-left" else "ltr"


def render_message(view: MessageView) -> RenderedBody:
    """Render the subject, text and HTML bodies for ``view``.

    Parameters:
        view: what to say; ``view.language`` falls back to English when unsupported.

    Returns:
        The rendered body. The HTML is autoescaped: CRM text cannot inject markup.
    """
    lang = pick_language(view.language)
    locale = Locale.parse(lang)
    zone = _zone(view.time_zone)
    env = _environment(lang)
    context: dict[str, Any] = {
        "v": view,
        "lang": lang,
        "dir": _direction(lang),
        "when": _format_when(view.start, view.end, zone, lang),
        "zone_name": _zone_name(zone, view.start, locale)
        if isinstance(view.start, dt.datetime)
        else "",
        "occurrence": _format_occurrence(view.occurrence, zone, lang)
        if view.occurrence is not None
        else None,
        "repeats": describe_rrule(view.rrule, view.start, lang) if view.rrule else None,
        "internal": view.audience is Audience.INTERNAL,
    }
    audience = "internal" if view.audience is Audience.INTERNAL else "external"
    subject = env.get_template("subject.txt.j2").render(context).strip()
    text = env.get_template(f"{audience}.txt.j2").render(context)
    html = env.get_template(f"{audience}.html.j2").render(context)
    return RenderedBody(
        subject=" ".join(subject.split()),
        text=text,
        html=html,
        language=lang,
        direction=context["dir"],
    )
