"""Is a message's author confirmed by our own mail server? (:rfc:`8601` Authentication-Results).

A CANCEL or a REPLY changes what is on record on its author's word, and a From header is
easy to forge. When ``inbound.require_authentication_results`` is set, the gateway only
believes an author that a trusted server (one of ``inbound.trusted_authserv_ids``, i.e. our
own MX, which removes such headers arriving from outside, :rfc:`8601` section 5) vouched
for: a DMARC pass for the From domain, or a DKIM or SPF pass aligned with it (the
signing/envelope domain equal to the From domain or a parent of it, as DMARC's relaxed
alignment allows, :rfc:`7489` section 3.1).

Pure: header values in, a verdict out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["AuthResult", "is_authenticated", "parse_authentication_results"]

_COMMENT_RE = re.compile(r"\([^()]*\)")
_PROPERTY_RE = re.compile(r"([a-z0-9_-]+)\.([a-z0-9_.-]+)\s*=\s*(\"[^\"]*\"|[^\s;]+)")
_RESULT_RE = re.compile(r"^([a-z0-9_-]+)\s*=\s*([a-z]+)")
_MAX_RESULTS = 64


@dataclass(frozen=True, slots=True)
class AuthResult:
    """One ``method=result`` of an Authentication-Results header.

    Parameters:
        authserv_id: the server that wrote the header (lower case).
        method: ``dkim``, ``spf``, ``dmarc`` ... (lower case).
        result: ``pass``, ``fail``, ``none`` ... (lower case).
        properties: ``ptype.property`` -> value (``header.d`` -> ``example.com``).
    """

    authserv_id: str
    method: str
    result: str
    properties: tuple[tuple[str, str], ...] = ()

    def get(self, name: str) -> str | None:
        """The value of property ``name`` (``header.from``), lower-cased, if present."""
        return next((value for key, value in self.properties if key == name), None)


def parse_authentication_results(value: str) -> list[AuthResult]:
    """The results of one Authentication-Results header value.

    Parameters:
        value: the unfolded header value.

    Returns:
        One :class:`AuthResult` per method; ``[]`` for ``none`` or an unreadable value.
    """
    text = value
    for _ in range(4):  # nested comments, at most a few levels
        text = _COMMENT_RE.sub(" ", text)
    parts = [part.strip() for part in text.lower().split(";")]
    if not parts or not parts[0]:
        return []
    authserv_id = parts[0].split()[0]
    results: list[AuthResult] = []
    for part in parts[1:]:
        match = _RESULT_RE.match(part)
        if match is None:
            continue
        properties = tuple(
            (f"{ptype}.{prop}", raw.strip('"')) for ptype, prop, raw in _PROPERTY_RE.findall(part)
        )
        results.append(AuthResult(authserv_id, match.group(1), match.group(2), properties))
        if len(results) >= _MAX_RESULTS:
            break
    return results


def _domain(value: str | None) -> str:
    if not value:
        return ""
    return value.rsplit("@", 1)[-1].strip().strip(".").lower()


def _aligned(author_domain: str, domain: str) -> bool:
    return bool(domain) and (author_domain == domain or author_domain.endswith("." + domain))


def is_authenticated(values: Iterable[str], trusted_ids: Iterable[str], author: str | None) -> bool:
    """Whether a trusted server confirmed that ``author``'s domain sent the message.

    Parameters:
        values: the message's Authentication-Results values, top first.
        trusted_ids: the authserv-ids of our own servers (``inbound.trusted_authserv_ids``).
        author: the From address.

    Returns:
        True for a trusted DMARC pass for the From domain, or a trusted DKIM or SPF pass
        aligned with it; False otherwise (no author, no trusted header, only failures).
    """
    author_domain = _domain(author)
    if not author_domain:
        return False
    trusted = {item.strip().lower() for item in trusted_ids if item.strip()}
    for value in values:
        for result in parse_authentication_results(value):
            if result.authserv_id not in trusted or result.result != "pass":
                continue
            if result.method == "dmarc" and _domain(result.get("header.from")) == author_domain:
                return True
            if result.method == "dkim" and (
                _aligned(author_domain, _domain(result.get("header.d")))
                or _aligned(author_domain, _domain(result.get("header.i")))
            ):
                return True
            if result.method == "spf" and _aligned(
                author_domain, _domain(result.get("smtp.mailfrom"))
            ):
                return True
    return False
