"""Forwarded messages: who forwarded, and who originally sent.

A member of staff forwards an organizer's invitation to the gateway to get a CRM task; the
pipeline must tell the forwarder (the outer From, who owns the task) from the original
sender (who organised the meeting). Three shapes occur:

- **attached** (``message/rfc822``): the original message travels whole; its From is read
  by the MIME walk (:mod:`invitegw.mailbox.mime.extract`).
- **inline**: the client quotes the original header block in the body. Outlook writes
  ``From: … Sent: … To: … Subject: …`` under a rule of underscores (or
  ``-----Original Message-----``), Gmail ``---------- Forwarded message ---------``,
  Apple Mail ``Begin forwarded message:``, Thunderbird ``-------- Forwarded Message
  --------``, each translated into the user's language. :func:`find_inline_forward`
  reads such a block in English, German, Polish, Italian, French, Spanish and Dutch.
- **subject only**: a ``Fwd:``-style prefix (``FW``, ``WG``, ``PD``, ``I``, ``TR``,
  ``RV`` ...) with no recognisable block.

The body scan is heuristic by nature; the pipeline treats an inline original sender as a
hint to compare with the calendar object's ORGANIZER, never as proof of identity.
"""

from __future__ import annotations

import html
import re
from enum import StrEnum

from invitegw.domain.addresses import NamedAddress, normalize_address
from invitegw.errors import AddressError

__all__ = [
    "ForwardKind",
    "find_inline_forward",
    "has_forward_prefix",
    "has_reply_prefix",
    "html_to_text",
]


class ForwardKind(StrEnum):
    """How a message forwards another one."""

    ATTACHED = "attached"  # a message/rfc822 part
    INLINE = "inline"  # a quoted header block in the body
    SUBJECT = "subject"  # only a forward prefix on the subject


