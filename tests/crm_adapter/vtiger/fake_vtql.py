"""The fake vtiger's VTQL: lexer, parser and evaluator for the subset vtiger 8.3 accepts.

Mirrors vtiger's own behaviour where the adapter could trip over it:

- the lexer's token pattern (``'(?:[^']|'')+'`` for strings: no empty literal);
- a missing trailing ``;`` and ``LIMIT n OFFSET m`` are syntax errors;
- a literal reaches MySQL verbatim, so ``''`` is a quote and a backslash escapes;
- ``=``, ``LIKE`` compare case-insensitively (MySQL's default collation); ``LIKE`` knows
  ``%``, ``_`` and ``\\``;
- an unknown column is ``ACCESS_DENIED``; reference values need the ``NxM`` form;
- a query that touches ``contact_id`` on Events/Calendar joins the contact links, one row
  per link (NULL when none); ``LIMIT`` counts those rows; the result is then folded to
  one row per id, keeping the last (vtiger ``VtigerModuleOperation::query``);
- at most 100 rows, whatever ``LIMIT`` asks; ``count(*)`` rows have no id and vanish.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

TOKEN = re.compile(
    r"(\w+|'(?:[^']|'')+'|\(|\)|[+-]?\d+|,|\*|(?<![<>!])=|<(?!=)|>(?!=)|<=|>=|!=|;)|([ \t\r\n]+)"
)
CAP = 100


class VtqlFault(Exception):  # noqa: N818 - mirrors a vtiger error answer, not a Python error
    """A vtiger error answer: ``code`` and ``message``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def syntax(token: str, got: str, expected: str) -> VtqlFault:
    return VtqlFault(
        "QUERY_SYNTAX_ERROR",
        f"Syntax Error on line 1: token '{token}' Unexpected {got}, expected one of: {expected}",
    )


def tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    while pos < len(text):
        match = TOKEN.match(text, pos)
        if match is None:
            raise VtqlFault("QUERY_SYNTAX_ERROR", f"Unexpected input at line1: {text[pos]}")
        if match.group(1):
            tokens.append(match.group(1))
        pos = match.end()
    return tokens


def mysql_string(token: str) -> str:
    """The value MySQL reads from a quoted literal (backslash escapes, doubled quotes)."""
    body = token[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            # In MySQL \% and \_ stay two characters (they matter to LIKE only).
            out.append(
                {"n": "\n", "t": "\t", "0": "\0"}.get(nxt, "\\" + nxt if nxt in "%_" else nxt)
            )
            i += 2
        elif ch == "'" and body[i + 1 : i + 2] == "'":
            out.append("'")
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def like(pattern: str, value: str) -> bool:
    regex = ["^"]
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            regex.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        regex.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.match("".join(regex) + "$", value, re.IGNORECASE | re.DOTALL) is not None


@dataclass
class Condition:
    column: str
    op: str
    values: list[str]  # raw tokens


@dataclass
class Query:
    columns: list[str] | None  # None: *
    count: bool
    module: str
    conditions: list[Condition] = field(default_factory=list)
    connectors: list[str] = field(default_factory=list)  # AND / OR between conditions
    order_by: list[str] = field(default_factory=list)
    descending: bool = False
    limit: tuple[int, int] | None = None  # (offset, count)


class _Stream:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str = "VALUE") -> str:
        token = self.peek()
        if token is None:
            last = self.tokens[-1] if self.tokens else ""
            raise syntax(last, "End of Input(0)", expected)
        self.pos += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token.lower() == word:
            self.pos += 1
            return True
        return False


def parse(text: str) -> Query:
    s = _Stream(tokenize(text))
    if not s.keyword("select"):
        raise syntax(s.peek() or "", "VALUE", "SELECT")
    columns: list[str] | None = []
    count = False
    if s.peek() == "*":
        s.take()
        columns = None
    elif (s.peek() or "").lower() == "count":
        s.take()
        for expected in ("(", "*", ")"):
            if s.take() != expected:
                raise syntax(expected, "VALUE", expected)
        count = True
    else:
        while True:
            columns.append(s.take("COLUMNNAME"))
            if s.peek() != ",":
                break
            s.take()
    if not s.keyword("from"):
        raise syntax(s.peek() or "", "VALUE", "FRM")
    query = Query(columns, count, s.take("TABLENAME"))
    if s.keyword("where"):
        while True:
            query.conditions.append(_condition(s))
            token = (s.peek() or "").lower()
            if token not in ("and", "or"):
                break
            query.connectors.append(s.take().upper())
    if s.keyword("order"):
        if not s.keyword("by"):
            raise syntax(s.peek() or "", "VALUE", "BY")
        while True:
            query.order_by.append(s.take("COLUMNNAME"))
            if s.peek() != ",":
                break
            s.take()
        if s.keyword("desc"):
            query.descending = True
        else:
            s.keyword("asc")
    if s.keyword("limit"):
        first = s.take()
        if s.peek() == ",":
            s.take()
            query.limit = (int(first), int(s.take()))
        else:
            query.limit = (0, int(first))
    token = s.peek()
    if token != ";":
        if token is None:
            raise syntax(s.tokens[-1], "End of Input(0)", "SEMICOLON")
        raise syntax(token, f"VALUE({token})", "SEMICOLON")
    return query


