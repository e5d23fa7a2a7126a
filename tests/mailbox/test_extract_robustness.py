"""Hostile and broken input: extraction raises MimeError or returns, nothing else.

Three sources of input: arbitrary bytes; our real-shaped fixtures mutated (slices cut,
duplicated or overwritten, bytes inserted, truncated); and generated MIME trees whose
headers, parameters, encodings and bodies are drawn from the awkward end of what mail
carries. Besides "no other exception", every run checks that the catch-all in
``extract`` did not fire (it would hide a bug of ours behind a MimeError) and that the
returned calendar data is valid UTF-8.
"""

from __future__ import annotations

import base64
import quopri

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from invitegw.errors import MimeError
from invitegw.mailbox.mime import Extraction, MimeLimits, extract
from tests.mailbox.helpers import DATA, build_tnef, calendar

FIXTURES = sorted(p.read_bytes() for p in DATA.glob("*.eml"))
SMALL = MimeLimits(max_parts=60, max_depth=8, max_calendar_bytes=20_000)


def _check(raw: bytes, limits: MimeLimits | None = None) -> Extraction | None:
    try:
        result = extract(raw, limits=limits)
    except MimeError as exc:
        error = str(exc)
    else:
        error = None
    if error is not None:
        assert not error.startswith("unexpected failure"), error
        return None
    for part in (
        *result.calendar_parts,
        *(result.bounce.returned_calendar_parts if result.bounce else ()),
    ):
        part.data.decode("utf-8")
        assert part.location
    if result.bounce is not None:
        assert result.calendar_parts == ()
    return result


@given(st.binary(max_size=4000))
def test_arbitrary_bytes(raw: bytes) -> None:
    _check(raw)


@given(st.text(max_size=2000).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_arbitrary_text(raw: bytes) -> None:
    _check(raw)


_MUTATION = st.tuples(
    st.sampled_from(["cut", "dup", "insert", "overwrite", "truncate", "crlf", "lf"]),
    st.floats(0, 1),
    st.floats(0, 1),
    st.binary(min_size=1, max_size=40),
)


def _mutate(raw: bytes, mutations: list[tuple[str, float, float, bytes]]) -> bytes:
    for kind, a, b, blob in mutations:
        i, j = sorted((int(a * len(raw)), int(b * len(raw))))
        if kind == "cut":
            raw = raw[:i] + raw[j:]
        elif kind == "dup":
            raw = raw[:j] + raw[i:j] + raw[j:]
        elif kind == "insert":
            raw = raw[:i] + blob + raw[i:]
        elif kind == "overwrite":
            raw = raw[:i] + blob + raw[i + len(blob) :]
        elif kind == "truncate":
            raw = raw[:i]
        elif kind == "crlf":
            raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        else:
            raw = raw.replace(b"\r\n", b"\n")
    return raw


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(FIXTURES), st.lists(_MUTATION, min_size=1, max_size=6))
def test_mutated_fixtures(raw: bytes, mutations: list[tuple[str, float, float, bytes]]) -> None:
    _check(_mutate(raw, mutations))
    _check(_mutate(raw, mutations), SMALL)


# -- generated MIME trees ----------------------------------------------------------------

_TYPES = [
    "text/plain", "text/html", "text/calendar", "TEXT/CALENDAR", "text/x-vcalendar",
    "application/ics", "application/octet-stream", "application/x-any", "application/ms-tnef",
    "message/rfc822", "message/delivery-status", "message/global-delivery-status",
    "text/rfc822-headers", "image/png", "multipart/mixed", "multipart/alternative",
    "multipart/report", "garbage", "", "text/",
]  # fmt: skip
_CHARSETS = [
    "utf-8", "UTF-8", "us-ascii", "iso-8859-1", "windows-1257", "utf-16", "shift_jis",
    "utf-7", "unicode_escape", "base64", "x-unknown", "", '"', "utf-8''x",
]  # fmt: skip
_CTES = ["7bit", "8bit", "base64", "BASE64 ", "quoted-printable", "x-uuencode", "binary", "x"]
_NAMES = ["invite.ics", "winmail.dat", "=?utf-8?q?a=C3=A9.ics?=", "x.vcs", "", "a\x00b.ics", None]
_PARAMS = st.sampled_from(
    ["", "; method=REQUEST", "; method=", "; method*=utf-8''cancel",
     "; report-type=delivery-status", "; boundary=", '; name="', "; charset*=x'y'z",
     "; method=\"a b\""]
)  # fmt: skip
_TEXT = st.text(max_size=80)
_BODY = st.one_of(
    st.just(calendar("gen@example.org").decode()),
    _TEXT,
    st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
    st.just("Reporting-MTA: dns; x\n\nFinal-Recipient: rfc822; a@b.example\nAction: failed\n"),
    st.just(base64.b64encode(build_tnef([("i.ics", calendar("t@example.org"))])).decode()),
)


@st.composite
def _entity(draw: st.DrawFn, depth: int = 0) -> str:
    ctype = draw(st.sampled_from(_TYPES))
    headers = [f"Content-Type: {ctype}{draw(_PARAMS)}"]
    if draw(st.booleans()):
        headers[0] += f"; charset={draw(st.sampled_from(_CHARSETS))}"
    name = draw(st.sampled_from(_NAMES))
    if name is not None:
        headers.append(f'Content-Disposition: attachment; filename="{name}"')
    cte = draw(st.sampled_from(_CTES))
    headers.append(f"Content-Transfer-Encoding: {cte}")
    if draw(st.booleans()):
        header = draw(st.sampled_from(["From", "Subject", "Message-ID", "X-Failed-Recipients"]))
        headers.append(f"{header}: {draw(_TEXT)}")
    if ctype.lower().startswith("multipart/") and depth < 4:
        children = draw(st.lists(_entity(depth + 1), max_size=3))
        boundary = f"b{depth}"
        headers[0] += f'; boundary="{boundary}"'
        body = "".join(f"--{boundary}\n{child}\n" for child in children) + f"--{boundary}--\n"
    elif ctype == "message/rfc822" and depth < 4:
        body = "From: Inner <inner@example.org>\n" + draw(_entity(depth + 1))
    else:
        body = draw(_BODY)
        if cte.strip().lower() == "base64" and draw(st.booleans()):
            body = base64.encodebytes(body.encode("utf-8", "surrogatepass")).decode()
        elif cte == "quoted-printable" and draw(st.booleans()):
            body = quopri.encodestring(body.encode("utf-8", "surrogatepass")).decode()
    return "\n".join(headers) + "\n\n" + body


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(_entity(), st.sampled_from(["\n", "\r\n"]), st.sampled_from(["utf-8", "latin-1"]))
def test_generated_mime_trees(entity: str, newline: str, encoding: str) -> None:
    raw = ("From: Sam <sam@example.com>\nSubject: generated\n" + entity).replace("\n", newline)
    _check(raw.encode(encoding, "replace"))
    _check(raw.encode(encoding, "replace"), SMALL)