# Separators and phrases that say "forwarded" (Gmail, Thunderbird, Apple Mail ...).
_FORWARD_MARKER_RE = re.compile(
    r"-{2,}\s*(?:forwarded message|weitergeleitete nachricht|"
    r"(?:przekazana wiadomo(?:ś|s)(?:ć|c)|wiadomo(?:ś|s)(?:ć|c) przekazana)|"
    r"messaggio inoltrato|message transf(?:é|e)r(?:é|e)|mensaje reenviado|"
    r"doorgestuurd bericht)\s*-{2,}"
    r"|(?:begin forwarded message|anfang der weitergeleiteten (?:nachricht|e-mail)|"
    r"pocz(?:ą|a)tek (?:przekazywanej|przekazanej) wiadomo(?:ś|s)ci|"
    r"inizio messaggio inoltrato|d(?:é|e)but du message (?:r(?:é|e)exp(?:é|e)di(?:é|e)|"
    r"transf(?:é|e)r(?:é|e))|comienzo del mensaje reenviado|begin doorgestuurd bericht)\s*:",
    re.IGNORECASE,
)
# Separators that Outlook, Samsung and others write above a quoted original in forwards
# AND in replies: they mean "forward" only when the subject is not a reply's.
_QUOTE_MARKER_RE = re.compile(
    r"-{2,}\s*(?:original message|urspr(?:ü|ue)ngliche nachricht|"
    r"(?:oryginalna wiadomo(?:ś|s)(?:ć|c)|wiadomo(?:ś|s)(?:ć|c) oryginalna)|"
    r"messaggio originale|message d'origine|message original|mensaje original|"
    r"oorspronkelijk bericht)\s*-{2,}"
    r"|^[ \t>]*_{10,}[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
# Substrings (lower case) at least one of which each marker expression's match contains.
_FORWARD_HINTS = (
    "forward", "weitergeleitet", "przekaza", "inoltrat", "transf", "réexp", "reexp",
    "reenviad", "doorgestuurd",
)  # fmt: skip
_QUOTE_HINTS = ("original", "ursprüng", "ursprueng", "oryginal", "origine", "oorspronk", "_____")
_FROM_LABELS = r"from|von|od|da|de|van|remitente|exp(?:é|e)diteur"
_SENT_LABELS = (
    r"sent|date|gesendet|datum|wys(?:ł|l)ano|wys(?:ł|l)ane|data|inviato|envoy(?:é|e)|"
    r"enviado|fecha|verzonden|verstuurd|date d'envoi"
)
# A From label at a line start (after quote marks or bold asterisks), or glued to the end
# of a separator as Samsung's mail app writes it.
_FROM_LINE_RE = re.compile(
    rf"(?:^|(?<=-))[ \t>*]*(?:{_FROM_LABELS})[ \t*]*:[ \t*]*(?P<value>[^\n]+)",
    re.IGNORECASE | re.MULTILINE,
)
# Outlook without a separator: a From line followed within three lines by a Sent line.
_OUTLOOK_BLOCK_RE = re.compile(
    rf"^[ \t>*]*(?:{_FROM_LABELS})[ \t*]*:[^\n]*\n(?:[^\n]*\n){{0,2}}?"
    rf"[ \t>*]*(?:{_SENT_LABELS})[ \t*]*:",
    re.IGNORECASE | re.MULTILINE,
)
_ADDRESS_RE = re.compile(
    r"(?:\[\s*mailto:|<\s*(?:mailto:)?|\(\s*mailto:)?"
    r"(?P<address>[^\s<>\[\]()\"',;:]+@[^\s<>\[\]()\"',;:]+[^\s<>\[\]()\"',;:.])",
    re.IGNORECASE,
)
# The value may run on into the next header on a flattened line ("… Datum: …").
_NEXT_LABEL_RE = re.compile(
    rf"\s(?:{_SENT_LABELS}|to|an|do|a|à|para|aan|cc|subject|betreff|temat|oggetto|objet|"
    rf"asunto|onderwerp)\s*:",
    re.IGNORECASE,
)
_PREFIX_RE = re.compile(r"^\s*\[?\s*([^\s:\[\]]{1,8})\s*(?:\[\d+\]|\(\d+\))?\s*:\s*", re.UNICODE)
_FORWARD_PREFIXES = frozenset(
    {"fw", "fwd", "wg", "pd", "i", "tr", "rv", "enc", "vs", "vb", "doorst", "wtr"}
)
_REPLY_PREFIXES = frozenset({"re", "aw", "odp", "r", "rif", "sv", "antw", "ynt", "ref"})
_TAG_BREAK_RE = re.compile(r"<\s*(?:br|/p|/div|/tr|/li|/h\d)\b[^>]*>", re.IGNORECASE)
_TAG_RE = re.compile(r"<[^>]*>")
_DROP_RE = re.compile(r"<(script|style|head)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_BLOCK_WINDOW = 2000  # characters after a marker in which the From line must appear


def _first_prefix(subject: str) -> str | None:
    match = _PREFIX_RE.match(subject)
    return match.group(1).lower() if match else None


def has_forward_prefix(subject: str) -> bool:
    """Tell whether a subject starts with a forward prefix (``Fwd:``, ``WG:``, ``TR:`` ...).

    Only the outermost prefix decides: ``RE: FW: …`` is a reply to a forward.

    Parameters:
        subject: the decoded subject.

    Returns:
        True when the first prefix is a forward prefix.
    """
    return _first_prefix(subject) in _FORWARD_PREFIXES


def has_reply_prefix(subject: str) -> bool:
    """Tell whether a subject starts with a reply prefix (``RE:``, ``AW:``, ``Odp:`` ...).

    Parameters:
        subject: the decoded subject.

    Returns:
        True when the first prefix is a reply prefix.
    """
    return _first_prefix(subject) in _REPLY_PREFIXES


def html_to_text(markup: str) -> str:
    """Turn an HTML body into text good enough for finding a quoted header block.

    Parameters:
        markup: the HTML.

    Returns:
        The text: scripts, styles and tags removed, line-breaking tags as newlines,
        entities decoded.
    """
    text = _DROP_RE.sub(" ", markup)
    text = _TAG_BREAK_RE.sub("\n", text)
    return html.unescape(_TAG_RE.sub("", text)).replace("\xa0", " ")


def _sender_from_value(value: str) -> NamedAddress | None:
    cut = _NEXT_LABEL_RE.search(value)
    value = value[: cut.start()] if cut else value
    match = _ADDRESS_RE.search(value)
    if not match:
        return None
    try:
        address = normalize_address(match.group("address"))
    except AddressError:
        return None
    name = value[: match.start()].strip().strip("*\"' \t").strip()
    return NamedAddress(name, address)


def find_inline_forward(body: str, *, reply: bool = False) -> tuple[bool, NamedAddress | None]:
    """Find a quoted original header block in a forwarding body and read its From.

    Parameters:
        body: the body text (plain text, or HTML passed through :func:`html_to_text`).
        reply: the message is a reply (:func:`has_reply_prefix`). Replies quote their
            original under the same separators as forwards; then only a separator that
            says "forwarded" counts.

    Returns:
        ``(found, sender)``: whether a forwarded header block was found, and its From as
        a :class:`NamedAddress` when that line names an address (Exchange sometimes writes a
        display name only: then ``(True, None)``).
    """
    starts = []
    # The marker expressions are slow (case-insensitive alternations tried at every
    # position); a plain substring test rules most bodies out first.
    low = body.lower()
    marker = _FORWARD_MARKER_RE.search(body) if any(h in low for h in _FORWARD_HINTS) else None
    if marker:
        starts.append(marker.end())
    if not reply:
        quote = _QUOTE_MARKER_RE.search(body) if any(h in low for h in _QUOTE_HINTS) else None
        if quote:
            starts.append(quote.end())
        block = _OUTLOOK_BLOCK_RE.search(body)
        if block:
            starts.append(block.start())
    if not starts:
        return False, None
    start = min(starts)
    window = body[start : start + _BLOCK_WINDOW]
    line = _FROM_LINE_RE.search(window)
    if not line:
        return True, None
    return True, _sender_from_value(line.group("value"))
