"""The header facts the inbound pipeline decides on: identity, addresses, automation signals.

:func:`read_headers` reads one ``compat32`` message's header block once into a
:class:`MessageHeaders` value. Besides identity (Message-ID, From, Date ...) it answers the
question every mail robot must ask before it answers anything (:rfc:`3834` section 2): was
this message generated automatically, and does its sender ask for no automatic response?
Getting that wrong makes two robots (our gateway and a vacation responder, or a mailing
list) mail each other forever.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from email.message import Message

from invitegw.domain.addresses import NamedAddress
from invitegw.mailbox.mime.address_headers import header_is_ambiguous, parse_address_header
from invitegw.mailbox.mime.headertext import (
    decode_words,
    message_id_list,
    normalize_message_id,
    parse_date,
    raw_text,
    unfold,
)

__all__ = ["MessageHeaders", "first_value", "header_index", "read_headers"]

# Vacation and autoresponder programs that predate RFC 3834 mark their replies with these.
_AUTOREPLY_HEADERS = ("x-autoreply", "x-autorespond", "x-autoreply-from", "x-mail-autoreply")
# RFC 3834 section 2: do not answer mailing-list traffic (RFC 2369 / RFC 2919 fields).
_LIST_HEADERS = ("list-id", "list-post")
_AUTO_PRECEDENCE = frozenset({"bulk", "junk", "list"})
# Subjects of out-of-office replies that carry no header telling so (old Exchange, webmail).
_AUTO_SUBJECT_RE = re.compile(
    r"^\s*(automatic reply|auto(?:matic)? response|out of (?:the )?office|"
    r"automatische antwort|abwesenheitsnotiz|odpowied[źz] automatyczna|"
    r"risposta automatica|r[ée]ponse automatique|respuesta autom[áa]tica)\b",
    re.IGNORECASE,
)
_MAX_VALUES = 64  # Authentication-Results values kept; hostile mail can repeat anything


@dataclass(frozen=True, slots=True)
class MessageHeaders:
    """What the header block of one message says.

    Parameters:
        message_id: the Message-ID without angle brackets; None when absent or invalid.
        from_: the single author (From); None when absent, unparsable, or naming several
            mailboxes or an ambiguous value (never trust such a From).
        sender: the Sender, when present.
        reply_to: Reply-To mailboxes.
        to: To mailboxes.
        cc: Cc mailboxes.
        date: the Date as an aware datetime; None when absent or unreadable.
        subject: the Subject, RFC 2047 decoded and unfolded (``""`` when absent).
        in_reply_to: msg-ids of In-Reply-To.
        references: msg-ids of References, oldest first.
        return_path: the Return-Path address as added at delivery; ``""`` for the null
            reverse-path ``<>`` (bounces, receipts); None when the header is absent.
        auto_submitted: the Auto-Submitted keyword, lower-cased (``no``,
            ``auto-generated``, ``auto-replied`` ...), None when absent.
        precedence: the Precedence keyword, lower-cased, None when absent.
        is_auto_generated: a machine wrote or mass-mailed this message (auto-reply,
            notification, bounce, list or bulk mail): never answer it automatically
            (:rfc:`3834` sections 2 and 5). The calendar objects it carries may still be
            genuine: calendar servers mark their own invitations ``auto-generated``.
        suppress_auto_response: the gateway must not send an automatic response to this
            message. True whenever ``is_auto_generated`` is, and also when the sender only
            asks for no automatic answer (``X-Auto-Response-Suppress``, [MS-OXCMAIL]
            2.2.3.2.14) or the message came through a mailing list: such a message may well
            be a person's genuine invitation.
        auto_signals: the evidence behind the two flags, readable (``"Auto-Submitted:
            auto-replied"``), for logs and quarantine records.
        authentication_results: the raw Authentication-Results values (:rfc:`8601`), top
            (most recent) first, for a later check against the trusted MX.
    """

    message_id: str | None = None
    from_: NamedAddress | None = None
    sender: NamedAddress | None = None
    reply_to: tuple[NamedAddress, ...] = ()
    to: tuple[NamedAddress, ...] = ()
    cc: tuple[NamedAddress, ...] = ()
    date: dt.datetime | None = None
    subject: str = ""
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    return_path: str | None = None
    auto_submitted: str | None = None
    precedence: str | None = None
    is_auto_generated: bool = False
    suppress_auto_response: bool = False
    auto_signals: tuple[str, ...] = ()
    authentication_results: tuple[str, ...] = ()


def header_index(msg: Message) -> dict[str, list[str]]:
    """Index every header of a message once (a ``msg.get()`` scans all headers each time).

    Parameters:
        msg: a ``compat32`` message.

    Returns:
        Lower-cased name -> raw values as text (8-bit bytes decoded), in message order.
    """
    index: dict[str, list[str]] = {}
    for name, value in msg.raw_items():
        index.setdefault(name.strip().lower(), []).append(raw_text(value))
    return index


def first_value(index: dict[str, list[str]], name: str) -> str | None:
    """Look up the first value of a header in a :func:`header_index`.

    Parameters:
        index: the index.
        name: the header name, lower case.

    Returns:
        The first raw value, or None when the header is absent.
    """
    values = index.get(name)
    return values[0] if values else None


def _keyword(value: str | None) -> str | None:
    if value is None:
        return None
    # "auto-replied; reason=vacation" (RFC 3834 section 5 allows parameters), comments.
    word = unfold(value).split(";", 1)[0].split("(", 1)[0].strip().lower()
    return word or None


def _one_mailbox(
    value: str | None, label: str, defects: list[str], *, strict: bool
) -> NamedAddress | None:
    if value is None:
        return None
    found = parse_address_header(value)
    if strict and len(found) > 1:
        defects.append(f"{label} names {len(found)} mailboxes: no single author")
        return None
    if strict and header_is_ambiguous(value, found):
        defects.append(f"{label} header is ambiguous ({unfold(value)[:80]!r}): not trusted")
        return None
    if not found:
        defects.append(f"{label} header has no usable address ({unfold(value)[:80]!r})")
        return None
    return found[0]


def _addresses(index: dict[str, list[str]], name: str) -> tuple[NamedAddress, ...]:
    out: list[NamedAddress] = []
    for value in index.get(name, ()):
        out.extend(parse_address_header(value))
    return tuple(out)


def _return_path(value: str | None) -> str | None:
    if value is None:
        return None
    text = unfold(value).strip()
    inner = text[1:-1].strip() if text.startswith("<") and text.endswith(">") else text
    return inner.lower()


def _automation(
    index: dict[str, list[str]],
    auto_submitted: str | None,
    precedence: str | None,
    return_path: str | None,
    from_: NamedAddress | None,
    subject: str,
) -> tuple[bool, bool, tuple[str, ...]]:
    auto: list[str] = []
    if auto_submitted is not None and auto_submitted != "no":
        auto.append(f"Auto-Submitted: {auto_submitted}")  # RFC 3834 section 5
    if precedence in _AUTO_PRECEDENCE:
        auto.append(f"Precedence: {precedence}")
    auto.extend(f"{name}: present" for name in _AUTOREPLY_HEADERS if name in index)
    if return_path == "":
        # RFC 5321 section 4.5.5: the null reverse-path is reserved for notifications.
        auto.append("Return-Path: <>")
    if from_ is not None and from_.address.split("@", 1)[0] == "mailer-daemon":
        auto.append("From: MAILER-DAEMON")
    if _AUTO_SUBJECT_RE.match(subject):
        auto.append("Subject: automatic reply")
    suppress = list(auto)
    for value in index.get("x-auto-response-suppress", ()):
        token = unfold(value).lower()
        if token and token not in {"none", "0"}:
            suppress.append(f"X-Auto-Response-Suppress: {unfold(value)}")
    suppress.extend(f"{name}: present" for name in _LIST_HEADERS if name in index)
    return bool(auto), bool(suppress), tuple(dict.fromkeys(suppress))


def read_headers(
    msg: Message, defects: list[str], *, index: dict[str, list[str]] | None = None
) -> MessageHeaders:
    """Read the header facts of one message.

    Parameters:
        msg: a message parsed with the ``compat32`` policy.
        defects: a list to which readable notes about broken headers are appended.
        index: the message's :func:`header_index`, when the caller has built it already.

    Returns:
        The :class:`MessageHeaders`; never raises on malformed headers.
    """
    if index is None:
        index = header_index(msg)
    message_id_raw = first_value(index, "message-id")
    message_id = normalize_message_id(message_id_raw)
    if message_id_raw is not None and message_id is None:
        defects.append(f"invalid Message-ID {unfold(message_id_raw)[:80]!r}")
    date_raw = first_value(index, "date")
    date = parse_date(date_raw)
    if date_raw is not None and date is None:
        defects.append(f"unreadable Date {unfold(date_raw)[:80]!r}")
    from_ = _one_mailbox(first_value(index, "from"), "From", defects, strict=True)
    subject_raw = first_value(index, "subject")
    subject = decode_words(subject_raw) if subject_raw is not None else ""
    auto_submitted = _keyword(first_value(index, "auto-submitted"))
    precedence = _keyword(first_value(index, "precedence"))
    return_path = _return_path(first_value(index, "return-path"))
    is_auto, suppress, signals = _automation(
        index, auto_submitted, precedence, return_path, from_, subject
    )
    return MessageHeaders(
        message_id=message_id,
        from_=from_,
        sender=_one_mailbox(first_value(index, "sender"), "Sender", defects, strict=False),
        reply_to=_addresses(index, "reply-to"),
        to=_addresses(index, "to"),
        cc=_addresses(index, "cc"),
        date=date,
        subject=subject,
        in_reply_to=message_id_list(first_value(index, "in-reply-to")),
        references=message_id_list(first_value(index, "references")),
        return_path=return_path,
        auto_submitted=auto_submitted,
        precedence=precedence,
        is_auto_generated=is_auto,
        suppress_auto_response=suppress,
        auto_signals=signals,
        authentication_results=tuple(
            unfold(v) for v in index.get("authentication-results", ())[:_MAX_VALUES]
        ),
    )
