"""Is a message's author confirmed by our own mail server? (:rfc:`8601` Authentication-Results).

A CANCEL or a REPLY changes what is on record on its author's word, and a From header is
easy to forge. When ``inbound.require_authentication_results`` is set, the gateway only
believes an author that a trusted server (one of ``inbound.trusted_authserv_ids``, i.e. our
own MX, which removes such headers arriving from outside, :rfc:`8601` section 5) vouched
for: a DMARC pass for the From domain, or a DKIM or SPF pass aligned with it (the
signing/envelope domain equal to the From domain or a parent of it, as DMARC's relaxed
alignment allows, :rfc:`7489` section 3.1).

Only the topmost header(s) of each trusted authserv-id count (:rfc:`8601` section 5: our
MX adds its own above everything that arrived; an MX that does not strip incoming ones
leaves a forged "pass" from its own id below it, which must not outvote it). The topmost
header of an id and those of the same id directly below it (milters writing one header
each for SPF, DKIM and DMARC) are read; lower ones are ignored. Among them a failure
decides: a DMARC result for the From domain is the verdict; without one, an aligned DKIM
or SPF failure refuses even beside an aligned pass.

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
        True for a trusted DMARC pass for the From domain or, without a DMARC result for
        it, a trusted DKIM or SPF pass aligned with it and no aligned failure; False
        otherwise (no author, no trusted header, a failure). Only the topmost trusted
        headers are read (see the module docstring).
    """
    author_domain = _domain(author)
    if not author_domain:
        return False
    trusted = {item.strip().lower() for item in trusted_ids if item.strip()}
    results = _topmost(values, trusted)
    dmarc = [
        r for r in results if r.method == "dmarc" and _domain(r.get("header.from")) == author_domain
    ]
    if dmarc:
        return all(r.result == "pass" for r in dmarc)
    aligned = [r for r in results if _aligned_result(r, author_domain)]
    if any(r.result in _FAILURES for r in aligned):
        return False
    return any(r.result == "pass" for r in aligned)


_FAILURES = frozenset({"fail", "softfail", "permerror", "policy"})


def _topmost(values: Iterable[str], trusted: set[str]) -> list[AuthResult]:
    """The results of the topmost run of headers of each trusted authserv-id."""
    results: list[AuthResult] = []
    done: set[str] = set()
    current: str | None = None
    for value in values:
        authserv_id = _authserv_id(value)
        if authserv_id != current:
            if current is not None:
                done.add(current)  # its run is over: lower headers with its id are ignored
            current = authserv_id
        if authserv_id in trusted and authserv_id not in done:
            results.extend(parse_authentication_results(value))
    return results


def _authserv_id(value: str) -> str:
    text = value
    for _ in range(4):
        text = _COMMENT_RE.sub(" ", text)
    words = text.split(";", 1)[0].split()
    return words[0].lower() if words else ""


def _aligned_result(result: AuthResult, author_domain: str) -> bool:
    if result.method == "dkim":
        return _aligned(author_domain, _domain(result.get("header.d"))) or _aligned(
            author_domain, _domain(result.get("header.i"))
        )
    if result.method == "spf":
        return _aligned(author_domain, _domain(result.get("smtp.mailfrom")))
    return False