def _condition(s: _Stream) -> Condition:
    column = s.take("COLUMNNAME")
    op = s.take()
    if op.lower() == "in":
        if s.take() != "(":
            raise syntax(op, "VALUE", "PARENOPEN")
        values = [s.take()]
        while s.peek() == ",":
            s.take()
            values.append(s.take())
        if s.take() != ")":
            raise syntax(op, "VALUE", "PARENCLOSE")
        return Condition(column, "IN", values)
    if op.lower() == "like":
        return Condition(column, "LIKE", [s.take()])
    if op not in ("=", "!=", "<", ">", "<=", ">="):
        raise syntax(op, f"VALUE({op})", "EQ,LT,GT,LTE,GTE,NE,IN,LIKE")
    value = s.take()
    if value == ";":
        raise syntax(";", "SEMICOLON(;)", "VALUE")
    return Condition(column, op, [value])


# -- evaluation -------------------------------------------------------------------------


def crm_number(value: str) -> int | None:
    head, sep, tail = value.partition("x")
    return int(tail) if sep and head.isdigit() and tail.isdigit() else None


def value_of(token: str) -> str:
    return mysql_string(token) if token.startswith("'") else token


@dataclass
class Table:
    """What the evaluator needs from the fake's state for one module."""

    fields: Sequence[str]
    references: set[str]  # reference/owner fields and id: compared by crmid
    rows: Iterable[dict[str, Any]]  # one dict per record, with "id"; "_links" for joins
    joinable: bool = False
    reverse_ties: bool = False  # MySQL does not promise an order for ties: test both


def execute(query: Query, table: Table) -> list[dict[str, Any]]:
    known = set(table.fields) | {"id"}
    for name in query.columns or ():
        if name not in known:
            raise VtqlFault("ACCESS_DENIED", f"Permission to access '.{name}.' attribute denied.")
    for cond in query.conditions:
        if cond.column not in known:
            raise VtqlFault(
                "ACCESS_DENIED", f"Permission to access {cond.column} attribute denied."
            )
        if cond.column in table.references:
            for raw in cond.values:
                if "x" not in value_of(raw):
                    raise VtqlFault("INVALID_ID_ATTRIBUTE", "Id specified is incorrect")
    columns = (
        [*table.fields, "id"]
        if query.columns is None
        else list(dict.fromkeys([*query.columns, "id"]))
    )
    touches = (
        query.columns is None
        or "contact_id" in columns
        or any(c.column == "contact_id" for c in query.conditions)
    )
    rows: list[dict[str, Any]] = []
    for record in table.rows:
        if table.joinable and touches:
            links = record.get("_links") or [None]
            rows.extend({**record, "contact_id": link} for link in links)
        else:
            rows.append(record)
    rows = [r for r in rows if _matches(query, r, table)]
    rows.sort(key=lambda r: crm_number(r["id"]) or 0, reverse=table.reverse_ties)
    if query.order_by:
        rows.sort(
            key=lambda r: [_sort_key(r.get(c), c in table.references) for c in query.order_by],
            reverse=query.descending,
        )
    offset, count = query.limit or (0, CAP)
    rows = rows[offset : offset + min(count, CAP)]
    if query.count:
        return []
    folded: dict[str, dict[str, Any]] = {}
    for row in rows:
        folded[row["id"]] = {c: row.get(c) for c in columns}
    return list(folded.values())


def _sort_key(value: Any, numeric: bool) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if numeric:
        return (1, crm_number(str(value)) or 0)
    return (1, str(value).casefold())


def _matches(query: Query, row: dict[str, Any], table: Table) -> bool:
    if not query.conditions:
        return True
    results = [_test(c, row, table) for c in query.conditions]
    # AND binds tighter than OR, as in the MySQL statement vtiger writes.
    groups: list[bool] = [results[0]]
    for connector, result in zip(query.connectors, results[1:], strict=True):
        if connector == "AND":
            groups[-1] = groups[-1] and result
        else:
            groups.append(result)
    return any(groups)


def _test(cond: Condition, row: dict[str, Any], table: Table) -> bool:
    stored = row.get(cond.column)
    if stored is None:
        return False  # SQL NULL compares as unknown
    values = [value_of(v) for v in cond.values]
    if cond.column in table.references:
        left = crm_number(str(stored))
        if left is None:
            return False
        rights = [crm_number(v) or 0 for v in values]
        return _compare(cond.op, left, rights, lambda a, b: (a > b) - (a < b))
    text = str(stored)
    if cond.op == "LIKE":
        return like(values[0], text)
    return _compare(cond.op, text.casefold(), [v.casefold() for v in values], _cmp)


def _cmp(a: str, b: str) -> int:
    return (a > b) - (a < b)


def _compare(op: str, left: Any, rights: list[Any], cmp: Callable[[Any, Any], int]) -> bool:
    if op == "IN":
        return any(cmp(left, r) == 0 for r in rights)
    result = cmp(left, rights[0])
    return {
        "=": result == 0,
        "!=": result != 0,
        "<": result < 0,
        ">": result > 0,
        "<=": result <= 0,
        ">=": result >= 0,
    }[op]
