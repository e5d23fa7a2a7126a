"""Spoofed CANCELs against ``inbound.require_authentication_results`` (RFC 8601 section 5).

Our MX writes its Authentication-Results on top; a sender can put a header claiming a pass
from the same authserv-id lower down, which an MX that does not strip incoming headers
passes on. Only the topmost headers of a trusted id count, and a fail there decides.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from invitegw.domain.records import TaskStatus
from invitegw.gateway.inbound.model import InboundOutcome
from invitegw.gateway.storage import Store
from tests.gateway.inbound.builders import calendar, invitation, vevent
from tests.gateway.inbound.harness import InboundHarness

MX_FAIL = ("Authentication-Results", "mx.example.com; dmarc=fail header.from=partner.example")
FORGED = ("Authentication-Results", "mx.example.com; dmarc=pass header.from=partner.example")
RECEIVED = ("Received", "from evil.example by mx.example.com; Tue, 5 May 2026 08:00:00 +0000")


@pytest.fixture
def gw(store: Store, tmp_path: Path) -> InboundHarness:
    harness = InboundHarness(
        store,
        tmp_path,
        require_authentication_results=True,
        trusted_authserv_ids=("mx.example.com",),
    )
    created = harness.handle(invitation())
    assert [e.outcome for e in created.events] == [InboundOutcome.CREATED]
    return harness


def _cancel(*headers: tuple[str, str]) -> bytes:
    event = vevent(sequence=1, dtstamp="20260505T080000Z")
    # invitation() appends headers after its own: emulate the MX prepending its own by
    # building the header block in the order a receiving MX leaves it (ours on top).
    raw = invitation(calendar("CANCEL", event), method="CANCEL")
    block = b"".join(f"{name}: {value}\r\n".encode() for name, value in headers)
    return block + raw


def test_a_forged_pass_below_the_mx_fail_is_quarantined(gw: InboundHarness) -> None:
    result = gw.handle(_cancel(MX_FAIL, RECEIVED, FORGED))
    assert [e.outcome for e in result.events] == [InboundOutcome.QUARANTINED]
    assert "Authentication-Results" in (result.reason or "")
    (task, _, _) = gw.tasks()[0]
    assert task.status is TaskStatus.OPEN


def test_a_forged_pass_directly_below_still_loses_to_the_fail(gw: InboundHarness) -> None:
    result = gw.handle(_cancel(MX_FAIL, FORGED))
    assert [e.outcome for e in result.events] == [InboundOutcome.QUARANTINED]


def test_the_mx_pass_on_top_cancels(gw: InboundHarness) -> None:
    result = gw.handle(_cancel(FORGED, RECEIVED))
    assert [e.outcome for e in result.events] == [InboundOutcome.CANCELLED]
