"""Building VTQL, vtiger's query language, safely.

VTQL has no parameters, so every value is spliced into the text. What the server does
with it (vtiger ``include/Webservices/VTQL_Lexer.php`` and ``VTQL_Parser.php``):

- the lexer reads a string literal as ``'(?:[^']|'')+'``: a quote inside is doubled, and
  an empty literal ``''`` is not a token at all (the query fails to lex);
- the parser copies the literal verbatim into the MySQL statement, where a backslash is an
  escape character, unless the server runs with ``NO_BACKSLASH_ESCAPES``. We cannot know
  which, so no literal we build ever contains a backslash;
- in ``LIKE``, ``%`` and ``_`` are wildcards. Rather than escape them (which again depends
  on the backslash mode) a pattern replaces ``%``, ``_`` and ``\\`` by ``_``, which matches
  the character itself among others, and the caller re-checks every row it gets back;
- a query must end with ``;`` (facts sheet, file 58), except a ``query_related`` query,
  which must not (the server appends its own, file 100);
- every query returns at most 100 rows, silently (files 136-139): callers page with
  ``LIMIT offset, 100`` or keyset on ``id`` and stop at a short page.

Field and module names come from our configuration (validated as identifiers) or from
code, never from data.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from invitegw.errors import CrmError

__all__ = [
    "PAGE_SIZE",
    "VtqlError",
    "and_",
    "crmid",
    "datetime_literal",
    "like_contains",
    "like_exact",
    "literal",
    "related_query",
    "select",
    "ws_id",
]

PAGE_SIZE = 100  # vtiger 8.3 clamps every query to 100 rows

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_WS_ID = re.compile(r"^([0-9]{1,9})x([0-9]{1,12})$")
_MAX_LITERAL = 1000


class VtqlError(CrmError):
    """A value that cannot be put into a VTQL query safely."""


def _checked(value: str, what: str) -> str:
    if not value:
        raise VtqlError(f"VTQL cannot express an empty {what}")
    if len(value) > _MAX_LITERAL:
        raise VtqlError(f"{what} longer than {_MAX_LITERAL} characters")
    if any(ord(ch) < 32 for ch in value):
        raise VtqlError(f"{what} contains control characters")
    return value


def literal(value: str) -> str:
    """A quoted VTQL string literal for ``=``, ``!=``, ``<``, ``>=`` ... comparisons.

    Parameters:
        value: the text to compare with (non-empty, no backslash, no control characters).

    Returns:
        The literal with its quotes, ``'`` doubled (``'o''brien@example.org'``).

    Raises:
        VtqlError: the value is empty, too long, or contains a backslash or control
            character, which no literal can carry safely (see the module docstring).
    """
    _checked(value, "value")
    if "\\" in value:
        raise VtqlError("a VTQL value cannot contain a backslash; use like_exact()")
    return "'" + value.replace("'", "''") + "'"


def _pattern(value: str) -> str:
    _checked(value, "pattern")
    # `_` matches any one character, including the one it stands for: the caller filters.
    return re.sub(r"[%_\\]", "_", value).replace("'", "''")


def like_exact(value: str) -> str:
    """A ``LIKE`` literal matching ``value`` (and, rarely, a few others: filter the rows).

    Parameters:
        value: the text to match as a whole.

    Returns:
        The quoted pattern.

    Raises:
        VtqlError: the value is empty, too long or contains control characters.
    """
    return "'" + _pattern(value) + "'"


def like_contains(value: str) -> str:
    """A ``LIKE`` literal matching any text that contains ``value``; filter the rows.

    Parameters:
        value: the text to look for.

    Returns:
        The quoted pattern ``'%...%'``.

    Raises:
        VtqlError: the value is empty, too long or contains control characters.
    """
    return "'%" + _pattern(value) + "%'"


def ws_id(value: str) -> str:
    """A quoted webservice id (``'18x5'``) after checking its ``<prefix>x<crmid>`` form.

    Raises:
        VtqlError: the id is not of the form ``<digits>x<digits>``.
    """
    if not _WS_ID.match(value):
        raise VtqlError(f"not a vtiger webservice id: {value!r}")
    return f"'{value}'"


def crmid(value: str) -> int:
    """The record number of a webservice id (``18x5`` -> 5).

    Raises:
        VtqlError: the id is not of the form ``<digits>x<digits>``.
    """
    match = _WS_ID.match(value)
    if not match:
        raise VtqlError(f"not a vtiger webservice id: {value!r}")
    return int(match.group(2))


def datetime_literal(value: dt.datetime) -> str:
    """A ``'YYYY-MM-DD HH:MM:SS'`` literal; ``value`` is naive and in the server's zone."""
    if value.tzinfo is not None:
        raise VtqlError("datetime literals are naive server-zone times")
    return "'" + value.strftime("%Y-%m-%d %H:%M:%S") + "'"


def _name(value: str) -> str:
    if not _NAME.match(value):
        raise VtqlError(f"not a vtiger field or module name: {value!r}")
    return value


def and_(*conditions: str) -> str:
    """Join conditions with ``AND`` (VTQL has no parentheses to group them)."""
    return " AND ".join(c for c in conditions if c)


def select(
    module: str,
    fields: Sequence[str] | None,
    where: str = "",
    *,
    order_by: str | None = None,
    descending: bool = False,
    offset: int | None = None,
    limit: int | None = None,
) -> str:
    """A complete ``SELECT`` with its mandatory trailing ``;``.

    Parameters:
        module: the vtiger module (``Events``, ``Contacts`` ...).
        fields: the columns, or ``None`` for ``*``.
        where: a condition built from :func:`literal` and friends, or ``""``.
        order_by: one column to sort on.
        descending: sort descending.
        offset: rows to skip (``LIMIT offset, limit``; needs ``limit``).
        limit: rows to return (the server never returns more than 100).

    Returns:
        The query text.
    """
    columns = "*" if fields is None else ", ".join(_name(f) for f in fields)
    text = f"SELECT {columns} FROM {_name(module)}"
    if where:
        text += f" WHERE {where}"
    if order_by:
        text += f" ORDER BY {_name(order_by)}" + (" DESC" if descending else "")
    if limit is not None:
        # `LIMIT n OFFSET m` is a syntax error in VTQL (file 141): MySQL's comma form only.
        text += (
            f" LIMIT {int(offset or 0)}, {int(limit)}"
            if offset is not None
            else f" LIMIT {int(limit)}"
        )
    return text + ";"


def related_query(module: str, fields: Sequence[str] | None) -> str:
    """A ``query_related`` query: no trailing ``;``, or the server rejects the relation."""
    columns = "*" if fields is None else ", ".join(_name(f) for f in fields)
    return f"SELECT {columns} FROM {_name(module)}"
