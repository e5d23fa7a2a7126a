"""Reading vtiger's webservice answers: the error classes and their mapping.

vtiger answers HTTP 200 for every handled error, with ``{"success": false, "error":
{"code", "message"}}``; the code is a string, except for the duplicate check's integer
``0`` (file 60). "Not found" is no code at all: a missing or deleted record reads as
``ACCESS_DENIED`` (files 38, 53, 63). Also here: the filter that keeps the session name
out of httpx's own request log lines.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from invitegw.errors import CrmConflictError, CrmError, CrmNotFoundError

__all__ = [
    "VtigerApiError",
    "VtigerConflictError",
    "VtigerNotFoundError",
    "api_error",
    "decode",
    "error_of",
    "http_date",
    "install_redaction",
    "looks_json",
    "one_record",
    "record_list",
    "required_field",
]

_RECORD_OPERATIONS = frozenset({"retrieve", "revise", "update", "delete"})
_NOT_FOUND_CODES = frozenset({"ACCESS_DENIED", "INVALID_ID_ATTRIBUTE"})


class VtigerApiError(CrmError):
    """vtiger answered ``success: false``; ``code`` is its code (a string, or ``0``)."""

    def __init__(self, operation: str, code: str | int | None, message: str) -> None:
        self.operation = operation
        self.code = code
        self.vtiger_message = message
        super().__init__(f"vtiger {operation} failed: {code}: {message}")


class VtigerNotFoundError(VtigerApiError, CrmNotFoundError):
    """The record does not exist, was deleted, or the API user may not see it."""


class VtigerConflictError(VtigerApiError, CrmConflictError):
    """vtiger's duplicate check refused the write (error code ``0``)."""


class _RedactSession(logging.Filter):
    """Hide ``sessionName=...`` in httpx's own request log lines (GETs carry it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(
            "sessionName=" in str(arg) for arg in record.args
        ):
            record.args = tuple(
                _SESSION_RE.sub("sessionName=<hidden>", str(arg))
                if "sessionName=" in str(arg)
                else arg
                for arg in record.args
            )
        return True


_SESSION_RE = re.compile(r"sessionName=[^&\s\"]*")
_REDACTION = _RedactSession()


def install_redaction() -> None:
    for name in ("httpx", "httpcore"):
        target = logging.getLogger(name)
        if _REDACTION not in target.filters:
            target.addFilter(_REDACTION)


def api_error(operation: str, code: str | int | None, message: str) -> VtigerApiError:
    if code == 0 and not isinstance(code, bool):
        return VtigerConflictError(operation, code, message)
    if operation in _RECORD_OPERATIONS and code in _NOT_FOUND_CODES:
        return VtigerNotFoundError(operation, code, message)
    return VtigerApiError(operation, code, message)


def looks_json(body: bytes) -> bool:
    try:
        return isinstance(json.loads(body), dict)
    except ValueError:
        return False


def decode(body: bytes, operation: str) -> dict[str, Any]:
    try:
        answer = json.loads(body)
    except ValueError as exc:
        raise VtigerApiError(
            operation, "NOT_JSON", "the answer is not JSON: is crm.vtiger.url the vtiger URL?"
        ) from exc
    if not isinstance(answer, dict) or "success" not in answer:
        raise VtigerApiError(operation, "NOT_JSON", "the answer is not a webservice reply")
    return answer


def error_of(answer: Mapping[str, Any]) -> tuple[str | int | None, str]:
    error = answer.get("error")
    if not isinstance(error, Mapping):
        return None, "no error details"
    code = error.get("code")
    if not isinstance(code, str | int):
        code = None
    return code, str(error.get("message", ""))[:500]


def required_field(result: Any, name: str, operation: str) -> Any:
    if not isinstance(result, Mapping) or result.get(name) in (None, ""):
        raise VtigerApiError(operation, "BAD_ANSWER", f"no {name} in the answer")
    return result[name]


def one_record(result: Any, operation: str) -> dict[str, Any]:
    if not isinstance(result, dict):
        raise VtigerApiError(operation, "BAD_ANSWER", "expected an object")
    return result


def record_list(result: Any, operation: str) -> list[dict[str, Any]]:
    if not isinstance(result, list) or not all(isinstance(r, dict) for r in result):
        raise VtigerApiError(operation, "BAD_ANSWER", "expected a list of records")
    return result


def http_date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)
